// Router fast-path microbenchmark: engine::burst_pipeline (classify + dispatch + router handler,
// two bursts in flight as in worker_main) on pre-built bursts of 32 mbufs, no I/O. See docs/performance.md for how to run it and read it.
//
// Model of one worker lcore:
//  - a "ring" of 1024 mbufs (32 bursts of 32, like a 1024-descriptor RX ring recycling through
//    the mempool cache) is reused round-robin;
//  - before each burst is processed, its packets are restored from a stream of 2^20 distinct
//    pre-built frames (64 header bytes each), because processing rewrites them in place; the
//    frames address clients picked uniformly at random over the whole registry, so at 10M
//    clients the registry is cold (hash buckets, key slots and entries miss the caches), not
//    one hot entry;
//  - BM_restore_only runs the same loop without the pipeline: subtract it to get the cost of
//    the fast path alone (the "net" column of docs/performance.md);
//  - BM_lookup_ids/BM_lookup_endpoints run only the registry part on the same key stream: the
//    registry's share of the totals (IDs: two-stage lookup, then read each registration;
//    endpoints: two-stage lookup that stamps each hit, as a Heartbeat does).
// The restore leaves the packet bytes in L1, i.e. the benchmark models an RX path where the
// NIC's DMA lands in cache: packet-data misses are not part of these numbers.
// Every run checks its counters: a packet that ends anywhere but the expected outcome fails the
// benchmark and makes the process exit non-zero (the meson smoke test relies on that).
//
// Flags of our own (removed before Google Benchmark sees argv; bench_common.hpp):
//   --eal-mem=auto|huge|nohuge   auto (default): hugepages (--in-memory, mapped on demand) if
//                                at least 3 GiB are free, else --no-huge
//   --eal-mem-mb=N               -m for --no-huge (default 4096; 10M clients need ~1.4 GiB)
//   --frames=N                   distinct frames in the stream (default 2^20)

#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>


#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_udp.h>

#include "bench_common.hpp"
#include "cluster/locations.hpp"
#include "engine/context.hpp"
#include "engine/dispatch.hpp"
#include "net/classify.hpp"
#include "router/codec.hpp"
#include "router/module.hpp"
#include "router/registry.hpp"

namespace {

using namespace peregrine;

constexpr unsigned burst = burst_size;                 // 32
constexpr unsigned ring_bursts = 32;                   // 1024 mbufs in rotation
uint32_t n_frames = 1u << 20;  // distinct frames streamed per benchmark (--frames=N)
constexpr unsigned frame_bytes = 64;                   // restored per packet (whole frame here)
constexpr uint16_t router_udp_port = 7100;
constexpr uint32_t our_ip = RTE_IPV4(192, 0, 2, 1);    // port 0
constexpr uint32_t our_ip1 = RTE_IPV4(198, 51, 100, 1); // port 1 (forward egress for odd clients)
constexpr std::size_t msg_payload = 16;

double g_tsc_hz = 0;

// ---- the simulated population -------------------------------------------------------------
// Client i (0 <= i < N) is registered; i >= N are never registered (Unknown Recipient).
uint32_t client_id(uint32_t i) { return i * 2654435761u + 0x9e37u; }  // odd multiplier: bijective
uint32_t client_ip(uint32_t i) { return RTE_IPV4(10, 0, 0, 0) + (i >> 2) + 1; }
uint16_t client_port(uint32_t i) { return static_cast<uint16_t>(40000 + (i & 3)); }
rte_ether_addr client_mac(uint32_t i)
{
    return {{0x02, 0x00, uint8_t(i >> 24), uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)}};
}
uint16_t client_port_id(uint32_t i) { return static_cast<uint16_t>(i & 1); }

const rte_ether_addr port_mac[2] = {{{0x02, 0xaa, 0, 0, 0, 0}}, {{0x02, 0xaa, 0, 0, 0, 1}}};

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

// ---- registries: built once per size, kept for the whole run --------------------------------
struct built_registry {
    uint32_t n = 0;
    router::registry* reg = nullptr;
};
std::vector<built_registry> g_regs;

