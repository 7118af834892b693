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
