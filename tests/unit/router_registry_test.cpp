// router::registry: add / refresh / move / displace / full / remove / expire, slot recycling
// through RCU reclaim, bulk lookups, and a writer racing lock-free readers.

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "router/registry.hpp"
#include "test_env.hpp"

namespace peregrine::router {
namespace {

using pgtest::ip4;
using pgtest::mac;
using pgtest::registry_ptr;

endpoint ep(uint32_t ip_be, uint16_t port, uint16_t port_id = 0, uint8_t hop = 0x10)
{
    return endpoint{ip_be, rte_cpu_to_be_16(port), port_id, mac(hop)};
}

uint64_t key(const endpoint& e) { return endpoint_key(e.ip_be, e.udp_port_be); }

// The n-th distinct test endpoint: 10.x.y.z, port 20000 + n % 40000.
endpoint nth_ep(uint32_t n)
{
    return ep(rte_cpu_to_be_32((10u << 24) | (n & 0xffffff)), static_cast<uint16_t>(20000 + n % 40000));
}

registry_ptr make_registry(uint32_t capacity, uint32_t readers = 4)
{
    registry_ptr r = pgtest::make_registry(capacity, readers);
    EXPECT_NE(r, nullptr) << rte_strerror(rte_errno);
    return r;
}

class RouterRegistry : public ::testing::Test {
protected:
    registry_ptr reg = make_registry(64);

    void expect_entry(uint32_t id, const endpoint& e, uint64_t seen)
    {
        const entry* x = reg->find_id(id);
        ASSERT_NE(x, nullptr) << "id " << id;
        EXPECT_EQ(x->client_id, id);
        EXPECT_EQ(x->ip_be, e.ip_be);
        EXPECT_EQ(x->udp_port_be, e.udp_port_be);
        EXPECT_EQ(x->port_id, e.port_id);
        EXPECT_TRUE(rte_is_same_ether_addr(&x->next_hop, &e.next_hop));
        EXPECT_EQ(x->seen(), seen);
        EXPECT_EQ(reg->find_endpoint(key(e)), x) << "endpoint index disagrees for id " << id;
    }
};

TEST_F(RouterRegistry, CreateRejectsBadParams)
{
    registry::params p;
    p.capacity = 0;
    EXPECT_EQ(registry::create(p), nullptr);
    p.capacity = 8;
    p.max_readers = 0;
    EXPECT_EQ(registry::create(p), nullptr);
}

TEST_F(RouterRegistry, Add)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000, 1, 0x33);
    EXPECT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    expect_entry(7, a, 100);
    EXPECT_EQ(reg->size(), 1u);
    EXPECT_EQ(reg->find_id(8), nullptr);
    EXPECT_EQ(reg->counters().added, 1u);
}

TEST_F(RouterRegistry, RefreshFromTheSameEndpoint)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    const entry* before = reg->find_id(7);
    EXPECT_EQ(reg->upsert(7, a, 900), upsert_result::refreshed);
    EXPECT_EQ(reg->find_id(7), before) << "a refresh is in place";
    expect_entry(7, a, 900);
    EXPECT_EQ(reg->size(), 1u);
    EXPECT_EQ(reg->counters().refreshed, 1u);
}

TEST_F(RouterRegistry, SameEndpointNewNextHopIsAMove)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000, 0, 0x10);
    const endpoint a2 = ep(ip4(198, 18, 0, 10), 40000, 1, 0x11);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    EXPECT_EQ(reg->upsert(7, a2, 200), upsert_result::moved);
    expect_entry(7, a2, 200);
    EXPECT_EQ(reg->size(), 1u);
}

TEST_F(RouterRegistry, MoveToANewEndpoint)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000);
    const endpoint b = ep(ip4(203, 0, 113, 5), 41000);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    EXPECT_EQ(reg->upsert(7, b, 200), upsert_result::moved);
    expect_entry(7, b, 200);
    EXPECT_EQ(reg->find_endpoint(key(a)), nullptr) << "old endpoint still maps to the client";
    EXPECT_EQ(reg->size(), 1u);
    EXPECT_EQ(reg->counters().moved, 1u);
}

TEST_F(RouterRegistry, NewIdFromARegisteredEndpointDisplacesTheOldId)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    EXPECT_EQ(reg->upsert(8, a, 200), upsert_result::added);
    EXPECT_EQ(reg->find_id(7), nullptr);
    expect_entry(8, a, 200);
    EXPECT_EQ(reg->size(), 1u);
    EXPECT_EQ(reg->counters().displaced, 1u);
}