router::registry* registry_for(uint32_t n)
{
    for (auto& r : g_regs)
        if (r.n == n)
            return r.reg;
    router::registry::params p;
    p.name = "bench";
    p.capacity = n;
    p.max_readers = 1;
    p.socket_id = SOCKET_ID_ANY;
    router::registry* reg = router::registry::create(p);
    if (!reg) {
        std::fprintf(stderr,
                     "bench_router: registry::create(%" PRIu32 ") failed: %s (10M clients need ~1.4 GiB of DPDK "
                     "memory: free hugepages, or --eal-mem=nohuge --eal-mem-mb=4096)\n",
                     n, rte_strerror(rte_errno));
        return nullptr;
    }
    const uint64_t t0 = rte_rdtsc();
    for (uint32_t i = 0; i < n; ++i) {
        router::endpoint ep;
        ep.ip_be = rte_cpu_to_be_32(client_ip(i));
        ep.udp_port_be = rte_cpu_to_be_16(client_port(i));
        ep.port_id = client_port_id(i);
        ep.next_hop = client_mac(i);
        if (reg->upsert(client_id(i), ep, 0) != router::upsert_result::added) {
            std::fprintf(stderr, "bench_router: upsert %" PRIu32 "/%" PRIu32 " failed\n", i, n);
            delete reg;
            return nullptr;
        }
    }
    const double secs = double(rte_rdtsc() - t0) / g_tsc_hz;
    rte_malloc_socket_stats ms{};
    rte_malloc_get_socket_stats(0, &ms);
    std::fprintf(stderr,
                 "bench_router: registry of %" PRIu32 " clients built in %.2f s (%.0f ns/upsert); "
                 "DPDK heap in use now %.0f MiB\n",
                 n, secs, secs * 1e9 / n, double(ms.heap_allocsz_bytes) / (1 << 20));
    // The benchmark thread is the registry's RCU reader 0, like worker 0.
    rte_rcu_qsbr_thread_register(reg->rcu(), 0);
    rte_rcu_qsbr_thread_online(reg->rcu(), 0);
    g_regs.push_back({n, reg});
    return reg;
}

// ---- frames --------------------------------------------------------------------------------
// Builds an Ethernet/IPv4/UDP frame from client i to the router, with valid checksums (the
// client computes its UDP checksum), zero-padded to the 60-byte Ethernet minimum.
uint16_t build_frame(uint8_t* f, uint32_t i, const uint8_t* payload, uint16_t plen)
{
    std::memset(f, 0, frame_bytes);
    const bench::udp_addrs a{client_mac(i), port_mac[0], client_ip(i), our_ip, client_port(i), router_udp_port};
    std::memcpy(bench::write_udp_headers(f, a, plen), payload, plen);
    bench::seal_udp(f);
    const unsigned len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + plen;
    return static_cast<uint16_t>(len < 60 ? 60 : len);
}

enum class kind { heartbeat, forward, unknown, remote };

// ---- a router of a cluster: the IDs n + i are registered on 3 peer routers --------------------
// The workers' side of lib/cluster (cluster::place over cluster::locations), as the cluster
// module answers router::remote; the control lcore's half is never reached (every ID cached).
struct bench_remote final : router::remote {
    cluster::locations locs;
    explicit bench_remote(uint32_t entries) : locs(entries) {}
    where locate(uint32_t id, uint32_t src, router::remote_target* t) const override
    {
        return cluster::place(locs, false, id, src, t);
    }
    bool is_peer(uint32_t ip_be) const override { return locs.is_peer(ip_be); }
    void prefetch(uint32_t id) const override { locs.prefetch(id); }
    void resolve(rte_mbuf* m, uint32_t, uint64_t, lcore_stats&, engine::control_io&) override { rte_pktmbuf_free(m); }
    void not_there(rte_mbuf* m, uint32_t, lcore_stats&) override { rte_pktmbuf_free(m); }
};
std::unique_ptr<bench_remote> g_remote;
uint32_t g_remote_n = 0;

