// Session fast-path microbenchmark: engine::process_burst on bursts of 32 DATA_ACK packets, no
// I/O. Per packet that is classify, dispatch, header parse, SHA-256 (or HMAC) verification in
// one multi-buffer call per burst, the bulk session lookup, the replay window (128-bit CAS), the
// application (echo: a new mbuf carrying the payload back; discard: nothing), the ACK written in
// place, the second multi-buffer call that signs every answer, and make_reply (checksums).
// See docs/performance.md for how to run it and read it.
//
// Model of one worker lcore, as in bench_router: a ring of 1024 mbufs reused round-robin, each
// burst restored from a stream of pre-built, pre-signed frames (processing rewrites them in
// place) addressing sessions picked at random; BM_restore_only is the harness alone, to
// subtract. Each session's order counts increase along the stream; when the stream wraps, every
// session's replay window is reset (timer paused) so no packet is ever a replay.
// Every run checks its counters: any outcome but "ACK sent" fails the benchmark and makes the
// process exit non-zero (the meson smoke test relies on that).
//
// Flags of our own (bench_common.hpp): --eal-mem=huge|nohuge (default nohuge), --eal-mem-mb=N
// (default 1024).

#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>


#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_udp.h>

#include "bench_common.hpp"
#include "common/rcu.hpp"
#include "crypto/sha256.hpp"
#include "inspect/inspector.hpp"
#include "inspect_sets.hpp"
#include "engine/context.hpp"
#include "engine/dispatch.hpp"
#include "session/codec.hpp"
#include "session/module.hpp"
#include "session/pipeline.hpp"
#include "session/table.hpp"

namespace {

using namespace peregrine;

constexpr unsigned burst = burst_size;
constexpr unsigned ring_bursts = 32;
constexpr uint32_t n_frames = 8192;       // distinct frames in the stream (x 1.5 KiB max)
constexpr unsigned frame_stride = 1536;
constexpr uint16_t session_port = 7300;
constexpr uint32_t our_ip = RTE_IPV4(192, 0, 2, 1);
const rte_ether_addr port_mac{{0x02, 0xaa, 0, 0, 0, 0}};
const uint8_t bench_key[32] = {'b', 'e', 'n', 'c', 'h'};

engine::context* g_ctx;
session::config g_cfg;
rte_mempool* g_pool;
rte_rcu_qsbr* g_rcu;
rte_mbuf* g_ring[ring_bursts * burst];
std::unique_ptr<crypto::mb_context> g_mb;
crypto::hmac_key g_hk;
session::echo_app g_echo;
session::discard_app g_discard;

struct rng {
    uint64_t s;
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

void client_id(uint32_t i, uint8_t* out)
{
    std::memset(out, 0, session::client_id_len);
    const uint64_t v = i * 0x9e3779b97f4a7c15ull;
    std::memcpy(out, &v, 8);
    std::memcpy(out + 8, &i, 4);
}
uint32_t client_ip(uint32_t i) { return RTE_IPV4(10, 0, 0, 0) + (i >> 2) + 1; }
uint16_t client_port(uint32_t i) { return static_cast<uint16_t>(40000 + (i & 3)); }
rte_ether_addr client_mac(uint32_t i)
{
    return {{0x02, 0x00, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)}};
}

// ---- tables: built once per size ----------------------------------------------------------
struct built_table {
    uint32_t n;
    session::table* tab;
};
std::vector<built_table> g_tabs;
// The public rule set of BM_data_inspect (--crs=FILE).
std::string g_crs = PEREGRINE_SOURCE_DIR "/tests/data/crs-inspect.rules";

session::table* table_for(uint32_t n)
{
    for (auto& t : g_tabs)
        if (t.n == n)
            return t.tab;
    session::table::params p;
    p.name = "bench";
    p.capacity = n;
    p.rcu = g_rcu;
    p.socket_id = SOCKET_ID_ANY;
    session::table* tab = session::table::create(p);
    if (!tab) {
        std::fprintf(stderr, "bench_session: table::create(%" PRIu32 ") failed: %s\n", n, rte_strerror(rte_errno));
        return nullptr;
    }
    for (uint32_t i = 0; i < n; ++i) {
        uint8_t id[16];
        client_id(i, id);
        session::endpoint ep;
        ep.ip_be = rte_cpu_to_be_32(client_ip(i));
        ep.udp_port_be = rte_cpu_to_be_16(client_port(i));
        ep.port_id = 0;
        ep.next_hop = client_mac(i);
        if (tab->open(id, ep, 1, 0, 0, UINT64_MAX / 2) != session::open_result::opened) {
            std::fprintf(stderr, "bench_session: open %" PRIu32 " failed\n", i);
            return nullptr;
        }
    }
    g_tabs.push_back({n, tab});
    return tab;
}

// ---- frames ----------------------------------------------------------------------------------
struct frame_set {
    uint32_t sessions = 0;
    uint16_t payload = 0;
    bool keyed = false;
    uint16_t len = 0;
    uint8_t* data = nullptr;
};
frame_set g_frames;

// Each frame echoes its session's token, as a client does after ACCEPT.
const frame_set* frames_for(const session::table& tab, uint32_t sessions, uint16_t payload, bool keyed)
{
    if (g_frames.data && g_frames.sessions == sessions && g_frames.payload == payload && g_frames.keyed == keyed)
        return &g_frames;
    rte_free(g_frames.data);
    g_frames = {};
    auto* d = static_cast<uint8_t*>(rte_malloc("bench_frames", size_t(n_frames) * frame_stride, 64));
    if (!d)
        return nullptr;
    std::vector<uint64_t> order(sessions, 0);
    rng r{0x5e55100ull + payload + sessions};
    const auto text = bench_inspect::payloads(1024, payload);
    const uint16_t ulen = static_cast<uint16_t>(sizeof(rte_udp_hdr) + session::header_len + payload);
    const uint16_t len = static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + ulen);
    for (uint32_t f = 0; f < n_frames; ++f) {
        const auto i = static_cast<uint32_t>(r.next() % sessions);
        uint8_t* out = d + size_t(f) * frame_stride;
        const bench::udp_addrs a{client_mac(i), port_mac, client_ip(i), our_ip, client_port(i), session_port};
        uint8_t* s = bench::write_udp_headers(out, a, static_cast<uint16_t>(ulen - sizeof(rte_udp_hdr)));
        uint8_t id[16];
        client_id(i, id);
        const session::entry* e = tab.find(id);
        session::write_header(s, id, session::type::data_ack, payload, 0, ++order[i], e ? tab.token(*e) : 0);
        // Text (inspect_sets.hpp): what BM_data_inspect's rules scan, as bench_inspect's do.
        std::memcpy(s + session::header_len, text[f % text.size()].data(), payload);
        const uint8_t* p[1] = {s + 32};
        const uint32_t l[1] = {uint32_t(session::header_len - 32 + payload)};
        uint8_t dg[1][32];
        if (keyed)
            crypto::hmac_sha256_burst(*g_mb, g_hk, p, l, 1, dg);
        else
            crypto::sha256_burst(*g_mb, p, l, 1, dg);
        std::memcpy(s, dg[0], 32);
        bench::seal_udp(out);
    }
    g_frames = {sessions, payload, keyed, len, d};
    return &g_frames;
}

