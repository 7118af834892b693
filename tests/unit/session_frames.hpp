#pragma once

// Session protocol packets for tests and fuzz seeds, signed with OpenSSL (an implementation
// independent of lib/crypto, so a test cannot agree with a wrong digest by construction).

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "frame.hpp"
#include "session/codec.hpp"

namespace pgtest {

using session_id = std::array<uint8_t, 16>;

inline session_id sid(uint8_t seed)
{
    session_id id;
    for (unsigned i = 0; i < id.size(); ++i)
        id[i] = static_cast<uint8_t>(seed * 16 + i);
    return id;
}

inline bytes be64(uint64_t v)
{
    bytes b(8);
    for (int i = 7; i >= 0; --i, v >>= 8)
        b[i] = static_cast<uint8_t>(v);
    return b;
}

// SHA-256, or HMAC-SHA-256 when key is non-empty, of p[0..n).
inline bytes ref_digest(const uint8_t* p, std::size_t n, const bytes& key = {})
{
    bytes d(32);
    if (key.empty()) {
        SHA256(p, n, d.data());
    } else {
        unsigned len = 32;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), p, n, d.data(), &len);
    }
    return d;
}

// A session packet (the UDP payload): header, payload, digest over bytes 32..end.
// token: the session's ACCEPT's, which a client echoes in every later packet.
inline bytes session_pkt(const session_id& id, peregrine::session::type t, uint64_t order, const bytes& payload = {},
                         uint16_t custom = 0, const bytes& key = {}, uint32_t token = 0)
{
    using namespace peregrine::session;
    bytes p(header_len + payload.size(), 0);
    std::memcpy(p.data() + off_client, id.data(), id.size());
    p[off_type] = static_cast<uint8_t>(t);
    p[off_token] = static_cast<uint8_t>(token >> 16);
    p[off_token + 1] = static_cast<uint8_t>(token >> 8);
    p[off_token + 2] = static_cast<uint8_t>(token);
    p[off_length] = static_cast<uint8_t>(payload.size() >> 8);
    p[off_length + 1] = static_cast<uint8_t>(payload.size());
    p[off_custom] = static_cast<uint8_t>(custom >> 8);
    p[off_custom + 1] = static_cast<uint8_t>(custom);
    const bytes o = be64(order);
    std::memcpy(p.data() + off_order, o.data(), 8);
    if (!payload.empty())
        std::memcpy(p.data() + header_len, payload.data(), payload.size());
    const bytes d = ref_digest(p.data() + off_client, p.size() - off_client, key);
    std::memcpy(p.data(), d.data(), 32);
    return p;
}

// Whether a session packet's digest field matches its contents.
inline bool digest_ok(const bytes& p, const bytes& key = {})
{
    if (p.size() < peregrine::session::header_len)
        return false;
    const bytes d = ref_digest(p.data() + 32, p.size() - 32, key);
    return std::memcmp(d.data(), p.data(), 32) == 0;
}

} // namespace pgtest
