// The cluster's control traffic and control-lcore cost at scale (docs/performance.md, "Cluster"):
// one router's cluster::member (to the Controlling Function) and cluster::peering (to the other
// routers) driven in simulated time, every message they send counted, every one Acked at once.
// No wire: what is measured is what the protocol code sends and how long its calls take.
//
//  - BM_churn: `clients` registered on this router, `routers` in the cluster; over a simulated
//    minute, 1 % of the clients move (register again from a new endpoint: a NAT rebinding, or a
//    client that left and came back), each at a uniform random time; ticks every 1 ms as the
//    control lcore's. Counters: datagrams per second to the CF and to the peers (what this
//    router originates; the Acks it gets back are as many), and the control lcore's CPU time per
//    simulated second in these calls.
//  - BM_router_leaves: the same router when one of the others leaves: the time of set_peers(),
//    the ticks its walk over the router's IDs and share takes and the longest of them, how
//    many of its clients it re-announces and when the last is Acked.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include "cluster/member.hpp"
#include "cluster/peering.hpp"

namespace {

using namespace peregrine;

constexpr uint64_t hz = 1'000'000'000;  // simulated TSC: nanoseconds
constexpr uint64_t ms = hz / 1000;

struct rig {
    lcore_stats st{};
    uint64_t to_cf = 0, to_peers = 0, bytes = 0;
    std::vector<std::vector<uint8_t>> cf_acks, peer_acks;  // answers to feed back
    std::vector<lb::endpoint> peer_from;
    std::unique_ptr<cluster::member> m;
    std::unique_ptr<cluster::peering> p;
    std::set<uint64_t> peers;

    rig(unsigned routers)
    {
        cluster::member_params mp;
        mp.advertise = {0x0100c6c6u, 0x9c1b};
        mp.tsc_hz = hz;
        mp.report_queue = 1u << 22;
        m = std::make_unique<cluster::member>(mp, [this](const uint8_t* d, std::size_t n) {
            ++to_cf;
            bytes += n + 42;  // Ethernet + IPv4 + UDP
            cf_acks.push_back({3, d[1], d[2]});
            return true;
        });
        cluster::peering_params pp;
        pp.self = mp.advertise;
        pp.tsc_hz = hz;
        p = std::make_unique<cluster::peering>(
            pp,
            [this](const lb::endpoint& to, const uint8_t* d, std::size_t n) {
                ++to_peers;
                bytes += n + 42;
                if (d[0] == uint8_t(lb::type::registration_update) || d[0] == uint8_t(lb::type::registration_removed)) {
                    peer_acks.push_back({3, d[1], d[2]});
                    peer_from.push_back(to);
                }
                return true;
            },
            [](uint32_t, cluster::peering::answer, const lb::endpoint&) {});
        for (unsigned r = 1; r < routers; ++r)
            peers.insert(lb::key_of(lb::endpoint{0x0100c6c6u + (r << 24), 0x9c1b}));
        p->set_peers(peers, st);
    }
    // The CF and the peers Ack at once.
    void answer(uint64_t now)
    {
        for (auto& a : cf_acks)
            m->on_datagram(a.data(), a.size(), now, st);
        cf_acks.clear();
        for (std::size_t i = 0; i < peer_acks.size(); ++i)
            p->on_datagram(peer_from[i], peer_acks[i].data(), peer_acks[i].size(), now, st);
        peer_acks.clear();
        peer_from.clear();
    }
    void tick(uint64_t now)
    {
        m->tick(now, st);
        p->tick(now, st);
        answer(now);
    }
    lb::endpoint client(uint32_t i, uint32_t gen) const { return {0x0a000000u + i, uint16_t(1024 + gen)}; }
    // clients registered and reported, queues drained; returns the time reached.
    uint64_t populate(uint32_t clients)
    {
        uint64_t now = 1;
        tick(now);  // the Register, Acked
        for (uint32_t i = 0; i < clients; ++i) {
            m->registered(i, client(i, 0), now, st);
            p->registered(i, client(i, 0), st);
        }
        // Drained at the reports' rate (2000/s): fast-forward in 10 ms steps.
        while (m->queued() || p->queued() || m->in_flight() || p->in_flight())
            tick(now += 10 * ms);
        return now;
    }
};

void BM_churn(benchmark::State& state)
{
    const auto clients = static_cast<uint32_t>(state.range(0));
    const auto routers = static_cast<unsigned>(state.range(1));
    for (auto _ : state) {
        state.PauseTiming();
        rig r(routers);
        uint64_t now = r.populate(clients);
        r.to_cf = r.to_peers = r.bytes = 0;
        const uint32_t moves = clients / 100;  // 1 % per minute
        std::vector<uint64_t> at(moves);
        uint64_t seed = 0x5eed;
        for (auto& t : at) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            t = (seed >> 11) % (60 * hz);
        }
        std::sort(at.begin(), at.end());
        state.ResumeTiming();
        const uint64_t t0 = now;
        std::size_t k = 0;
        const auto c0 = std::chrono::steady_clock::now();
        for (uint64_t t = 0; t < 60 * hz; t += ms) {
            for (; k < at.size() && at[k] <= t; ++k) {
                const uint32_t id = static_cast<uint32_t>((k * 2654435761u) % clients);
                r.m->registered(id, r.client(id, 1 + k), t0 + t, r.st);
                r.p->registered(id, r.client(id, 1 + k), r.st);
            }
            r.tick(t0 + t);
        }
        const double cpu = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
        state.counters["to_cf_per_s"] = double(r.to_cf) / 60;
        state.counters["to_peers_per_s"] = double(r.to_peers) / 60;
        state.counters["out_bytes_per_s"] = double(r.bytes) / 60;
        state.counters["cpu_ms_per_s"] = cpu * 1000 / 60;
    }
}

