#pragma once

// The session table: Client ID (16 bytes) -> session, for at least a million sessions.
//
// Concurrency (the router registry's model: DPDK lib/hash lock-free RW concurrency + QSBR):
//  - one writer, the control lcore, opens, reopens, closes and expires sessions. Workers hand it
//    HELLO and DISCONNECT through their control rings, as the router does Register Client;
//  - every worker looks sessions up in bulk without locks and updates only per-packet state in
//    the slot, with atomics: the replay window (one 128-bit CAS, common/replay_window.hpp) and last_seen;
//  - a session is never edited in place once published: a reopen fills a fresh slot and swaps
//    the hash's data pointer; old slots are recycled after a grace period on the RCU variable the
//    workers already report to every loop (the router registry's), so a looked-up pointer stays
//    valid until the worker's next quiescent state.

#include <atomic>
#include <cstdint>

#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "common/rcu.hpp"
#include "common/slot_pool.hpp"
#include "session/codec.hpp"
#include "common/replay_window.hpp"

namespace peregrine::session {

struct endpoint {
    uint32_t ip_be = 0;
    uint16_t udp_port_be = 0;
    uint16_t port_id = 0;        // ethdev port the HELLO arrived on (answers leave there)
    rte_ether_addr next_hop{};   // the HELLO's source MAC: the client or its gateway
};

struct alignas(64) entry {
    replay_window win;                // written by workers (CAS)
    uint8_t client_id[client_id_len];
    uint64_t last_seen;               // TSC of the last accepted packet; workers store it
    uint64_t hello_ts;                // the opening HELLO's timestamp (Unix ms)
    uint64_t tx_order;                // order count of the server's own packets (fetch_add)
    uint32_t ip_be;
    uint16_t udp_port_be;
    uint8_t port_id;
    uint8_t proven;                   // the endpoint echoed its ACCEPT's token; workers store 1 once
    // The next-hop MAC and the token live outside the entry (table::next_hop, table::prove):
    // only shutdown needs the one and an unproven session the other, and the entry stays one
    // cache line.

    uint64_t next_tx_order() { return std::atomic_ref<uint64_t>(tx_order).fetch_add(1, std::memory_order_relaxed); }

    uint64_t seen() const { return std::atomic_ref<const uint64_t>(last_seen).load(std::memory_order_relaxed); }
    void touch(uint64_t now) { std::atomic_ref<uint64_t>(last_seen).store(now, std::memory_order_relaxed); }
    bool from(uint32_t ip, uint16_t port) const { return ip_be == ip && udp_port_be == port; }
    bool is_proven() const { return std::atomic_ref<const uint8_t>(proven).load(std::memory_order_relaxed) != 0; }
    // Signed: another core may have stamped a TSC slightly ahead of ours.
    bool expired(uint64_t now, uint64_t max_age) const
    {
        return static_cast<int64_t>(now - seen()) > static_cast<int64_t>(max_age);
    }
};
static_assert(sizeof(entry) == 64, "one cache line per session");
static_assert(RTE_MAX_ETHPORTS <= 256, "entry::port_id is one byte");

// Return routability (docs/protocols/session.md, "Amplification"): ACCEPT carries a random
// 24-bit token in the reserved field and the client echoes it in every later packet. Until one
// does, nothing larger than its request goes to the session's endpoint.
static constexpr uint32_t token_mask = 0xffffff;
// Wrong tokens an unproven session takes before it refuses every token: a blind spoofer gets
// this many guesses in 2^24 per HELLO; the client's way back is a newer HELLO (a fresh token).
static constexpr uint32_t max_token_misses = 8;

enum class proof : uint8_t {
    proven,     // already proven
    now,        // this packet's token proved it
    wrong,      // wrong token: the packet is dropped (session_unproven)
    locked,     // max_token_misses reached: every token is refused until a new HELLO
};

enum class open_result : uint8_t {
    opened,     // new session
    reopened,   // newer HELLO for a live session: fresh endpoint and window
    duplicate,  // the same HELLO again from the same endpoint (its ACCEPT was lost): unchanged
    replayed,   // an older HELLO, or the same one from elsewhere: refused, session unchanged
    full,       // no room
};

struct table_counters {
    uint64_t opened, reopened, duplicate, replayed, closed, expired, full;
};

class table {
public:
    struct params {
        const char* name = "pg_sess";
        uint32_t capacity = 1u << 20;
        rte_rcu_qsbr* rcu = nullptr;  // the readers' QSBR variable (not owned)
        int socket_id = 0;
    };

    // Returns nullptr on failure (rte_errno says why).
    static table* create(const params& p);
    ~table();
    table(const table&) = delete;
    table& operator=(const table&) = delete;

    // ---- readers (inside an RCU read-side section) ----
    // n <= RTE_HASH_LOOKUP_BULK_MAX; out[i] is nullptr on a miss.
    void lookup(const uint8_t* const* ids, unsigned n, entry** out) const;
    entry* find(const uint8_t* id) const;
    // The packet's echoed token (24 bits) against the session's; stores e.proven when it matches.
    proof prove(entry& e, uint32_t echoed) const;
    // The token an ACCEPT of this session carries (any thread).
    uint32_t token(const entry& e) const
    {
        return std::atomic_ref<const uint32_t>(tokens_[pool_.index(&e)]).load(std::memory_order_relaxed) & token_mask;
    }

    // ---- the writer (control lcore) ----
    // A session unrefreshed for max_age is treated as gone. order: the HELLO's order count.
    open_result open(const uint8_t* id, const endpoint& ep, uint64_t hello_ts, uint64_t order, uint64_t now,
                     uint64_t max_age);
    bool close(const uint8_t* id);
    // Examines up to budget slots from where the last call stopped; removes sessions older than max_age.
    unsigned expire(uint64_t now, uint64_t max_age, unsigned budget);
    void reclaim();
    // Calls fn(const entry&) for every live session (writer thread, or once readers are gone).
    template <typename Fn>
    void for_each(Fn&& fn) const
    {
        pool_.for_each_live(fn);
    }

    // The MAC a session's HELLO came from (writer thread, or once readers are gone).
    const rte_ether_addr& next_hop(const entry& e) const { return hops_[pool_.index(&e)]; }

    uint32_t size() const { return std::atomic_ref<const uint32_t>(size_).load(std::memory_order_relaxed); }
    uint32_t capacity() const { return capacity_; }
    uint32_t slots() const { return pool_.size(); }
    table_counters counters() const;

private:
    table() = default;
    bool alloc_slot(uint32_t* slot);
    void retire_slot(uint32_t slot);
    static void free_slots(void* p, void* elems, unsigned n);

    rte_hash* hash_ = nullptr;
    rcu_defer_queue dq_;
    slot_pool<entry> pool_;           // the sessions; the hash holds pointers into it
    rte_ether_addr* hops_ = nullptr;  // by slot
    uint32_t* tokens_ = nullptr;      // by slot: the token (low 24 bits) and the misses (high 8)
    uint32_t capacity_ = 0;
    uint32_t size_ = 0;
    table_counters c_{};
};

} // namespace peregrine::session
