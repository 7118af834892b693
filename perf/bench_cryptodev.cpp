// What a DPDK cryptodev backend would cost behind lib/crypto's burst API: SHA-256 and
// AES-128-GCM of a burst of 32 mbufs through rte_cryptodev on the crypto_aesni_mb vdev (the
// crypto_ipsec_mb PMD: the same IPsec-MB library, driven through DPDK's op/queue-pair layer),
// against lib/crypto's direct calls on the same mbuf data, in the same process.
//
// A cryptodev burst is what a worker would do for every burst with such a backend:
// rte_crypto_op_bulk_alloc, attach the session and fill each op (mbuf, offsets, digest/IV/AAD
// pointers), rte_cryptodev_enqueue_burst, rte_cryptodev_dequeue_burst until all 32 are back,
// check each op's status, return the ops to their pool. The difference to the direct call is
// the price of the abstraction, which a QAT card would pay too (plus PCIe and completion
// polling) in exchange for taking the arithmetic off the cores.
//
// Flags of our own (bench_common.hpp): --eal-mem-mb=N (default 512; --no-huge only). The smoke test
// runs a few cases.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>


// rte_crypto_op ends in a zero-length sym[] array whose storage follows the op in its mempool
// element; GCC's -Warray-bounds cannot know that and flags every op->sym access.
#pragma GCC diagnostic ignored "-Warray-bounds"
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "bench_common.hpp"
#include "crypto/aes_gcm.hpp"
#include "crypto/sha256.hpp"

namespace {

using namespace peregrine::crypto;

constexpr unsigned burst = 32;
constexpr uint16_t iv_offset = sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op);

rte_mempool* g_mbufs = nullptr;
rte_mempool* g_ops = nullptr;
rte_mempool* g_sessions = nullptr;
uint8_t g_dev = 0;

