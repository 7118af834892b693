// Load-balancer codec: every packet type round-trips, and every length but the right one, every
// type only the Controlling Function sends, and every unknown type is refused with its reason.

#include <vector>

#include <gtest/gtest.h>

#include <rte_ip.h>

#include "lb/codec.hpp"

namespace peregrine::lb {
namespace {

const endpoint ep{rte_cpu_to_be_32(RTE_IPV4(198, 18, 1, 2)), rte_cpu_to_be_16(0x1f90)};

std::vector<uint8_t> enc(std::size_t (*f)(uint8_t*), std::size_t cap = 64)
{
    std::vector<uint8_t> b(cap);
    b.resize(f(b.data()));
    return b;
}

TEST(LbCodec, BigEndianOnTheWire)
{
    uint8_t b[32];
    ASSERT_EQ(encode_registration_update(b, 0x0102, 0x0304, 0x05060708, ep), 15u);
    const std::vector<uint8_t> want = {4, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 198, 18, 1, 2, 0x1f, 0x90};
    EXPECT_EQ(std::vector<uint8_t>(b, b + 15), want);
    ASSERT_EQ(encode_start_call(b, 0xa1b2, 0x0102, 0xfffe), 7u);
    EXPECT_EQ(std::vector<uint8_t>(b, b + 7), (std::vector<uint8_t>{2, 0xa1, 0xb2, 0x01, 0x02, 0xff, 0xfe}));
}

TEST(LbCodec, RoundTrips)
{
    uint8_t b[32];
    packet p;
    drop why;
    for (type t : {type::register_serving_node, type::register_call_controller}) {
        ASSERT_TRUE(parse(b, encode_register(b, t, 0xbeef, ep), &p, &why));
        EXPECT_EQ(p.t, t);
        EXPECT_EQ(p.request_id, 0xbeef);
        EXPECT_EQ(p.ep, ep);
    }
    ASSERT_TRUE(parse(b, encode_ack(b, 7), &p, &why));
    EXPECT_EQ(p.t, type::ack);
    EXPECT_EQ(p.request_id, 7);
    ASSERT_TRUE(parse(b, encode_registration_update(b, 9, 0xabcd, 0xdeadbeef, ep), &p, &why));
    EXPECT_EQ(p.t, type::registration_update);
    EXPECT_EQ(p.group_id, 0xabcd);
    EXPECT_EQ(p.user_id, 0xdeadbeefu);
    EXPECT_EQ(p.ep, ep);
    ASSERT_TRUE(parse(b, encode_registration_removed(b, 10, 3, 4), &p, &why));
    EXPECT_EQ(p.t, type::registration_removed);
    EXPECT_EQ(p.group_id, 3);
    EXPECT_EQ(p.user_id, 4u);
    ASSERT_TRUE(parse(b, encode_request_serving_node(b, 0xffff), &p, &why));
    EXPECT_EQ(p.t, type::request_serving_node);
    EXPECT_EQ(p.request_id, 0xffff);
}

TEST(LbCodec, EncodersOfWhatPeregrineSends)
{
    uint8_t b[header_len + max_nodes_per_datagram * endpoint_len];
    ASSERT_EQ(encode_serving_node_response(b, 0x1234, ep), 9u);
    EXPECT_EQ(b[0], 7);
    EXPECT_EQ(rd16(b + 1), 0x1234);
    EXPECT_EQ(rd_ep(b + 3), ep);
    ASSERT_EQ(encode_serving_node_removed(b, 1, ep), 9u);
    EXPECT_EQ(b[0], 10);
    EXPECT_EQ(rd_ep(b + 3), ep);
    std::vector<endpoint> eps(max_nodes_per_datagram);
    for (std::size_t i = 0; i < eps.size(); ++i)
        eps[i] = {uint32_t(i), uint16_t(i * 3)};
    ASSERT_EQ(encode_serving_nodes(b, 2, eps.data(), eps.size()), 3 + 6 * eps.size());
    EXPECT_LE(3 + 6 * eps.size() + 28, 1500u) << "a Serving Nodes datagram must fit a 1500-byte MTU";
    EXPECT_EQ(b[0], 9);
    for (std::size_t i = 0; i < eps.size(); ++i)
        EXPECT_EQ(rd_ep(b + 3 + 6 * i), eps[i]);
    EXPECT_EQ(enc([](uint8_t* o) { return encode_ack(o, 0x0a0b); }), (std::vector<uint8_t>{3, 0x0a, 0x0b}));
}

TEST(LbCodec, EveryWrongLengthIsRefused)
{
    const std::pair<uint8_t, std::size_t> ok[] = {{0, 9}, {1, 9}, {3, 3}, {4, 15}, {5, 9}, {6, 3}};
    uint8_t b[80] = {};
    for (auto [t, len] : ok) {
        b[0] = t;
        for (std::size_t n = 1; n < sizeof(b); ++n) {
            packet p;
            drop why = drop::count_;
            const bool r = parse(b, n, &p, &why);
            // Registers and Request Serving Node may also be padded with zeros to 64 bytes.
            const bool padded = (t == 0 || t == 1 || t == 6) && n > len && n <= max_padded_len;
            EXPECT_EQ(r, n == len || padded) << "type " << int(t) << " length " << n;
            if (!r) {
                EXPECT_EQ(why, drop::lb_bad_len) << "type " << int(t) << " length " << n;
            }
        }
    }
}

TEST(LbCodec, PaddingIsZerosOnly)
{
    uint8_t b[max_padded_len] = {6, 0x12, 0x34};
    packet p;
    drop why = drop::count_;
    ASSERT_TRUE(parse(b, 9, &p, &why));
    EXPECT_EQ(p.request_id, 0x1234);
    for (unsigned i = 3; i < 9; ++i) {
        b[i] = 1;
        EXPECT_FALSE(parse(b, 9, &p, &why)) << "padding byte " << i;
        EXPECT_EQ(why, drop::lb_bad_len);
        b[i] = 0;
    }
    // A padded Register keeps its endpoint; a non-zero byte in its padding is refused.
    encode_register(b, type::register_serving_node, 7, {0x01020304, 0x0506});
    ASSERT_TRUE(parse(b, max_padded_len, &p, &why));
    EXPECT_EQ(p.ep.ip_be, 0x01020304u);
    b[max_padded_len - 1] = 1;
    EXPECT_FALSE(parse(b, max_padded_len, &p, &why));
}

TEST(LbCodec, EmptyReplyAndUnknownTypes)
{
    packet p;
    drop why;
    uint8_t b[16] = {};
    EXPECT_FALSE(parse(b, 0, &p, &why));
    EXPECT_EQ(why, drop::lb_empty);
    for (uint8_t t : {2, 7, 9, 10}) {
        b[0] = t;
        for (std::size_t n : {1, 3, 7, 9, 15}) {
            EXPECT_FALSE(parse(b, n, &p, &why));
            EXPECT_EQ(why, drop::lb_reply_type) << int(t);
        }
    }
    for (unsigned t = 0; t < 256; ++t) {
        if (t <= 7 || t == 9 || t == 10)
            continue;
        b[0] = static_cast<uint8_t>(t);
        EXPECT_FALSE(parse(b, 3, &p, &why));
        EXPECT_EQ(why, drop::lb_unknown_type) << t;  // 8 included: unused in this version
    }
}

} // namespace
} // namespace peregrine::lb
