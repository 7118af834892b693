#pragma once

// The registry's two indexes, client ID -> slot and endpoint (IPv4, UDP port) -> slot:
// bucketized open addressing where a bucket is one 64-byte cache line holding its keys inline,
// so a lookup costs one cache line (one DRAM miss at 10M clients), not rte_hash's two bucket
// lines plus a key slot. Lookups run in two stages across a burst, VPP-style: start() hashes a
// key and prefetches its bucket, find() (later, once the whole burst is in flight) compares.
//
//   id bucket:       8 words  id:32 | occupied:1 | pass:1 | slot:30
//   endpoint bucket: 4 words  flags:16 (occupied, dead, pass) | ip:32 | udp port:16
//                    4 stamps last-heard TSC of each key (a Heartbeat's whole job)
//                    (slots in a side array: only the writer and lookup_endpoints need them)
//
// Collisions: linear probing over at most max_probe buckets. A bucket's "pass" bit (in its
// word 0) says that some key whose probe sequence runs through it lives further on; a lookup
// stops at the first bucket without it, so a miss also costs one line unless that bucket
// overflowed. The writer keeps the per-bucket counts behind the bits. An insert that finds no
// free way within max_probe buckets is refused: the registry reports full.
//
// Concurrency: one writer, lock-free readers (the registry's contract).
//  - An id word carries key and slot together: readers see either the old or the new pair,
//    never a torn one, so the writer edits id words in place and reuses freed ways at once.
//  - An endpoint key (48 bits) and its slot do not fit one word. The writer fills slot and
//    stamp, then publishes the key word (release); readers load it (acquire) before the slot.
//    A deleted endpoint way turns "dead" (matches nothing, not reusable) and becomes free
//    only after an RCU grace period (the registry's defer queue), so no reader that matched
//    a key can read, or stamp, the way after another key took it. A slot may be replaced in
//    place only under the same key (old and new slot are then both valid answers).
//  - Readers write only stamps; the writer writes only key/id words and slots.

#include <atomic>
#include <cstdint>

#include <rte_prefetch.h>
#include <rte_vect.h>

#include "common/compiler.hpp"

namespace peregrine::router {

// A registration's last-heard time (TSC). Readers store it (Heartbeat), the writer reads it
// (expiry); a relaxed 8-byte access is enough, nothing is published through it.
struct stamp {
    uint64_t tsc;

    uint64_t load() const { return std::atomic_ref<const uint64_t>(tsc).load(std::memory_order_relaxed); }
    void store(uint64_t v) { std::atomic_ref<uint64_t>(tsc).store(v, std::memory_order_relaxed); }
};

// A lookup in flight: the bucket find() examines next (already prefetched) and how many
// buckets, that one included, it may still examine.
struct probe {
    uint32_t bucket;
    uint32_t left;
};

enum class step : uint8_t {
    hit,
    miss,
    again,  // the key may be in the next bucket, now prefetched: call find() again later
};

namespace detail {

inline uint64_t load_acquire(const uint64_t& w)
{
    return std::atomic_ref<const uint64_t>(w).load(std::memory_order_acquire);
}
inline void store_release(uint64_t& w, uint64_t v) { std::atomic_ref<uint64_t>(w).store(v, std::memory_order_release); }

// Compares the n (4 or 8) key words of a bucket with want under mask, without a branch per way:
// returns bit i set where (w[i] & mask) == want, and copies the words it compared to out[] (a
// hit's slot must come from the same read as its key). The way a key sits in is random, so the
// early-exit loop it replaces mispredicted its exit about once per lookup (~17 cycles on the
// cores measured). On x86 the words are read with 16-byte aligned SSE loads: every 8-byte word
// is read atomically by them (a 16-byte access is atomic on CPUs with AVX, and at worst split
// into atomic 8-byte halves before), and x86 orders them as acquire loads, so the writer's
// protocol (one atomic store per word, release) holds as with atomic_ref loads.
template <unsigned n>
inline unsigned match_words(const uint64_t* w, uint64_t mask, uint64_t want, uint64_t* out)
{
    static_assert(n == 4 || n == 8);
#if defined(RTE_ARCH_X86) && defined(__SSE4_1__)
    const __m128i m = _mm_set1_epi64x(static_cast<long long>(mask));
    const __m128i k = _mm_set1_epi64x(static_cast<long long>(want));
    unsigned hits = 0;
    for (unsigned i = 0; i < n; i += 2) {
        const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(w + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), v);
        const __m128i eq = _mm_cmpeq_epi64(_mm_and_si128(v, m), k);
        hits |= static_cast<unsigned>(_mm_movemask_pd(_mm_castsi128_pd(eq))) << i;
    }
    return hits;
#else
    unsigned hits = 0;
    for (unsigned i = 0; i < n; ++i) {
        out[i] = load_acquire(w[i]);
        hits |= static_cast<unsigned>((out[i] & mask) == want) << i;
    }
    return hits;
#endif
}

// Keyed 64-bit mixer (two multiply-xorshift rounds): the seed is random per registry, so
// clients cannot pick addresses or IDs that pile into one bucket. (A CRC would not do: its
// collisions do not depend on the seed.)
inline uint64_t mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

// What both indexes share: bucket choice, probing bounds and the writer's pass counts. B is the
// bucket type; word 0 of a bucket carries the pass bit `pass_bit`.
template <class B, uint64_t pass_bit>
class probing {
public:
    // Longest probe sequence: a lookup reads at most this many lines, and only a key that
    // lives that far from home does (a lookup stops at the first bucket without the pass bit).
    // A full window means the registry refuses the registration, so the window must be long
    // enough never to fill below capacity. Measured at 10M clients (endpoint index, the
    // fuller one; 20 builds, docs/architecture.md): keys per distance from home fall tenfold
    // per bucket at first (9.86M at 0, 132K at 1, 8.3K at 2, ... about 1 at 6) and more slowly
    // in the tail (2 keys at 8-9 in 20 builds); a window of 8 overflowed in about one build
    // in ten. 32 is the most whose pass counts fit a byte (31 * 8 keys).
    static constexpr uint32_t max_probe = 32;