const uint8_t gcm_secret[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

struct packets {
    rte_mbuf* m[burst];
    uint8_t digest[burst][32];
    uint8_t aad[burst][16];
    std::vector<uint8_t> mirror;  // a copy of the payloads for the direct path
};

bool make_packets(packets& p, uint32_t size)
{
    if (rte_pktmbuf_alloc_bulk(g_mbufs, p.m, burst) != 0)
        return false;
    for (unsigned i = 0; i < burst; ++i) {
        char* d = rte_pktmbuf_append(p.m[i], static_cast<uint16_t>(size));
        if (d == nullptr)
            return false;
        for (uint32_t j = 0; j < size; ++j)
            d[j] = static_cast<char>(i * 31 + j * 7);
        std::memset(p.aad[i], static_cast<int>(i), sizeof p.aad[i]);
    }
    return true;
}

void free_packets(packets& p)
{
    rte_pktmbuf_free_bulk(p.m, burst);
}

void per_packet(benchmark::State& st, size_t size)
{
    const double pkts = static_cast<double>(st.iterations()) * burst;
    st.counters["per_pkt"] = benchmark::Counter(pkts, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    st.SetBytesProcessed(static_cast<int64_t>(pkts * static_cast<double>(size)));
}

// One burst through the cryptodev: alloc, fill, enqueue, dequeue all, check, free.
template <class Fill>
bool run_burst(void* sess, Fill fill)
{
    rte_crypto_op* ops[burst];
    if (rte_crypto_op_bulk_alloc(g_ops, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, burst) != burst)
        return false;
    for (unsigned i = 0; i < burst; ++i) {
        rte_crypto_op_attach_sym_session(ops[i], sess);
        fill(i, ops[i]);
    }
    unsigned sent = 0, got = 0;
    rte_crypto_op* done[burst];
    while (sent < burst)
        sent += rte_cryptodev_enqueue_burst(g_dev, 0, ops + sent, static_cast<uint16_t>(burst - sent));
    bool ok = true;
    while (got < burst) {
        const uint16_t n = rte_cryptodev_dequeue_burst(g_dev, 0, done + got, static_cast<uint16_t>(burst - got));
        for (unsigned i = got; i < got + n; ++i)
            ok &= done[i]->status == RTE_CRYPTO_OP_STATUS_SUCCESS;
        got += n;
    }
    rte_mempool_put_bulk(g_ops, reinterpret_cast<void**>(done), burst);
    return ok;
}

// A cryptodev benchmark's timed loop: bursts of the session's operation on p (size-byte packets),
// fill(i, op) setting op i up. False (the benchmark failed) if the session or the packets could
// not be made; an operation that fails ends the loop and fails the benchmark.
template <class Fill>
bool cryptodev_loop(benchmark::State& st, void* sess, packets& p, uint32_t size, Fill fill)
{
    if (sess == nullptr || !make_packets(p, size)) {
        st.SkipWithError("session or mbufs");
        bench::failed = true;
        return false;
    }
    for (auto _ : st) {
        if (!run_burst(sess, fill)) {
            st.SkipWithError("op failed");
            bench::failed = true;
            break;
        }
    }
    return true;
}

void cryptodev_done(benchmark::State& st, void* sess, packets& p, uint32_t size)
{
    free_packets(p);
    rte_cryptodev_sym_session_free(g_dev, sess);
    per_packet(st, size);
}

void* sha256_session()
{
    rte_crypto_sym_xform x{};
    x.type = RTE_CRYPTO_SYM_XFORM_AUTH;
    x.auth.op = RTE_CRYPTO_AUTH_OP_GENERATE;
    x.auth.algo = RTE_CRYPTO_AUTH_SHA256;
    x.auth.digest_length = 32;
    return rte_cryptodev_sym_session_create(g_dev, &x, g_sessions);
}

void* gcm_session()
{
    rte_crypto_sym_xform x{};
    x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
    x.aead.op = RTE_CRYPTO_AEAD_OP_ENCRYPT;
    x.aead.algo = RTE_CRYPTO_AEAD_AES_GCM;
    x.aead.key.data = gcm_secret;
    x.aead.key.length = sizeof gcm_secret;
    x.aead.iv.offset = iv_offset;
    x.aead.iv.length = gcm_iv_len;
    x.aead.digest_length = gcm_tag_len;
    x.aead.aad_length = 16;
    return rte_cryptodev_sym_session_create(g_dev, &x, g_sessions);
}

void BM_cryptodev_sha256(benchmark::State& st)
{
    const uint32_t size = static_cast<uint32_t>(st.range(0));
    packets p;
    void* sess = sha256_session();
    if (!cryptodev_loop(st, sess, p, size, [&](unsigned i, rte_crypto_op* op) {
            op->sym->m_src = p.m[i];
            op->sym->auth.data.offset = 0;
            op->sym->auth.data.length = size;
            op->sym->auth.digest.data = p.digest[i];
        }))
        return;
    // Same digests as the direct path?
    const uint8_t* d[burst];
    uint32_t l[burst];
    uint8_t ref[burst][sha256_len];
    for (unsigned i = 0; i < burst; ++i) {
        d[i] = rte_pktmbuf_mtod(p.m[i], const uint8_t*);
        l[i] = size;
    }
    auto ctx = mb_context::create();
    sha256_burst(*ctx, d, l, burst, ref);
    if (std::memcmp(ref, p.digest, sizeof ref) != 0) {
        st.SkipWithError("cryptodev digest differs from sha256_burst");
        bench::failed = true;
    }
    cryptodev_done(st, sess, p, size);
}

void BM_direct_sha256(benchmark::State& st)
{
    const uint32_t size = static_cast<uint32_t>(st.range(0));
    packets p;
    if (!make_packets(p, size)) {
        st.SkipWithError("mbufs");
        return;
    }
    auto ctx = mb_context::create();
    for (auto _ : st) {
        const uint8_t* d[burst];
        uint32_t l[burst];
        for (unsigned i = 0; i < burst; ++i) {
            d[i] = rte_pktmbuf_mtod(p.m[i], const uint8_t*);
            l[i] = rte_pktmbuf_data_len(p.m[i]);
        }
        sha256_burst(*ctx, d, l, burst, p.digest);
        benchmark::DoNotOptimize(p.digest);
    }
    free_packets(p);
    per_packet(st, size);
}

void BM_cryptodev_gcm128_enc(benchmark::State& st)
{
    const uint32_t size = static_cast<uint32_t>(st.range(0));
    packets p;
    void* sess = gcm_session();
    if (!cryptodev_loop(st, sess, p, size, [&](unsigned i, rte_crypto_op* op) {
            uint8_t* iv = rte_crypto_op_ctod_offset(op, uint8_t*, iv_offset);
            std::memset(iv, static_cast<int>(i), gcm_iv_len);
            op->sym->m_src = p.m[i];
            op->sym->aead.data.offset = 0;
            op->sym->aead.data.length = size;
            op->sym->aead.digest.data = p.digest[i];
            op->sym->aead.aad.data = p.aad[i];
        }))
        return;
    cryptodev_done(st, sess, p, size);
}

void BM_direct_gcm128_enc(benchmark::State& st)
{
    const uint32_t size = static_cast<uint32_t>(st.range(0));
    packets p;
    if (!make_packets(p, size)) {
        st.SkipWithError("mbufs");
        return;
    }
    auto ctx = mb_context::create();
    gcm_key key;
    make_gcm_key(*ctx, gcm_secret, sizeof gcm_secret, &key);
    uint8_t iv[burst][gcm_iv_len];
    for (auto _ : st) {
        gcm_op ops[burst];
        for (unsigned i = 0; i < burst; ++i) {
            std::memset(iv[i], static_cast<int>(i), gcm_iv_len);
            uint8_t* d = rte_pktmbuf_mtod(p.m[i], uint8_t*);
            ops[i] = {d, d, size, iv[i], p.aad[i], 16, p.digest[i]};
        }
        aes_gcm_encrypt_burst(*ctx, key, ops, burst);
        benchmark::ClobberMemory();
    }
    free_packets(p);
    per_packet(st, size);
}

void sizes(benchmark::internal::Benchmark* b)
{
    for (int64_t s : {64, 256, 1024, 1400})
        b->Arg(s);
}

BENCHMARK(BM_cryptodev_sha256)->ArgName("size")->Apply(sizes);
BENCHMARK(BM_direct_sha256)->ArgName("size")->Apply(sizes);
BENCHMARK(BM_cryptodev_gcm128_enc)->ArgName("size")->Apply(sizes);
BENCHMARK(BM_direct_gcm128_enc)->ArgName("size")->Apply(sizes);

bool init_cryptodev()
{
    const int dev = rte_cryptodev_get_dev_id("crypto_aesni_mb0");
    if (dev < 0) {
        std::fprintf(stderr, "bench_cryptodev: no crypto_aesni_mb0 (is the crypto_ipsec_mb PMD installed?)\n");
        return false;
    }
    g_dev = static_cast<uint8_t>(dev);
    rte_cryptodev_config conf{};
    conf.socket_id = static_cast<int>(rte_socket_id());
    conf.nb_queue_pairs = 1;
    g_sessions = rte_cryptodev_sym_session_pool_create("pg_sess", 64,
        rte_cryptodev_sym_get_private_session_size(g_dev), 0, 0, SOCKET_ID_ANY);
    g_ops = rte_crypto_op_pool_create("pg_ops", RTE_CRYPTO_OP_TYPE_SYMMETRIC, 1023, 64,
                                      gcm_iv_len + 4, SOCKET_ID_ANY);
    g_mbufs = rte_pktmbuf_pool_create("pg_mbufs", 1023, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    rte_cryptodev_qp_conf qp{};
    qp.nb_descriptors = 256;
    qp.mp_session = g_sessions;
    if (!g_sessions || !g_ops || !g_mbufs || rte_cryptodev_configure(g_dev, &conf) < 0 ||
        rte_cryptodev_queue_pair_setup(g_dev, 0, &qp, conf.socket_id) < 0 || rte_cryptodev_start(g_dev) < 0) {
        std::fprintf(stderr, "bench_cryptodev: cryptodev set-up failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    bench::eal_config eal{.prog = "bench_cryptodev", .prefix = "pgcdev", .huge_ok = false, .nohuge_mb = 512,
                          .extra = {"--vdev=crypto_aesni_mb0"}};
    if (!bench::parse_args(argc, argv, eal))
        return 2;
    if (!bench::start_eal(eal) || !init_cryptodev())
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_cryptodev_stop(g_dev);
    rte_cryptodev_close(g_dev);
    return bench::finish();
}
