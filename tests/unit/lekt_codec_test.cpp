// LEKT codec: every client packet parsed whole, at every shorter length (need more), with every
// field wrong (a named reason), and from exact-size heap copies so sanitizers see over-reads.

#include <algorithm>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "lekt/codec.hpp"
#include "lekt_test_util.hpp"

namespace peregrine::lekt {
namespace {

using namespace pgtest::lekt_util;

// Runs a parser on an exact-size copy of s.
template <typename F>
parse_result on_copy(const std::string& s, F&& f)
{
    auto copy = std::make_unique<uint8_t[]>(s.size() + 1);
    std::memcpy(copy.get(), s.data(), s.size());
    return f(copy.get(), s.size());
}

parse_result hs(const std::string& s, handshake* h)
{
    return on_copy(s, [&](const uint8_t* d, std::size_t n) { return parse_handshake(d, n, h); });
}

parse_result resp(const std::string& s, uint32_t expected, const uint8_t** info)
{
    return on_copy(s, [&](const uint8_t* d, std::size_t n) { return parse_response(d, n, expected, info); });
}

parse_result hb(const std::string& s, int64_t* t)
{
    return on_copy(s, [&](const uint8_t* d, std::size_t n) { return parse_heartbeat(d, n, t); });
}

void expect_need_more_prefixes(const std::string& s, const std::function<parse_result(const std::string&)>& f)
{
    for (std::size_t n = 0; n < s.size(); ++n)
        EXPECT_EQ(f(s.substr(0, n)).status, parse_status::need_more) << "prefix of " << n << " bytes";
}

TEST(LektCodec, HandshakeBytesPinned)
{
    // Methods 1 and 3: count 3, one word 0b101, big-endian.
    const std::string s = hello({1, 3});
    const std::string want("LEKTH\x01\x00\x00\x00\x00\x00\x03\x00\x00\x00\x05", 16);
    EXPECT_EQ(s, want);
    handshake h{};
    const parse_result r = hs(s, &h);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, 16u);
    EXPECT_EQ(h.method_count, 3u);
    EXPECT_EQ(h.methods, (1u << 1) | (1u << 3));
    EXPECT_EQ(h.major, 1);
}

TEST(LektCodec, HandshakeEveryPrefixNeedsMore)
{
    handshake h;
    for (const auto& s : {hello({1, 2, 3, 4}), hello({}), hello({40})})
        expect_need_more_prefixes(s, [&](const std::string& p) { return hs(p, &h); });
}

TEST(LektCodec, HandshakeZeroMethodsAndUnknownMethods)
{
    handshake h{};
    auto r = hs(hello({}), &h);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, 12u);
    EXPECT_EQ(h.methods, 0u);
    // Method 40 (unknown to us) and method 2: two words; only 2 is kept.
    r = hs(hello({2, 40}), &h);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, 20u);
    EXPECT_EQ(h.methods, 1u << 2);
    EXPECT_EQ(h.method_count, 40u);
}

TEST(LektCodec, HandshakeTrailingBytesAreTheNextPacket)
{
    handshake h{};
    const auto r = hs(hello({1}) + heartbeat(5), &h);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, 16u);
}

TEST(LektCodec, HandshakeRejects)
{
    handshake h{};
    // Garbage is refused at its first wrong byte, not after a stall.
    EXPECT_EQ(hs("G", &h).why, reject::bad_magic);
    EXPECT_EQ(hs("GET / HTTP/1.1\r\n", &h).status, parse_status::invalid);
    EXPECT_EQ(hs("LEKX", &h).why, reject::bad_magic);
    EXPECT_EQ(hs(std::string("LEKTT", 5), &h).why, reject::bad_type);
    EXPECT_EQ(hs(hello({1}, 2), &h).why, reject::bad_version);
    EXPECT_EQ(hs(hello({1}, 0).substr(0, 6), &h).why, reject::bad_version) << "checked as soon as it arrives";
    // Minor and extra versions may differ.
    std::string s = hello({1});
    s[6] = 9;
    s[7] = 9;
    EXPECT_EQ(hs(s, &h).status, parse_status::ok);
    // Method count over the cap, even before its bitfield arrives.
    std::string big;
    encode_handshake(big, 1, max_method_count + 1, nullptr, 0);
    auto r = hs(big, &h);
    EXPECT_EQ(r.status, parse_status::invalid);
    EXPECT_EQ(r.why, reject::too_many_methods);
    encode_handshake(big = {}, 1, 0xFFFFFFFF, nullptr, 0);
    EXPECT_EQ(hs(big, &h).why, reject::too_many_methods);
    // The cap itself is fine.
    std::vector<uint32_t> words(max_method_count / 32, 0);
    encode_handshake(big = {}, 1, max_method_count, words.data(), words.size());
    r = hs(big, &h);
    EXPECT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, max_handshake_len);
    // Bits beyond the count.
    const uint32_t w = 0x10;
    std::string bf;
    encode_handshake(bf, 1, 3, &w, 1);
    EXPECT_EQ(hs(bf, &h).why, reject::bad_bitfield);
    const uint32_t w2[2] = {0, 1u << 9};  // count 41: bit 40 is method 41, bit 41 is beyond
    encode_handshake(bf = {}, 1, 41, w2, 2);
    EXPECT_EQ(hs(bf, &h).why, reject::bad_bitfield);
    const uint32_t w3[2] = {0, 1u << 8};
    encode_handshake(bf = {}, 1, 41, w3, 2);
    EXPECT_EQ(hs(bf, &h).status, parse_status::ok);
}

