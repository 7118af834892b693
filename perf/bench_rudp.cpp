// RUDP microbenchmarks (docs/performance.md, "RUDP"):
//  - BM_echo: engine::process_burst on bursts of 32 ENCRYPTED | CHECKSUM DEFAULT messages on
//    established connections, no I/O: classify, dispatch, header parse, the bulk connection
//    lookup, AES-128-GCM decryption (IPsec-MB, one call per run of one connection's packets),
//    CRC-32 check (ISA-L), the receive window, the echo written in place, CRC-32 and AES-GCM
//    encryption of the echo, make_reply. As bench_session: a ring of 1024 mbufs reused, each burst
//    restored from pre-built frames (encrypted here with OpenSSL, independently of lib/crypto);
//    the windows are reset when the stream wraps. Outcomes are checked (smoke tests rely on it).
//  - BM_one_at_a_time: the same cryptographic work per packet with OpenSSL EVP AES-128-GCM and
//    zlib's crc32 (decrypt and verify, CRC check, CRC and encrypt the answer), the contexts kept
//    per connection with their keys set: the batch path's target is 1.5x this at 64-512 bytes.
//  - BM_restore_only: the harness alone, to subtract.
//  - BM_handshake_auth / BM_handshake_finished: the server's two halves of a handshake on the
//    control lcore (rudp::handshaker); BM_x25519: one key pair plus one shared secret, the
//    public-key share of BM_handshake_auth.
//
// Flags (bench_common.hpp): --eal-mem=huge|nohuge (default nohuge), --eal-mem-mb=N.

#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <openssl/evp.h>
#include <zlib.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_udp.h>

#include "bench_common.hpp"
#include "common/rcu.hpp"
#include "engine/context.hpp"
#include "engine/dispatch.hpp"
#include "rudp/codec.hpp"
#include "rudp/handshake.hpp"
#include "rudp/module.hpp"
#include "rudp/table.hpp"

namespace {

using namespace peregrine;

constexpr unsigned burst = burst_size;
constexpr unsigned ring_bursts = 32;
constexpr uint32_t n_frames = 8192;
constexpr unsigned frame_stride = 1536;
constexpr uint16_t rudp_port = 7400;
constexpr uint32_t our_ip = RTE_IPV4(192, 0, 2, 1);
const rte_ether_addr port_mac{{0x02, 0xaa, 0, 0, 0, 0}};

rte_mempool* g_pool;
rte_rcu_qsbr* g_rcu;
rte_mbuf* g_ring[ring_bursts * burst];
std::unique_ptr<crypto::mb_context> g_mb;
std::unique_ptr<crypto::deflater> g_def;
std::unique_ptr<crypto::inflater> g_inf;
std::unique_ptr<uint8_t[]> g_big[2];
rudp::config g_cfg;
app::echo_app g_echo;
rudp::table* g_tab;
uint32_t g_conns;
std::vector<std::pair<uint32_t, rudp::table*>> g_tabs;  // one table per size, built once

uint32_t client_ip(uint32_t i) { return RTE_IPV4(10, 0, 0, 0) + (i >> 2) + 1; }
uint16_t client_port(uint32_t i) { return static_cast<uint16_t>(40000 + (i & 3)); }
rte_ether_addr client_mac(uint32_t i)
{
    return {{0x02, 0x00, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)}};
}
rudp::session_keys keys_of(uint32_t i)
{
    rudp::session_keys k{};
    for (unsigned b = 0; b < sizeof(k); ++b)
        reinterpret_cast<uint8_t*>(&k)[b] = static_cast<uint8_t>(i * 31 + b * 7);
    return k;
}