// The location cache holding client_id(n + i) for every i < n (4n entries: a direct-mapped
// cache keeps the last of colliding IDs; the frames address only the ones kept).
bench_remote* remote_for(uint32_t n)
{
    if (g_remote && g_remote_n == n)
        return g_remote.get();
    g_remote = std::make_unique<bench_remote>(rte_align32pow2(std::min<uint32_t>(4 * n, 1u << 26)));
    for (unsigned s = 0; s < 3; ++s) {
        cluster::locations::peer p;
        p.ip_be = rte_cpu_to_be_32(RTE_IPV4(198, 51, 100, 10 + s));
        p.port_be = rte_cpu_to_be_16(router_udp_port);
        p.port_id = 1;
        p.mac = {{0x02, 0xbb, 0, 0, 0, uint8_t(s)}};
        g_remote->locs.set_peer(s, p, true);
    }
    for (uint32_t i = 0; i < n; ++i)
        g_remote->locs.cache(client_id(n + i), i % 3);
    g_remote_n = n;
    return g_remote.get();
}

struct frame_set {
    kind k{};
    uint32_t n = 0;
    uint16_t len = 0;  // every frame of a set has the same length
    uint8_t* data = nullptr;  // n_frames * frame_bytes
};
frame_set g_frames;  // only the last one used: 64 MiB each

const frame_set* frames_for(kind k, uint32_t n)
{
    if (g_frames.data && g_frames.k == k && g_frames.n == n)
        return &g_frames;
    rte_free(g_frames.data);
    g_frames = {};
    auto* d = static_cast<uint8_t*>(rte_malloc("bench_frames", size_t(n_frames) * frame_bytes, 64));
    if (!d) {
        std::fprintf(stderr, "bench_router: no memory for the frame stream\n");
        return nullptr;
    }
    rng r{0x5eed0000ull + static_cast<uint64_t>(k) * 1000003u + n};
    uint16_t len = 0;
    for (uint32_t f = 0; f < n_frames; ++f) {
        uint8_t* out = d + size_t(f) * frame_bytes;
        const uint32_t i = static_cast<uint32_t>(r.next() % n);
        uint8_t pl[router::message_header_len + msg_payload];
        switch (k) {
        case kind::heartbeat:
            router::encode_heartbeat(pl);
            len = build_frame(out, i, pl, router::heartbeat_len);
            break;
        case kind::forward:
        case kind::unknown:
        case kind::remote: {
            // Sender: some registered client; recipient: client i (registered), n + i (not), or
            // n + i registered on a peer (one the location cache kept).
            uint8_t body[msg_payload];
            for (std::size_t b = 0; b < msg_payload; ++b)
                body[b] = static_cast<uint8_t>(f + b);
            uint32_t to = k == kind::forward ? i : n + i;
            if (k == kind::remote) {
                cluster::locations::peer p;
                for (uint32_t j = i; g_remote->locs.find(client_id(n + j), &p) != cluster::locations::hit::peer;)
                    j = static_cast<uint32_t>(r.next() % n), to = n + j;
            }
            const std::size_t plen = router::encode_message(pl, client_id(to), body, msg_payload);
            len = build_frame(out, static_cast<uint32_t>(r.next() % n), pl, static_cast<uint16_t>(plen));
            break;
        }
        }
    }
    g_frames = {k, n, len, d};
    return &g_frames;
}

// ---- the engine around the fast path -----------------------------------------------------
engine::context* g_ctx;
rte_mempool* g_pool;
rte_mbuf* g_ring[ring_bursts * burst];

router::config g_cfg;
std::unique_ptr<router::module> g_mod;

// A context with the router module on reg, plugged in as the daemon does.
void plug(router::registry* reg)
{
    delete g_ctx;
    g_mod = std::make_unique<router::module>(g_cfg, *reg);
    g_ctx = bench::new_context({{port_mac[0], our_ip}, {port_mac[1], our_ip1}});
    g_ctx->add(g_mod.get());
}

