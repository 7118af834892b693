// Load-balancer fast-path microbenchmark: Request Serving Node through engine::process_burst
// (classify + dispatch + lb::handle_burst: parse, checksum, the source's byte budget, requester
// hash, Maglev lookup, reply rewrite) on pre-built bursts of 32 mbufs, no I/O. See docs/performance.md.
//
// Model of one worker lcore, as in bench_router: a ring of 1024 mbufs reused round-robin, each
// burst restored before processing from a stream of 2^16 pre-built frames (64 bytes each) from
// distinct client endpoints, because processing rewrites them in place. BM_lb_restore_only runs
// the loop without process_burst (subtract it for the cost of process_burst alone);
// BM_lb_pick_only runs only the requester hash + Maglev lookup. Every run checks that every
// packet was answered with a serving node; anything else fails the benchmark and makes the
// process exit non-zero (the meson smoke test relies on that).
//
// Flags of our own (bench_common.hpp): --eal-mem=huge|nohuge (default nohuge: the table is 136 KiB,
// the pool small), --eal-mem-mb=N (default 256).

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>


#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "bench_common.hpp"
#include "engine/context.hpp"
#include "engine/dispatch.hpp"
#include "lb/codec.hpp"
#include "lb/maglev.hpp"
#include "lb/module.hpp"

namespace {

using namespace peregrine;

constexpr unsigned burst = burst_size;
constexpr unsigned ring_bursts = 32;
constexpr uint32_t n_frames = 1u << 16;
constexpr unsigned frame_bytes = 64;
constexpr uint16_t lb_udp_port = 7200;
constexpr uint32_t our_ip = RTE_IPV4(192, 0, 2, 1);
const rte_ether_addr port_mac = {{0x02, 0xaa, 0, 0, 0, 0}};

engine::context* g_ctx;
lb::config g_cfg;
rte_mbuf* g_ring[ring_bursts * burst];
uint8_t* g_frames[2];  // [0]: the origin's 3-byte requests, [1]: padded to 9 bytes
uint16_t g_len;

uint32_t client_ip(uint32_t i) { return RTE_IPV4(10, 0, 0, 0) + (i >> 2) + 1; }
uint16_t client_port(uint32_t i) { return static_cast<uint16_t>(40000 + (i & 3)); }

uint16_t build_frame(uint8_t* f, uint32_t i, std::size_t req_len)
{
    std::memset(f, 0, frame_bytes);
    const rte_ether_addr mac = {{0x02, 0x00, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)}};
    const bench::udp_addrs a{mac, port_mac, client_ip(i), our_ip, client_port(i), lb_udp_port};
    // req_len 9: padded with zeros to its answer's size, as Peregrine's clients send it, answered
    // at once; 3: the origin's, answered once its source's byte balance covers the answer
    // (lb::config::credit, on by default).
    lb::encode_request_serving_node(bench::write_udp_headers(f, a, static_cast<uint16_t>(req_len)), static_cast<uint16_t>(i));
    bench::seal_udp(f);
    return 60;  // 45 or 51 bytes, padded to the Ethernet minimum
}

// A published table of n nodes (rebuilt only when n changes).
std::unique_ptr<lb::table> g_table;
uint32_t g_table_n = 0;

void publish(uint32_t n)
{
    if (g_table && g_table_n == n)
        return;
    std::vector<lb::endpoint> eps;
    for (uint32_t i = 0; i < n; ++i)
        eps.push_back({rte_cpu_to_be_32(RTE_IPV4(198, 51, 100, 0) + i), rte_cpu_to_be_16(static_cast<uint16_t>(9000 + i))});
    auto t = std::make_unique<lb::table>();
    lb::build(t.get(), eps.data(), n);
    g_cfg.current.store(t.get());
    g_table = std::move(t);
    g_table_n = n;
}

struct harness {
    const uint8_t* frames = g_frames[1];
    unsigned b = 0;
    uint32_t f = 0;
    rte_mbuf** restore()
    {
        rte_mbuf** pk = &g_ring[b * burst];
        const uint8_t* src = frames + size_t(f) * frame_bytes;
        for (unsigned k = 0; k < burst; ++k) {
            rte_mbuf* m = pk[k];
            std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src + k * frame_bytes, frame_bytes);
            m->data_len = g_len;
            m->pkt_len = g_len;
            m->ol_flags = 0;
        }
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        f = (f + burst == n_frames) ? 0 : f + burst;
        return pk;
    }
};