TEST_F(RouterRegistry, MoveOntoAnotherClientsEndpointDisplacesIt)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000);
    const endpoint b = ep(ip4(198, 18, 0, 11), 40000);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    ASSERT_EQ(reg->upsert(8, b, 100), upsert_result::added);
    EXPECT_EQ(reg->upsert(7, b, 200), upsert_result::moved);
    EXPECT_EQ(reg->find_id(8), nullptr);
    EXPECT_EQ(reg->find_endpoint(key(a)), nullptr);
    expect_entry(7, b, 200);
    EXPECT_EQ(reg->size(), 1u);
}

// A large registry takes every registration up to its capacity, and only then reports full:
// bounded probing must never refuse a client below capacity (an 8-bucket window did, in about
// one 10M-client build in ten). Endpoints packed as a NAT would hand them out (4 ports per
// address, consecutive addresses) and IDs from a multiplicative sequence, as in bench_router.
TEST(RouterRegistryCapacity, FillsToCapacityThenRefuses)
{
    constexpr uint32_t n = 1000000;
    for (int build = 0; build < 2; ++build) {  // two builds: two random hash seeds
        registry_ptr r = make_registry(n, 1);
        ASSERT_NE(r, nullptr);
        for (uint32_t i = 0; i < n; ++i) {
            const endpoint e = ep(rte_cpu_to_be_32((10u << 24) + (i >> 2) + 1), static_cast<uint16_t>(40000 + (i & 3)));
            ASSERT_EQ(r->upsert(i * 2654435761u + 0x9e37u, e, 1), upsert_result::added) << "client " << i << " of " << n;
        }
        EXPECT_EQ(r->size(), n);
        EXPECT_EQ(r->counters().full, 0u);
        EXPECT_EQ(r->upsert(12345, ep(ip4(198, 18, 9, 9), 999), 1), upsert_result::full);
        for (uint32_t i = 0; i < n; i += 9973)
            ASSERT_NE(r->find_id(i * 2654435761u + 0x9e37u), nullptr) << i;
    }
}

TEST_F(RouterRegistry, FullAtCapacity)
{
    reg = make_registry(4);
    for (uint32_t id = 0; id < 4; ++id)
        ASSERT_EQ(reg->upsert(id, nth_ep(id), 100), upsert_result::added);
    EXPECT_EQ(reg->upsert(99, nth_ep(99), 100), upsert_result::full);
    EXPECT_EQ(reg->find_id(99), nullptr);
    EXPECT_EQ(reg->find_endpoint(key(nth_ep(99))), nullptr);
    EXPECT_EQ(reg->size(), 4u);
    EXPECT_EQ(reg->counters().full, 1u);

    // Registered clients keep working when full: refresh, move, and a new ID that replaces the
    // registration of its endpoint.
    EXPECT_EQ(reg->upsert(0, nth_ep(0), 200), upsert_result::refreshed);
    EXPECT_EQ(reg->upsert(1, nth_ep(101), 200), upsert_result::moved);
    EXPECT_EQ(reg->upsert(50, nth_ep(2), 200), upsert_result::added);
    EXPECT_EQ(reg->find_id(2), nullptr);
    EXPECT_EQ(reg->size(), 4u);
    // Room again after a removal.
    ASSERT_TRUE(reg->remove(3));
    EXPECT_EQ(reg->upsert(99, nth_ep(99), 300), upsert_result::added);
}

TEST_F(RouterRegistry, Remove)
{
    const endpoint a = ep(ip4(198, 18, 0, 10), 40000);
    ASSERT_EQ(reg->upsert(7, a, 100), upsert_result::added);
    EXPECT_TRUE(reg->remove(7));
    EXPECT_EQ(reg->find_id(7), nullptr);
    EXPECT_EQ(reg->find_endpoint(key(a)), nullptr);
    EXPECT_EQ(reg->size(), 0u);
    EXPECT_FALSE(reg->remove(7));
    EXPECT_FALSE(reg->remove(12345));
    EXPECT_EQ(reg->counters().removed, 1u);
    // The ID and the endpoint can register again.
    EXPECT_EQ(reg->upsert(7, a, 200), upsert_result::added);
}