void init_engine()
{
    g_cfg.udp_port = router_udp_port;
    g_ctx = bench::new_context({{port_mac[0], our_ip}, {port_mac[1], our_ip1}});
}

struct harness {
    const frame_set* fs;
    uint64_t ol_flags;
    unsigned b = 0;     // next ring burst
    uint32_t f = 0;     // next frame
    engine::burst_out out;
    lcore_stats* st;

    harness(const frame_set* s, uint64_t fl) : fs(s), ol_flags(fl)
    {
        engine::init(out);
        st = static_cast<lcore_stats*>(rte_zmalloc("bench_stats", sizeof(lcore_stats), cache_line));
    }
    ~harness() { rte_free(st); }

    // Restores the next burst from the frame stream; returns its mbufs.
    rte_mbuf** restore()
    {
        rte_mbuf** pk = &g_ring[b * burst];
        const uint8_t* src = fs->data + size_t(f) * frame_bytes;
        for (unsigned k = 0; k < burst; ++k) {
            rte_mbuf* m = pk[k];
            std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), src + k * frame_bytes, frame_bytes);
            m->data_len = fs->len;
            m->pkt_len = fs->len;
            m->ol_flags = ol_flags;
        }
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
        f = (f + burst == n_frames) ? 0 : f + burst;
        return pk;
    }
};

constexpr uint64_t nic_csum_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;

// Every packet of the run must have ended as `expect` and nothing else.
void check(benchmark::State& state, const lcore_stats& st, rtr expect)
{
    const uint64_t n = static_cast<uint64_t>(state.iterations()) * burst;
    uint64_t exc = 0, rtr_total = 0;
    for (auto v : st.exceptions)
        exc += v;
    for (auto v : st.router)
        rtr_total += v;
    if (st.rx_packets != n || st.router[static_cast<unsigned>(expect)] != n || rtr_total != n ||
        st.drop_total() != 0 || exc != 0) {
        std::fprintf(stderr, "bench_router: expected %s: rx %" PRIu64 " expected outcome %" PRIu64 " of %" PRIu64
                             ", drops %" PRIu64 ", exceptions %" PRIu64 "\n",
                     rtr_name(static_cast<unsigned>(expect)).data(), st.rx_packets, st.router[static_cast<unsigned>(expect)], n,
                     st.drop_total(), exc);
        bench::fail(state, "unexpected packet outcomes");
    }
}

// The registry with state.range(0) clients and the frame stream of kind k for it; false (after
// fail()) when either cannot be built.
bool prepare(benchmark::State& state, kind k, router::registry** reg, const frame_set** fs)
{
    const auto n = static_cast<uint32_t>(state.range(0));
    *reg = registry_for(n);
    if (!*reg) {
        bench::fail(state, "registry build failed");
        return false;
    }
    *fs = frames_for(k, n);
    if (!*fs) {
        bench::fail(state, "frame stream allocation failed");
        return false;
    }
    return true;
}

void run_router(benchmark::State& state, kind k, rtr expect)
{
    const uint64_t flags = state.range(1) ? nic_csum_flags : 0;
    router::registry* reg;
    const frame_set* fs;
    if (!prepare(state, k, &reg, &fs))
        return;
    plug(reg);
    rte_rcu_qsbr* rcu = reg->rcu();
    harness h(fs, flags);
    // As worker_main runs it: each burst is staged before the previous one is finished.
    auto pipe = std::make_unique<engine::burst_pipeline>();
    uint64_t sink = 0;
    const auto leaving = [](const engine::burst_out* o) {
        return o ? o->n_tx[0] + o->n_tx[1] + o->n_drop + o->n_exc + o->n_ctl : 0u;
    };

    for (auto _ : state) {
        rte_mbuf** pk = h.restore();
        sink += leaving(pipe->push(*g_ctx, *h.st, 0, pk, burst, rte_rdtsc()));
        rte_rcu_qsbr_quiescent(rcu, 0);
    }
    // The last burst, held back by the pipeline (outside the timed loop).
    sink += leaving(pipe->drain(*g_ctx, *h.st, rte_rdtsc()));
    benchmark::DoNotOptimize(sink);
    if (sink != static_cast<uint64_t>(state.iterations()) * burst)
        bench::fail(state, "the fast path lost packets");
    check(state, *h.st, expect);
    bench::set_counters(state, burst);
}