TEST(LektCodec, ResponsePerMethod)
{
    const uint8_t* info = nullptr;
    const std::string ep = endpoint(0xC6120002, 5000);
    struct c {
        uint32_t k;
        std::string data;
    } cases[] = {
        {1, ep},
        {2, std::string("\xff\xff\xff\xff\x1b\xbc", 6)},  // any Client ID, router port 7100
        {3, ep + std::string(16, 'c')},
        {4, ep + std::string(32, 'k')},
    };
    for (const auto& x : cases) {
        const std::string s = response(x.k, x.data);
        ASSERT_EQ(x.data.size(), method_data_len(x.k));
        const auto r = resp(s, x.k, &info);
        ASSERT_EQ(r.status, parse_status::ok) << "method " << x.k;
        EXPECT_EQ(r.len, header_len + 4 + x.data.size());
        expect_need_more_prefixes(s, [&](const std::string& p) { return resp(p, x.k, &info); });
        // Any other expected index: wrong method, as soon as the index is there.
        EXPECT_EQ(resp(s, x.k % 4 + 1, &info).why, reject::wrong_method);
    }
}

TEST(LektCodec, ResponseRejects)
{
    const uint8_t* info = nullptr;
    EXPECT_EQ(resp(response(5, "xxxxxx"), 5, &info).why, reject::wrong_method) << "not a method we know";
    EXPECT_EQ(resp(response(0, ""), 0, &info).why, reject::wrong_method);
    EXPECT_EQ(resp(response(1, endpoint(0xC6120002, 0)), 1, &info).why, reject::bad_method_data) << "port 0";
    EXPECT_EQ(resp(response(1, endpoint(0x7F000001, 5)), 1, &info).why, reject::bad_method_data) << "loopback";
    EXPECT_EQ(resp(response(1, endpoint(0xE0000001, 5)), 1, &info).why, reject::bad_method_data) << "multicast";
    EXPECT_EQ(resp(response(1, endpoint(0xFFFFFFFF, 5)), 1, &info).why, reject::bad_method_data) << "broadcast";
    EXPECT_EQ(resp(response(1, endpoint(0, 5)), 1, &info).status, parse_status::ok) << "0.0.0.0: as seen";
    EXPECT_EQ(resp(response(2, std::string(6, '\0')), 2, &info).why, reject::bad_method_data) << "router port 0";
    EXPECT_EQ(resp(heartbeat(1), 1, &info).why, reject::bad_type);
}

TEST(LektCodec, Heartbeat)
{
    int64_t t = 0;
    const std::string s = heartbeat(-2);
    EXPECT_EQ(s.size(), heartbeat_len);
    auto r = hb(s, &t);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(t, -2);
    r = hb(heartbeat(0x0102030405060708), &t);
    EXPECT_EQ(t, 0x0102030405060708);
    EXPECT_EQ(heartbeat(0x0102030405060708).substr(8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    expect_need_more_prefixes(s, [&](const std::string& p) { return hb(p, &t); });
    EXPECT_EQ(hb(response(1, endpoint(1, 1)), &t).why, reject::bad_type);
}

TEST(LektCodec, RejectPacket)
{
    std::string s;
    encode_reject(s, std::string_view("a\0b", 3));
    EXPECT_EQ(s, std::string("LEKTR\x01\x00\x00" "a?b\0", 12));
    s.clear();
    encode_reject(s, std::string(1000, 'x'));
    EXPECT_EQ(s.size(), header_len + max_reason_len + 1);
    for (unsigned i = 0; i < reject_count; ++i) {
        EXPECT_FALSE(reject_name(reject(i)).empty());
        EXPECT_LE(reject_text(reject(i)).size(), max_reason_len);
    }
}

std::string update(char kind, uint32_t count, const std::string& body)
{
    std::string s;
    put_header(s, 'H');
    put_u64(s, 7);
    s.push_back(kind);
    s.push_back(char(count >> 16));
    s.push_back(char(count >> 8));
    s.push_back(char(count));
    return s + body;
}

parse_result upd(const std::string& s, update_view* u)
{
    return on_copy(s, [&](const uint8_t* d, std::size_t n) { return parse_update(d, n, u); });
}

TEST(LektCodec, UpdateParsing)
{
    update_view u{};
    // One client with method 1.
    std::string rec;
    put_u32(rec, 4 + 4 + 6);
    put_u32(rec, 0xC6120002);
    put_u32(rec, 1);
    rec += endpoint(0xC6120002, 9);
    const std::string a = update('A', 1, rec);
    auto r = upd(a, &u);
    ASSERT_EQ(r.status, parse_status::ok);
    EXPECT_EQ(r.len, a.size());
    EXPECT_EQ(u.count, 1u);
    EXPECT_EQ(u.stamp, 7);
    expect_need_more_prefixes(a, [&](const std::string& p) { return upd(p, &u); });
    std::string ips;
    put_u32(ips, 1);
    put_u32(ips, 2);
    EXPECT_EQ(upd(update('R', 2, ips), &u).len, update_header_len + 8);
    EXPECT_EQ(upd(update('R', 3, ips), &u).status, parse_status::need_more);
    EXPECT_EQ(upd(update('X', 0, ""), &u).why, reject::bad_type);
    // Size smaller than the IP, method overrunning its object, unknown method, huge counts.
    std::string bad;
    put_u32(bad, 3);
    EXPECT_EQ(upd(update('A', 1, bad + "xxx"), &u).status, parse_status::invalid);
    std::string over = rec;
    over[3] = 4 + 4 + 5;
    EXPECT_EQ(upd(update('A', 1, over), &u).status, parse_status::invalid);
    std::string unk = rec;
    unk[11] = 9;
    EXPECT_EQ(upd(update('A', 1, unk), &u).status, parse_status::invalid);
    EXPECT_EQ(upd(update('R', max_update_count, std::string(max_update_len, '\0')), &u).status, parse_status::invalid);
}

} // namespace
} // namespace peregrine::lekt
