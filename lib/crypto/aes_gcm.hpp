#pragma once

// AES-GCM (NIST SP 800-38D) encryption and authenticated decryption of a burst of buffers
// through IPsec-MB (VAES + VPCLMULQDQ kernels on AVX-512 hosts). 128- and 256-bit keys, the
// standard 12-byte IV, any AAD, full 16-byte tags. Output is byte-identical to OpenSSL's
// EVP_aes_*_gcm.
//
// Hot path: no allocation, no locks; the mb_context is per lcore. A gcm_key holds the expanded
// round keys and GHASH tables in the layout of the code path (arch) of the context that made
// it, so use it with contexts of the same arch (all contexts of one process made with
// mb_context::create() are).

#include <cstddef>
#include <cstdint>

#include "crypto/mb_context.hpp"

namespace peregrine::crypto {

static constexpr unsigned gcm_iv_len = 12;   // the 96-bit IV GCM is designed around (J0 = IV||1)
static constexpr unsigned gcm_tag_len = 16;  // full tags only: truncation weakens forgery bounds

struct gcm_key {
    gcm_key_data data;        // expanded AES keys + GHASH powers of H (64-byte aligned)
    uint32_t key_len;         // 16 or 32
    mb_context::arch arch;    // layout of `data`
};

// false (and `out` untouched) unless key_len is 16 or 32.
bool make_gcm_key(mb_context& ctx, const uint8_t* key, size_t key_len, gcm_key* out);

// One buffer of a burst. src and dst may be the same buffer (in place) or must not overlap.
// len may be 0 (then GCM is GMAC over the AAD); src/dst/aad may be null when their length is 0.
struct gcm_op {
    const uint8_t* src;
    uint8_t* dst;
    uint32_t len;
    const uint8_t* iv;   // gcm_iv_len bytes; never reuse an IV with the same key
    const uint8_t* aad;
    uint32_t aad_len;
    uint8_t* tag;        // encrypt: written (gcm_tag_len); decrypt: the received tag, read
};

// Encrypts every op and writes its tag. Returns n, or 0 (nothing written) if the key was made
// by a context of another arch.
unsigned aes_gcm_encrypt_burst(mb_context& ctx, const gcm_key& key, const gcm_op* ops, unsigned n);

// Decrypts every op and checks its tag in constant time: ok[i] tells whether op i is
// authentic. The plaintext of an op that fails is zeroed (never hand out unauthenticated
// plaintext). Returns the number of authentic ops (0 and all ok[i] false on an arch mismatch).
unsigned aes_gcm_decrypt_burst(mb_context& ctx, const gcm_key& key, const gcm_op* ops, unsigned n,
                               bool* ok);

} // namespace peregrine::crypto