void BM_heartbeat(benchmark::State& state) { run_router(state, kind::heartbeat, rtr::heartbeat_answered); }
void BM_forward(benchmark::State& state) { run_router(state, kind::forward, rtr::message_forwarded); }
void BM_unknown_recipient(benchmark::State& state) { run_router(state, kind::unknown, rtr::unknown_recipient); }
// A router of a cluster forwarding to recipients on its peers (the location cache on the worker).
void BM_forward_remote(benchmark::State& state)
{
    remote_for(static_cast<uint32_t>(state.range(0)));
    g_cfg.remote = g_remote.get();
    run_router(state, kind::remote, rtr::message_remote);
    g_cfg.remote = nullptr;
}

// The registry's share: the lookups the fast path does for a burst of these frames and what
// the pipeline does with each hit (a forward reads the registration, a heartbeat stamps its
// endpoint), without classify, parse, checksums or rewrites. Keys come straight from the frame
// stream.
void run_lookup(benchmark::State& state, kind k)
{
    router::registry* reg;
    const frame_set* fs;
    if (!prepare(state, k, &reg, &fs))
        return;
    rte_rcu_qsbr* rcu = reg->rcu();
    constexpr unsigned ip_src = sizeof(rte_ether_hdr) + offsetof(rte_ipv4_hdr, src_addr);
    constexpr unsigned udp_sport = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
    constexpr unsigned msg_id = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + 1;
    uint32_t f = 0;
    uint64_t hits = 0, sink = 0;
    for (auto _ : state) {
        const uint8_t* src = fs->data + size_t(f) * frame_bytes;
        if (k == kind::heartbeat) {
            uint64_t keys[burst];
            for (unsigned i = 0; i < burst; ++i) {
                uint32_t ip;
                uint16_t port;
                std::memcpy(&ip, src + i * frame_bytes + ip_src, sizeof(ip));
                std::memcpy(&port, src + i * frame_bytes + udp_sport, sizeof(port));
                keys[i] = router::endpoint_key(ip, port);
            }
            bool hit[burst];
            hits += reg->refresh_endpoints(keys, burst, rte_rdtsc(), hit);
        } else {
            uint32_t ids[burst];
            for (unsigned i = 0; i < burst; ++i)
                ids[i] = router::read_id(src + i * frame_bytes + msg_id);
            router::entry* e[burst];
            hits += reg->lookup_ids(ids, burst, e);
            for (unsigned i = 0; i < burst; ++i)
                sink += e[i]->port_id + e[i]->ip_be + e[i]->next_hop.addr_bytes[0];
        }
        f = (f + burst == n_frames) ? 0 : f + burst;
        rte_rcu_qsbr_quiescent(rcu, 0);
    }
    benchmark::DoNotOptimize(sink);
    if (hits != static_cast<uint64_t>(state.iterations()) * burst)
        bench::fail(state, "lookup missed a registered client");
    bench::set_counters(state, burst);
}

void BM_lookup_endpoints(benchmark::State& state) { run_lookup(state, kind::heartbeat); }
void BM_lookup_ids(benchmark::State& state) { run_lookup(state, kind::forward); }

// The harness alone: everything run_router does except the pipeline.
void BM_restore_only(benchmark::State& state)
{
    router::registry* reg = registry_for(1000);
    const frame_set* fs = frames_for(kind::forward, 1000);
    if (!reg || !fs)
        return bench::fail(state, "setup failed");
    rte_rcu_qsbr* rcu = reg->rcu();
    harness h(fs, 0);
    uint64_t sink = 0;
    for (auto _ : state) {
        rte_mbuf** pk = h.restore();
        h.out.reset();
        const uint64_t now = rte_rdtsc();
        benchmark::DoNotOptimize(pk);
        benchmark::DoNotOptimize(now);
        benchmark::ClobberMemory();
        sink += h.out.n_tx[0] + h.out.n_tx[1] + h.out.n_drop + h.out.n_exc + h.out.n_ctl;
        rte_rcu_qsbr_quiescent(rcu, 0);
    }
    benchmark::DoNotOptimize(sink);
    bench::set_counters(state, burst);
}

