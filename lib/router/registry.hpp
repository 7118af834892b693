#pragma once

// The router's registry: Client ID -> (IPv4, UDP port, ingress port, next-hop MAC), plus the
// reverse index endpoint -> registration that Heartbeats (which carry no ID) need.
//
// Storage: registrations live in a slot array (32-byte entries); two Peregrine indexes map keys
// to slots (index.hpp: one cache line per bucket, keys inline). A registration's last-heard
// time lives in the endpoint index next to its key, so a Heartbeat costs one cache line.
//
// Concurrency model (single writer, lock-free readers, rte_rcu_qsbr):
//  - exactly one writer thread (the control lcore) calls upsert/remove/expire/reclaim;
//  - any number of readers (worker lcores, registered on rcu()) look up in bulk and may refresh
//    a registration's last-heard stamp; they never block and are never blocked;
//  - an entry is never edited in place once published: a move writes a fresh slot and
//    re-points the indexes; the old slot (and a deleted endpoint key's way) is recycled only
//    after every reader has reported a quiescent state (rte_rcu_qsbr defer queue), so a
//    reader's entry pointer stays valid until its next rte_rcu_qsbr_quiescent().

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include <rte_ether.h>
#include <rte_rcu_qsbr.h>

#include "common/rcu.hpp"
#include "common/slot_pool.hpp"
#include "router/index.hpp"

namespace peregrine::router {

struct alignas(32) entry {
    uint32_t client_id;
    uint32_t ip_be;
    uint16_t udp_port_be;
    uint16_t port_id;        // ethdev port the registration arrived on (forwards leave there)
    rte_ether_addr next_hop;  // source MAC of the registering frame: the client or its gateway
    // Last-heard TSC, in the endpoint index (fixed for the entry's life; written by readers).
    // A replaced entry may share it with its successor at the same endpoint.
    stamp* seen_at;

    uint64_t seen() const { return seen_at->load(); }
    void touch(uint64_t now) const { seen_at->store(now); }
};
static_assert(sizeof(entry) == 32);

struct endpoint {
    uint32_t ip_be;
    uint16_t udp_port_be;
    uint16_t port_id;
    rte_ether_addr next_hop;
};

inline uint64_t endpoint_key(uint32_t ip_be, uint16_t udp_port_be)
{
    return (static_cast<uint64_t>(ip_be) << 16) | udp_port_be;
}

enum class upsert_result : uint8_t {
    added,      // new ID from a new endpoint
    refreshed,  // same ID, same endpoint: last_seen updated
    moved,      // same ID, new endpoint: the old endpoint no longer maps to it
    full,       // no room: nothing changed
};

struct registry_counters {
    uint64_t added, refreshed, moved, displaced, removed, expired, full;
};

class registry {
public:
    struct params {
        const char* name = "pg_router";
        uint32_t capacity = 1u << 20;  // live registrations
        // The readers' QSBR variable (the engine's: not owned). nullptr: the registry makes its
        // own with reader ids 0..max_readers-1 (tests).
        rte_rcu_qsbr* rcu = nullptr;
        uint32_t max_readers = 1;
        int socket_id = 0;             // SOCKET_ID_ANY is fine too
        // Buckets per index; 0 (always, outside tests) sizes them from capacity. Tests use a
        // handful to make keys overflow into neighbouring buckets.
        uint32_t index_buckets = 0;
    };

    // Returns nullptr on failure (rte_errno says why).
    static registry* create(const params& p);
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    rte_rcu_qsbr* rcu() const { return rcu_; }