    probing() = default;
    probing(const probing&) = delete;
    probing& operator=(const probing&) = delete;
    ~probing() { release_memory(); }

    uint32_t buckets() const { return n_buckets_; }
    // The bucket a key hashes to (tests use it to build collisions).
    uint32_t home(uint64_t key) const
    {
        return static_cast<uint32_t>(((mix(key ^ seed_) >> 32) * n_buckets_) >> 32);
    }
    // How many buckets currently carry the pass bit (tests, diagnostics).
    uint32_t passed_buckets() const;

protected:
    // n_buckets buckets on `socket`; false if out of memory.
    bool allocate(uint32_t n_buckets, uint64_t seed, int socket, const char* what);
    void release_memory();

    uint32_t next(uint32_t b) const { return b + 1 == n_buckets_ ? 0 : b + 1; }
    probe start_at(uint32_t b) const
    {
        rte_prefetch0(&buckets_[b]);
        return {b, window_};
    }
    probe aim_at(uint32_t b) const { return {b, window_}; }

public:
    // Stage 1 split in two, for bursts: aim() hashes (no memory access), prefetch() starts the
    // miss. Issuing a burst's prefetches back to back keeps them all in the reorder window at
    // once, so their misses overlap (docs/performance-history.md, "prefetches in one tight loop").
    void prefetch(const probe& p) const { rte_prefetch0(&buckets_[p.bucket]); }

protected:
    // A find() found no key in p.bucket: go on, or stop here.
    step go_on(probe& p, uint64_t word0) const
    {
        if (!(word0 & pass_bit) || --p.left == 0)
            return step::miss;
        p.bucket = next(p.bucket);
        rte_prefetch0(&buckets_[p.bucket]);
        return step::again;
    }
    uint32_t distance(uint32_t from, uint32_t to) const { return to >= from ? to - from : to + n_buckets_ - from; }
    // Writer: a key homed at `home` now lives (or no longer lives) in `at`: every bucket from
    // home up to, not including, `at` is passed through by one more (one fewer) key.
    void add_pass(uint32_t home, uint32_t at);
    void drop_pass(uint32_t home, uint32_t at);

    B* buckets_ = nullptr;
    uint8_t* pass_ = nullptr;  // writer-only: keys passing through each bucket
    uint32_t n_buckets_ = 0;
    uint32_t window_ = 0;      // min(max_probe, n_buckets_)
    uint64_t seed_ = 0;
};

} // namespace detail

struct alignas(64) id_bucket {
    uint64_t w[8];
};
static_assert(sizeof(id_bucket) == 64);

// Client ID -> slot.
class id_index : public detail::probing<id_bucket, 1ull << 30> {
public:
    static constexpr unsigned ways = 8;
    static constexpr uint64_t occupied = 1ull << 31;
    static constexpr uint64_t pass = 1ull << 30;
    static constexpr uint32_t slot_mask = (1u << 30) - 1;
    static constexpr uint32_t max_slots = slot_mask + 1;
    // Keys per way at the intended size: 8-way buckets at half load overflow for < 1 % of keys.
    static constexpr double load = 0.5;

    static uint32_t buckets_for(uint32_t n_keys);
    bool init(uint32_t n_buckets, uint64_t seed, int socket);

