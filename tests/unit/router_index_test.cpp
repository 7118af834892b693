// router::id_index / endpoint_index (lib/router/index.hpp): collisions and full buckets, probe
// windows and their limit, wrap-around, delete + reinsert, the endpoint index's dead ways, the
// two-stage lookup, and a writer racing readers that must never see a key with a wrong slot.

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "router/index.hpp"

namespace peregrine::router {
namespace {

constexpr uint32_t P = id_index::max_probe;

// Keys (drawn from gen) whose home bucket is `home`, n of them.
template <class Index, class Gen>
auto keys_homed_at(const Index& ix, uint32_t home, unsigned n, Gen gen)
{
    std::vector<decltype(gen(0))> out;
    for (uint64_t i = 0; out.size() < n; ++i) {
        const auto k = gen(i);
        if (ix.home(k) == home)
            out.push_back(k);
    }
    return out;
}

uint32_t id_gen(uint64_t i) { return static_cast<uint32_t>(i * 2654435761u + 12345); }
uint64_t ep_gen(uint64_t i) { return ((0x0a000000ull + i) << 16) | (40000 + i % 7); }

// Counts find() calls: how many bucket lines one lookup examined.
template <class Index, class Key>
unsigned lines_read(const Index& ix, Key k, bool* hit)
{
    probe p = ix.start(k);
    unsigned n = 0;
    step s;
    uint32_t out;
    do {
        ++n;
        s = ix.find(k, p, &out);
    } while (s == step::again);
    *hit = s == step::hit;
    return n;
}

TEST(RouterIdIndex, InsertLookupSetSlotErase)
{
    id_index ix;
    ASSERT_TRUE(ix.init(64, 1, SOCKET_ID_ANY));
    for (uint32_t i = 0; i < 100; ++i)
        ASSERT_TRUE(ix.insert(id_gen(i), i));
    for (uint32_t i = 0; i < 100; ++i) {
        uint32_t s = 0;
        ASSERT_TRUE(ix.lookup(id_gen(i), &s));
        EXPECT_EQ(s, i);
    }
    uint32_t s, where;
    EXPECT_FALSE(ix.lookup(id_gen(100), &s));
    ASSERT_TRUE(ix.locate(id_gen(7), &where));
    EXPECT_EQ(ix.slot_at(where), 7u);
    ix.set_slot(where, id_index::slot_mask);  // the largest slot survives the packing
    ASSERT_TRUE(ix.lookup(id_gen(7), &s));
    EXPECT_EQ(s, id_index::slot_mask);
    ix.erase(where);
    EXPECT_FALSE(ix.lookup(id_gen(7), &s));
    EXPECT_FALSE(ix.locate(id_gen(7), &where));
    // Reinsert, with another slot.
    ASSERT_TRUE(ix.insert(id_gen(7), 77));
    ASSERT_TRUE(ix.lookup(id_gen(7), &s));
    EXPECT_EQ(s, 77u);
    // ID 0 and slot 0 are ordinary values (not "empty").
    ASSERT_TRUE(ix.insert(0, 0));
    ASSERT_TRUE(ix.lookup(0, &s));
    EXPECT_EQ(s, 0u);
}

// Keys that all hash to one bucket fill it, overflow into the next max_probe - 1 buckets (which
// get their pass bits), and the first key that would need a bucket beyond the window is refused.
TEST(RouterIdIndex, CollisionsFillTheProbeWindowThenInsertIsRefused)
{
    id_index ix;
    ASSERT_TRUE(ix.init(4 * P, 2, SOCKET_ID_ANY));
    const uint32_t home = 10;
    const auto ids = keys_homed_at(ix, home, P * id_index::ways + 1, id_gen);
    for (unsigned i = 0; i < P * id_index::ways; ++i)
        ASSERT_TRUE(ix.insert(ids[i], i)) << i;
    EXPECT_FALSE(ix.insert(ids.back(), 999)) << "insert beyond the probe window";
    EXPECT_EQ(ix.passed_buckets(), P - 1);
    for (unsigned i = 0; i < P * id_index::ways; ++i) {
        bool hit;
        const unsigned lines = lines_read(ix, ids[i], &hit);
        EXPECT_TRUE(hit) << i;
        EXPECT_EQ(lines, i / id_index::ways + 1) << "key " << i << " lives in bucket home+" << i / id_index::ways;
    }
    // An absent key of that home examines the whole window and no more.
    bool hit;
    EXPECT_EQ(lines_read(ix, ids.back(), &hit), P);
    EXPECT_FALSE(hit);
    // An absent key homed beyond the window (no pass bit there) costs one line.
    const auto other = keys_homed_at(ix, home + P + 4, 1, [](uint64_t i) { return id_gen(i + 1000000); });
    EXPECT_EQ(lines_read(ix, other[0], &hit), 1u);
    EXPECT_FALSE(hit);

    // Delete the keys in the home bucket: the overflowed ones stay reachable (pass bits stay).
    uint32_t where, s;
    for (unsigned i = 0; i < id_index::ways; ++i) {
        ASSERT_TRUE(ix.locate(ids[i], &where));
        ix.erase(where);
    }
    for (unsigned i = id_index::ways; i < P * id_index::ways; ++i) {
        ASSERT_TRUE(ix.lookup(ids[i], &s)) << i;
        EXPECT_EQ(s, i);
    }
    // The freed ways are reused, in the home bucket: the refused key now fits in one line.
    ASSERT_TRUE(ix.insert(ids.back(), 999));
    EXPECT_EQ(lines_read(ix, ids.back(), &hit), 1u);
    EXPECT_TRUE(hit);
    // Deleting every overflowed key clears every pass bit.
    for (unsigned i = id_index::ways; i < P * id_index::ways; ++i) {
        ASSERT_TRUE(ix.locate(ids[i], &where));
        ix.erase(where);
    }
    EXPECT_EQ(ix.passed_buckets(), 0u);
    ASSERT_TRUE(ix.lookup(ids.back(), &s));
    EXPECT_EQ(s, 999u);
}

TEST(RouterIdIndex, ProbingWrapsAroundTheLastBucket)
{
    id_index ix;
    ASSERT_TRUE(ix.init(16, 3, SOCKET_ID_ANY));
    const auto ids = keys_homed_at(ix, 15, 3 * id_index::ways, id_gen);
    for (unsigned i = 0; i < ids.size(); ++i)
        ASSERT_TRUE(ix.insert(ids[i], i));
    uint32_t where;
    ASSERT_TRUE(ix.locate(ids.back(), &where));
    EXPECT_EQ(where / id_index::ways, 1u) << "third bucket of the window is bucket 1";
    for (unsigned i = 0; i < ids.size(); ++i) {
        uint32_t s;
        ASSERT_TRUE(ix.lookup(ids[i], &s));
        EXPECT_EQ(s, i);
    }
}

TEST(RouterIdIndex, TinyTableProbesEachBucketOnce)
{
    id_index ix;
    ASSERT_TRUE(ix.init(2, 4, SOCKET_ID_ANY));  // fewer buckets than max_probe
    for (uint32_t i = 0; i < 2 * id_index::ways; ++i)
        ASSERT_TRUE(ix.insert(id_gen(i), i));
    EXPECT_FALSE(ix.insert(id_gen(99), 99));
    bool hit;
    EXPECT_LE(lines_read(ix, id_gen(99), &hit), 2u);
    EXPECT_FALSE(hit);
}

TEST(RouterIdIndex, SeedChangesTheBuckets)
{
    id_index a, b;
    ASSERT_TRUE(a.init(1u << 12, 1, SOCKET_ID_ANY));
    ASSERT_TRUE(b.init(1u << 12, 2, SOCKET_ID_ANY));
    unsigned same = 0;
    for (uint32_t i = 0; i < 1000; ++i)
        same += a.home(id_gen(i)) == b.home(id_gen(i));
    EXPECT_LT(same, 10u);
}

TEST(RouterEndpointIndex, PublishLookupStampKillRelease)
{
    endpoint_index ix;
    ASSERT_TRUE(ix.init(64, 5, SOCKET_ID_ANY));
    std::vector<uint32_t> ways;
    for (uint32_t i = 0; i < 100; ++i) {
        const uint32_t w = ix.reserve(ep_gen(i));
        ASSERT_NE(w, endpoint_index::none);
        ix.publish(w, ep_gen(i), i, 1000 + i);
        ways.push_back(w);
    }
    for (uint32_t i = 0; i < 100; ++i) {
        uint32_t w;
        ASSERT_TRUE(ix.lookup(ep_gen(i), &w));
        EXPECT_EQ(w, ways[i]);
        EXPECT_EQ(ix.slot(w), i);
        EXPECT_EQ(ix.seen(w)->load(), 1000 + i);
    }
    ix.seen(ways[3])->store(5);
    EXPECT_EQ(ix.seen(ways[3])->load(), 5u);
    ix.set_slot(ways[3], 333);
    uint32_t w;
    ASSERT_TRUE(ix.lookup(ep_gen(3), &w));
    EXPECT_EQ(ix.slot(w), 333u);

    // 0.0.0.0:0 is a key like any other.
    const uint32_t zw = ix.reserve(0);
    ix.publish(zw, 0, 7, 1);
    ASSERT_TRUE(ix.lookup(0, &w));
    EXPECT_EQ(w, zw);

    ix.kill(ways[3]);
    EXPECT_FALSE(ix.lookup(ep_gen(3), &w));
    EXPECT_EQ(ix.dead_ways(), 1u);
    ix.release(ways[3]);
    EXPECT_EQ(ix.dead_ways(), 0u);
    EXPECT_FALSE(ix.lookup(ep_gen(3), &w));
    const uint32_t again = ix.reserve(ep_gen(3));
    ASSERT_NE(again, endpoint_index::none);
    ix.publish(again, ep_gen(3), 3, 2);
    ASSERT_TRUE(ix.lookup(ep_gen(3), &w));
    EXPECT_EQ(ix.slot(w), 3u);
}

// A dead way holds its place until released: a full window of live and dead ways refuses a
// new key, and releasing one dead way makes room exactly there.
TEST(RouterEndpointIndex, DeadWaysAreNotReusedBeforeRelease)
{
    endpoint_index ix;
    ASSERT_TRUE(ix.init(32, 6, SOCKET_ID_ANY));
    const uint32_t home = 31;  // the window wraps
    const auto keys = keys_homed_at(ix, home, P * endpoint_index::ways + 1, ep_gen);
    std::vector<uint32_t> ways;
    for (unsigned i = 0; i < P * endpoint_index::ways; ++i) {
        const uint32_t w = ix.reserve(keys[i]);
        ASSERT_NE(w, endpoint_index::none) << i;
        ix.publish(w, keys[i], i, i);
        ways.push_back(w);
    }
    EXPECT_EQ(ix.reserve(keys.back()), endpoint_index::none);
    EXPECT_EQ(ix.passed_buckets(), P - 1);
    // Every lookup finds its own way, however far from home.
    for (unsigned i = 0; i < ways.size(); ++i) {
        bool hit;
        EXPECT_EQ(lines_read(ix, keys[i], &hit), i / endpoint_index::ways + 1);
        EXPECT_TRUE(hit);
    }
    for (unsigned i = 0; i < ways.size(); i += 3)
        ix.kill(ways[i]);
    EXPECT_EQ(ix.reserve(keys.back()), endpoint_index::none) << "a dead way was handed out";
    for (unsigned i = 0; i < ways.size(); ++i) {
        uint32_t w;
        EXPECT_EQ(ix.lookup(keys[i], &w), i % 3 != 0) << i;
        if (i % 3 != 0) {
            EXPECT_EQ(ix.slot(w), i);
        }
    }
    ix.release(ways[6]);
    EXPECT_EQ(ix.reserve(keys.back()), ways[6]);
    // Pass bits follow the live keys only: kill everything beyond the home bucket.
    for (unsigned i = endpoint_index::ways; i < ways.size(); ++i)
        if (i % 3 != 0)
            ix.kill(ways[i]);
    EXPECT_EQ(ix.passed_buckets(), 0u);
}

// ---- a writer racing readers ----------------------------------------------------------------
//
// The writer maps key k (0 <= k < n_keys) to slots that encode k: slot = k * 16 + generation.
// Readers look keys up through the two-stage API and check slot / 16 == k; a torn key/slot
// pair, or a way reused under a reader's feet, would show another key's slot. A small table
// keeps buckets crowded and overflowing so probe sequences and pass bits churn too.

constexpr uint32_t race_keys = 200;

struct race {
    rte_rcu_qsbr* rcu = nullptr;
    std::atomic<bool> stop{false};
    std::atomic<unsigned> ready{0};
    std::atomic<uint64_t> errors{0}, lookups{0}, hits{0};
    std::string first;
    std::atomic_flag first_set = ATOMIC_FLAG_INIT;

