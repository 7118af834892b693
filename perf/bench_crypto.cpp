// Accelerators microbenchmark (Google Benchmark): lib/crypto against the software peers a
// packet engine would otherwise call, in the same binary, on the same buffers. See
// docs/performance.md ("Crypto and compression accelerators") for the table and how to read it.
//
// Every benchmark handles bursts of 32 buffers of one size (the engine's burst), hot in cache
// (32 x 1400 B = 45 KB: L1/L2), and reports
//   per_pkt  seconds per buffer (docs convert to ns), and
//   bytes_per_second (payload bytes, the GB/s column).
// Peers:
//   sha256: IPsec-MB multi-buffer burst (per arch) vs OpenSSL one call per packet, three ways:
//           SHA256() (one-shot; OpenSSL 3 fetches the algorithm on every call),
//           EVP_Digest(EVP_sha256()), and EVP_DigestInit/Update/Final on a pre-fetched
//           EVP_MD and a reused EVP_MD_CTX (the cheapest per-packet OpenSSL use);
//   hmac:   IPsec-MB hash burst vs OpenSSL HMAC() one-shot and a reused EVP_MAC_CTX;
//   gcm:    IPsec-MB AES-GCM (single-shot per buffer) vs OpenSSL EVP with the key schedule
//           kept and only the IV set per packet;
//   crc32:  ISA-L crc32_gzip_refl vs zlib crc32();
//   deflate/inflate: igzip stateless (level 1, level 0, level 0 with codes trained on a
//           sample of the same kind of text) vs zlib level 1 with a reused z_stream
//           (deflateReset), with its default tables and with window and hash sized for the
//           buffer (sized:1), on JSON-like text; the compression ratio is reported too.
// Before running, main() checks every accelerator's output against its peer on the
// benchmark's own buffers and exits non-zero on a mismatch (the meson smoke test relies on it).

#include <benchmark/benchmark.h>

#include <algorithm>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "crypto/aes_gcm.hpp"
#include "crypto/crc32.hpp"
#include "crypto/deflate.hpp"
#include "crypto/sha256.hpp"