void reset_windows(session::table* tab)
{
    tab->for_each([](const session::entry& e) { const_cast<session::entry&>(e).win.reset(0); });
}

// ---- the benchmark ------------------------------------------------------------------------
// DATA_ACKs of payload bytes on `sessions` sessions, through the session module with cfg's
// inspection point (or none).
void run_data(benchmark::State& state, uint16_t payload, uint32_t sessions, bool keyed, bool echo)
{
    session::table* tab = table_for(sessions);
    const frame_set* fs = tab ? frames_for(*tab, sessions, payload, keyed) : nullptr;
    if (!tab || !fs)
        return bench::fail(state, "setup failed");
    reset_windows(tab);
    g_cfg.key = keyed ? &g_hk : nullptr;
    g_cfg.app = echo ? static_cast<session::application*>(&g_echo) : &g_discard;
    // The session module on this table, plugged in as the daemon does.
    delete g_ctx;
    g_ctx = bench::new_context({{port_mac, our_ip}});
    auto mod = std::make_unique<session::module>(g_cfg, *tab, nullptr);
    if (!g_ctx->add(mod.get()))
        return bench::fail(state, "module not plugged in");
    auto* st = static_cast<lcore_stats*>(rte_zmalloc("bench_stats", sizeof(lcore_stats), cache_line));
    engine::burst_out out;
    engine::init(out);
    unsigned b = 0;
    uint32_t f = 0;
    uint64_t sent = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        const uint8_t* src = fs->data + size_t(f) * frame_stride;
        for (unsigned k = 0; k < burst; ++k) {
            rte_mbuf* m = pk[k];
            std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src + k * frame_stride, fs->len);
            m->data_len = fs->len;
            m->pkt_len = fs->len;
            m->ol_flags = 0;
        }
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        out.reset();
        engine::process_burst(*g_ctx, *st, 0, pk, burst, rte_rdtsc(), out);
        sent += out.n_tx[0];
        // The application's packets are fresh mbufs (after the 32 answers): back to the pool.
        if (out.n_tx[0] > burst)
            rte_pktmbuf_free_bulk(&out.tx[0][burst], out.n_tx[0] - burst);
        rte_rcu_qsbr_quiescent(g_rcu, 0);
        f += burst;
        if (f == n_frames) {
            f = 0;
            state.PauseTiming();
            reset_windows(tab);
            state.ResumeTiming();
        }
    }
    const uint64_t n = static_cast<uint64_t>(state.iterations()) * burst;
    if (st->session[unsigned(ses::ack)] != n || st->drop_total() != 0 || sent != n * (echo ? 2 : 1)) {
        std::fprintf(stderr, "bench_session: expected %" PRIu64 " ACKs: got %" PRIu64 ", drops %" PRIu64 ", sent %" PRIu64 "\n",
                     n, st->session[unsigned(ses::ack)], st->drop_total(), sent);
        bench::fail(state, "unexpected packet outcomes");
    }
    rte_free(st);
    bench::set_counters(state, burst);
}

