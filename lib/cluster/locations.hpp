#pragma once

// What the workers read of the cluster: the peer routers (address, next hop, port) and the
// location cache (Client ID -> the peer where it is registered, or "registered nowhere").
// Written by the control lcore only; read lock-free by the workers, one cache line per lookup.
//
// The cache is direct-mapped, one 64-bit word per entry: a collision overwrites (a miss costs one
// question to the directory), and nothing is ever freed under a reader, so no grace period is
// needed (an rte_hash would need RCU-deferred deletes for every invalidation). A peer slot has
// a generation: clearing or reusing the slot voids every entry cached for its last router.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include <rte_ether.h>
#include <rte_hash_crc.h>

#include "router/pipeline.hpp"

namespace peregrine::cluster {

class locations {
public:
    // Peer routers at most (lb::max_nodes_per_datagram is 240); slot 255 stands for "nowhere".
    static constexpr unsigned max_peers = 255;
    // "Registered nowhere" holds for the current second and the next: a Client ID that
    // registers on another router afterwards is found at most ~2 s late.
    static constexpr uint8_t nowhere_slot = 255;

    struct peer {
        uint32_t ip_be = 0;
        uint16_t port_be = 0;   // its router port
        uint16_t port_id = 0;   // the ethdev port that reaches it
        rte_ether_addr mac{};   // next hop
    };
    enum class hit : uint8_t { none, peer, nowhere };

    // entries: a power of two.
    explicit locations(uint32_t entries)
        : cache_(std::make_unique<std::atomic<uint64_t>[]>(entries)), mask_(entries - 1)
    {
        for (uint32_t i = 0; i < entries; ++i)
            cache_[i].store(0, std::memory_order_relaxed);
    }

    // ---- workers ----

    // One of the peers' addresses (a forwarded message, a directory message).
    bool is_peer(uint32_t ip_be) const
    {
        const unsigned n = n_slots_.load(std::memory_order_acquire);
        for (unsigned s = 0; s < n; ++s)
            if (slots_[s].ip.load(std::memory_order_relaxed) == ip_be && ip_be)
                return true;
        return false;
    }

    void prefetch(uint32_t id) const { __builtin_prefetch(&cache_[slot_of(id)]); }

    hit find(uint32_t id, peer* p) const
    {
        const uint64_t e = cache_[slot_of(id)].load(std::memory_order_relaxed);
        if (!(e & 1) || uint32_t(e >> 32) != id)
            return hit::none;
        const unsigned s = unsigned(e >> 24) & 0xff;
        const uint16_t g = uint16_t(e >> 8);
        if (s == nowhere_slot) {
            const uint16_t now = epoch_.load(std::memory_order_relaxed);
            return g == now || g == uint16_t(now - 1) ? hit::nowhere : hit::none;
        }
        // Seqlock read of the slot: a torn read (the control lcore rewriting it) is a miss.
        const slot& sl = slots_[s];
        const uint32_t seq = sl.seq.load(std::memory_order_acquire);
        if (seq & 1)
            return hit::none;
        const uint64_t a = sl.addr.load(std::memory_order_relaxed);
        const uint64_t m = sl.mac.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (sl.seq.load(std::memory_order_relaxed) != seq || uint16_t(m >> 48) != g || g == 0)
            return hit::none;
        p->ip_be = uint32_t(a >> 32);
        p->port_be = uint16_t(a >> 16);
        p->port_id = uint16_t(a);
        std::memcpy(p->mac.addr_bytes, &m, RTE_ETHER_ADDR_LEN);  // little endian: the low 6 bytes
        return hit::peer;
    }

    // ---- the control lcore ----