namespace {

using namespace peregrine::crypto;

constexpr unsigned burst = 32;
constexpr size_t max_size = 64 * 1024;

struct buffers {
    std::vector<uint8_t> store;
    const uint8_t* data[burst];
    uint8_t* out[burst];
    std::vector<uint8_t> out_store;
    uint32_t len[burst];
};

std::mt19937_64 g_rng(42);

// JSON-like text (what compression is for on this path): records with repeated keys, numbers.
std::string json_text(size_t n)
{
    static const char* names[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot"};
    std::string s;
    unsigned i = 0;
    while (s.size() < n) {
        s += "{\"id\":" + std::to_string(100000 + g_rng() % 900000) + ",\"name\":\"" +
             names[g_rng() % 6] + "\",\"active\":" + (g_rng() & 1 ? "true" : "false") +
             ",\"score\":" + std::to_string(g_rng() % 1000) + "." + std::to_string(g_rng() % 100) +
             ",\"tags\":[\"session\",\"peregrine\"],\"seq\":" + std::to_string(i++) + "}\n";
    }
    s.resize(n);
    return s;
}

// 32 buffers of `size` bytes, each at its own 64-byte-aligned offset; random or text content.
buffers make_buffers(size_t size, bool text = false)
{
    buffers b;
    const size_t stride = (size + 64 + 63) & ~size_t(63);
    b.store.resize(stride * burst);
    b.out_store.resize(stride * burst + 256 * burst);
    for (unsigned i = 0; i < burst; ++i) {
        uint8_t* p = b.store.data() + i * stride;
        if (text) {
            const std::string t = json_text(size);
            std::memcpy(p, t.data(), size);
        } else {
            for (size_t j = 0; j < size; ++j)
                p[j] = static_cast<uint8_t>(g_rng());
        }
        b.data[i] = p;
        b.out[i] = b.out_store.data() + i * (stride + 256);
        b.len[i] = static_cast<uint32_t>(size);
    }
    return b;
}

void per_packet(benchmark::State& st, size_t size)
{
    const double pkts = static_cast<double>(st.iterations()) * burst;
    st.counters["per_pkt"] = benchmark::Counter(pkts, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    st.SetBytesProcessed(static_cast<int64_t>(pkts * static_cast<double>(size)));
}

mb_context::arch arch_of(int64_t a) { return static_cast<mb_context::arch>(a); }

// The peers' way: one call per buffer of the burst, digest(data, size, out) for each.
template <typename Digest>
void digest_each(benchmark::State& st, Digest&& digest)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size);
    uint8_t dig[burst][sha256_len];
    for (auto _ : st) {
        for (unsigned i = 0; i < burst; ++i)
            digest(b.data[i], size, dig[i]);
        benchmark::DoNotOptimize(dig);
    }
    per_packet(st, size);
}

// ---- SHA-256 ----------------------------------------------------------------------------------

void BM_sha256_mb(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    auto ctx = mb_context::create(arch_of(st.range(1)));
    if (!ctx) {
        st.SkipWithError("arch not available");
        return;
    }
    st.SetLabel(mb_context::arch_name(ctx->used_arch()));
    buffers b = make_buffers(size);
    uint8_t dig[burst][sha256_len];
    for (auto _ : st) {
        sha256_burst(*ctx, b.data, b.len, burst, dig);
        benchmark::DoNotOptimize(dig);
    }
    per_packet(st, size);
}

void BM_sha256_openssl_oneshot(benchmark::State& st)
{
    digest_each(st, [](const uint8_t* d, size_t size, uint8_t* out) { SHA256(d, size, out); });
}

void BM_sha256_openssl_evp_digest(benchmark::State& st)
{
    digest_each(st, [](const uint8_t* d, size_t size, uint8_t* out) {
        unsigned l;
        EVP_Digest(d, size, out, &l, EVP_sha256(), nullptr);
    });
}

void BM_sha256_openssl_evp_reused(benchmark::State& st)
{
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    digest_each(st, [&](const uint8_t* d, size_t size, uint8_t* out) {
        unsigned l;
        EVP_DigestInit_ex(c, md, nullptr);
        EVP_DigestUpdate(c, d, size);
        EVP_DigestFinal_ex(c, out, &l);
    });
    EVP_MD_CTX_free(c);
    EVP_MD_free(md);
}

// ---- HMAC-SHA-256 -----------------------------------------------------------------------------

const uint8_t hmac_secret[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

void BM_hmac_mb(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    auto ctx = mb_context::create(arch_of(st.range(1)));
    if (!ctx) {
        st.SkipWithError("arch not available");
        return;
    }
    st.SetLabel(mb_context::arch_name(ctx->used_arch()));
    const hmac_key key = make_hmac_key(*ctx, hmac_secret, sizeof hmac_secret);
    buffers b = make_buffers(size);
    uint8_t dig[burst][sha256_len];
    for (auto _ : st) {
        hmac_sha256_burst(*ctx, key, b.data, b.len, burst, dig);
        benchmark::DoNotOptimize(dig);
    }
    per_packet(st, size);
}

void BM_hmac_openssl_oneshot(benchmark::State& st)
{
    digest_each(st, [](const uint8_t* d, size_t size, uint8_t* out) {
        unsigned l;
        HMAC(EVP_sha256(), hmac_secret, sizeof hmac_secret, d, size, out, &l);
    });
}

void BM_hmac_openssl_mac_reused(benchmark::State& st)
{
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC_init(c, hmac_secret, sizeof hmac_secret, params);
    digest_each(st, [&](const uint8_t* d, size_t size, uint8_t* out) {
        size_t l;
        EVP_MAC_init(c, nullptr, 0, nullptr);  // same key: re-initialise from it
        EVP_MAC_update(c, d, size);
        EVP_MAC_final(c, out, &l, sha256_len);
    });
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(mac);
}

// ---- AES-GCM ----------------------------------------------------------------------------------

const uint8_t gcm_secret[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6,
                                7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};
constexpr uint32_t gcm_aad_len = 16;  // e.g. a session header authenticated in clear

void BM_gcm_mb(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    const size_t key_len = static_cast<size_t>(st.range(1));
    const bool enc = st.range(2) != 0;
    auto ctx = mb_context::create();
    gcm_key key;
    make_gcm_key(*ctx, gcm_secret, key_len, &key);
    buffers b = make_buffers(size);
    uint8_t iv[burst][gcm_iv_len], aad[gcm_aad_len] = {}, tag[burst][gcm_tag_len];
    for (unsigned i = 0; i < burst; ++i)
        std::memset(iv[i], static_cast<int>(i), gcm_iv_len);
    gcm_op ops[burst];
    for (unsigned i = 0; i < burst; ++i)
        ops[i] = {b.data[i], b.out[i], static_cast<uint32_t>(size), iv[i], aad, gcm_aad_len, tag[i]};
    bool ok[burst];
    std::vector<uint8_t> plain(size + 16);
    if (!enc) {
        // Decrypt real ciphertexts with their right tags (the verified path): out -> plain.
        aes_gcm_encrypt_burst(*ctx, key, ops, burst);
        for (unsigned i = 0; i < burst; ++i) {
            ops[i].src = b.out[i];
            ops[i].dst = plain.data();
        }
    }
    for (auto _ : st) {
        if (enc)
            aes_gcm_encrypt_burst(*ctx, key, ops, burst);
        else if (aes_gcm_decrypt_burst(*ctx, key, ops, burst, ok) != burst)
            st.SkipWithError("authentication failed");
        benchmark::ClobberMemory();
    }
    per_packet(st, size);
}

void BM_gcm_openssl(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    const size_t key_len = static_cast<size_t>(st.range(1));
    const bool enc = st.range(2) != 0;
    buffers b = make_buffers(size);
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, key_len == 16 ? "AES-128-GCM" : "AES-256-GCM", nullptr);
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    EVP_CipherInit_ex(c, cipher, nullptr, gcm_secret, nullptr, enc ? 1 : 0);  // key schedule once
    uint8_t iv[burst][gcm_iv_len], aad[gcm_aad_len] = {}, tag[burst][gcm_tag_len];
    for (unsigned i = 0; i < burst; ++i)
        std::memset(iv[i], static_cast<int>(i), gcm_iv_len);
    if (!enc) {
        auto ctx = mb_context::create();
        gcm_key key;
        make_gcm_key(*ctx, gcm_secret, key_len, &key);
        gcm_op ops[burst];
        for (unsigned i = 0; i < burst; ++i)
            ops[i] = {b.data[i], b.out[i], static_cast<uint32_t>(size), iv[i], aad, gcm_aad_len, tag[i]};
        aes_gcm_encrypt_burst(*ctx, key, ops, burst);
    }
    std::vector<uint8_t> plain(size + 16);
    for (auto _ : st) {
        for (unsigned i = 0; i < burst; ++i) {
            int n;
            EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, iv[i], -1);  // new IV, same key
            EVP_CipherUpdate(c, nullptr, &n, aad, gcm_aad_len);
            if (enc) {
                EVP_CipherUpdate(c, b.out[i], &n, b.data[i], static_cast<int>(size));
                EVP_CipherFinal_ex(c, b.out[i] + n, &n);
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, gcm_tag_len, tag[i]);
            } else {
                EVP_CipherUpdate(c, plain.data(), &n, b.out[i], static_cast<int>(size));
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, gcm_tag_len, tag[i]);
                if (EVP_CipherFinal_ex(c, plain.data() + n, &n) != 1)
                    st.SkipWithError("authentication failed");
            }
        }
        benchmark::ClobberMemory();
    }
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(cipher);
    per_packet(st, size);
}