void BM_router_leaves(benchmark::State& state)
{
    const auto clients = static_cast<uint32_t>(state.range(0));
    const auto routers = static_cast<unsigned>(state.range(1));
    for (auto _ : state) {
        state.PauseTiming();
        rig r(routers);
        uint64_t now = r.populate(clients);
        // No trim: glibc consolidates the populate's million small frees at the next large
        // allocation, inside the measurement, as it would after a mass expiry in service.
        std::set<uint64_t> fewer = r.peers;
        fewer.erase(fewer.begin());
        const uint64_t sent = r.st.cluster[unsigned(cls::dir_updates_sent)];
        state.ResumeTiming();
        const auto c0 = std::chrono::steady_clock::now();
        r.p->set_peers(fewer, r.st);
        const double walk = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
        // The walk, tick by tick: the longest tick is what a registration may wait behind.
        const uint64_t t0 = now;
        double longest = 0, walking = 0;
        unsigned ticks = 0;
        while (r.p->walking()) {
            const auto w0 = std::chrono::steady_clock::now();
            r.tick(now += ms);
            const double d = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
            longest = std::max(longest, d);
            walking += d;
            ++ticks;
        }
        state.PauseTiming();
        while (r.p->queued() || r.p->in_flight())
            r.tick(now += ms);
        state.ResumeTiming();
        state.counters["set_peers_ms"] = walk * 1000;
        state.counters["walk_ticks"] = ticks;
        state.counters["walk_ms"] = walking * 1000;
        state.counters["longest_tick_ms"] = longest * 1000;
        state.counters["reannounced"] = double(r.st.cluster[unsigned(cls::dir_updates_sent)] - sent);
        state.counters["drained_s"] = double(now - t0) / hz;
    }
}

BENCHMARK(BM_churn)->ArgNames({"clients", "routers"})->Args({1000000, 50})->Args({100000, 3})->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_router_leaves)->ArgNames({"clients", "routers"})->Args({1000000, 50})->Args({2000000, 50})->Iterations(1)
    ->Unit(benchmark::kMillisecond);

} // namespace

BENCHMARK_MAIN();