TEST_F(RouterRegistry, ExpireRemovesOnlyStaleEntries)
{
    for (uint32_t id = 0; id < 10; ++id)
        ASSERT_EQ(reg->upsert(id, nth_ep(id), 1000), upsert_result::added);
    for (uint32_t id = 10; id < 20; ++id)
        ASSERT_EQ(reg->upsert(id, nth_ep(id), 5000), upsert_result::added);
    // A reader refreshes a stale one (Heartbeat), and one was stamped slightly in the future by
    // another core's TSC.
    reg->find_id(3)->touch(5500);
    reg->find_id(4)->touch(6100);

    EXPECT_EQ(reg->expire(6000, 2000, 1u << 20), 8u);
    for (uint32_t id = 0; id < 20; ++id) {
        const bool kept = id >= 10 || id == 3 || id == 4;
        EXPECT_EQ(reg->find_id(id) != nullptr, kept) << "id " << id;
        EXPECT_EQ(reg->find_endpoint(key(nth_ep(id))) != nullptr, kept) << "id " << id;
    }
    EXPECT_EQ(reg->size(), 12u);
    EXPECT_EQ(reg->counters().expired, 8u);
    // Exactly max_age old is not yet expired.
    EXPECT_EQ(reg->expire(7000, 2000, 1u << 20), 0u);
    EXPECT_EQ(reg->expire(7001, 2000, 1u << 20), 10u);
}

TEST_F(RouterRegistry, ExpireSweepsInBudgetLimitedSlices)
{
    constexpr uint32_t n = 40;
    constexpr unsigned budget = 7;
    for (uint32_t id = 0; id < n; ++id)
        ASSERT_EQ(reg->upsert(id, nth_ep(id), 1000), upsert_result::added);
    // Every slot (capacity plus slack) is visited once per sweep, whatever the slice size.
    const uint32_t slots = reg->capacity() + reg->capacity() / 8 + 1024;
    const unsigned calls_per_sweep = (slots + budget - 1) / budget;
    unsigned total = 0, calls = 0, slices_with_work = 0;
    while (total < n && calls < calls_per_sweep + 1) {
        const unsigned r = reg->expire(100000, 10, budget);
        ASSERT_LE(r, budget);
        slices_with_work += r > 0;
        total += r;
        ++calls;
    }
    EXPECT_EQ(total, n) << "a full sweep of " << calls << " slices missed registrations";
    EXPECT_GE(slices_with_work, (n + budget - 1) / budget) << "the budget was not honoured";
    EXPECT_EQ(reg->size(), 0u);
}

TEST_F(RouterRegistry, BulkLookupsWithHitsAndMisses)
{
    for (uint32_t id = 0; id < 64; id += 2)
        ASSERT_EQ(reg->upsert(id, nth_ep(id), 1), upsert_result::added);
    for (unsigned n : {1u, 2u, 31u, 32u, 33u, 63u, 64u}) {
        uint32_t ids[64];
        uint64_t eps[64];
        entry* out[64];
        for (unsigned i = 0; i < n; ++i) {
            ids[i] = (i * 37) % 64;  // a mixed order with repeats
            eps[i] = key(nth_ep(ids[i]));
        }
        unsigned want = 0;
        for (unsigned i = 0; i < n; ++i)
            want += ids[i] % 2 == 0;

        for (int pass = 0; pass < 2; ++pass) {
            for (auto& o : out)
                o = reinterpret_cast<entry*>(0x1);  // garbage: misses must be set to nullptr
            const unsigned hits = pass == 0 ? reg->lookup_ids(ids, n, out) : reg->lookup_endpoints(eps, n, out);
            EXPECT_EQ(hits, want) << "n " << n << " pass " << pass;
            for (unsigned i = 0; i < n; ++i) {
                if (ids[i] % 2) {
                    EXPECT_EQ(out[i], nullptr) << "n " << n << " i " << i;
                } else {
                    ASSERT_NE(out[i], nullptr);
                    ASSERT_NE(out[i], reinterpret_cast<entry*>(0x1));
                    EXPECT_EQ(out[i]->client_id, ids[i]);
                }
            }
        }
    }
}

// Retired slots come back once readers pass a quiescent state; thousands of add/remove and
// move cycles on a tiny registry never report full.
TEST_F(RouterRegistry, SlotsAreRecycledWithAnOfflineReader)
{
    reg = make_registry(8, 1);
    rte_rcu_qsbr* rcu = reg->rcu();
    ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);  // registered, offline
    for (uint32_t i = 0; i < 20000; ++i) {
        ASSERT_EQ(reg->upsert(i, nth_ep(i), i), upsert_result::added) << "cycle " << i;
        ASSERT_TRUE(reg->remove(i));
        if (i % 512 == 0)
            reg->reclaim();
    }
    for (uint32_t i = 0; i < 20000; ++i)
        ASSERT_EQ(reg->upsert(1, nth_ep(i), i), i == 0 ? upsert_result::added : upsert_result::moved) << i;
    EXPECT_EQ(reg->size(), 1u);
    rte_rcu_qsbr_thread_unregister(rcu, 0);
}

