// Router protocol wire format: every packet type encoded and parsed, every malformed length,
// and the little-endian Client ID pinned by explicit bytes.

#include <gtest/gtest.h>

#include "router/codec.hpp"
#include "frame.hpp"

namespace peregrine::router {
namespace {

using pgtest::bytes;

struct parsed {
    bool ok;
    packet p;
    drop why;
};

parsed run(const bytes& d)
{
    parsed r{};
    r.p = {type::heartbeat_response, 0xdeadbeef};
    r.why = drop::count_;
    // Parse from an exact-size heap copy so a sanitizer build catches over-reads.
    auto copy = std::make_unique<uint8_t[]>(d.size() + 1);
    if (!d.empty())  // memcpy from an empty vector's null data() is undefined
        std::memcpy(copy.get(), d.data(), d.size());
    r.ok = parse(copy.get(), d.size(), &r.p, &r.why);
    return r;
}

void expect_drop(const bytes& d, drop why)
{
    const parsed r = run(d);
    EXPECT_FALSE(r.ok) << "length " << d.size() << " type " << (d.empty() ? -1 : d[0]);
    EXPECT_EQ(r.why, why) << "length " << d.size() << " type " << (d.empty() ? -1 : d[0]) << ": got "
                          << drop_name(static_cast<unsigned>(r.why));
}

bytes filled(uint8_t type_byte, std::size_t len)
{
    bytes d(len, 0x5a);
    if (len)
        d[0] = type_byte;
    return d;
}

TEST(RouterCodec, ClientIdIsLittleEndianOnTheWire)
{
    // ID 0x04030201 is the bytes 01 02 03 04: the origin writes host order on x86.
    const bytes wire = {0x00, 0x01, 0x02, 0x03, 0x04};
    const parsed r = run(wire);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.p.t, type::register_client);
    EXPECT_EQ(r.p.client_id, 0x04030201u);

    uint8_t out[8] = {};
    ASSERT_EQ(encode_register(out, 0x04030201u), 5u);
    EXPECT_EQ(bytes(out, out + 5), wire);
    EXPECT_EQ(read_id(wire.data() + 1), 0x04030201u);
}

TEST(RouterCodec, RegisterRoundTrip)
{
    for (uint32_t id : {0u, 1u, 0x11223344u, 0xffffffffu}) {
        uint8_t out[8];
        const std::size_t n = encode_register(out, id);
        ASSERT_EQ(n, register_len);
        EXPECT_EQ(bytes(out, out + n), pgtest::register_payload(id));
        const parsed r = run(bytes(out, out + n));
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.p.t, type::register_client);
        EXPECT_EQ(r.p.client_id, id);
    }
}

TEST(RouterCodec, MessageRoundTripAtEveryInterestingLength)
{
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{100}, max_payload - 1, max_payload}) {
        bytes body(n);
        for (std::size_t k = 0; k < n; ++k)
            body[k] = static_cast<uint8_t>(k * 7);
        bytes out(max_message_len);
        const std::size_t len = encode_message(out.data(), 0xa1b2c3d4, body.data(), n);
        ASSERT_EQ(len, message_header_len + n);
        out.resize(len);
        EXPECT_EQ(out, pgtest::message_payload(0xa1b2c3d4, body));
        const parsed r = run(out);
        ASSERT_TRUE(r.ok) << "payload " << n;
        EXPECT_EQ(r.p.t, type::message);
        EXPECT_EQ(r.p.client_id, 0xa1b2c3d4u);
    }
}

TEST(RouterCodec, HeartbeatRoundTrip)
{
    uint8_t out[4];
    ASSERT_EQ(encode_heartbeat(out), 1u);
    EXPECT_EQ(out[0], 0x04);
    const parsed r = run({0x04});
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.p.t, type::heartbeat);
}

TEST(RouterCodec, RouterSentPacketsEncode)
{
    uint8_t out[8];
    ASSERT_EQ(encode_register_response(out), 1u);
    EXPECT_EQ(out[0], 0x01);
    ASSERT_EQ(encode_heartbeat_response(out), 1u);
    EXPECT_EQ(out[0], 0x05);
    ASSERT_EQ(encode_unknown_recipient(out, 0x04030201u), 5u);
    EXPECT_EQ(bytes(out, out + 5), (bytes{0x03, 0x01, 0x02, 0x03, 0x04}));
}

TEST(RouterCodec, EmptyDatagram)
{
    expect_drop({}, drop::router_empty);
}

TEST(RouterCodec, RegisterMustBeExactlyFiveBytes)
{
    for (std::size_t len = 1; len <= 4; ++len)
        expect_drop(filled(0x00, len), drop::router_bad_len);
    for (std::size_t len : {6, 7, 9, 100, 1405, 1500})
        expect_drop(filled(0x00, len), drop::router_bad_len);
}

TEST(RouterCodec, HeartbeatMustBeOneByte)
{
    for (std::size_t len : {2, 3, 5, 6, 100, 1500})
        expect_drop(filled(0x04, len), drop::router_bad_len);
}

TEST(RouterCodec, MessageLengthBounds)
{
    for (std::size_t len = 1; len < message_header_len; ++len)
        expect_drop(filled(0x02, len), drop::router_bad_len);
    for (std::size_t len : {max_message_len + 1, std::size_t{1472}, std::size_t{65507}})
        expect_drop(filled(0x02, len), drop::router_too_long);
    EXPECT_TRUE(run(filled(0x02, max_message_len)).ok);
}

TEST(RouterCodec, UnknownTypesAtAnyLength)
{
    for (unsigned t = 0x06; t <= 0xff; ++t)
        for (std::size_t len : {1, 5, 100})
            expect_drop(filled(static_cast<uint8_t>(t), len), drop::router_unknown_type);
}

TEST(RouterCodec, RouterOnlyTypesAreRefused)
{
    // Register Client Response, Unknown Recipient and Heartbeat Response, at their own lengths
    // and others: a client never sends them.
    for (uint8_t t : {0x01, 0x03, 0x05})
        for (std::size_t len : {1, 5, 6, 1405})
            expect_drop(filled(t, len), drop::router_reply_type);
}

} // namespace
} // namespace peregrine::router