// net::classify alone on hot, unmodified heartbeat frames (no restore needed: it only reads).
void BM_classify_only(benchmark::State& state)
{
    const frame_set* fs = frames_for(kind::heartbeat, 1000);
    if (!fs)
        return bench::fail(state, "setup failed");
    harness h(fs, 0);
    for (unsigned b = 0; b < ring_bursts; ++b)
        h.restore();
    const net::port_addr& pa = g_ctx->ports[0];
    unsigned b = 0;
    uint64_t ok = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        for (unsigned k = 0; k < burst; ++k) {
            net::udp_view v;
            const net::classification c = net::classify(pk[k], pa, &v);
            ok += c.v == net::verdict::local_udp;
            benchmark::DoNotOptimize(v);
        }
        b = (b + 1 == ring_bursts) ? 0 : b + 1;
    }
    if (ok != static_cast<uint64_t>(state.iterations()) * burst)
        bench::fail(state, "classify did not accept every frame");
    bench::set_counters(state, burst);
}

void sizes(benchmark::internal::Benchmark* b)
{
    b->ArgNames({"clients", "nic_csum"});
    for (int64_t csum : {0, 1})
        for (int64_t n : {1000, 1000000, 10000000})
            b->Args({n, csum});
}

BENCHMARK(BM_restore_only);
BENCHMARK(BM_classify_only);
BENCHMARK(BM_heartbeat)->Apply(sizes);
BENCHMARK(BM_forward)->Apply(sizes);
BENCHMARK(BM_unknown_recipient)->Apply(sizes);
BENCHMARK(BM_forward_remote)->ArgNames({"clients", "nic_csum"})->Args({1000, 1})->Args({1000000, 1});
BENCHMARK(BM_lookup_endpoints)->ArgNames({"clients"})->Arg(1000)->Arg(1000000)->Arg(10000000);
BENCHMARK(BM_lookup_ids)->ArgNames({"clients"})->Arg(1000)->Arg(1000000)->Arg(10000000);

} // namespace

int main(int argc, char** argv)
{
    // Hugepages if 3 GiB are free: enough for the 10M-client registry plus the rest.
    bench::eal_config eal{.prog = "bench_router", .prefix = "pgbench", .mode = "auto", .auto_huge_mb = 3072,
                          .nohuge_mb = 4096};
    const auto frames_flag = [](const std::string& s) {
        if (s.rfind("--frames=", 0) != 0)
            return false;
        n_frames = static_cast<uint32_t>(std::stoul(s.substr(9)));
        return true;
    };
    if (!bench::parse_args(argc, argv, eal, frames_flag))
        return 2;
    if (n_frames < burst || n_frames % burst != 0) {
        std::fprintf(stderr, "bench_router: --frames must be a positive multiple of %u\n", burst);
        return 2;
    }
    if (!bench::start_eal(eal))
        return 1;
    g_tsc_hz = static_cast<double>(rte_get_tsc_hz());
    benchmark::AddCustomContext("tsc_hz", std::to_string(rte_get_tsc_hz()));

    init_engine();
    g_pool = rte_pktmbuf_pool_create("bench_pool", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!g_pool || rte_pktmbuf_alloc_bulk(g_pool, g_ring, ring_bursts * burst) != 0) {
        std::fprintf(stderr, "bench_router: mbuf pool: %s\n", rte_strerror(rte_errno));
        return 1;
    }

    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    // Registries and frames are left to the process exit: tearing down a 10M-entry registry
    // only costs time.
    return bench::finish();
}
