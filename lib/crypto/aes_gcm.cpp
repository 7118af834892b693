#include "crypto/aes_gcm.hpp"

#include <cstring>

#include "common/compiler.hpp"
#include "crypto/sha256.hpp"

namespace peregrine::crypto {

namespace {

// IPsec-MB's GCM reads through null pointers only when their length is non-zero, but a valid
// pointer costs nothing and keeps sanitizers quiet.
alignas(16) uint8_t no_bytes[16];

inline const uint8_t* in_ptr(const uint8_t* p) { return p != nullptr ? p : no_bytes; }
inline uint8_t* out_ptr(uint8_t* p) { return p != nullptr ? p : no_bytes; }

// The single-shot GCM functions rather than GCM jobs: IPsec-MB 1.3 runs GCM one buffer at a
// time in either case (the AVX-512 kernels are single-buffer, wide within the buffer), and the
// direct call skips the job ring (see docs/performance-history.md for the measurement).
inline void encrypt_one(IMB_MGR* m, const gcm_key& key, const gcm_op& op, uint8_t* tag)
{
    gcm_context_data gctx;
    if (key.key_len == 16)
        IMB_AES128_GCM_ENC(m, &key.data, &gctx, out_ptr(op.dst), in_ptr(op.src), op.len, op.iv,
                           in_ptr(op.aad), op.aad_len, tag, gcm_tag_len);
    else
        IMB_AES256_GCM_ENC(m, &key.data, &gctx, out_ptr(op.dst), in_ptr(op.src), op.len, op.iv,
                           in_ptr(op.aad), op.aad_len, tag, gcm_tag_len);
}

inline void decrypt_one(IMB_MGR* m, const gcm_key& key, const gcm_op& op, uint8_t* tag)
{
    gcm_context_data gctx;
    if (key.key_len == 16)
        IMB_AES128_GCM_DEC(m, &key.data, &gctx, out_ptr(op.dst), in_ptr(op.src), op.len, op.iv,
                           in_ptr(op.aad), op.aad_len, tag, gcm_tag_len);
    else
        IMB_AES256_GCM_DEC(m, &key.data, &gctx, out_ptr(op.dst), in_ptr(op.src), op.len, op.iv,
                           in_ptr(op.aad), op.aad_len, tag, gcm_tag_len);
}

} // namespace

bool make_gcm_key(mb_context& ctx, const uint8_t* key, size_t key_len, gcm_key* out)
{
    if (key == nullptr || (key_len != 16 && key_len != 32))
        return false;
    if (key_len == 16)
        IMB_AES128_GCM_PRE(ctx.mgr(), key, &out->data);
    else
        IMB_AES256_GCM_PRE(ctx.mgr(), key, &out->data);
    out->key_len = static_cast<uint32_t>(key_len);
    out->arch = ctx.used_arch();
    return true;
}

unsigned aes_gcm_encrypt_burst(mb_context& ctx, const gcm_key& key, const gcm_op* ops, unsigned n)
{
    if (PG_UNLIKELY(key.arch != ctx.used_arch()))
        return 0;
    IMB_MGR* m = ctx.mgr();
    for (unsigned i = 0; i < n; ++i)
        encrypt_one(m, key, ops[i], ops[i].tag);
    return n;
}

unsigned aes_gcm_decrypt_burst(mb_context& ctx, const gcm_key& key, const gcm_op* ops, unsigned n,
                               bool* ok)
{
    if (PG_UNLIKELY(key.arch != ctx.used_arch())) {
        for (unsigned i = 0; i < n; ++i)
            ok[i] = false;
        return 0;
    }
    IMB_MGR* m = ctx.mgr();
    unsigned good = 0;
    for (unsigned i = 0; i < n; ++i) {
        alignas(16) uint8_t tag[gcm_tag_len];
        decrypt_one(m, key, ops[i], tag);
        ok[i] = digest_equal(tag, ops[i].tag, gcm_tag_len);
        if (PG_LIKELY(ok[i]))
            ++good;
        else if (ops[i].len != 0)
            std::memset(ops[i].dst, 0, ops[i].len);
    }
    return good;
}

} // namespace peregrine::crypto