    // Publishes slot s (< max_peers) as p; ready: its MAC is known, entries may point at it. A
    // new router in the slot gets a new generation (entries for the last one are void).
    void set_peer(unsigned s, const peer& p, bool ready)
    {
        slot& sl = slots_[s];
        const uint64_t a = uint64_t(p.ip_be) << 32 | uint64_t(p.port_be) << 16 | p.port_id;
        if (sl.addr.load(std::memory_order_relaxed) != a || !gens_[s])
            gens_[s] = uint16_t(gens_[s] + 1) ? uint16_t(gens_[s] + 1) : 1;
        uint64_t m = 0;
        std::memcpy(&m, p.mac.addr_bytes, RTE_ETHER_ADDR_LEN);
        m |= uint64_t(ready ? gens_[s] : 0) << 48;
        write(sl, a, m, p.ip_be);
        if (s >= n_slots_.load(std::memory_order_relaxed))
            n_slots_.store(s + 1, std::memory_order_release);
    }
    void clear_peer(unsigned s)
    {
        gens_[s] = uint16_t(gens_[s] + 1) ? uint16_t(gens_[s] + 1) : 1;  // what pointed here is void
        write(slots_[s], 0, 0, 0);
    }
    // The generation entries for slot s carry (0: the slot is not ready).
    uint16_t generation(unsigned s) const { return uint16_t(slots_[s].mac.load(std::memory_order_relaxed) >> 48); }

    void cache(uint32_t id, unsigned s)
    {
        const uint16_t g = generation(s);
        if (g)
            cache_[slot_of(id)].store(entry(id, s, g), std::memory_order_relaxed);
    }
    void cache_nowhere(uint32_t id)
    {
        cache_[slot_of(id)].store(entry(id, nowhere_slot, epoch_.load(std::memory_order_relaxed)),
                                  std::memory_order_relaxed);
    }
    void invalidate(uint32_t id)
    {
        std::atomic<uint64_t>& c = cache_[slot_of(id)];
        uint64_t e = c.load(std::memory_order_relaxed);
        if ((e & 1) && uint32_t(e >> 32) == id)
            c.compare_exchange_strong(e, 0, std::memory_order_relaxed);
    }
    // Once a second: "nowhere" entries older than the last second expire.
    void next_epoch() { epoch_.store(uint16_t(epoch_.load(std::memory_order_relaxed) + 1), std::memory_order_relaxed); }

    uint32_t entries() const { return mask_ + 1; }

private:
    struct alignas(64) slot {
        std::atomic<uint32_t> seq{0};
        std::atomic<uint32_t> ip{0};    // is_peer's key (0: empty)
        std::atomic<uint64_t> addr{0};  // ip_be << 32 | port_be << 16 | port_id
        std::atomic<uint64_t> mac{0};   // MAC in the low 48 bits, generation in the top 16
    };

    uint32_t slot_of(uint32_t id) const { return rte_hash_crc_4byte(id, 0x2545f491u) & mask_; }
    static uint64_t entry(uint32_t id, unsigned s, uint16_t g)
    {
        return uint64_t(id) << 32 | uint64_t(s) << 24 | uint64_t(g) << 8 | 1;
    }
    static void write(slot& sl, uint64_t a, uint64_t m, uint32_t ip)
    {
        const uint32_t seq = sl.seq.load(std::memory_order_relaxed);
        sl.seq.store(seq + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        sl.addr.store(a, std::memory_order_relaxed);
        sl.mac.store(m, std::memory_order_relaxed);
        sl.ip.store(ip, std::memory_order_relaxed);
        sl.seq.store(seq + 2, std::memory_order_release);
    }

    slot slots_[max_peers];
    uint16_t gens_[max_peers] = {};  // the control lcore's: the next generation of each slot
    std::atomic<unsigned> n_slots_{0};
    std::atomic<uint16_t> epoch_{1};
    std::unique_ptr<std::atomic<uint64_t>[]> cache_;
    uint32_t mask_;
};

// The workers' answer for an Individual Message whose recipient their registry missed
// (router::remote::locate): a peer's message is never forwarded again; a cached owner gets it;
// alone (no peers), nothing is registered elsewhere; else the control lcore asks the directory.
inline router::remote::where place(const locations& l, bool alone, uint32_t id, uint32_t src_ip_be,
                                   router::remote_target* t)
{
    using where = router::remote::where;
    if (l.is_peer(src_ip_be))
        return where::from_peer;
    locations::peer p;
    switch (l.find(id, &p)) {
    case locations::hit::peer:
        t->next_hop = p.mac;
        t->ip_be = p.ip_be;
        t->port_be = p.port_be;
        t->port_id = p.port_id;
        return where::peer;
    case locations::hit::nowhere:
        return where::nowhere;
    case locations::hit::none:
        break;
    }
    return alone ? where::nowhere : where::ask;
}

} // namespace peregrine::cluster