// ---- CRC-32 -----------------------------------------------------------------------------------

void BM_crc32_isal(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size);
    uint32_t out[burst];
    for (auto _ : st) {
        crc32_burst(b.data, b.len, burst, out);
        benchmark::DoNotOptimize(out);
    }
    per_packet(st, size);
}

void BM_crc32_zlib(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size);
    uint32_t out[burst];
    for (auto _ : st) {
        for (unsigned i = 0; i < burst; ++i)
            out[i] = static_cast<uint32_t>(::crc32(0L, b.data[i], static_cast<uInt>(size)));
        benchmark::DoNotOptimize(out);
    }
    per_packet(st, size);
}

// ---- deflate / inflate ------------------------------------------------------------------------

void set_ratio(benchmark::State& st, size_t in, size_t out)
{
    st.counters["ratio"] = static_cast<double>(in) / static_cast<double>(out ? out : 1);
}

void BM_deflate_igzip(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    auto def = deflater::create(static_cast<unsigned>(st.range(1)));
    buffers b = make_buffers(size, true);
    const uint32_t cap = deflater::bound(static_cast<uint32_t>(size)) + 256;
    std::vector<uint8_t> out(cap);
    size_t total = 0;
    for (auto _ : st) {
        total = 0;
        for (unsigned i = 0; i < burst; ++i) {
            const long n = def->compress(b.data[i], b.len[i], out.data(), cap);
            total += static_cast<size_t>(n);
        }
        benchmark::DoNotOptimize(out.data());
    }
    set_ratio(st, size * burst, total);
    per_packet(st, size);
}