    // ---- readers ----
    probe start(uint32_t id) const { return start_at(home(id)); }
    probe aim(uint32_t id) const { return aim_at(home(id)); }
    step find(uint32_t id, probe& p, uint32_t* slot) const
    {
        const id_bucket& b = buckets_[p.bucket];
        const uint64_t want = (static_cast<uint64_t>(id) << 32) | occupied;
        uint64_t w[ways];
        // An ID is in at most one way: the lowest hit is the hit.
        const unsigned hits = detail::match_words<ways>(b.w, ~(pass | slot_mask), want, w);
        if (hits) {
            *slot = static_cast<uint32_t>(w[__builtin_ctz(hits)]) & slot_mask;
            return step::hit;
        }
        return go_on(p, w[0]);
    }
    // Single key, all stages (not for bursts).
    bool lookup(uint32_t id, uint32_t* slot) const;

    // ---- the writer ----
    // Where id lives (bucket * ways + way), or false.
    bool locate(uint32_t id, uint32_t* where) const;
    // id must be absent. False: no free way within max_probe buckets.
    bool insert(uint32_t id, uint32_t slot);
    uint32_t slot_at(uint32_t where) const { return static_cast<uint32_t>(buckets_[where / ways].w[where % ways]) & slot_mask; }
    // Points the id at `where` to another slot (one atomic store).
    void set_slot(uint32_t where, uint32_t slot);
    void erase(uint32_t where);
};

struct alignas(64) endpoint_bucket {
    uint64_t key[4];
    stamp seen[4];
};
static_assert(sizeof(endpoint_bucket) == 64);

// Endpoint key (endpoint_key(): IPv4 << 16 | UDP port, 48 bits) -> slot and last-heard stamp.
class endpoint_index : public detail::probing<endpoint_bucket, 1ull << 61> {
public:
    static constexpr unsigned ways = 4;
    static constexpr uint64_t occupied = 1ull << 63;
    static constexpr uint64_t dead = 1ull << 62;  // deleted, free after a grace period
    static constexpr uint64_t pass = 1ull << 61;
    static constexpr uint64_t key_mask = (1ull << 48) - 1;
    static constexpr uint32_t none = UINT32_MAX;
    // 4-way buckets overflow more readily than 8-way ones: a lower load keeps second-line
    // lookups (a dependent miss) to about 1 % of keys at full capacity.
    static constexpr double load = 0.4;

    endpoint_index() = default;
    ~endpoint_index();

    static uint32_t buckets_for(uint32_t n_keys);
    bool init(uint32_t n_buckets, uint64_t seed, int socket);

    // ---- readers ----
    probe start(uint64_t key) const { return start_at(home(key)); }
    probe aim(uint64_t key) const { return aim_at(home(key)); }
    // On a hit, *where names the way (bucket * ways + way) for seen() and slot().
    step find(uint64_t key, probe& p, uint32_t* where) const
    {
        uint64_t w0;
        const unsigned i = match(buckets_[p.bucket], key, &w0);
        if (i != ways) {
            *where = p.bucket * ways + i;
            return step::hit;
        }
        return go_on(p, w0);
    }
    // find() for a Heartbeat, which needs only the way's stamp: *seen, in the line just compared.
    step find_seen(uint64_t key, probe& p, stamp** seen) const
    {
        endpoint_bucket& b = buckets_[p.bucket];
        uint64_t w0;
        const unsigned i = match(b, key, &w0);
        if (i != ways) {
            *seen = &b.seen[i];
            return step::hit;
        }
        return go_on(p, w0);
    }
    bool lookup(uint64_t key, uint32_t* where) const;
    stamp* seen(uint32_t where) const { return &buckets_[where / ways].seen[where % ways]; }
    uint32_t slot(uint32_t where) const
    {
        return std::atomic_ref<const uint32_t>(slots_[where]).load(std::memory_order_acquire);
    }

    // ---- the writer ----
    // A free way in key's probe window, or none. Nothing is published yet.
    uint32_t reserve(uint64_t key) const;
    // Fills the reserved way and publishes it (key last, release).
    void publish(uint32_t where, uint64_t key, uint32_t slot, uint64_t now);
    // Same key, another slot (one atomic store; both slots are valid answers meanwhile).
    void set_slot(uint32_t where, uint32_t slot);
    // Unpublishes the way: it matches nothing from now on but stays taken until release().
    void kill(uint32_t where);
    // After a grace period: the dead way is free again.
    void release(uint32_t where);
    uint32_t dead_ways() const { return n_dead_; }

private:
    // The way of b holding key, or ways; *w0: b's word 0 (its pass bit).
    static unsigned match(const endpoint_bucket& b, uint64_t key, uint64_t* w0)
    {
        uint64_t w[ways];
        const unsigned hits = detail::match_words<ways>(b.key, occupied | key_mask, key | occupied, w);
        *w0 = w[0];
        return hits ? static_cast<unsigned>(__builtin_ctz(hits)) : ways;
    }

    uint32_t* slots_ = nullptr;
    uint32_t n_dead_ = 0;
};

} // namespace peregrine::router