bool make_table(uint32_t n)
{
    for (auto& [size, t] : g_tabs)
        if (size == n) {
            g_tab = t;
            g_conns = n;
            return true;
        }
    rudp::table::params p;
    p.name = "bench";
    p.capacity = n;
    p.rcu = g_rcu;
    p.socket_id = SOCKET_ID_ANY;
    g_tab = rudp::table::create(p);
    if (!g_tab)
        return false;
    for (uint32_t i = 0; i < n; ++i) {
        const rudp::session_keys k = keys_of(i);
        const rudp::table::opening o{rte_cpu_to_be_32(client_ip(i)), rte_cpu_to_be_16(client_port(i)), 0,
                                     client_mac(i), &k, 1, 2};
        if (!g_tab->open(o, *g_mb, 0))
            return false;
    }
    g_conns = n;
    g_tabs.emplace_back(n, g_tab);
    return true;
}

void reset_windows()
{
    g_tab->for_each([](const rudp::conn& c) { const_cast<rudp::conn&>(c).rx.reset(1); });
}

// AES-128-GCM with OpenSSL: the frames' encryption, and the per-packet baseline.
struct evp_gcm {
    EVP_CIPHER_CTX* enc = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX* dec = EVP_CIPHER_CTX_new();
    explicit evp_gcm(const uint8_t* rx_key, const uint8_t* tx_key)
    {
        EVP_DecryptInit_ex(dec, EVP_aes_128_gcm(), nullptr, rx_key, nullptr);
        EVP_EncryptInit_ex(enc, EVP_aes_128_gcm(), nullptr, tx_key, nullptr);
    }
    ~evp_gcm()
    {
        EVP_CIPHER_CTX_free(enc);
        EVP_CIPHER_CTX_free(dec);
    }
    void seal(const uint8_t* iv, const uint8_t* aad, int al, uint8_t* p, int len)
    {
        int n;
        EVP_EncryptInit_ex(enc, nullptr, nullptr, nullptr, iv);
        EVP_EncryptUpdate(enc, nullptr, &n, aad, al);
        EVP_EncryptUpdate(enc, p, &n, p, len);
        EVP_EncryptFinal_ex(enc, p + len, &n);
        EVP_CIPHER_CTX_ctrl(enc, EVP_CTRL_GCM_GET_TAG, 16, p + len);
    }
    bool open(const uint8_t* iv, const uint8_t* aad, int al, uint8_t* p, int len)
    {
        int n;
        EVP_DecryptInit_ex(dec, nullptr, nullptr, nullptr, iv);
        EVP_DecryptUpdate(dec, nullptr, &n, aad, al);
        EVP_DecryptUpdate(dec, p, &n, p, len);
        EVP_CIPHER_CTX_ctrl(dec, EVP_CTRL_GCM_SET_TAG, 16, p + len);
        return EVP_DecryptFinal_ex(dec, p + len, &n) == 1;
    }
};

struct frame_set {
    uint32_t conns = 0;
    uint16_t payload = 0;
    uint16_t len = 0;
    uint8_t* data = nullptr;
    std::vector<uint32_t> conn;  // which connection each frame is on
};
frame_set g_frames;

const frame_set* frames_for(uint16_t payload)
{
    if (g_frames.data && g_frames.payload == payload && g_frames.conns == g_conns)
        return &g_frames;
    rte_free(g_frames.data);
    g_frames = {};
    auto* d = static_cast<uint8_t*>(rte_malloc("bench_frames", size_t(n_frames) * frame_stride, 64));
    if (!d)
        return nullptr;
    std::vector<uint64_t> seq(g_conns, 1);
    uint64_t r = 0x5eed;
    const uint8_t flags = rudp::flag::checksum | rudp::flag::encrypted;
    const unsigned hl = rudp::header_len(flags);
    const uint16_t body = static_cast<uint16_t>(hl + payload + rudp::tag_len);
    g_frames.conn.resize(n_frames);
    for (uint32_t f = 0; f < n_frames; ++f) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        const auto i = static_cast<uint32_t>((r >> 33) % g_conns);
        g_frames.conn[f] = i;
        uint8_t* out = d + size_t(f) * frame_stride;
        const bench::udp_addrs a{client_mac(i), port_mac, client_ip(i), our_ip, client_port(i), rudp_port};
        uint8_t* s = bench::write_udp_headers(out, a, body);
        uint8_t* p = s + hl;
        for (unsigned b = 0; b < payload; ++b)
            p[b] = static_cast<uint8_t>(f + b);
        rudp::header h;
        h.t = rudp::type::data;
        h.flags = flags;
        const uint64_t full = ++seq[i];
        h.seq = static_cast<uint16_t>(full);
        h.iv = static_cast<uint16_t>(full >> 16);
        h.crc = static_cast<uint32_t>(::crc32(0, p, payload));
        rudp::write_header(s, &h);
        const rudp::session_keys k = keys_of(i);
        uint8_t nonce[12];
        rudp::make_nonce(k.c2s_salt, rudp::message_counter(h), nonce);
        evp_gcm(k.s2c_key, k.c2s_key).seal(nonce, s, int(hl), p, payload);  // the client encrypts with c2s
        bench::seal_udp(out);
    }
    g_frames.payload = payload;
    g_frames.conns = g_conns;
    g_frames.len = static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + body);
    g_frames.data = d;
    return &g_frames;
}