void BM_lb_request_serving_node(benchmark::State& state)
{
    publish(static_cast<uint32_t>(state.range(0)));
    auto* st = static_cast<lcore_stats*>(rte_zmalloc("bench_stats", sizeof(lcore_stats), cache_line));
    const bool padded = state.range(1) != 0;
    engine::burst_out out;
    engine::init(out);
    harness h;
    h.frames = g_frames[padded];
    uint64_t sink = 0;
    for (auto _ : state) {
        rte_mbuf** pk = h.restore();
        out.reset();
        engine::process_burst(*g_ctx, *st, 0, pk, burst, rte_rdtsc(), out);
        sink += out.n_tx[0];
    }
    const uint64_t n = static_cast<uint64_t>(state.iterations()) * burst;
    // The origin's requests: each address sends 3 bytes at a time, so two in three wait for
    // its balance (lb_unvalidated); padded ones are all answered.
    const uint64_t waited = st->drops[unsigned(drop::lb_unvalidated)];
    if (sink + waited != n || st->lb[unsigned(lbc::request_answered)] != sink || st->drop_total() != waited ||
        (padded && waited)) {
        std::fprintf(stderr, "bench_lb: %lu of %lu answered with a node, %lu drops\n",
                     static_cast<unsigned long>(st->lb[unsigned(lbc::request_answered)]), static_cast<unsigned long>(n),
                     static_cast<unsigned long>(st->drop_total()));
        bench::failed = true;
        state.SkipWithError("unexpected packet outcomes");
    }
    rte_free(st);
    bench::set_counters(state, burst);
}

void BM_lb_restore_only(benchmark::State& state)
{
    harness h;
    for (auto _ : state) {
        rte_mbuf** pk = h.restore();
        benchmark::DoNotOptimize(pk);
        benchmark::ClobberMemory();
    }
    bench::set_counters(state, burst);
}

void BM_lb_pick_only(benchmark::State& state)
{
    publish(static_cast<uint32_t>(state.range(0)));
    const lb::table* t = g_table.get();
    uint32_t i = 0;
    uint64_t sink = 0;
    for (auto _ : state) {
        for (unsigned k = 0; k < burst; ++k, ++i)
            sink += lb::pick(t, lb::requester_hash(rte_cpu_to_be_32(client_ip(i & (n_frames - 1))),
                                                   rte_cpu_to_be_16(client_port(i)))).port_be;
    }
    benchmark::DoNotOptimize(sink);
    bench::set_counters(state, burst);
}

BENCHMARK(BM_lb_restore_only);
BENCHMARK(BM_lb_pick_only)->ArgNames({"nodes"})->Arg(10)->Arg(100)->Arg(1000);
BENCHMARK(BM_lb_request_serving_node)->ArgNames({"nodes", "padded"})->ArgsProduct({{10, 100, 1000}, {1, 0}});

} // namespace

int main(int argc, char** argv)
{
    bench::eal_config eal{.prog = "bench_lb", .prefix = "pgbenchlb", .nohuge_mb = 256};
    if (!bench::parse_args(argc, argv, eal))
        return 2;
    if (!bench::start_eal(eal))
        return 1;

    g_ctx = bench::new_context({{port_mac, our_ip}});
    g_cfg.udp_port = lb_udp_port;
    g_cfg.credit.init(1u << 16);  // the daemon's default (lb/service.cpp)

    for (auto& fr : g_frames)
        fr = static_cast<uint8_t*>(rte_malloc("bench_frames", size_t(n_frames) * frame_bytes, 64));
    rte_mempool* pool = rte_pktmbuf_pool_create("bench_pool", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!g_frames[0] || !g_frames[1] || !pool || rte_pktmbuf_alloc_bulk(pool, g_ring, ring_bursts * burst) != 0) {
        std::fprintf(stderr, "bench_lb: memory: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    for (uint32_t i = 0; i < n_frames; ++i)
        for (unsigned k = 0; k < 2; ++k)
            g_len = build_frame(g_frames[k] + size_t(i) * frame_bytes, i, k ? lb::serving_node_response_len : lb::request_serving_node_len);
    // The lb module, plugged in as the daemon does; the benchmarks publish its tables.
    lb::state_params lp;
    lp.pool = pool;
    lp.tsc_hz = rte_get_tsc_hz();
    auto state = std::make_unique<lb::state>(g_cfg, g_ctx->ports, lp);
    auto mod = std::make_unique<lb::module>(g_cfg, *state);
    if (!g_ctx->add(mod.get()))
        return 1;

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    g_cfg.current.store(nullptr);
    mod.reset();
    state.reset();
    return bench::finish();
}