TEST_F(RouterRegistry, SlotsAreRecycledWithAnOnlineReader)
{
    reg = make_registry(8, 1);
    rte_rcu_qsbr* rcu = reg->rcu();
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        rte_rcu_qsbr_thread_register(rcu, 0);
        rte_rcu_qsbr_thread_online(rcu, 0);
        while (!stop.load(std::memory_order_relaxed)) {
            reg->find_id(1);
            rte_rcu_qsbr_quiescent(rcu, 0);
        }
        rte_rcu_qsbr_thread_offline(rcu, 0);
        rte_rcu_qsbr_thread_unregister(rcu, 0);
    });
    for (uint32_t i = 0; i < 5000; ++i) {
        ASSERT_EQ(reg->upsert(i, nth_ep(i), i), upsert_result::added) << "cycle " << i;
        ASSERT_TRUE(reg->remove(i));
        reg->reclaim();
    }
    stop = true;
    reader.join();
}

// ---- a writer racing readers ----

// Every entry the writer creates says who it is three times: client_id, the next-hop MAC
// (bytes 2..5 = ID) and the ingress port (ID % 4). The endpoint comes from a pool whose port
// is derived from its address. A reader that ever sees these disagree read a torn entry, or
// one recycled under its feet.
constexpr uint32_t race_ids = 128;
constexpr uint32_t race_eps = 160;

endpoint race_ep(uint32_t id, uint32_t ep_index)
{
    endpoint e;
    e.ip_be = rte_cpu_to_be_32((10u << 24) | ep_index);
    e.udp_port_be = rte_cpu_to_be_16(static_cast<uint16_t>(30000 + ep_index));
    e.port_id = static_cast<uint16_t>(id % 4);
    e.next_hop = rte_ether_addr{{0x02, 0x00, static_cast<uint8_t>(id), static_cast<uint8_t>(id >> 8),
                                 static_cast<uint8_t>(id >> 16), static_cast<uint8_t>(id >> 24)}};
    return e;
}

// Empty when e is self-consistent (and, when want_id is set, belongs to that ID).
std::string check_entry(const entry* e, int64_t want_id, uint64_t want_key)
{
    const uint32_t id = e->client_id;
    const uint8_t* h = e->next_hop.addr_bytes;
    const uint32_t mac_id = h[2] | (h[3] << 8) | (h[4] << 16) | (uint32_t(h[5]) << 24);
    const uint32_t ep_index = rte_be_to_cpu_32(e->ip_be) & 0xffffff;
    if (want_id >= 0 && id != static_cast<uint32_t>(want_id))
        return "looked up id " + std::to_string(want_id) + ", got entry of " + std::to_string(id);
    if (id >= race_ids || mac_id != id || e->port_id != id % 4)
        return "entry of id " + std::to_string(id) + " has next hop of " + std::to_string(mac_id) + " and port " +
               std::to_string(e->port_id);
    if (rte_be_to_cpu_32(e->ip_be) >> 24 != 10 || ep_index >= race_eps ||
        rte_be_to_cpu_16(e->udp_port_be) != 30000 + ep_index)
        return "entry of id " + std::to_string(id) + " has a torn endpoint";
    if (want_key != 0 && endpoint_key(e->ip_be, e->udp_port_be) != want_key)
        return "endpoint lookup returned an entry for another endpoint";
    if (e->seen() == 0)
        return "entry with last_seen 0";
    return {};
}