    explicit race(unsigned readers)
    {
        rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("ut_rcu", rte_rcu_qsbr_get_memsize(readers), RTE_CACHE_LINE_SIZE));
        rte_rcu_qsbr_init(rcu, readers);
    }
    ~race() { rte_free(rcu); }
    void report(const std::string& s)
    {
        errors.fetch_add(1);
        if (!first_set.test_and_set())
            first = s;
    }
};

template <class Key, class Index, class KeyOf, class Check>
void reader_loop(race& r, unsigned id, const Index& ix, KeyOf key_of, Check check)
{
    rte_rcu_qsbr_thread_register(r.rcu, id);
    rte_rcu_qsbr_thread_online(r.rcu, id);
    r.ready.fetch_add(1);
    std::mt19937 rng(id + 7);
    constexpr unsigned n = 32;
    uint64_t local_lookups = 0, local_hits = 0;
    while (!r.stop.load(std::memory_order_relaxed)) {
        uint32_t k[n];
        Key key[n];
        probe p[n];
        for (unsigned i = 0; i < n; ++i) {
            k[i] = rng() % (race_keys + 20);  // some keys are never inserted
            key[i] = key_of(k[i]);
            p[i] = ix.start(key[i]);
        }
        for (unsigned i = 0; i < n; ++i) {
            uint32_t out;
            step s;
            while ((s = ix.find(key[i], p[i], &out)) == step::again) {
            }
            ++local_lookups;
            if (s == step::hit) {
                ++local_hits;
                if (k[i] >= race_keys)
                    r.report("found key " + std::to_string(k[i]) + " that was never inserted");
                else if (auto err = check(k[i], out); !err.empty())
                    r.report(err);
            }
        }
        rte_rcu_qsbr_quiescent(r.rcu, id);
    }
    r.lookups += local_lookups;
    r.hits += local_hits;
    rte_rcu_qsbr_thread_offline(r.rcu, id);
    rte_rcu_qsbr_thread_unregister(r.rcu, id);
}

uint64_t race_ep(uint32_t k) { return ep_gen(k); }

TEST(RouterIndexRace, IdIndexReadersNeverSeeAWrongSlot)
{
    constexpr unsigned n_readers = 2;
    race r(n_readers);
    id_index ix;
    // 200 keys in 32 buckets of 8: load 0.8, so many keys live away from home.
    ASSERT_TRUE(ix.init(32, 11, SOCKET_ID_ANY));
    std::vector<std::thread> readers;
    for (unsigned t = 0; t < n_readers; ++t)
        readers.emplace_back([&, t] {
            reader_loop<uint32_t>(r, t, ix, id_gen, [](uint32_t k, uint32_t slot) -> std::string {
                if (slot / 16 != k)
                    return "key " + std::to_string(k) + " mapped to slot " + std::to_string(slot) + " of key " +
                           std::to_string(slot / 16);
                return {};
            });
        });
    while (r.ready.load() < n_readers)
        std::this_thread::yield();

    std::mt19937 rng(5);
    std::vector<uint8_t> gen(race_keys, 0), in(race_keys, 0);
    uint64_t ops = 0, refused = 0;
    // 0.7 s, longer (up to 30 s) while short of the minimums checked below: a loaded CI
    // machine gives the threads less CPU, the test must not get less coverage.
    const auto t0 = std::chrono::steady_clock::now();
    auto more = [&] {
        const auto t = std::chrono::steady_clock::now();
        if (t < t0 + std::chrono::milliseconds(700))
            return true;
        const bool short_of_minimum = ops <= 2000;  // readers publish their hit counts only at the end
        return short_of_minimum && t < t0 + std::chrono::seconds(30);
    };
    while (r.errors.load() == 0 && more()) {
        for (int j = 0; j < 256; ++j, ++ops) {
            const uint32_t k = rng() % race_keys;
            uint32_t where;
            if (in[k] && rng() % 2) {  // move: same key, next slot, in place
                ASSERT_TRUE(ix.locate(id_gen(k), &where));
                gen[k] = (gen[k] + 1) % 16;
                ix.set_slot(where, k * 16 + gen[k]);
            } else if (in[k]) {  // delete; the way is reusable at once
                ASSERT_TRUE(ix.locate(id_gen(k), &where));
                ix.erase(where);
                in[k] = 0;
            } else if (ix.insert(id_gen(k), k * 16 + gen[k])) {
                in[k] = 1;
            } else {
                ++refused;
            }
        }
    }
    r.stop = true;
    for (auto& t : readers)
        t.join();
    EXPECT_EQ(r.errors.load(), 0u) << r.first;
    EXPECT_GT(ops, 2000u);
    EXPECT_GT(r.hits.load(), 1000u);
    EXPECT_LT(r.hits.load(), r.lookups.load());
    // Quiet: exactly the keys the writer holds are found, with their last slot.
    for (uint32_t k = 0; k < race_keys; ++k) {
        uint32_t s;
        ASSERT_EQ(ix.lookup(id_gen(k), &s), in[k] != 0) << k;
        if (in[k]) {
            EXPECT_EQ(s, k * 16 + gen[k]);
        }
    }
    (void)refused;
}

TEST(RouterIndexRace, EndpointIndexReadersNeverSeeAWrongSlot)
{
    constexpr unsigned n_readers = 2;
    race r(n_readers);
    endpoint_index ix;
    // 200 keys in 64 buckets of 4: load 0.8 with dead ways on top, so windows fill up.
    ASSERT_TRUE(ix.init(64, 12, SOCKET_ID_ANY));
    std::vector<std::thread> readers;
    for (unsigned t = 0; t < n_readers; ++t)
        readers.emplace_back([&, t] {
            reader_loop<uint64_t>(r, t, ix, race_ep, [&ix](uint32_t k, uint32_t where) -> std::string {
                const uint32_t slot = ix.slot(where);
                if (slot / 16 != k)
                    return "key " + std::to_string(k) + " mapped to slot " + std::to_string(slot) + " of key " +
                           std::to_string(slot / 16);
                ix.seen(where)->store(1);  // as a Heartbeat: must land on a way of this key
                return {};
            });
        });
    while (r.ready.load() < n_readers)
        std::this_thread::yield();

    std::mt19937 rng(6);
    std::vector<uint8_t> gen(race_keys, 0), in(race_keys, 0);
    std::vector<uint32_t> dead;  // killed ways of this round
    // Earlier rounds' killed ways, each batch with the RCU token of its grace period.
    std::vector<std::pair<uint64_t, std::vector<uint32_t>>> pending;
    uint64_t ops = 0, refused = 0, released = 0;
    auto release_dead = [&](bool wait) {
        pending.emplace_back(rte_rcu_qsbr_start(r.rcu), std::move(dead));
        dead.clear();
        // A batch is freed once every reader has passed a quiescent state since it was killed.
        while (!pending.empty() && rte_rcu_qsbr_check(r.rcu, pending.front().first, wait) == 1) {
            for (uint32_t w : pending.front().second)
                ix.release(w);
            released += pending.front().second.size();
            pending.erase(pending.begin());
        }
    };
    // As the registry does: a window full of dead ways waits for their grace period.
    auto reserve = [&](uint64_t key) {
        uint32_t w = ix.reserve(key);
        if (w == endpoint_index::none && (ix.dead_ways() != 0)) {
            release_dead(true);
            w = ix.reserve(key);
        }
        return w;
    };
    // 0.7 s, longer (up to 30 s) while short of the minimums checked below: a loaded CI
    // machine gives the threads less CPU, the test must not get less coverage.
    const auto t0 = std::chrono::steady_clock::now();
    auto more = [&] {
        const auto t = std::chrono::steady_clock::now();
        if (t < t0 + std::chrono::milliseconds(700))
            return true;
        const bool short_of_minimum = ops <= 2000 || released <= 200;  // readers publish theirs at the end
        return short_of_minimum && t < t0 + std::chrono::seconds(30);
    };
    while (r.errors.load() == 0 && more()) {
        for (int j = 0; j < 256; ++j, ++ops) {
            const uint32_t k = rng() % race_keys;
            uint32_t where;
            const unsigned op = rng() % 3;
            if (in[k] && op == 0) {  // same key, new slot, in place
                ASSERT_TRUE(ix.lookup(race_ep(k), &where));
                gen[k] = (gen[k] + 1) % 16;
                ix.set_slot(where, k * 16 + gen[k]);
            } else if (in[k] && op == 1) {  // new slot in a new way, then kill the old one
                ASSERT_TRUE(ix.lookup(race_ep(k), &where));
                const uint32_t w = reserve(race_ep(k));
                if (w == endpoint_index::none) {
                    ++refused;
                    continue;
                }
                gen[k] = (gen[k] + 1) % 16;
                ix.publish(w, race_ep(k), k * 16 + gen[k], 2);
                ix.kill(where);
                dead.push_back(where);
            } else if (in[k]) {
                ASSERT_TRUE(ix.lookup(race_ep(k), &where));
                ix.kill(where);
                dead.push_back(where);
                in[k] = 0;
            } else {
                const uint32_t w = reserve(race_ep(k));
                if (w == endpoint_index::none) {
                    ++refused;
                    continue;
                }
                ix.publish(w, race_ep(k), k * 16 + gen[k], 2);
                in[k] = 1;
            }
        }
        release_dead(false);
    }
    r.stop = true;
    for (auto& t : readers)
        t.join();
    EXPECT_EQ(r.errors.load(), 0u) << r.first;
    // Bounds that hold on a loaded 2-core machine (typically ~100x more).
    EXPECT_GT(ops, 2000u);
    EXPECT_GT(released, 200u);
    EXPECT_GT(r.hits.load(), 1000u) << r.lookups.load() << " lookups";
    release_dead(true);  // readers are offline now
    EXPECT_EQ(ix.dead_ways(), 0u);
    for (uint32_t k = 0; k < race_keys; ++k) {
        uint32_t w;
        ASSERT_EQ(ix.lookup(race_ep(k), &w), in[k] != 0) << k;
        if (in[k]) {
            EXPECT_EQ(ix.slot(w), k * 16 + gen[k]);
        }
    }
    (void)refused;
}

} // namespace
} // namespace peregrine::router
