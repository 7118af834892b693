#pragma once

// Helpers shared by the LEKT unit tests: client-side encoders and a decoder of the server's
// byte stream into events, so tests assert on what a client would see.

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lekt/codec.hpp"

namespace pgtest::lekt_util {

using namespace peregrine::lekt;

inline std::string hello(std::vector<uint32_t> methods, uint8_t major = version_major)
{
    uint32_t n = 0;
    for (uint32_t k : methods)
        n = std::max(n, k);
    std::vector<uint32_t> words((n + 31) / 32, 0);
    for (uint32_t k : methods)
        words[(k - 1) / 32] |= 1u << ((k - 1) % 32);
    std::string s;
    encode_handshake(s, major, n, words.data(), words.size());
    return s;
}

inline std::string endpoint(uint32_t ip, uint16_t port)
{
    std::string s;
    put_u32(s, ip);
    put_u16(s, port);
    return s;
}

inline std::string response(uint32_t index, const std::string& info)
{
    std::string s;
    encode_response(s, index, reinterpret_cast<const uint8_t*>(info.data()), info.size());
    return s;
}

inline std::string heartbeat(int64_t t)
{
    std::string s;
    encode_heartbeat(s, t);
    return s;
}

// One server packet as a client sees it.
struct event {
    char type;                  // 'A' accept, 'R' reject, 'T' request, 'U' update
    std::string reason;         // reject
    uint32_t index = 0;         // request
    update_view u{};            // update (body points into the decoded stream)
    std::vector<uint32_t> ips;  // update: the IP of each record
};

// Decodes a whole server stream; fails the test on anything malformed or left over.
inline std::vector<event> decode(const std::string& s)
{
    std::vector<event> out;
    const auto* d = reinterpret_cast<const uint8_t*>(s.data());
    std::size_t off = 0;
    while (off < s.size()) {
        const std::size_t n = s.size() - off;
        if (n < header_len || std::memcmp(d + off, "LEKT", 4) != 0) {
            ADD_FAILURE() << "bad server packet at offset " << off;
            return out;
        }
        const char t = char(d[off + 4]);
        event e{t};
        if (t == 'A') {
            off += header_len;
        } else if (t == 'R') {
            const void* z = std::memchr(d + off + header_len, 0, n - header_len);
            if (!z) {
                ADD_FAILURE() << "reject not NUL-terminated";
                return out;
            }
            const auto* zz = static_cast<const uint8_t*>(z);
            e.reason.assign(reinterpret_cast<const char*>(d + off + header_len), zz - (d + off + header_len));
            off = (zz - d) + 1;
        } else if (t == 'T') {
            e.index = get_u32(d + off + header_len);
            off += header_len + 4;
        } else if (t == 'H') {
            const parse_result r = parse_update(d + off, n, &e.u);
            if (r.status != parse_status::ok) {
                ADD_FAILURE() << "update packet at offset " << off << " does not parse";
                return out;
            }
            if (r.len > max_update_len)
                ADD_FAILURE() << "update packet of " << r.len << " bytes";
            e.type = 'U';
            const uint8_t* b = e.u.body;
            for (uint32_t i = 0; i < e.u.count; ++i) {
                if (e.u.kind == 'R') {
                    e.ips.push_back(get_u32(b));
                    b += 4;
                } else {
                    e.ips.push_back(get_u32(b + 4));
                    b += 4 + get_u32(b);
                }
            }
            off += r.len;
        } else {
            ADD_FAILURE() << "unknown server packet type " << t;
            return out;
        }
        out.push_back(std::move(e));
    }
    return out;
}

} // namespace pgtest::lekt_util
