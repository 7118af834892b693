// Accelerators (lib/crypto): known-answer vectors (NIST FIPS 180-4 examples, RFC 4231, NIST GCM
// / McGrew-Viega, the CRC-32 check value) and randomized comparison against OpenSSL and zlib for
// every length 0..2048, in bursts of mixed lengths, on every IPsec-MB arch this CPU runs.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crypto/sha256.hpp"

namespace peregrine::crypto {
namespace {

using bytes = std::vector<uint8_t>;

bytes from_hex(const std::string& h)
{
    bytes out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoul(h.substr(i, 2), nullptr, 16)));
    return out;
}

std::string to_hex(const uint8_t* p, size_t n)
{
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

bytes from_str(const std::string& s) { return bytes(s.begin(), s.end()); }

std::unique_ptr<mb_context> context()
{
    auto ctx = mb_context::create();
    EXPECT_NE(ctx, nullptr);
    return ctx;
}

// Every IPsec-MB code path this CPU can run (they must all agree with the reference).
std::vector<mb_context::arch> archs()
{
    std::vector<mb_context::arch> out;
    for (auto a : {mb_context::arch::sse, mb_context::arch::avx, mb_context::arch::avx2,
                   mb_context::arch::avx512})
        if (mb_context::create(a))
            out.push_back(a);
    return out;
}

std::string sha256_hex(mb_context& ctx, const bytes& msg)
{
    const uint8_t* d[1] = {msg.data()};
    const uint32_t l[1] = {static_cast<uint32_t>(msg.size())};
    uint8_t out[1][sha256_len];
    sha256_burst(ctx, d, l, 1, out);
    return to_hex(out[0], sha256_len);
}

std::string hmac_hex(mb_context& ctx, const bytes& key, const bytes& msg)
{
    const hmac_key k = make_hmac_key(ctx, key.data(), key.size());
    const uint8_t* d[1] = {msg.data()};
    const uint32_t l[1] = {static_cast<uint32_t>(msg.size())};
    uint8_t out[1][sha256_len];
    hmac_sha256_burst(ctx, k, d, l, 1, out);
    return to_hex(out[0], sha256_len);
}

bytes openssl_sha256(const uint8_t* p, size_t n)
{
    bytes out(sha256_len);
    unsigned len = 0;
    EXPECT_EQ(EVP_Digest(p, n, out.data(), &len, EVP_sha256(), nullptr), 1);
    return out;
}

bytes openssl_hmac(const bytes& key, const uint8_t* p, size_t n)
{
    bytes out(sha256_len);
    unsigned len = 0;
    // An empty key still needs a non-null pointer for HMAC().
    static const uint8_t zero = 0;
    EXPECT_NE(HMAC(EVP_sha256(), key.empty() ? &zero : key.data(), static_cast<int>(key.size()), p,
                   n, out.data(), &len),
              nullptr);
    return out;
}

bytes random_bytes(std::mt19937_64& rng, size_t n)
{
    bytes b(n);
    for (auto& x : b)
        x = static_cast<uint8_t>(rng());
    return b;
}

// Lengths 0..max, shuffled, so every burst mixes short and long buffers.
std::vector<uint32_t> every_length_shuffled(std::mt19937_64& rng, uint32_t max = 2048)
{
    std::vector<uint32_t> lens(max + 1);
    std::iota(lens.begin(), lens.end(), 0u);
    std::shuffle(lens.begin(), lens.end(), rng);
    return lens;
}

// ---- SHA-256 ----------------------------------------------------------------------------------

TEST(Sha256, NistVectors)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    EXPECT_EQ(sha256_hex(*ctx, {}),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex(*ctx, from_str("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(*ctx, from_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha256_hex(*ctx, from_str("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                        "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha256_hex(*ctx, bytes(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    EXPECT_EQ(ctx->job_errors(), 0u);
}

TEST(Sha256, NullPointerForEmptyBuffer)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    const uint8_t* d[1] = {nullptr};
    const uint32_t l[1] = {0};
    uint8_t out[1][sha256_len];
    sha256_burst(*ctx, d, l, 1, out);
    EXPECT_EQ(to_hex(out[0], sha256_len),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, EmptyBurstTouchesNothing)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    sha256_burst(*ctx, nullptr, nullptr, 0, nullptr);
    const hmac_key k = make_hmac_key(*ctx, nullptr, 0);
    hmac_sha256_burst(*ctx, k, nullptr, nullptr, 0, nullptr);
    EXPECT_EQ(ctx->job_errors(), 0u);
}

// Every length 0..2048 against OpenSSL, in bursts of 32 mixed lengths, on every arch; the
// digest array is poisoned first so a digest that is not written fails.
TEST(Sha256, MatchesOpenSslEveryLengthInMixedBursts)
{
    std::mt19937_64 rng(1);
    const bytes pool = random_bytes(rng, 2048 + 64);
    for (auto a : archs()) {
        auto ctx = mb_context::create(a);
        ASSERT_TRUE(ctx);
        const auto lens = every_length_shuffled(rng);
        for (size_t base = 0; base < lens.size(); base += 32) {
            const unsigned n = static_cast<unsigned>(std::min<size_t>(32, lens.size() - base));
            const uint8_t* d[32];
            uint32_t l[32];
            uint8_t out[32][sha256_len];
            std::memset(out, 0xa5, sizeof out);
            for (unsigned i = 0; i < n; ++i) {
                l[i] = lens[base + i];
                d[i] = pool.data() + (rng() % 64);  // unaligned starts too
            }
            sha256_burst(*ctx, d, l, n, out);
            for (unsigned i = 0; i < n; ++i)
                ASSERT_EQ(bytes(out[i], out[i] + sha256_len), openssl_sha256(d[i], l[i]))
                    << "arch " << mb_context::arch_name(a) << " length " << l[i];
        }
        EXPECT_EQ(ctx->job_errors(), 0u);
    }
}

// Burst sizes around the lane count (16), the hash-burst chunk (128) and the job ring (256).
TEST(Sha256, AnyBurstSize)
{
    std::mt19937_64 rng(2);
    auto ctx = context();
    ASSERT_TRUE(ctx);
    for (unsigned n : {1u, 2u, 15u, 16u, 17u, 31u, 32u, 33u, 127u, 128u, 129u, 255u, 256u, 257u, 600u}) {
        std::vector<bytes> bufs;
        std::vector<const uint8_t*> d;
        std::vector<uint32_t> l;
        for (unsigned i = 0; i < n; ++i)
            bufs.push_back(random_bytes(rng, rng() % 1500));
        for (auto& b : bufs) {
            d.push_back(b.data());
            l.push_back(static_cast<uint32_t>(b.size()));
        }
        std::vector<uint8_t> out(n * sha256_len, 0xa5);
        auto* dig = reinterpret_cast<uint8_t(*)[sha256_len]>(out.data());
        sha256_burst(*ctx, d.data(), l.data(), n, dig);
        for (unsigned i = 0; i < n; ++i)
            ASSERT_EQ(bytes(dig[i], dig[i] + sha256_len), openssl_sha256(d[i], l[i]))
                << "burst " << n << " index " << i;

        const bytes key = random_bytes(rng, 32);
        const hmac_key k = make_hmac_key(*ctx, key.data(), key.size());
        std::fill(out.begin(), out.end(), 0xa5);
        hmac_sha256_burst(*ctx, k, d.data(), l.data(), n, dig);
        for (unsigned i = 0; i < n; ++i)
            ASSERT_EQ(bytes(dig[i], dig[i] + sha256_len), openssl_hmac(key, d[i], l[i]))
                << "hmac burst " << n << " index " << i;
    }
    EXPECT_EQ(ctx->job_errors(), 0u);
}

// Around the lane limit: the longest lane job, then the single-buffer fallback, in one burst.
TEST(Sha256, LongBuffersAroundTheLaneLimit)
{
    std::mt19937_64 rng(4);
    auto ctx = context();
    ASSERT_TRUE(ctx);
    const bytes big = random_bytes(rng, 200000);
    const uint32_t l[6] = {mb_max_len - 1, mb_max_len, mb_max_len + 1, 65536, 100, 199999};
    const uint8_t* d[6];
    for (auto& p : d)
        p = big.data() + 1;
    uint8_t out[6][sha256_len];
    std::memset(out, 0xa5, sizeof out);
    sha256_burst(*ctx, d, l, 6, out);
    for (unsigned i = 0; i < 6; ++i)
        EXPECT_EQ(bytes(out[i], out[i] + sha256_len), openssl_sha256(d[i], l[i])) << l[i];
    EXPECT_EQ(ctx->job_errors(), 0u);
}

// ---- HMAC-SHA-256 -----------------------------------------------------------------------------

TEST(HmacSha256, Rfc4231)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    // Test case 1
    EXPECT_EQ(hmac_hex(*ctx, bytes(20, 0x0b), from_str("Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    // 2: key shorter than the output
    EXPECT_EQ(hmac_hex(*ctx, from_str("Jefe"), from_str("what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // 3
    EXPECT_EQ(hmac_hex(*ctx, bytes(20, 0xaa), bytes(50, 0xdd)),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    // 4
    EXPECT_EQ(hmac_hex(*ctx, from_hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                       bytes(50, 0xcd)),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    // 5: truncation to 128 bits is the caller's business; the first 16 bytes must match
    EXPECT_EQ(hmac_hex(*ctx, bytes(20, 0x0c), from_str("Test With Truncation")).substr(0, 32),
              "a3b6167473100ee06e0c796c2955552b");
    // 6: key larger than a block (hashed first)
    EXPECT_EQ(hmac_hex(*ctx, bytes(131, 0xaa),
                       from_str("Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    // 7: key and data larger than a block
    EXPECT_EQ(hmac_hex(*ctx, bytes(131, 0xaa),
                       from_str("This is a test using a larger than block-size key and a larger "
                                "than block-size data. The key needs to be hashed before being "
                                "used by the HMAC algorithm.")),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    EXPECT_EQ(ctx->job_errors(), 0u);
}

// Key lengths around the block size (63, 64, 65), empty and long keys; every message length
// 0..2048 in mixed bursts; every arch.
TEST(HmacSha256, MatchesOpenSslEveryLengthInMixedBursts)
{
    std::mt19937_64 rng(3);
    const bytes pool = random_bytes(rng, 2048 + 64);
    for (auto a : archs()) {
        auto ctx = mb_context::create(a);
        ASSERT_TRUE(ctx);
        for (size_t key_len : {0, 1, 32, 63, 64, 65, 200}) {
            const bytes key = random_bytes(rng, key_len);
            const hmac_key k = make_hmac_key(*ctx, key.data(), key.size());
            const auto lens = every_length_shuffled(rng);
            for (size_t base = 0; base < lens.size(); base += 32) {
                const unsigned n = static_cast<unsigned>(std::min<size_t>(32, lens.size() - base));
                const uint8_t* d[32];
                uint32_t l[32];
                uint8_t out[32][sha256_len];
                std::memset(out, 0xa5, sizeof out);
                for (unsigned i = 0; i < n; ++i) {
                    l[i] = lens[base + i];
                    d[i] = pool.data() + (rng() % 64);
                }
                hmac_sha256_burst(*ctx, k, d, l, n, out);
                for (unsigned i = 0; i < n; ++i)
                    ASSERT_EQ(bytes(out[i], out[i] + sha256_len), openssl_hmac(key, d[i], l[i]))
                        << "arch " << mb_context::arch_name(a) << " key " << key_len << " length "
                        << l[i];
            }
        }
        EXPECT_EQ(ctx->job_errors(), 0u);
    }
}

// HMAC has no path beyond the lane limit: such a buffer gets a zero digest and is counted, and
// the rest of its burst is still right.
TEST(HmacSha256, OverLongBufferIsRejectedAndCounted)
{
    std::mt19937_64 rng(5);
    auto ctx = context();
    ASSERT_TRUE(ctx);
    const bytes key = random_bytes(rng, 32);
    const hmac_key k = make_hmac_key(*ctx, key.data(), key.size());
    const bytes big = random_bytes(rng, mb_max_len + 10);
    const uint32_t l[4] = {mb_max_len, mb_max_len + 1, 0, 64};
    const uint8_t* d[4] = {big.data(), big.data(), big.data(), big.data()};
    uint8_t out[4][sha256_len];
    std::memset(out, 0xa5, sizeof out);
    hmac_sha256_burst(*ctx, k, d, l, 4, out);
    EXPECT_EQ(bytes(out[0], out[0] + sha256_len), openssl_hmac(key, d[0], l[0]));
    EXPECT_EQ(bytes(out[1], out[1] + sha256_len), bytes(sha256_len, 0));
    EXPECT_EQ(bytes(out[2], out[2] + sha256_len), openssl_hmac(key, d[2], 0));
    EXPECT_EQ(bytes(out[3], out[3] + sha256_len), openssl_hmac(key, d[3], l[3]));
    EXPECT_EQ(ctx->job_errors(), 1u);
}

TEST(HmacSha256, DigestEqualIsExact)
{
    uint8_t a[sha256_len], b[sha256_len];
    std::memset(a, 7, sizeof a);
    std::memcpy(b, a, sizeof a);
    EXPECT_TRUE(digest_equal(a, b));
    for (unsigned i = 0; i < sha256_len; ++i) {
        b[i] ^= 0x80;
        EXPECT_FALSE(digest_equal(a, b)) << i;
        b[i] ^= 0x80;
    }
}

} // namespace
} // namespace peregrine::crypto

// ==== part 2 of this file: AES-GCM, CRC-32, igzip ==============================================

#include <zlib.h>

#include "crypto/aes_gcm.hpp"
#include "crypto/crc32.hpp"
#include "crypto/deflate.hpp"

namespace peregrine::crypto {
namespace {

// ---- AES-GCM ----------------------------------------------------------------------------------

struct gcm_vector {
    const char* key;
    const char* iv;
    const char* pt;
    const char* aad;
    const char* ct;
    const char* tag;
};

// The GCM specification's test cases (McGrew & Viega, "The Galois/Counter Mode of Operation",
// appendix B; also NIST's gcmEncryptExtIV vectors): cases 1-4 (AES-128) and 13-16 (AES-256).
const char* const p_long =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const char* const p_short =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const char* const aad_cases = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const gcm_vector gcm_vectors[] = {
    {"00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {"00000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", p_long, "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"},
    {"feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888", p_short, aad_cases,
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "00000000000000000000000000000000", "",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", p_long, "",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", p_short, aad_cases,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AesGcm, SpecVectors)
{
    for (auto a : archs()) {
        auto ctx = mb_context::create(a);
        ASSERT_TRUE(ctx);
        for (const auto& v : gcm_vectors) {
            const bytes key = from_hex(v.key), iv = from_hex(v.iv), pt = from_hex(v.pt),
                        aad = from_hex(v.aad);
            gcm_key k;
            ASSERT_TRUE(make_gcm_key(*ctx, key.data(), key.size(), &k));
            bytes ct(pt.size() + 1, 0), tag(gcm_tag_len, 0);
            gcm_op op{pt.data(), ct.data(), static_cast<uint32_t>(pt.size()), iv.data(),
                      aad.data(), static_cast<uint32_t>(aad.size()), tag.data()};
            ASSERT_EQ(aes_gcm_encrypt_burst(*ctx, k, &op, 1), 1u);
            EXPECT_EQ(to_hex(ct.data(), pt.size()), v.ct) << mb_context::arch_name(a) << " " << v.key;
            EXPECT_EQ(to_hex(tag.data(), tag.size()), v.tag) << mb_context::arch_name(a) << " " << v.key;

            bytes back(pt.size() + 1, 0xee);
            gcm_op dop{ct.data(), back.data(), static_cast<uint32_t>(pt.size()), iv.data(),
                       aad.data(), static_cast<uint32_t>(aad.size()), tag.data()};
            bool ok = false;
            EXPECT_EQ(aes_gcm_decrypt_burst(*ctx, k, &dop, 1, &ok), 1u);
            EXPECT_TRUE(ok);
            EXPECT_EQ(bytes(back.begin(), back.begin() + pt.size()), pt);
            EXPECT_EQ(back[pt.size()], 0xee);  // nothing written past the buffer
        }
    }
}

TEST(AesGcm, RejectsOtherKeySizes)
{
    auto ctx = context();
    ASSERT_TRUE(ctx);
    uint8_t key[64] = {};
    gcm_key k;
    for (size_t len : {0, 8, 15, 17, 24, 31, 33, 64})
        EXPECT_FALSE(make_gcm_key(*ctx, key, len, &k)) << len;
    EXPECT_FALSE(make_gcm_key(*ctx, nullptr, 16, &k));
}

bool openssl_gcm(bool enc, const bytes& key, const uint8_t* iv, const uint8_t* aad, int aad_len,
                 const uint8_t* in, int len, uint8_t* out, uint8_t* tag)
{
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    const EVP_CIPHER* cipher = key.size() == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    int n = 0;
    bool ok = EVP_CipherInit_ex(c, cipher, nullptr, key.data(), iv, enc ? 1 : 0) == 1;
    if (ok && aad_len > 0)
        ok = EVP_CipherUpdate(c, nullptr, &n, aad, aad_len) == 1;
    if (ok && len > 0)
        ok = EVP_CipherUpdate(c, out, &n, in, len) == 1;
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, gcm_tag_len, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(c, out + (len > 0 ? len : 0), &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, gcm_tag_len, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok;
}

// Every length 0..2048 against OpenSSL, both key sizes, random AAD 0..80 bytes, bursts of 32
// mixed lengths, every arch; then OpenSSL's ciphertexts decrypt and verify here, and in place.
TEST(AesGcm, MatchesOpenSslEveryLengthInMixedBursts)
{
    std::mt19937_64 rng(6);
    for (auto a : archs()) {
        auto ctx = mb_context::create(a);
        ASSERT_TRUE(ctx);
        for (size_t key_len : {16, 32}) {
            const bytes key = random_bytes(rng, key_len);
            gcm_key k;
            ASSERT_TRUE(make_gcm_key(*ctx, key.data(), key.size(), &k));
            const auto lens = every_length_shuffled(rng);
            for (size_t base = 0; base < lens.size(); base += 32) {
                const unsigned n = static_cast<unsigned>(std::min<size_t>(32, lens.size() - base));
                std::vector<bytes> pt(n), ct(n), iv(n), aad(n), tag(n), ref_ct(n), ref_tag(n);
                gcm_op ops[32];
                for (unsigned i = 0; i < n; ++i) {
                    pt[i] = random_bytes(rng, lens[base + i]);
                    ct[i] = bytes(pt[i].size() + 16, 0xee);
                    iv[i] = random_bytes(rng, gcm_iv_len);
                    aad[i] = random_bytes(rng, rng() % 81);
                    tag[i] = bytes(gcm_tag_len, 0);
                    ref_ct[i] = bytes(pt[i].size() + 16, 0);
                    ref_tag[i] = bytes(gcm_tag_len, 0);
                    ops[i] = {pt[i].data(), ct[i].data(), static_cast<uint32_t>(pt[i].size()),
                              iv[i].data(), aad[i].data(), static_cast<uint32_t>(aad[i].size()),
                              tag[i].data()};
                }
                ASSERT_EQ(aes_gcm_encrypt_burst(*ctx, k, ops, n), n);
                for (unsigned i = 0; i < n; ++i) {
                    ASSERT_TRUE(openssl_gcm(true, key, iv[i].data(), aad[i].data(),
                                            static_cast<int>(aad[i].size()), pt[i].data(),
                                            static_cast<int>(pt[i].size()), ref_ct[i].data(),
                                            ref_tag[i].data()));
                    const size_t len = pt[i].size();
                    ASSERT_EQ(bytes(ct[i].begin(), ct[i].begin() + len),
                              bytes(ref_ct[i].begin(), ref_ct[i].begin() + len))
                        << mb_context::arch_name(a) << " key " << key_len << " length " << len;
                    ASSERT_EQ(ct[i][len], 0xee);
                    ASSERT_EQ(tag[i], ref_tag[i])
                        << mb_context::arch_name(a) << " key " << key_len << " length " << len;
                }
                // Decrypt OpenSSL's output in place.
                for (unsigned i = 0; i < n; ++i)
                    ops[i] = {ref_ct[i].data(), ref_ct[i].data(), static_cast<uint32_t>(pt[i].size()),
                              iv[i].data(), aad[i].data(), static_cast<uint32_t>(aad[i].size()),
                              ref_tag[i].data()};
                bool ok[32];
                ASSERT_EQ(aes_gcm_decrypt_burst(*ctx, k, ops, n, ok), n);
                for (unsigned i = 0; i < n; ++i) {
                    ASSERT_TRUE(ok[i]);
                    ASSERT_EQ(bytes(ref_ct[i].begin(), ref_ct[i].begin() + pt[i].size()), pt[i]);
                }
            }
        }
    }
}

// Any change to ciphertext, tag, AAD or IV fails authentication; the failed op's plaintext is
// zeroed; the other ops of the burst are unaffected.
TEST(AesGcm, TamperingIsDetectedPerOp)
{
    std::mt19937_64 rng(7);
    auto ctx = context();
    ASSERT_TRUE(ctx);
    const bytes key = random_bytes(rng, 16);
    gcm_key k;
    ASSERT_TRUE(make_gcm_key(*ctx, key.data(), key.size(), &k));
    const bytes pt = random_bytes(rng, 100), aad = random_bytes(rng, 20), iv = random_bytes(rng, 12);
    bytes ct(pt.size()), tag(gcm_tag_len);
    gcm_op op{pt.data(), ct.data(), 100, iv.data(), aad.data(), 20, tag.data()};
    ASSERT_EQ(aes_gcm_encrypt_burst(*ctx, k, &op, 1), 1u);

    enum what { none, ct_bit, tag_bit, aad_bit, iv_bit, count };
    for (int w = none; w < count; ++w) {
        for (unsigned bit = 0; bit < 8; ++bit) {
            bytes c2 = ct, t2 = tag, a2 = aad, i2 = iv;
            if (w == ct_bit) c2[(bit * 13) % c2.size()] ^= uint8_t(1u << bit);
            if (w == tag_bit) t2[bit * 2] ^= uint8_t(1u << bit);
            if (w == aad_bit) a2[bit] ^= uint8_t(1u << bit);
            if (w == iv_bit) i2[bit] ^= uint8_t(1u << bit);
            bytes out1(100, 0xee), out2(100, 0xee);
            gcm_op ops[2] = {{c2.data(), out1.data(), 100, i2.data(), a2.data(), 20, t2.data()},
                             {ct.data(), out2.data(), 100, iv.data(), aad.data(), 20, tag.data()}};
            bool ok[2];
            const unsigned good = aes_gcm_decrypt_burst(*ctx, k, ops, 2, ok);
            EXPECT_TRUE(ok[1]);
            EXPECT_EQ(out2, pt);
            if (w == none) {
                EXPECT_EQ(good, 2u);
                EXPECT_TRUE(ok[0]);
                EXPECT_EQ(out1, pt);
            } else {
                EXPECT_EQ(good, 1u) << w << " " << bit;
                EXPECT_FALSE(ok[0]) << w << " " << bit;
                EXPECT_EQ(out1, bytes(100, 0)) << w << " " << bit;
            }
        }
    }
}

TEST(AesGcm, KeyFromAnotherArchIsRefused)
{
    const auto as = archs();
    if (as.size() < 2)
        GTEST_SKIP() << "one IPsec-MB arch on this CPU";
    auto c1 = mb_context::create(as.front()), c2 = mb_context::create(as.back());
    ASSERT_TRUE(c1 && c2);
    uint8_t key[16] = {1}, iv[12] = {}, buf[32] = {}, tag[16] = {};
    gcm_key k;
    ASSERT_TRUE(make_gcm_key(*c1, key, 16, &k));
    gcm_op op{buf, buf, 32, iv, nullptr, 0, tag};
    EXPECT_EQ(aes_gcm_encrypt_burst(*c2, k, &op, 1), 0u);
    bool ok = true;
    EXPECT_EQ(aes_gcm_decrypt_burst(*c2, k, &op, 1, &ok), 0u);
    EXPECT_FALSE(ok);
}

// ---- CRC-32 -----------------------------------------------------------------------------------

TEST(Crc32, CheckValue)
{
    const std::string s = "123456789";
    EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
    EXPECT_EQ(crc32(nullptr, 0), 0u);
}

TEST(Crc32, MatchesZlibEveryLengthAndChains)
{
    std::mt19937_64 rng(8);
    const bytes pool = random_bytes(rng, 2048 + 64);
    for (uint32_t len = 0; len <= 2048; ++len) {
        const uint8_t* p = pool.data() + (len % 61);
        const uint32_t ref = static_cast<uint32_t>(::crc32(0L, p, len));
        ASSERT_EQ(crc32(p, len), ref) << len;
        const uint32_t cut = len ? static_cast<uint32_t>(rng() % len) : 0;
        ASSERT_EQ(crc32(p + cut, len - cut, crc32(p, cut)), ref) << len << " cut " << cut;
    }
    // Bursts of mixed lengths.
    const auto lens = every_length_shuffled(rng);
    for (size_t base = 0; base < lens.size(); base += 32) {
        const unsigned n = static_cast<unsigned>(std::min<size_t>(32, lens.size() - base));
        const uint8_t* d[32];
        uint32_t l[32], out[32];
        for (unsigned i = 0; i < n; ++i) {
            d[i] = pool.data() + (rng() % 64);
            l[i] = lens[base + i];
        }
        crc32_burst(d, l, n, out);
        for (unsigned i = 0; i < n; ++i)
            ASSERT_EQ(out[i], static_cast<uint32_t>(::crc32(0L, d[i], l[i]))) << l[i];
    }
}

// ---- igzip ------------------------------------------------------------------------------------

// Compressible, JSON-like text: what deflate is for on this path.
bytes text_payload(std::mt19937_64& rng, size_t n)
{
    static const char* words[] = {"{\"id\":", "\"name\":", "\"value\":", "true", "false", "null",
                                  ",", "}", "\"session\"", "\"peregrine\"", " ", "\n", "[", "]"};
    std::string s;
    while (s.size() < n) {
        s += words[rng() % (sizeof words / sizeof *words)];
        if (rng() % 4 == 0)
            s += std::to_string(rng() % 100000);
    }
    return bytes(s.begin(), s.begin() + n);
}

int zlib_window_bits(zformat f)
{
    return f == zformat::raw ? -15 : f == zformat::zlib ? 15 : 15 + 16;
}

// zlib inflate of everything; Z_STREAM_END required.
bool zlib_inflate(zformat f, const uint8_t* in, size_t len, bytes& out)
{
    z_stream z{};
    if (inflateInit2(&z, zlib_window_bits(f)) != Z_OK)
        return false;
    out.assign(len * 1100 + 64, 0);
    z.next_in = const_cast<Bytef*>(in);
    z.avail_in = static_cast<uInt>(len);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&z, Z_FINISH);
    out.resize(z.total_out);
    const bool all_used = z.avail_in == 0;
    inflateEnd(&z);
    return r == Z_STREAM_END && all_used;
}

bytes zlib_deflate(zformat f, int level, const uint8_t* in, size_t len)
{
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, zlib_window_bits(f), 8, Z_DEFAULT_STRATEGY), Z_OK);
    bytes out(deflateBound(&z, len));
    z.next_in = const_cast<Bytef*>(in);
    z.avail_in = static_cast<uInt>(len);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

const char* format_name(zformat f)
{
    return f == zformat::raw ? "raw" : f == zformat::zlib ? "zlib" : "gzip";
}

// igzip output inflated by zlib, zlib output (levels 1..9) inflated by igzip, for every length
// 0..2048 of text and of random bytes, every format, igzip levels 0..3.
TEST(Igzip, InteroperatesWithZlibEveryLength)
{
    std::mt19937_64 rng(9);
    for (zformat f : {zformat::raw, zformat::zlib, zformat::gzip}) {
        auto inf = inflater::create(f);
        ASSERT_TRUE(inf);
        // Levels 0..3, and level 0 with codes trained on text (index 4).
        std::unique_ptr<deflater> defs[5];
        for (unsigned lvl = 0; lvl < 4; ++lvl) {
            defs[lvl] = deflater::create(lvl, f);
            ASSERT_TRUE(defs[lvl]);
        }
        const bytes sample = text_payload(rng, 8192);
        defs[4] = deflater::create_trained(sample.data(), sample.size(), f);
        ASSERT_TRUE(defs[4]);
        for (uint32_t len = 0; len <= 2048; ++len) {
            const bytes in = (len & 1) ? random_bytes(rng, len) : text_payload(rng, len);
            const unsigned lvl = len % 5;
            bytes comp(deflater::bound(len) + 16, 0xee);
            const uint32_t cap = deflater::bound(len);
            const long clen = defs[lvl]->compress(in.data(), len, comp.data(), cap);
            ASSERT_GT(clen, 0) << format_name(f) << " level " << lvl << " length " << len;
            ASSERT_LE(clen, static_cast<long>(cap));
            ASSERT_EQ(comp[cap], 0xee);
            bytes back;
            ASSERT_TRUE(zlib_inflate(f, comp.data(), static_cast<size_t>(clen), back))
                << format_name(f) << " level " << lvl << " length " << len;
            ASSERT_EQ(back, in) << format_name(f) << " level " << lvl << " length " << len;

            // And back through igzip's own inflate.
            bytes mine(len + 8, 0xee);
            inflate_result r = inf->decompress(comp.data(), static_cast<uint32_t>(clen), mine.data(), len);
            ASSERT_EQ(r.status, inflate_status::ok) << inflate_status_name(r.status) << " " << len;
            ASSERT_EQ(r.out_len, len);
            ASSERT_EQ(bytes(mine.begin(), mine.begin() + len), in);

            const int zl = 1 + static_cast<int>(len % 9);
            const bytes zc = zlib_deflate(f, zl, in.data(), len);
            std::fill(mine.begin(), mine.end(), 0xee);
            r = inf->decompress(zc.data(), static_cast<uint32_t>(zc.size()), mine.data(), len);
            ASSERT_EQ(r.status, inflate_status::ok)
                << format_name(f) << " zlib level " << zl << " length " << len << ": "
                << inflate_status_name(r.status);
            ASSERT_EQ(r.out_len, len);
            ASSERT_EQ(bytes(mine.begin(), mine.begin() + len), in);
            ASSERT_EQ(mine[len], 0xee);
        }
    }
}

TEST(Igzip, CompressesText)
{
    std::mt19937_64 rng(10);
    auto def = deflater::create(1);
    ASSERT_TRUE(def);
    const bytes in = text_payload(rng, 1400);
    bytes out(deflater::bound(1400));
    const long n = def->compress(in.data(), 1400, out.data(), static_cast<uint32_t>(out.size()));
    ASSERT_GT(n, 0);
    EXPECT_LT(n, 1400 / 2);  // JSON-like text compresses at least 2:1
}

// Trained codes: better than ISA-L's generic level 0 on text like the sample, and still able to
// compress anything (every byte value keeps a code).
TEST(Igzip, TrainedCodes)
{
    std::mt19937_64 rng(14);
    const bytes sample = text_payload(rng, 16384);
    auto trained = deflater::create_trained(sample.data(), sample.size());
    auto plain = deflater::create(0);
    ASSERT_TRUE(trained && plain);
    EXPECT_EQ(deflater::create_trained(nullptr, 10), nullptr);
    EXPECT_EQ(deflater::create_trained(sample.data(), 0), nullptr);
    const bytes in = text_payload(rng, 1400);
    bytes out(deflater::bound(1400));
    const long t = trained->compress(in.data(), 1400, out.data(), static_cast<uint32_t>(out.size()));
    const long p = plain->compress(in.data(), 1400, out.data(), static_cast<uint32_t>(out.size()));
    ASSERT_GT(t, 0);
    ASSERT_GT(p, 0);
    EXPECT_LT(t, p);
    bytes all(256);
    std::iota(all.begin(), all.end(), 0);
    const long a = trained->compress(all.data(), 256, out.data(), static_cast<uint32_t>(out.size()));
    ASSERT_GT(a, 0);
    bytes back;
    ASSERT_TRUE(zlib_inflate(zformat::raw, out.data(), static_cast<size_t>(a), back));
    EXPECT_EQ(back, all);
}

TEST(Igzip, CompressRefusesTooSmallOutput)
{
    std::mt19937_64 rng(11);
    auto def = deflater::create(1);
    ASSERT_TRUE(def);
    const bytes in = random_bytes(rng, 1000);
    bytes out(1100, 0xee);
    EXPECT_EQ(def->compress(in.data(), 1000, out.data(), 500), -1);
    EXPECT_EQ(out[500], 0xee);
    EXPECT_EQ(deflater::create(4), nullptr);
}

// The output limit: exactly enough is fine, one byte less is too_large, a 1 MiB "bomb" of a
// few hundred bytes stops at the limit, and nothing is ever written past it.
TEST(Igzip, InflateLimit)
{
    for (zformat f : {zformat::raw, zformat::zlib, zformat::gzip}) {
        auto inf = inflater::create(f);
        ASSERT_TRUE(inf);
        const bytes zeros(1 << 20, 0);
        const bytes bomb = zlib_deflate(f, 9, zeros.data(), zeros.size());
        ASSERT_LT(bomb.size(), 2048u) << format_name(f);
        bytes out((1 << 20) + 64, 0xee);
        for (uint32_t limit : {0u, 1u, 1400u, 65536u, (1u << 20) - 1}) {
            const inflate_result r =
                inf->decompress(bomb.data(), static_cast<uint32_t>(bomb.size()), out.data(), limit);
            EXPECT_EQ(r.status, inflate_status::too_large) << format_name(f) << " " << limit;
            EXPECT_EQ(out[limit], 0xee) << format_name(f) << " wrote past limit " << limit;
        }
        const inflate_result r =
            inf->decompress(bomb.data(), static_cast<uint32_t>(bomb.size()), out.data(), 1u << 20);
        EXPECT_EQ(r.status, inflate_status::ok) << format_name(f);
        EXPECT_EQ(r.out_len, 1u << 20);
        EXPECT_EQ(out[1u << 20], 0xee);
        // A null output buffer with a zero limit is allowed (only the empty stream fits).
        EXPECT_EQ(inf->decompress(bomb.data(), static_cast<uint32_t>(bomb.size()), nullptr, 0).status,
                  inflate_status::too_large);
    }
}

// Every strict prefix is rejected (truncated or corrupt), appended bytes are rejected, every
// single-bit flip of a zlib/gzip stream's checked parts is rejected.
TEST(Igzip, CorruptInputIsRejected)
{
    std::mt19937_64 rng(12);
    for (zformat f : {zformat::raw, zformat::zlib, zformat::gzip}) {
        auto inf = inflater::create(f);
        auto def = deflater::create(1, f);
        ASSERT_TRUE(inf && def);
        const bytes in = text_payload(rng, 1000);
        bytes comp(deflater::bound(1000));
        const long clen = def->compress(in.data(), 1000, comp.data(), static_cast<uint32_t>(comp.size()));
        ASSERT_GT(clen, 0);
        comp.resize(static_cast<size_t>(clen));
        bytes out(2000, 0xee);
        for (size_t cut = 0; cut < comp.size(); ++cut) {
            const inflate_result r = inf->decompress(comp.data(), static_cast<uint32_t>(cut), out.data(), 2000);
            EXPECT_NE(r.status, inflate_status::ok) << format_name(f) << " prefix " << cut;
        }
        for (size_t extra : {1, 2, 7, 8, 9, 100}) {
            bytes longer = comp;
            longer.resize(comp.size() + extra, 0);
            const inflate_result r =
                inf->decompress(longer.data(), static_cast<uint32_t>(longer.size()), out.data(), 2000);
            EXPECT_EQ(r.status, inflate_status::trailing_data)
                << format_name(f) << " +" << extra << ": " << inflate_status_name(r.status);
        }
        // Every single-bit flip, differentially against zlib: the same streams are accepted
        // (with the same output) and rejected. Accepted flips exist: the unused bits after the
        // final block, gzip's informational header fields, raw deflate (no check at all), and
        // rare Adler-32 collisions, which zlib accepts just the same.
        std::vector<uint8_t> big(comp.size() * 1100 + 64);
        unsigned accepted = 0;
        for (size_t i = 0; i < comp.size(); ++i) {
            for (unsigned bit = 0; bit < 8; ++bit) {
                bytes c2 = comp;
                c2[i] ^= uint8_t(1u << bit);
                const inflate_result r = inf->decompress(c2.data(), static_cast<uint32_t>(c2.size()),
                                                         big.data(), static_cast<uint32_t>(big.size()));
                bytes zout;
                const bool zok = zlib_inflate(f, c2.data(), c2.size(), zout);
                ASSERT_EQ(r.status == inflate_status::ok, zok)
                    << format_name(f) << " byte " << i << " bit " << bit << ": "
                    << inflate_status_name(r.status);
                if (zok) {
                    ++accepted;
                    ASSERT_EQ(bytes(big.begin(), big.begin() + r.out_len), zout)
                        << format_name(f) << " byte " << i << " bit " << bit;
                }
            }
        }
        if (f != zformat::raw) {
            EXPECT_LE(accepted, 8u * 8u) << format_name(f);
        }
        // gzip's reserved flag bits must be zero (RFC 1952 2.3.1.2).
        if (f == zformat::gzip)
            for (unsigned bit = 5; bit < 8; ++bit) {
                bytes c2 = comp;
                c2[3] ^= uint8_t(1u << bit);
                EXPECT_EQ(inf->decompress(c2.data(), static_cast<uint32_t>(c2.size()), out.data(), 2000).status,
                          inflate_status::corrupt) << bit;
            }
        EXPECT_EQ(out[2000 - 1], 0xee);
    }
}

// Garbage never crashes or writes past the limit.
TEST(Igzip, RandomGarbageStaysInBounds)
{
    std::mt19937_64 rng(13);
    for (zformat f : {zformat::raw, zformat::zlib, zformat::gzip}) {
        auto inf = inflater::create(f);
        ASSERT_TRUE(inf);
        bytes out(600, 0xee);
        unsigned accepted = 0;
        for (int i = 0; i < 3000; ++i) {
            const bytes junk = random_bytes(rng, rng() % 300);
            const inflate_result r =
                inf->decompress(junk.data(), static_cast<uint32_t>(junk.size()), out.data(), 512);
            if (r.status == inflate_status::ok) {
                ++accepted;
                EXPECT_LE(r.out_len, 512u);
            }
            ASSERT_EQ(out[512], 0xee);
        }
        if (f != zformat::raw) {
            EXPECT_EQ(accepted, 0u) << format_name(f);
        }
    }
}

} // namespace
} // namespace peregrine::crypto