// Level 0 with codes trained on other text from the same generator (not the measured buffers).
void BM_deflate_igzip_trained(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    const std::string sample = json_text(16384);
    auto def = deflater::create_trained(reinterpret_cast<const uint8_t*>(sample.data()), sample.size());
    buffers b = make_buffers(size, true);
    const uint32_t cap = deflater::bound(static_cast<uint32_t>(size)) + 256;
    std::vector<uint8_t> out(cap);
    size_t total = 0;
    for (auto _ : st) {
        total = 0;
        for (unsigned i = 0; i < burst; ++i)
            total += static_cast<size_t>(def->compress(b.data[i], b.len[i], out.data(), cap));
        benchmark::DoNotOptimize(out.data());
    }
    set_ratio(st, size * burst, total);
    per_packet(st, size);
}

// zlib sized for the buffer: the smallest window that holds it and a hash table to match, so
// deflateReset clears 2^(memLevel+7) heads instead of the default 32768. The fair peer for
// packet-sized inputs (the default set-up spends most of a 256-byte call clearing its tables).
void zlib_sized_params(size_t size, int* wbits, int* mem_level)
{
    int w = 9;  // zlib's smallest raw-deflate window
    while (w < 15 && (size_t{1} << w) < size)
        ++w;
    *wbits = w;
    *mem_level = std::max(1, w - 8);
}

void BM_deflate_zlib(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size, true);
    z_stream z{};
    int wbits = 15, mem_level = 8;  // zlib's defaults
    if (st.range(2))
        zlib_sized_params(size, &wbits, &mem_level);
    deflateInit2(&z, static_cast<int>(st.range(1)), Z_DEFLATED, -wbits, mem_level, Z_DEFAULT_STRATEGY);
    std::vector<uint8_t> out(deflateBound(&z, size) + 256);
    size_t total = 0;
    for (auto _ : st) {
        total = 0;
        for (unsigned i = 0; i < burst; ++i) {
            deflateReset(&z);  // reuse the stream: no allocation per call, like igzip's
            z.next_in = const_cast<Bytef*>(b.data[i]);
            z.avail_in = static_cast<uInt>(size);
            z.next_out = out.data();
            z.avail_out = static_cast<uInt>(out.size());
            deflate(&z, Z_FINISH);
            total += z.total_out;
        }
        benchmark::DoNotOptimize(out.data());
    }
    deflateEnd(&z);
    set_ratio(st, size * burst, total);
    per_packet(st, size);
}

// Compressed copies of the text buffers (by zlib level 1, so both inflaters decode the same).
std::vector<std::vector<uint8_t>> compressed_text(const buffers& b, size_t size)
{
    std::vector<std::vector<uint8_t>> c(burst);
    for (unsigned i = 0; i < burst; ++i) {
        z_stream z{};
        deflateInit2(&z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        c[i].resize(deflateBound(&z, size));
        z.next_in = const_cast<Bytef*>(b.data[i]);
        z.avail_in = static_cast<uInt>(size);
        z.next_out = c[i].data();
        z.avail_out = static_cast<uInt>(c[i].size());
        deflate(&z, Z_FINISH);
        c[i].resize(z.total_out);
        deflateEnd(&z);
    }
    return c;
}

void BM_inflate_igzip(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size, true);
    const auto comp = compressed_text(b, size);
    auto inf = inflater::create();
    std::vector<uint8_t> out(size);
    for (auto _ : st) {
        for (unsigned i = 0; i < burst; ++i) {
            const inflate_result r = inf->decompress(comp[i].data(), static_cast<uint32_t>(comp[i].size()),
                                                     out.data(), static_cast<uint32_t>(size));
            if (r.status != inflate_status::ok)
                st.SkipWithError("inflate failed");
        }
        benchmark::DoNotOptimize(out.data());
    }
    per_packet(st, size);
}

