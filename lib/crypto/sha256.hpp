#pragma once

// SHA-256 and HMAC-SHA-256 of a burst of buffers at once through IPsec-MB's multi-buffer job
// API: the buffers of one burst occupy the lanes of the SIMD SHA-256 kernel together (16 lanes
// with AVX-512), instead of one OpenSSL call per packet. Digests are the standard ones (FIPS
// 180-4, RFC 2104): interchangeable with OpenSSL's.
//
// Hot path: no allocation, no locks, no syscalls; the mb_context (one per lcore) is the only
// state and must not be shared between threads.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/mb_context.hpp"

namespace peregrine::crypto {

static constexpr unsigned sha256_len = 32;
static constexpr unsigned sha256_block = 64;  // HMAC pads keys to one compression block

// Longest buffer the multi-buffer SHA-256 lanes take (IPsec-MB keeps lane lengths in 16 bits and
// rejects longer jobs). Any UDP payload fits. sha256_burst hashes longer buffers one at a time
// with IPsec-MB's single-buffer SHA-256 instead; hmac_sha256_burst has no such path (IPsec-MB
// offers no HMAC outside the lanes) and rejects them (see there).
static constexpr uint32_t mb_max_len = 65534;

// HMAC-SHA-256 key, ready for IPsec-MB: the SHA-256 states after the (key ^ ipad) and
// (key ^ opad) blocks, so each message costs its own blocks plus one outer block, never the
// key's. Holds key-derived secrets: the raw key is not kept.
struct hmac_key {
    alignas(16) uint8_t ipad_state[sha256_len];
    alignas(16) uint8_t opad_state[sha256_len];
    // HMAC of the empty message: IPsec-MB refuses zero-length HMAC jobs, so it is computed
    // once here (from the same key blocks) and copied for empty buffers.
    uint8_t empty_tag[sha256_len];
};

// Any key length (RFC 2104: keys longer than a block are hashed first; an empty key is valid).
hmac_key make_hmac_key(mb_context& ctx, const uint8_t* key, size_t key_len);

// digest[i] = SHA-256(data[i][0 .. len[i])), i < n. Any n (0 included); the buffers are
// submitted together and flushed, so all n are done on return. data[i] must hold len[i]
// readable bytes (it may be null when len[i] == 0); digest must hold n digests.
void sha256_burst(mb_context& ctx, const uint8_t* const* data, const uint32_t* len, unsigned n,
                  uint8_t (*digest)[sha256_len]);

// digest[i] = HMAC-SHA-256(key, data[i][0 .. len[i])), full 32-byte tags. A buffer longer than
// mb_max_len gets an all-zero digest and counts in ctx.job_errors(): callers must not pass one
// (a verifier bounds lengths by the packet size first).
void hmac_sha256_burst(mb_context& ctx, const hmac_key& key, const uint8_t* const* data,
                       const uint32_t* len, unsigned n, uint8_t (*digest)[sha256_len]);

// Constant-time equality of two digests (for verification: no early exit on the first
// differing byte, so timing does not tell an attacker how much of a forged tag was right).
// Eight bytes at a time: a session packet's digest is compared on the fast path.
inline bool digest_equal(const uint8_t* a, const uint8_t* b, size_t len = sha256_len)
{
    uint64_t x = 0;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t p, q;
        std::memcpy(&p, a + i, 8);
        std::memcpy(&q, b + i, 8);
        x |= p ^ q;
    }
    for (; i < len; ++i)
        x |= uint64_t(a[i] ^ b[i]);
    return x == 0;
}

} // namespace peregrine::crypto