void restore(rte_mbuf** pk, const frame_set& fs, uint32_t f)
{
    const uint8_t* src = fs.data + size_t(f) * frame_stride;
    for (unsigned k = 0; k < burst; ++k) {
        rte_mbuf* m = pk[k];
        std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src + k * frame_stride, fs.len);
        m->data_len = fs.len;
        m->pkt_len = fs.len;
        m->ol_flags = 0;
    }
}

// args: payload bytes, connections
void BM_echo(benchmark::State& state)
{
    const auto payload = static_cast<uint16_t>(state.range(0));
    if (!make_table(static_cast<uint32_t>(state.range(1))))
        return bench::fail(state, "table failed (1M connections need 2.3 GiB: --eal-mem=huge)");
    const frame_set* fs = frames_for(payload);
    if (!fs)
        return bench::fail(state, "setup failed");
    reset_windows();
    engine::context* ctx = bench::new_context({{port_mac, our_ip}});
    rudp::handshaker hs{rudp::handshake_config{}};
    auto mod = std::make_unique<rudp::module>(g_cfg, *g_tab, hs, nullptr, g_pool);
    if (!ctx->add(mod.get()))
        return bench::fail(state, "module not plugged in");
    auto* st = static_cast<lcore_stats*>(rte_zmalloc("bench_stats", sizeof(lcore_stats), cache_line));
    engine::burst_out out;
    engine::init(out);
    unsigned b = 0;
    uint32_t f = 0;
    uint64_t sent = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        restore(pk, *fs, f);
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        out.reset();
        engine::process_burst(*ctx, *st, 0, pk, burst, rte_rdtsc(), out);
        sent += out.n_tx[0];
        rte_rcu_qsbr_quiescent(g_rcu, 0);
        f += burst;
        if (f == n_frames) {
            f = 0;
            state.PauseTiming();
            reset_windows();
            state.ResumeTiming();
        }
    }
    const uint64_t n = static_cast<uint64_t>(state.iterations()) * burst;
    if (st->rudp[unsigned(rdp::echoed)] != n || st->drop_total() != 0 || sent != n) {
        std::fprintf(stderr, "bench_rudp: expected %" PRIu64 " echoes: got %" PRIu64 ", drops %" PRIu64 ", sent %" PRIu64 "\n",
                     n, st->rudp[unsigned(rdp::echoed)], st->drop_total(), sent);
        bench::fail(state, "unexpected packet outcomes");
    }
    rte_free(st);
    delete ctx;
    bench::set_counters(state, burst);
}

