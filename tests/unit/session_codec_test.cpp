// Session codec: every datagram length around the header, every length-field mismatch, every
// packet ID, and the byte layout of what the server writes.

#include <gtest/gtest.h>

#include "session/codec.hpp"
#include "session_frames.hpp"

namespace peregrine::session {
namespace {

using namespace pgtest;

TEST(SessionCodec, ShorterThanTheHeaderIsShort)
{
    const bytes full = session_pkt(sid(1), type::ping, 7);
    for (std::size_t len = 0; len < header_len; ++len) {
        header h;
        drop why = drop::count_;
        // A copy of exactly len bytes on the heap: ASan catches a read past it.
        bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_FALSE(parse(cut.data(), cut.size(), &h, &why)) << len;
        EXPECT_EQ(why, drop::session_short) << len;
    }
}

TEST(SessionCodec, LengthFieldMustMatchTheDatagram)
{
    const bytes body(100, 0x5a);
    const bytes p = session_pkt(sid(1), type::data_ack, 1, body);
    header h;
    drop why;
    ASSERT_TRUE(parse(p.data(), p.size(), &h, &why));
    EXPECT_EQ(h.length, 100);
    // Every truncation or extension of the datagram that keeps the header.
    for (std::size_t len = header_len; len < p.size() + 40; ++len) {
        if (len == p.size())
            continue;
        bytes q = p;
        q.resize(len, 0);
        why = drop::count_;
        EXPECT_FALSE(parse(q.data(), q.size(), &h, &why)) << len;
        EXPECT_EQ(why, drop::session_bad_len) << len;
    }
    // And every wrong value of the field on the right datagram (a sample of all 65,536).
    for (unsigned f = 0; f <= 0xffff; f += (f < 300 ? 1 : 257)) {
        if (f == body.size())
            continue;
        bytes q = p;
        q[off_length] = static_cast<uint8_t>(f >> 8);
        q[off_length + 1] = static_cast<uint8_t>(f);
        EXPECT_FALSE(parse(q.data(), q.size(), &h, &why)) << f;
        EXPECT_EQ(why, drop::session_bad_len) << f;
    }
}

TEST(SessionCodec, LargestPayload)
{
    const bytes p = session_pkt(sid(2), type::data_noack, 3, bytes(max_payload, 1));
    header h;
    drop why;
    ASSERT_TRUE(parse(p.data(), p.size(), &h, &why));
    EXPECT_EQ(h.length, max_payload);
    EXPECT_EQ(p.size(), 65507u);  // the largest IPv4 UDP payload
}

TEST(SessionCodec, EveryPacketId)
{
    for (unsigned t = 0; t < 256; ++t) {
        bytes p = session_pkt(sid(3), static_cast<type>(t), 9, t == 0x08 ? bytes(32, 1) : bytes{});
        header h;
        drop why = drop::count_;
        const bool ok = parse(p.data(), p.size(), &h, &why);
        switch (t) {
        case 0x01: case 0x04: case 0x06: case 0x07: case 0x08: case 0x0a:  // client types
            EXPECT_TRUE(ok) << t;
            EXPECT_EQ(static_cast<unsigned>(h.t), t);
            break;
        case 0x02: case 0x03: case 0x05: case 0x09:  // ACCEPT, REJECT, PONG, BAD_ACK: server only
            EXPECT_FALSE(ok) << t;
            EXPECT_EQ(why, drop::session_reply_type) << t;
            break;
        default:
            EXPECT_FALSE(ok) << t;
            EXPECT_EQ(why, drop::session_unknown_type) << t;
        }
    }
}

TEST(SessionCodec, AckCarriesExactlyOneDigest)
{
    for (std::size_t n : {0u, 1u, 31u, 33u, 64u}) {
        const bytes p = session_pkt(sid(4), type::ack, 1, bytes(n, 0));
        header h;
        drop why = drop::count_;
        EXPECT_FALSE(parse(p.data(), p.size(), &h, &why)) << n;
        EXPECT_EQ(why, drop::session_bad_len);
    }
    const bytes ok = session_pkt(sid(4), type::ack, 1, bytes(32, 0));
    header h;
    drop why;
    EXPECT_TRUE(parse(ok.data(), ok.size(), &h, &why));
}

TEST(SessionCodec, FieldsAreBigEndian)
{
    const session_id id = sid(5);
    bytes p = session_pkt(id, type::data_ack, 0x0102030405060708ull, bytes(0x0123, 0), 0xbeef);
    header h;
    drop why;
    ASSERT_TRUE(parse(p.data(), p.size(), &h, &why));
    EXPECT_EQ(h.order, 0x0102030405060708ull);
    EXPECT_EQ(h.custom, 0xbeef);
    EXPECT_EQ(h.length, 0x0123);
    EXPECT_EQ(h.client_id, p.data() + 32);
    EXPECT_EQ(p[56], 0x01);
    EXPECT_EQ(p[63], 0x08);
    EXPECT_EQ(p[52], 0x01);
    EXPECT_EQ(p[53], 0x23);
}

TEST(SessionCodec, ReservedBytesAreIgnored)
{
    bytes p = session_pkt(sid(6), type::ping, 1);
    p[49] = p[50] = p[51] = 0xff;
    header h;
    drop why;
    EXPECT_TRUE(parse(p.data(), p.size(), &h, &why));
}

TEST(SessionCodec, WriteHeaderLayout)
{
    const session_id id = sid(7);
    bytes out(64, 0xee);
    write_header(out.data(), id.data(), type::bad_ack, 32, 0x1234, 0xa1a2a3a4a5a6a7a8ull);
    EXPECT_EQ(0, std::memcmp(out.data() + 32, id.data(), 16));
    EXPECT_EQ(out[48], 0x09);
    EXPECT_EQ(out[49], 0);
    EXPECT_EQ(out[50], 0);
    EXPECT_EQ(out[51], 0);
    EXPECT_EQ(out[52], 0);
    EXPECT_EQ(out[53], 32);
    EXPECT_EQ(out[54], 0x12);
    EXPECT_EQ(out[55], 0x34);
    EXPECT_EQ(out[56], 0xa1);
    EXPECT_EQ(out[63], 0xa8);
    EXPECT_EQ(out[0], 0xee);  // the digest field is the signer's
    // In place (the Client ID already where it belongs): unchanged.
    write_header(out.data(), out.data() + 32, type::ack, 0, 0, 0);
    EXPECT_EQ(0, std::memcmp(out.data() + 32, id.data(), 16));
}

} // namespace
} // namespace peregrine::session
