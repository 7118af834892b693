#pragma once

// RUDP connections by client endpoint (IPv4 address, UDP port): the protocol has no connection
// ID, so the endpoint the handshake came from is the connection.
//
// The session table's model: DPDK lib/hash with lock-free readers and one writer, the control
// lcore, which opens a connection when a handshake finishes and closes or expires it; workers
// look connections up in bulk and touch only per-packet state with atomics (the replay window,
// last_seen, the server's sequence counter). Slots are recycled after an RCU grace period on the
// engine's QSBR variable, so a pointer a worker looked up stays valid until its next quiescent
// state. An entry is never edited once published: a new handshake from the same endpoint fills
// a fresh slot and swaps the hash's data pointer.

#include <atomic>
#include <cstdint>

#include <rte_ether.h>
#include <rte_hash.h>

#include "common/rcu.hpp"
#include "common/compiler.hpp"
#include "common/slot_pool.hpp"
#include "crypto/aes_gcm.hpp"
#include "rudp/keys.hpp"
#include "rudp/window.hpp"

namespace peregrine::rudp {

// The hash key: address and port as they are on the wire, 8 bytes.
inline uint64_t endpoint_key(uint32_t ip_be, uint16_t port_be) { return uint64_t(ip_be) | uint64_t(port_be) << 32; }

// Counters the server stops at: nonces are (init vector, base sequence ID), 32 bits, never
// reused; a connection whose counter would wrap is closed (ERROR 2/0) and the client opens a new
// one with new keys.
static constexpr uint64_t max_counter = 1ull << 32;
// Counters kept back from data for the connection's last words: the ERROR 2/0 that closes it.
static constexpr uint64_t close_reserve = 16;

struct alignas(64) conn {
    // ---- the first cache line: what every packet reads ----
    uint64_t last_seen;     // TSC of the last accepted packet
    uint64_t tx_seq;        // the server's next full sequence number (fetch_add)
    uint64_t key;           // endpoint_key
    uint32_t ip_be;
    uint16_t port_be;
    uint16_t port_id;       // ethdev port the handshake came in on
    uint8_t rx_salt[salt_len];
    uint8_t tx_salt[salt_len];
    uint32_t number;        // connections opened before this one (telemetry)
    uint16_t owner;         // lcore id of the worker that owns rx (no_owner until one claims it)
    uint8_t closing;        // closing_* below: set by a worker, acted on by the control lcore
    // ---- the owner's: the client's sequence numbers ----
    seq_window rx;
    // IPsec-MB's AVX-512 key expansion stores with aligned moves: each key on its own lines.
    alignas(64) crypto::gcm_key rx_key;  // client to server
    alignas(64) crypto::gcm_key tx_key;  // server to client

    static constexpr uint16_t no_owner = UINT16_MAX;
    // closing: a CLIENT DISCONNECT is on its way to the control lcore; the counter is spent (the
    // expiry sweep closes the connection with ERROR 2/0).
    static constexpr uint8_t closing_disconnect = 1, closing_spent = 2;
    uint8_t closing_state() const { return std::atomic_ref<const uint8_t>(closing).load(std::memory_order_relaxed); }
    void mark_closing(uint8_t why) { std::atomic_ref<uint8_t>(closing).store(why, std::memory_order_relaxed); }
    // Takes n numbers for encrypted frames: false (and the connection marked spent) when they
    // would reach into the close reserve.
    bool take_encrypted(unsigned n, uint64_t* first)
    {
        *first = take_seq(n);
        if (PG_LIKELY(*first + n <= max_counter - close_reserve))
            return true;
        mark_closing(closing_spent);
        return false;
    }
    // Whether lcore may touch rx: the first worker to ask owns the connection for its life.
    bool owned_by(uint16_t lcore)
    {
        std::atomic_ref<uint16_t> o(owner);
        uint16_t cur = o.load(std::memory_order_acquire);
        if (cur == lcore)
            return true;
        return cur == no_owner && o.compare_exchange_strong(cur, lcore, std::memory_order_acq_rel);
    }

    uint64_t seen() const { return std::atomic_ref<const uint64_t>(last_seen).load(std::memory_order_relaxed); }
    void touch(uint64_t now) { std::atomic_ref<uint64_t>(last_seen).store(now, std::memory_order_relaxed); }
    bool expired(uint64_t now, uint64_t max_age) const
    {
        return static_cast<int64_t>(now - seen()) > static_cast<int64_t>(max_age);
    }
    // n consecutive full sequence numbers for the server's packets (a fragmented message takes
    // one per fragment); the first is returned.
    uint64_t take_seq(unsigned n)
    {
        return std::atomic_ref<uint64_t>(tx_seq).fetch_add(n, std::memory_order_relaxed);
    }
};

struct table_counters {
    uint64_t opened, replaced, closed, expired, full;
};

class table {
public:
    struct params {
        const char* name = "pg_rudp";
        uint32_t capacity = 1u << 16;
        rte_rcu_qsbr* rcu = nullptr;
        int socket_id = 0;
    };
    static table* create(const params& p);
    ~table();
    table(const table&) = delete;
    table& operator=(const table&) = delete;

    // ---- readers ----
    // n <= RTE_HASH_LOOKUP_BULK_MAX; out[i] is nullptr on a miss.
    void lookup(const uint64_t* keys, unsigned n, conn** out) const;
    conn* find(uint64_t key) const;

    // ---- the writer (control lcore) ----
    struct opening {
        uint32_t ip_be;
        uint16_t port_be;
        uint16_t port_id;
        rte_ether_addr next_hop;
        const session_keys* keys;
        uint64_t client_top;   // full sequence number of the client's last handshake packet
        uint64_t server_next;  // the server's next full sequence number
    };
    // nullptr when the table is full (or IPsec-MB refused a key). mb: any of the process's
    // multi-buffer managers (they share one arch).
    conn* open(const opening& o, crypto::mb_context& mb, uint64_t now);
    bool close(uint64_t key);
    // Removes, from the next `budget` slots, the connections older than max_age and those whose
    // counter is spent (last_words(conn) first: the ERROR 2/0).
    template <typename LastWords>
    unsigned expire(uint64_t now, uint64_t max_age, unsigned budget, LastWords&& last_words)
    {
        unsigned spent = 0;
        const unsigned removed = pool_.sweep(
            budget,
            [&](const conn& c) { return c.expired(now, max_age) || c.closing_state() == conn::closing_spent; },
            [&](uint32_t slot) {
                conn& c = pool_[slot];
                if (c.closing_state() == conn::closing_spent) {
                    last_words(c);
                    ++spent;
                }
                remove(slot);
            });
        c_.expired += removed - spent;
        c_.closed += spent;
        return removed;
    }
    void reclaim();
    template <typename Fn>
    void for_each(Fn&& fn) const
    {
        pool_.for_each_live(fn);
    }
    const rte_ether_addr& next_hop(const conn& c) const { return hops_[pool_.index(&c)]; }

    uint32_t size() const { return std::atomic_ref<const uint32_t>(size_).load(std::memory_order_relaxed); }
    uint32_t capacity() const { return capacity_; }
    uint32_t slots() const { return pool_.size(); }
    table_counters counters() const;

private:
    table() = default;
    void retire_slot(uint32_t slot);
    void remove(uint32_t slot);
    static void free_slots(void* p, void* elems, unsigned n);

    rte_hash* hash_ = nullptr;
    rcu_defer_queue dq_;
    slot_pool<conn> pool_;
    rte_ether_addr* hops_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t size_ = 0;
    uint32_t opened_total_ = 0;
    table_counters c_{};
};

} // namespace peregrine::rudp