void BM_inflate_zlib(benchmark::State& st)
{
    const size_t size = static_cast<size_t>(st.range(0));
    buffers b = make_buffers(size, true);
    const auto comp = compressed_text(b, size);
    z_stream z{};
    inflateInit2(&z, -15);
    std::vector<uint8_t> out(size);
    for (auto _ : st) {
        for (unsigned i = 0; i < burst; ++i) {
            inflateReset(&z);
            z.next_in = const_cast<Bytef*>(comp[i].data());
            z.avail_in = static_cast<uInt>(comp[i].size());
            z.next_out = out.data();
            z.avail_out = static_cast<uInt>(size);
            if (inflate(&z, Z_FINISH) != Z_STREAM_END)
                st.SkipWithError("inflate failed");
        }
        benchmark::DoNotOptimize(out.data());
    }
    inflateEnd(&z);
    per_packet(st, size);
}

// ---- registration -----------------------------------------------------------------------------

constexpr int64_t a_auto = static_cast<int64_t>(mb_context::arch::automatic);
constexpr int64_t a_sse = static_cast<int64_t>(mb_context::arch::sse);
constexpr int64_t a_avx2 = static_cast<int64_t>(mb_context::arch::avx2);
constexpr int64_t a_avx512 = static_cast<int64_t>(mb_context::arch::avx512);

void packet_sizes(benchmark::internal::Benchmark* b)
{
    for (int64_t s : {64, 256, 1024, 1400})
        b->Arg(s);
}

void packet_sizes_archs(benchmark::internal::Benchmark* b)
{
    for (int64_t s : {64, 256, 1024, 1400})
        for (int64_t a : {a_auto, a_sse, a_avx2, a_avx512})
            b->Args({s, a});
}

void gcm_args(benchmark::internal::Benchmark* b)
{
    for (int64_t key : {16, 32})
        for (int64_t enc : {1, 0})
            for (int64_t s : {64, 256, 1024, 1400})
                b->Args({s, key, enc});
}

void text_sizes(benchmark::internal::Benchmark* b)
{
    for (int64_t s : {256, 1400, 4096, 16384, 65536})
        b->Arg(s);
}

BENCHMARK(BM_sha256_mb)->ArgNames({"size", "arch"})->Apply(packet_sizes_archs);
BENCHMARK(BM_sha256_openssl_oneshot)->ArgName("size")->Apply(packet_sizes);
BENCHMARK(BM_sha256_openssl_evp_digest)->ArgName("size")->Apply(packet_sizes);
BENCHMARK(BM_sha256_openssl_evp_reused)->ArgName("size")->Apply(packet_sizes);
BENCHMARK(BM_hmac_mb)->ArgNames({"size", "arch"})->Apply(packet_sizes_archs);
BENCHMARK(BM_hmac_openssl_oneshot)->ArgName("size")->Apply(packet_sizes);
BENCHMARK(BM_hmac_openssl_mac_reused)->ArgName("size")->Apply(packet_sizes);
BENCHMARK(BM_gcm_mb)->ArgNames({"size", "key", "enc"})->Apply(gcm_args);
BENCHMARK(BM_gcm_openssl)->ArgNames({"size", "key", "enc"})->Apply(gcm_args);
BENCHMARK(BM_crc32_isal)->ArgName("size")->Apply(packet_sizes)->Arg(65536);
BENCHMARK(BM_crc32_zlib)->ArgName("size")->Apply(packet_sizes)->Arg(65536);
BENCHMARK(BM_deflate_igzip)->ArgNames({"size", "level"})->Apply([](auto* b) {
    for (int64_t s : {256, 1400, 4096, 16384, 65536})
        for (int64_t l : {0, 1})
            b->Args({s, l});
});
BENCHMARK(BM_deflate_igzip_trained)->ArgName("size")->Apply(text_sizes);
BENCHMARK(BM_deflate_zlib)->ArgNames({"size", "level", "sized"})->Apply([](auto* b) {
    for (int64_t s : {256, 1400, 4096, 16384, 65536})
        for (int64_t sized : {0, 1})
            b->Args({s, 1, sized});
});
BENCHMARK(BM_inflate_igzip)->ArgName("size")->Apply(text_sizes);
BENCHMARK(BM_inflate_zlib)->ArgName("size")->Apply(text_sizes);

// ---- self-check ---------------------------------------------------------------------------------