    // ---- readers (inside an RCU read-side section) ----
    // Two-stage lookups for a burst: start_*() hashes a key and prefetches its bucket; call it
    // for every key of the burst first, then find_*() for each (step::again: the key's bucket
    // overflowed and the next one is being prefetched; call find_*() again after the others).
    probe start_id(uint32_t id) const { return ids_.start(id); }
    // start_*() in two steps: aim (hash only), then prefetch; for a burst, aim every key first
    // and then issue all the prefetches in one tight loop.
    probe aim_id(uint32_t id) const { return ids_.aim(id); }
    void prefetch_id(const probe& p) const { ids_.prefetch(p); }
    probe aim_endpoint(uint64_t key) const { return eps_.aim(key); }
    void prefetch_endpoint(const probe& p) const { eps_.prefetch(p); }
    // On a hit, *out is the registration (already being prefetched).
    step find_id(uint32_t id, probe& p, entry** out) const
    {
        uint32_t s;
        const step r = ids_.find(id, p, &s);
        if (r == step::hit) {
            *out = &pool_[s];
            rte_prefetch0(*out);
        }
        return r;
    }
    probe start_endpoint(uint64_t key) const { return eps_.start(key); }
    // On a hit, *out is the registration's last-heard stamp (a Heartbeat needs nothing else).
    step find_endpoint(uint64_t key, probe& p, stamp** out) const { return eps_.find_seen(key, p, out); }

    // Bulk lookups (both stages), any n; out[i] is nullptr on a miss. Returns hits.
    unsigned lookup_ids(const uint32_t* ids, unsigned n, entry** out) const;
    unsigned lookup_endpoints(const uint64_t* keys, unsigned n, entry** out) const;
    // What a burst of Heartbeats does to the registry: stamps every registered endpoint of
    // keys[] with now. Returns hits; hit[i] says whether keys[i] was registered.
    unsigned refresh_endpoints(const uint64_t* keys, unsigned n, uint64_t now, bool* hit) const;
    entry* find_id(uint32_t id) const;
    entry* find_endpoint(uint64_t key) const;

    // ---- the writer ----
    // displaced: when not nullptr, set to the ID whose registration the endpoint held before, if
    // it held another (that registration ends), else left alone.
    upsert_result upsert(uint32_t id, const endpoint& ep, uint64_t now, std::optional<uint32_t>* displaced = nullptr);
    bool remove(uint32_t id);
    // Examines up to budget slots from where the last call stopped and removes registrations
    // whose last_seen is older than now - max_age. Returns how many it removed.
    // on_expired, when set, hears each removed ID.
    unsigned expire(uint64_t now, uint64_t max_age, unsigned budget,
                    const std::function<void(uint32_t id)>& on_expired = nullptr);
    // Recycles slots whose grace period has ended.
    void reclaim();

    uint32_t size() const { return std::atomic_ref<const uint32_t>(size_).load(std::memory_order_relaxed); }
    uint32_t capacity() const { return capacity_; }
    // Slots an expiry pass visits: capacity plus room for registrations in a grace period.
    uint32_t slots() const { return pool_.size(); }
    registry_counters counters() const;
    // The indexes (tests and diagnostics).
    const id_index& ids() const { return ids_; }
    const endpoint_index& endpoints() const { return eps_; }

private:
    // What the defer queue holds: a slot and/or an endpoint way that readers may still see.
    struct retired {
        uint32_t slot;  // endpoint_index::none if only a way
        uint32_t way;   // endpoint_index::none if only a slot
    };

    registry() = default;
    bool alloc_slot(uint32_t* slot);
    uint32_t reserve_way(uint64_t key);
    void retire(uint32_t slot, uint32_t way);
    void unlink(entry* e);
    uint32_t way_of(const entry* e) const;
    static void free_retired(void* p, void* elems, unsigned n);

    id_index ids_;
    endpoint_index eps_;
    rte_rcu_qsbr* rcu_ = nullptr;
    bool own_rcu_ = false;
    rcu_defer_queue dq_;
    slot_pool<entry> pool_;       // readers index it; its free stack and live flags are the writer's
    uint32_t capacity_ = 0;
    uint32_t size_ = 0;
    registry_counters c_{};
};

} // namespace peregrine::router
