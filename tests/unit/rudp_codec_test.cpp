// RUDP codec: every type and flag combination round-trips, every malformed header is refused
// with the ERROR code docs/protocols/rudp.md gives it, and the helpers (sequence extension,
// nonce, associated data, AUTH and ACK bodies, the receive window) do what the doc says.

#include <gtest/gtest.h>

#include <vector>

#include "rudp/codec.hpp"
#include "rudp/window.hpp"

namespace peregrine::rudp {
namespace {

using bytes = std::vector<uint8_t>;

TEST(RudpCodec, EveryTypeAndAllowedFlagCombinationRoundTrips)
{
    for (uint8_t t = 0; t <= max_type; ++t)
        for (unsigned f = 0; f < 256; f += 8) {  // the five flags; reserved bits stay 0
            const uint8_t flags = static_cast<uint8_t>(f);
            if (flags & ~allowed_flags(type(t)))
                continue;
            header h;
            h.t = type(t);
            h.flags = flags;
            h.seq = 0xBEEF;
            h.frag_id = 3;
            h.frag_count = 9;
            h.iv = 0x1234;
            h.crc = 0xCAFEF00D;
            uint8_t buf[max_datagram] = {};
            const unsigned hl = write_header(buf, &h);
            EXPECT_EQ(hl, header_len(flags));
            header g;
            uint8_t why = 0;
            ASSERT_TRUE(parse_header(buf, hl + 5, &g, &why)) << int(t) << " " << int(flags);
            EXPECT_EQ(g.t, h.t);
            EXPECT_EQ(g.flags, flags);
            EXPECT_EQ(g.seq, 0xBEEF);
            EXPECT_EQ(g.len, hl);
            EXPECT_EQ(g.frag_id, (flags & flag::frag) ? 3 : 0);
            EXPECT_EQ(g.frag_count, (flags & flag::frag) ? 9 : 0);
            EXPECT_EQ(g.iv, (flags & flag::encrypted) ? 0x1234 : 0);
            EXPECT_EQ(g.crc, (flags & flag::checksum) ? 0xCAFEF00Du : 0);
        }
}

TEST(RudpCodec, FieldsAreBigEndianInFlagOrder)
{
    header h;
    h.t = type::data;
    h.flags = flag::frag | flag::encrypted | flag::checksum;
    h.seq = 0x0102;
    h.frag_id = 0x03;
    h.frag_count = 0x04;
    h.iv = 0x0506;
    h.crc = 0x0708090A;
    uint8_t b[max_header];
    ASSERT_EQ(write_header(b, &h), 12u);
    const bytes want = {0x00, 0x58, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A};
    EXPECT_EQ(bytes(b, b + 12), want);
}

uint8_t refused(const bytes& b)
{
    header h;
    uint8_t why = 0;
    EXPECT_FALSE(parse_header(b.data(), b.size(), &h, &why));
    return why;
}

TEST(RudpCodec, EveryFaultHasItsErrorCode)
{
    EXPECT_EQ(refused({}), err::packet);
    EXPECT_EQ(refused({0x00, 0x00, 0x00}), err::packet);                    // under 4 bytes
    EXPECT_EQ(refused({0x10, 0x00, 0x00, 0x00}), err::version);             // version 1
    EXPECT_EQ(refused({0xF0, 0x00, 0x00, 0x00}), err::version);
    for (uint8_t t = 5; t < 16; ++t)
        EXPECT_EQ(refused({t, 0x00, 0x00, 0x00}), err::packet_type) << int(t);
    for (uint8_t r = 1; r < 8; ++r)
        EXPECT_EQ(refused({0x00, r, 0x00, 0x00}), err::flags) << int(r);  // reserved bits
    EXPECT_EQ(refused({0x01, flag::reliable, 0, 0, 0, 0, 0, 0}), err::flags);   // RELIABLE ACK
    EXPECT_EQ(refused({0x03, flag::reliable, 0, 0, 0}), err::flags);            // RELIABLE HEARTBEAT
    EXPECT_EQ(refused({0x04, flag::frag, 0, 0, 0, 2, 0}), err::flags);          // fragmented ERROR
    EXPECT_EQ(refused({0x02, flag::encrypted, 0, 0, 0, 0}), err::flags);        // encrypted AUTH
    EXPECT_EQ(refused({0x02, flag::compressed, 0, 0}), err::flags);             // compressed AUTH
    EXPECT_EQ(refused({0x00, flag::checksum, 0, 0, 0, 0, 0}), err::packet);     // CRC cut short
    EXPECT_EQ(refused({0x00, flag::frag, 0, 0, 0, 1}), err::fragment_number);   // one fragment
    EXPECT_EQ(refused({0x00, flag::frag, 0, 0, 0, 0}), err::fragment_number);
    EXPECT_EQ(refused({0x00, flag::frag, 0, 0, 2, 2}), err::fragment_id);       // ID not below number
    bytes longest(base_header + max_body, 0);
    header h;
    uint8_t why;
    EXPECT_TRUE(parse_header(longest.data(), longest.size(), &h, &why));
    longest.push_back(0);
    EXPECT_EQ(refused(longest), err::packet);                                    // 989 bytes of data
}

TEST(RudpCodec, SequenceExtensionPicksTheNearest)
{
    EXPECT_EQ(extend_seq(0, 1), 1u);
    EXPECT_EQ(extend_seq(10, 5), 5u);               // a late one
    EXPECT_EQ(extend_seq(65535, 0), 65536u);        // the wrap
    EXPECT_EQ(extend_seq(65540, 65534), 65534u);    // late across the wrap
    EXPECT_EQ(extend_seq(0x1FFF0, 0x0005), 0x20005u);
    EXPECT_EQ(extend_seq(100, 100 + 32767), 100u + 32767);
    EXPECT_EQ(extend_seq(100000, 100000 & 0xffff), 100000u);
}

TEST(RudpCodec, NonceIsSaltZerosAndTheMessageCounter)
{
    const uint8_t salt[4] = {0xA1, 0xA2, 0xA3, 0xA4};
    uint8_t n[12];
    make_nonce(salt, 0x00012345, n);
    const bytes want = {0xA1, 0xA2, 0xA3, 0xA4, 0, 0, 0, 0, 0x00, 0x01, 0x23, 0x45};
    EXPECT_EQ(bytes(n, n + 12), want);
    // Fragments of one message name one counter: the init vector and the first fragment's ID.
    header h;
    h.flags = flag::frag | flag::encrypted;
    h.iv = 1;
    h.frag_count = 4;
    for (uint8_t id = 0; id < 4; ++id) {
        h.frag_id = id;
        h.seq = static_cast<uint16_t>(65534 + id);  // wraps after the second
        EXPECT_EQ(message_counter(h), 0x1FFFEu) << int(id);
    }
}

TEST(RudpCodec, AssociatedDataIsTheFirstFragmentsHeader)
{
    header first;
    first.t = type::data;
    first.flags = flag::frag | flag::encrypted | flag::checksum;
    first.seq = 700;
    first.frag_id = 0;
    first.frag_count = 5;
    first.iv = 9;
    first.crc = 0xDEADBEEF;
    uint8_t want[max_header];
    const unsigned wl = write_header(want, &first);
    for (uint8_t id = 0; id < 5; ++id) {
        header h = first;
        h.frag_id = id;
        h.seq = static_cast<uint16_t>(700 + id);
        uint8_t aad[max_header];
        ASSERT_EQ(message_aad(h, aad), wl);
        EXPECT_EQ(bytes(aad, aad + wl), bytes(want, want + wl)) << int(id);
    }
}

TEST(RudpCodec, AuthBodies)
{
    uint8_t key[32];
    for (unsigned i = 0; i < 32; ++i)
        key[i] = uint8_t(i);
    uint8_t cert[5] = {1, 2, 3, 4, 5};
    uint8_t b[100] = {};
    const size_t n = write_auth(b, key, 32, cert, 5);
    ASSERT_EQ(n, 2u + 32 + 2 + 5);
    auth_body a;
    ASSERT_TRUE(parse_auth(b, n + 20, &a));  // 20 bytes of zero padding
    EXPECT_EQ(a.key_len, 32);
    EXPECT_EQ(bytes(a.key, a.key + 32), bytes(key, key + 32));
    EXPECT_EQ(a.cert_len, 5);
    EXPECT_EQ(bytes(a.cert, a.cert + 5), bytes(cert, cert + 5));
    EXPECT_EQ(a.padding, 20u);
    EXPECT_TRUE(parse_auth(b, 34, &a));      // key alone, no certificate size
    EXPECT_EQ(a.cert, nullptr);
    EXPECT_FALSE(parse_auth(b, 35, &a));     // one stray byte
    EXPECT_FALSE(parse_auth(b, 33, &a));     // key cut short
    EXPECT_FALSE(parse_auth(b, n - 1, &a));  // certificate cut short
    b[n + 3] = 1;
    EXPECT_FALSE(parse_auth(b, n + 20, &a)); // padding that is not zero
    b[n + 3] = 0;
    b[0] = 1;
    EXPECT_FALSE(parse_auth(b, n, &a));      // reserved byte
    b[0] = 0;
    b[1] = 0;
    EXPECT_FALSE(parse_auth(b, n, &a));      // no key
}

TEST(RudpCodec, AckBodies)
{
    uint8_t b[8];
    write_ack(b, 0x1234, 0x8001);
    b[4] = 'f';
    ack_body a;
    ASSERT_TRUE(parse_ack(b, 5, &a));
    EXPECT_EQ(a.ack_id, 0x1234);
    EXPECT_EQ(a.bits, 0x8001);
    EXPECT_EQ(a.data_len, 1u);
    EXPECT_FALSE(parse_ack(b, 3, &a));
}

TEST(RudpWindow, AcceptsOnceSlidesAndForgets)
{
    seq_window w;
    w.reset(10);
    EXPECT_EQ(w.check_and_set(10), replay::duplicate);
    EXPECT_EQ(w.check_and_set(12), replay::fresh);
    EXPECT_EQ(w.check_and_set(11), replay::fresh);   // late, in the window
    EXPECT_EQ(w.check_and_set(11), replay::duplicate);
    EXPECT_TRUE(w.has(12));
    EXPECT_FALSE(w.has(13));
    EXPECT_EQ(w.peek(13), replay::fresh);
    EXPECT_FALSE(w.has(13));                           // peek takes nothing
    EXPECT_EQ(w.check_and_set(12 + seq_window::width - 1), replay::fresh);
    EXPECT_EQ(w.check_and_set(12), replay::duplicate);  // still the oldest in the window
    EXPECT_EQ(w.check_and_set(11), replay::too_old);
    // A slide forgets the numbers it passes over: their bits are reused for new ones.
    const uint64_t top = w.top;
    EXPECT_EQ(w.check_and_set(top + 5), replay::fresh);
    for (uint64_t s = top + 1; s < top + 5; ++s)
        EXPECT_EQ(w.peek(s), replay::fresh) << s;
    // A jump of a whole width or more forgets everything.
    EXPECT_EQ(w.check_and_set(top + 5 + 5000), replay::fresh);
    EXPECT_EQ(w.peek(top + 5 + 5000 - 1), replay::fresh);
    EXPECT_EQ(w.peek(top + 5), replay::too_old);
}

} // namespace
} // namespace peregrine::rudp