bool self_check()
{
    bool good = true;
    auto fail = [&](const char* what, size_t size) {
        std::fprintf(stderr, "bench_crypto: %s differs from its peer at %zu bytes\n", what, size);
        good = false;
    };
    auto ctx = mb_context::create();
    if (!ctx) {
        std::fprintf(stderr, "bench_crypto: no IPsec-MB context\n");
        return false;
    }
    const hmac_key hk = make_hmac_key(*ctx, hmac_secret, sizeof hmac_secret);
    for (size_t size : {64, 256, 1024, 1400}) {
        buffers b = make_buffers(size);
        uint8_t dig[burst][sha256_len], ref[sha256_len];
        unsigned l;
        sha256_burst(*ctx, b.data, b.len, burst, dig);
        for (unsigned i = 0; i < burst; ++i) {
            SHA256(b.data[i], size, ref);
            if (std::memcmp(ref, dig[i], sha256_len) != 0)
                fail("sha256_burst", size);
        }
        hmac_sha256_burst(*ctx, hk, b.data, b.len, burst, dig);
        for (unsigned i = 0; i < burst; ++i) {
            HMAC(EVP_sha256(), hmac_secret, sizeof hmac_secret, b.data[i], size, ref, &l);
            if (std::memcmp(ref, dig[i], sha256_len) != 0)
                fail("hmac_sha256_burst", size);
        }
        for (unsigned i = 0; i < burst; ++i)
            if (crc32(b.data[i], size) != ::crc32(0L, b.data[i], static_cast<uInt>(size)))
                fail("crc32", size);
        gcm_key gk;
        make_gcm_key(*ctx, gcm_secret, 16, &gk);
        uint8_t iv[gcm_iv_len] = {1}, tag[gcm_tag_len], ref_tag[gcm_tag_len];
        std::vector<uint8_t> ref_ct(size + 16);
        gcm_op op{b.data[0], b.out[0], static_cast<uint32_t>(size), iv, nullptr, 0, tag};
        aes_gcm_encrypt_burst(*ctx, gk, &op, 1);
        EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
        int n;
        EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), nullptr, gcm_secret, iv);
        EVP_EncryptUpdate(c, ref_ct.data(), &n, b.data[0], static_cast<int>(size));
        EVP_EncryptFinal_ex(c, ref_ct.data() + n, &n);
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, gcm_tag_len, ref_tag);
        EVP_CIPHER_CTX_free(c);
        if (std::memcmp(ref_ct.data(), b.out[0], size) != 0 || std::memcmp(tag, ref_tag, gcm_tag_len) != 0)
            fail("aes_gcm", size);
    }
    {
        buffers b = make_buffers(4096, true);
        auto def = deflater::create(1);
        auto inf = inflater::create();
        std::vector<uint8_t> comp(deflater::bound(4096)), back(4096);
        const long n = def->compress(b.data[0], 4096, comp.data(), static_cast<uint32_t>(comp.size()));
        uLongf back_len = 4096;
        z_stream z{};
        inflateInit2(&z, -15);
        z.next_in = comp.data();
        z.avail_in = static_cast<uInt>(n > 0 ? n : 0);
        z.next_out = back.data();
        z.avail_out = static_cast<uInt>(back_len);
        if (n <= 0 || inflate(&z, Z_FINISH) != Z_STREAM_END || std::memcmp(back.data(), b.data[0], 4096) != 0)
            fail("igzip deflate", 4096);
        inflateEnd(&z);
        const inflate_result r = inf->decompress(comp.data(), static_cast<uint32_t>(n > 0 ? n : 0), back.data(), 4096);
        if (r.status != inflate_status::ok || r.out_len != 4096 || std::memcmp(back.data(), b.data[0], 4096) != 0)
            fail("igzip inflate", 4096);
    }
    return good;
}

} // namespace

int main(int argc, char** argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 2;
    if (!self_check())
        return 1;
    benchmark::AddCustomContext("ipsec_mb", imb_get_version_str());
    {
        auto ctx = mb_context::create();
        benchmark::AddCustomContext("ipsec_mb_auto_arch", mb_context::arch_name(ctx->used_arch()));
    }
    benchmark::AddCustomContext("openssl", OpenSSL_version(OPENSSL_VERSION));
    benchmark::AddCustomContext("zlib", zlibVersion());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