// The same cryptographic work one packet at a time with OpenSSL and zlib.
void BM_one_at_a_time(benchmark::State& state)
{
    const auto payload = static_cast<uint16_t>(state.range(0));
    if (!make_table(1000))
        return bench::fail(state, "table failed");
    const frame_set* fs = frames_for(payload);
    if (!fs)
        return bench::fail(state, "setup failed");
    std::vector<std::unique_ptr<evp_gcm>> gcm;
    std::vector<rudp::session_keys> keys;
    for (uint32_t i = 0; i < g_conns; ++i) {
        keys.push_back(keys_of(i));
        gcm.push_back(std::make_unique<evp_gcm>(keys.back().c2s_key, keys.back().s2c_key));
    }
    unsigned b = 0;
    uint32_t f = 0;
    uint64_t bad = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        restore(pk, *fs, f);
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        for (unsigned k = 0; k < burst; ++k) {
            uint8_t* s = rte_pktmbuf_mtod_offset(pk[k], uint8_t*, sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) +
                                                                       sizeof(rte_udp_hdr));
            rudp::header h;
            uint8_t why;
            const uint32_t i = fs->conn[f + k];
            rudp::parse_header(s, fs->len - 42u, &h, &why);
            uint8_t nonce[12];
            rudp::make_nonce(keys[i].c2s_salt, rudp::message_counter(h), nonce);
            uint8_t* p = s + h.len;
            bad += !gcm[i]->open(nonce, s, h.len, p, payload);
            bad += static_cast<uint32_t>(::crc32(0, p, payload)) != h.crc;
            h.crc = static_cast<uint32_t>(::crc32(0, p, payload));
            rudp::write_header(s, &h);
            rudp::make_nonce(keys[i].s2c_salt, rudp::message_counter(h), nonce);
            gcm[i]->seal(nonce, s, h.len, p, payload);
        }
        f = (f + burst == n_frames) ? 0 : f + burst;
    }
    if (bad)
        bench::fail(state, "OpenSSL refused a frame");
    bench::set_counters(state, burst);
}

void BM_restore_only(benchmark::State& state)
{
    if (!make_table(1000))
        return bench::fail(state, "table failed");
    const frame_set* fs = frames_for(static_cast<uint16_t>(state.range(0)));
    if (!fs)
        return bench::fail(state, "setup failed");
    unsigned b = 0;
    uint32_t f = 0;
    for (auto _ : state) {
        restore(&g_ring[b * burst], *fs, f);
        benchmark::ClobberMemory();
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        f = (f + burst == n_frames) ? 0 : f + burst;
    }
    bench::set_counters(state, burst);
}

// ---- handshakes ----

std::vector<std::vector<uint8_t>> client_auths(unsigned n)
{
    std::vector<std::vector<uint8_t>> out;
    for (unsigned i = 0; i < n; ++i) {
        rudp::keypair kp;
        rudp::make_keypair(&kp);
        std::vector<uint8_t> a(rudp::base_header + rudp::max_body, 0);
        a[0] = static_cast<uint8_t>(rudp::type::auth);
        a[1] = rudp::flag::reliable;
        a[5] = rudp::x25519_key_len;
        std::memcpy(a.data() + 6, kp.pub, 32);
        out.push_back(a);
    }
    return out;
}

