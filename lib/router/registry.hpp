#pragma once

// The router's registry: Client ID -> (IPv4, UDP port, ingress port, next-hop MAC), plus the
// reverse index endpoint -> registration that Heartbeats (which carry no ID) need.
//
// Concurrency model (DPDK lib/hash "lock-free RW concurrency" + rte_rcu_qsbr):
//  - exactly one writer thread (the control lcore) calls upsert/remove/expire/reclaim;
//  - any number of readers (worker lcores, registered on rcu()) look up in bulk and may refresh
//    an entry's last_seen; they never block and are never blocked;
//  - an entry is never edited in place once published: a move writes a fresh slot and swaps
//    the hash's data pointer; the old slot is recycled only after every reader has reported a
//    quiescent state (rte_rcu_qsbr defer queue), so a reader's entry pointer stays valid until
//    its next rte_rcu_qsbr_quiescent().

#include <atomic>
#include <cstdint>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

namespace peregrine::router {

struct alignas(32) entry {
    uint32_t client_id;
    uint32_t ip_be;
    uint16_t udp_port_be;
    uint16_t port_id;        // ethdev port the registration arrived on (forwards leave there)
    rte_ether_addr next_hop;  // source MAC of the registering frame: the client or its gateway
    uint64_t last_seen;       // TSC; written by readers through touch()

    uint64_t seen() const
    {
        return std::atomic_ref<const uint64_t>(last_seen).load(std::memory_order_relaxed);
    }
    void touch(uint64_t now)
    {
        std::atomic_ref<uint64_t>(last_seen).store(now, std::memory_order_relaxed);
    }
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
        uint32_t max_readers = 1;      // RCU reader thread ids 0..max_readers-1
        int socket_id = 0;             // SOCKET_ID_ANY is fine too
    };

    // Returns nullptr on failure (rte_errno says why).
    static registry* create(const params& p);
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    rte_rcu_qsbr* rcu() const { return rcu_; }

    // ---- readers (inside an RCU read-side section) ----
    // Bulk lookups, n <= RTE_HASH_LOOKUP_BULK_MAX; out[i] is nullptr on a miss. Returns hits.
    unsigned lookup_ids(const uint32_t* ids, unsigned n, entry** out) const;
    unsigned lookup_endpoints(const uint64_t* keys, unsigned n, entry** out) const;
    entry* find_id(uint32_t id) const;
    entry* find_endpoint(uint64_t key) const;

    // ---- the writer ----
    upsert_result upsert(uint32_t id, const endpoint& ep, uint64_t now);
    bool remove(uint32_t id);
    // Examines up to budget slots from where the last call stopped and removes registrations
    // whose last_seen is older than now - max_age. Returns how many it removed.
    unsigned expire(uint64_t now, uint64_t max_age, unsigned budget);
    // Recycles slots whose grace period has ended.
    void reclaim();

    uint32_t size() const { return std::atomic_ref<const uint32_t>(size_).load(std::memory_order_relaxed); }
    uint32_t capacity() const { return capacity_; }
    // Slots an expiry pass visits: capacity plus room for registrations in a grace period.
    uint32_t slots() const { return n_slots_; }
    registry_counters counters() const;

private:
    registry() = default;
    bool alloc_slot(uint32_t* slot);
    void retire_slot(uint32_t slot);
    void unlink(entry* e);
    static void free_slots(void* p, void* elems, unsigned n);

    rte_hash* by_id_ = nullptr;
    rte_hash* by_ep_ = nullptr;
    rte_rcu_qsbr* rcu_ = nullptr;
    rte_rcu_qsbr_dq* dq_ = nullptr;
    entry* slots_ = nullptr;
    uint8_t* live_ = nullptr;     // writer-only: slot holds a published registration
    uint32_t* free_ = nullptr;    // writer-only stack of free slot indices
    uint32_t n_free_ = 0;
    uint32_t n_slots_ = 0;
    uint32_t capacity_ = 0;
    uint32_t size_ = 0;
    uint32_t cursor_ = 0;
    registry_counters c_{};
};

} // namespace peregrine::router