// args: payload bytes, sessions, keyed, echo
void BM_data_ack(benchmark::State& state)
{
    g_cfg.inspect = nullptr;
    run_data(state, static_cast<uint16_t>(state.range(0)), static_cast<uint32_t>(state.range(1)), state.range(2) != 0,
             state.range(3) != 0);
}

// What inspection adds to DATA (perf/inspect_sets.hpp, docs/performance.md "Inspection"): args
// set (0 literal, 1 regex, 2 crs), rules (-1: not inspected), payload bytes; 1000 sessions,
// plain SHA-256, the discard application.
void BM_data_inspect(benchmark::State& state)
{
    inspect::inspector::config ic;
    ic.lcores = {rte_lcore_id()};
    inspect::inspector in(ic);
    g_cfg.inspect = nullptr;
    if (state.range(1) >= 0) {
        std::string err;
        auto rules = bench_inspect::rules_of(static_cast<bench_inspect::set_kind>(state.range(0)),
                                             static_cast<unsigned>(state.range(1)), g_crs, &err);
        if (!err.empty() || !in.publish(rules, &err))
            return bench::fail(state, err.c_str());
        g_cfg.inspect = in.point("session");
    }
    run_data(state, static_cast<uint16_t>(state.range(2)), 1000, false, false);
    g_cfg.inspect = nullptr;
    state.SetLabel(state.range(1) >= 0 ? bench_inspect::set_name(static_cast<bench_inspect::set_kind>(state.range(0)))
                                       : "not inspected");
}

// The harness alone: the restore copy of BM_data_ack for the same frames.
void BM_restore_only(benchmark::State& state)
{
    const auto payload = static_cast<uint16_t>(state.range(0));
    session::table* tab = table_for(1000);
    const frame_set* fs = tab ? frames_for(*tab, 1000, payload, false) : nullptr;
    if (!fs)
        return bench::fail(state, "setup failed");
    unsigned b = 0;
    uint32_t f = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        const uint8_t* src = fs->data + size_t(f) * frame_stride;
        for (unsigned k = 0; k < burst; ++k) {
            rte_mbuf* m = pk[k];
            std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src + k * frame_stride, fs->len);
            m->data_len = fs->len;
            m->pkt_len = fs->len;
        }
        benchmark::ClobberMemory();
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        f = (f + burst == n_frames) ? 0 : f + burst;
    }
    bench::set_counters(state, burst);
}

void cases(benchmark::internal::Benchmark* b)
{
    b->ArgNames({"payload", "sessions", "keyed", "echo"});
    for (int64_t keyed : {0, 1})
        for (int64_t echo : {1, 0})
            for (int64_t sessions : {1000, 1000000})
                for (int64_t p : {64, 512, 1400})
                    b->Args({p, sessions, keyed, echo});
}

BENCHMARK(BM_restore_only)->ArgNames({"payload"})->Arg(64)->Arg(512)->Arg(1400);
BENCHMARK(BM_data_ack)->Apply(cases);
BENCHMARK(BM_data_inspect)->Apply(bench_inspect::module_cases);

} // namespace

int main(int argc, char** argv)
{
    bench::eal_config eal{.prog = "bench_session", .prefix = "pgbenchs", .nohuge_mb = 1024};
    if (!bench::parse_args(argc, argv, eal, [](const std::string& a) { return bench_inspect::crs_flag(a, &g_crs); }))
        return 2;
    if (!bench::start_eal(eal))
        return 1;
    g_mb = crypto::mb_context::create();
    g_rcu = rcu_create(1, SOCKET_ID_ANY);
    g_pool = rte_pktmbuf_pool_create("bench_pool", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!g_mb || !g_rcu || !g_pool ||
        rte_pktmbuf_alloc_bulk(g_pool, g_ring, ring_bursts * burst) != 0) {
        std::fprintf(stderr, "bench_session: setup failed\n");
        return 1;
    }
    rte_rcu_qsbr_thread_register(g_rcu, 0);
    rte_rcu_qsbr_thread_online(g_rcu, 0);
    g_hk = crypto::make_hmac_key(*g_mb, bench_key, sizeof(bench_key));
    benchmark::AddCustomContext("ipsec_mb_arch", crypto::mb_context::arch_name(g_mb->used_arch()));

    session::config& c = g_cfg;
    c.udp_port = session_port;
    c.timeout_tsc = UINT64_MAX / 4;
    c.hello_window_ms = 30'000;
    c.tsc_base = rte_rdtsc();
    c.tsc_per_ms = rte_get_tsc_hz() / 1000;
    c.mb[rte_lcore_id()] = g_mb.get();

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    return bench::finish();
}