void BM_handshake_auth(benchmark::State& state)
{
    static const auto auths = client_auths(256);
    rudp::handshake_config c;
    c.max_half_open = 1u << 20;
    c.half_open_tsc = UINT64_MAX / 4;
    rudp::handshaker hs(c);
    rudp::handshaker::answers a;
    rudp::header h;
    uint8_t why;
    rudp::parse_header(auths[0].data(), auths[0].size(), &h, &why);
    uint64_t i = 0, ok = 0;
    for (auto _ : state) {
        const auto& d = auths[(i >> 10) & 255];  // a new key at each endpoint every 1024
        ok += hs.on_auth(i & 1023, d.data(), d.size(), h, i, &a) == rudp::handshaker::result::answer;
        ++i;
    }
    if (ok != i)
        bench::fail(state, "an AUTH was not answered");
    state.counters["per_s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

// on_finished with a valid finished: the client's side is computed here, outside the timing.
void BM_handshake_finished(benchmark::State& state)
{
    rudp::handshake_config c;
    c.max_half_open = 1u << 20;
    c.half_open_tsc = UINT64_MAX / 4;
    rudp::handshaker hs(c);
    uint64_t ok = 0, n = 0;
    for (auto _ : state) {
        state.PauseTiming();
        // A fresh handshake whose finished we can compute: our own client key pair.
        rudp::keypair kp;
        rudp::make_keypair(&kp);
        std::vector<uint8_t> d(rudp::base_header + rudp::max_body, 0);
        d[0] = 2, d[1] = rudp::flag::reliable, d[5] = 32;
        std::memcpy(d.data() + 6, kp.pub, 32);
        rudp::header h;
        uint8_t why;
        rudp::parse_header(d.data(), d.size(), &h, &why);
        rudp::handshaker::answers a;
        hs.on_auth(n, d.data(), d.size(), h, n, &a);
        uint8_t shared[32];
        rudp::shared_secret(kp, a.auth + 4 + 2, shared);
        rudp::session_keys k;
        rudp::derive_keys(shared, kp.pub, a.auth + 6, &k);
        uint8_t th[32];
        rudp::sha256(d.data(), d.size(), a.auth, a.auth_len, th);
        std::vector<uint8_t> fin = {0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00};
        fin.resize(8 + 32);
        rudp::finished(k.client_finished_key, th, fin.data() + 8);
        rudp::header fh;
        rudp::parse_header(fin.data(), fin.size(), &fh, &why);
        rudp::handshake_done done;
        state.ResumeTiming();
        ok += hs.on_finished(n, fin.data(), fin.size(), fh, n, &done, &a) == rudp::handshaker::result::answer;
        ++n;
    }
    if (ok != n)
        bench::fail(state, "a finished was refused");
}

void BM_x25519(benchmark::State& state)
{
    rudp::keypair peer;
    rudp::make_keypair(&peer);
    uint8_t shared[32];
    uint64_t ok = 0;
    for (auto _ : state) {
        rudp::keypair kp;
        ok += rudp::make_keypair(&kp) && rudp::shared_secret(kp, peer.pub, shared);
    }
    if (ok != uint64_t(state.iterations()))
        bench::fail(state, "X25519 failed");
    state.counters["per_s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_restore_only)->ArgName("payload")->Arg(64)->Arg(512)->Arg(972);
BENCHMARK(BM_echo)->ArgNames({"payload", "connections"})->ArgsProduct({{64, 512, 972}, {1000, 1000000}});
BENCHMARK(BM_one_at_a_time)->ArgName("payload")->Arg(64)->Arg(512)->Arg(972);
BENCHMARK(BM_handshake_auth);
BENCHMARK(BM_handshake_finished);
BENCHMARK(BM_x25519);

} // namespace

int main(int argc, char** argv)
{
    bench::eal_config eal{.prog = "bench_rudp", .prefix = "pgbenchu", .nohuge_mb = 1024};
    if (!bench::parse_args(argc, argv, eal))
        return 2;
    if (!bench::start_eal(eal))
        return 1;
    g_mb = crypto::mb_context::create();
    g_def = crypto::deflater::create(1);
    g_inf = crypto::inflater::create();
    g_big[0].reset(new uint8_t[rudp::max_message + 64]);
    g_big[1].reset(new uint8_t[rudp::max_message + 64]);
    g_rcu = rcu_create(1, SOCKET_ID_ANY);
    g_pool = rte_pktmbuf_pool_create("bench_pool", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!g_mb || !g_def || !g_inf || !g_rcu || !g_pool ||
        rte_pktmbuf_alloc_bulk(g_pool, g_ring, ring_bursts * burst) != 0) {
        std::fprintf(stderr, "bench_rudp: setup failed\n");
        return 1;
    }
    rte_rcu_qsbr_thread_register(g_rcu, 0);
    rte_rcu_qsbr_thread_online(g_rcu, 0);
    benchmark::AddCustomContext("ipsec_mb_arch", crypto::mb_context::arch_name(g_mb->used_arch()));
    rudp::config& c = g_cfg;
    c.udp_port = rudp_port;
    c.timeout_tsc = UINT64_MAX / 4;
    c.app = &g_echo;
    c.lc[rte_lcore_id()] = {g_mb.get(), g_def.get(), g_inf.get(), {g_big[0].get(), g_big[1].get()}};

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return bench::finish();
}