TEST_F(RouterRegistry, ConcurrentWriterAndReadersSeeOnlyConsistentEntries)
{
    constexpr unsigned n_readers = 3;
    reg = make_registry(race_ids + 32, n_readers + 1);
    rte_rcu_qsbr* rcu = reg->rcu();
    std::atomic<bool> stop{false};
    std::atomic<unsigned> ready{0};
    std::atomic<uint64_t> errors{0};
    std::string first_error;
    std::atomic_flag first_error_set = ATOMIC_FLAG_INIT;
    struct reader_stats {
        uint64_t batches = 0, id_hits = 0, ep_hits = 0;
    };
    std::vector<reader_stats> rs(n_readers);

    auto report = [&](const std::string& what) {
        errors.fetch_add(1);
        if (!first_error_set.test_and_set())
            first_error = what;
    };

    std::vector<std::thread> readers;
    for (unsigned r = 0; r < n_readers; ++r) {
        readers.emplace_back([&, r] {
            rte_rcu_qsbr_thread_register(rcu, r);
            rte_rcu_qsbr_thread_online(rcu, r);
            ready.fetch_add(1);
            std::mt19937 rng(r + 1);
            uint32_t ids[64];
            uint64_t keys[64];
            entry* by_id[64];
            entry* by_ep[64];
            while (!stop.load(std::memory_order_relaxed)) {
                for (unsigned i = 0; i < 64; ++i) {
                    ids[i] = rng() % (race_ids + 8);  // a few IDs the writer never registers
                    const endpoint e = race_ep(0, rng() % race_eps);
                    keys[i] = endpoint_key(e.ip_be, e.udp_port_be);
                }
                rs[r].id_hits += reg->lookup_ids(ids, 64, by_id);
                for (unsigned i = 0; i < 64; ++i)
                    if (by_id[i]) {
                        if (auto err = check_entry(by_id[i], ids[i], 0); !err.empty())
                            report(err);
                        by_id[i]->touch(1000);  // as a Heartbeat would
                    }
                rs[r].ep_hits += reg->lookup_endpoints(keys, 64, by_ep);
                for (unsigned i = 0; i < 64; ++i)
                    if (by_ep[i])
                        if (auto err = check_entry(by_ep[i], -1, keys[i]); !err.empty())
                            report(err);
                // The first batch's pointers are still ours: nothing may have recycled them.
                for (unsigned i = 0; i < 64; ++i)
                    if (by_id[i])
                        if (auto err = check_entry(by_id[i], ids[i], 0); !err.empty())
                            report("after a second lookup: " + err);
                rte_rcu_qsbr_quiescent(rcu, r);
                ++rs[r].batches;
            }
            rte_rcu_qsbr_thread_offline(rcu, r);
            rte_rcu_qsbr_thread_unregister(rcu, r);
        });
    }
    while (ready.load() < n_readers)
        std::this_thread::yield();

    // The writer: upserts (add, refresh, move, displace), removals, expiry and reclaim.
    std::mt19937 rng(99);
    uint64_t now = 1, ops = 0, moved = 0, displaced_before = reg->counters().displaced;
    // Runs 1.5 s, longer (up to 30 s) while the writer has not yet done the minimum below:
    // on a loaded CI machine the threads get less CPU, the test must not get less coverage.
    const auto t0 = std::chrono::steady_clock::now();
    auto more = [&] {
        const auto t = std::chrono::steady_clock::now();
        if (t < t0 + std::chrono::milliseconds(1500))
            return true;
        const bool short_of_minimum = ops <= 10000 || moved <= 1000 || reg->counters().displaced - displaced_before <= 100;
        return short_of_minimum && t < t0 + std::chrono::seconds(30);
    };
    while (errors.load() == 0 && more()) {
        for (int k = 0; k < 256; ++k, ++ops) {
            const uint32_t id = rng() % race_ids;
            const unsigned op = rng() % 16;
            ++now;
            if (op == 0) {
                reg->remove(id);
            } else if (op == 1) {
                reg->expire(now, 50000, 64);
            } else {
                const upsert_result r = reg->upsert(id, race_ep(id, rng() % race_eps), now);
                if (r == upsert_result::full)
                    report("writer: registry full at size " + std::to_string(reg->size()));
                moved += r == upsert_result::moved;
            }
        }
        reg->reclaim();
    }
    stop = true;
    for (auto& t : readers)
        t.join();

    EXPECT_EQ(errors.load(), 0u) << first_error;
    for (unsigned r = 0; r < n_readers; ++r) {
        EXPECT_GT(rs[r].batches, 100u) << "reader " << r;
        EXPECT_GT(rs[r].id_hits, 0u) << "reader " << r;
        EXPECT_GT(rs[r].ep_hits, 0u) << "reader " << r;
    }
    EXPECT_GT(ops, 10000u);
    EXPECT_GT(moved, 1000u);
    EXPECT_GT(reg->counters().displaced - displaced_before, 100u);

    // Quiet again: both indexes agree with each other and with size().
    uint32_t live = 0;
    for (uint32_t id = 0; id < race_ids; ++id) {
        const entry* e = reg->find_id(id);
        if (!e)
            continue;
        ++live;
        EXPECT_EQ(check_entry(e, id, 0), "");
        EXPECT_EQ(reg->find_endpoint(endpoint_key(e->ip_be, e->udp_port_be)), e);
    }
    EXPECT_EQ(live, reg->size());
}

} // namespace
} // namespace peregrine::router
