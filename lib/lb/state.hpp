#pragma once

// The load-balancer protocol's state, owned by the control lcore (its single writer):
// serving nodes, call controllers, (group, user) registrations, the calls Peregrine has started,
// messages awaiting an Ack, and recently answered Request IDs. Workers never touch it: they
// read only the Maglev table this class publishes through lb::config::current (RCU: a new table
// is built and swapped in, the old one is freed after every worker has passed a quiescent
// state). Telemetry reads under mu(); the control lcore holds it while it works on the state
// (the control lcore is not the fast path; the lock is uncontended but for telemetry reads).
// For the same reason the tables are standard containers: they allocate, on the control lcore
// only, and their sizes are bounded (max_nodes, max_controllers, max_registrations,
// max_answered).
//
// Timers (docs/protocols/lb.md): a serving node or call controller expires
// `expiry` after its last Register; every message that needs an Ack is sent again every
// `ack_timeout` until Acked, `tries` times in all, after which the peer is marked unhealthy
// (taken out of service until it registers again).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "common/stats.hpp"
#include "lb/codec.hpp"
#include "lb/maglev.hpp"
#include "lb/pipeline.hpp"
#include "net/classify.hpp"

namespace peregrine::lb {

// How long a (sender, Request ID) is remembered as answered: longer than the origin's 3 tries
// x 1 s, shorter than its 60 s re-registration (which may reuse the ID).
static constexpr uint64_t dup_window_s = 10;
// Remembered (sender, Request ID) pairs at most: bounds memory under a flood of requests (past
// it, a duplicate is applied again, which every write tolerates but for ordering).
static constexpr std::size_t max_answered = 1u << 20;
// Least-loaded: an assignment counts towards a node's load this long, time for the client to
// register with the node and the node to send its Registration Update.
static constexpr uint64_t assign_window_s = 10;
// Call controllers held (the same bound as serving nodes; a deployment has a handful).
static constexpr uint32_t max_controllers = max_nodes;

struct state_params {
    rte_mempool* pool = nullptr;      // outgoing frames
    rte_rcu_qsbr* rcu = nullptr;      // the workers' QSBR variable (table grace periods)
    uint64_t tsc_hz = 0;
    uint64_t expiry_s = 120;          // NOTES.md: registrations expire 120 s after registering
    uint64_t probe_s = 0;             // liveness probe of each proven serving node (0: none)
    uint64_t ack_timeout_ms = 1000;   // NOTES.md: senders wait 1 s for the Ack...
    unsigned tries = 3;               // ...and try 3 times
    uint32_t max_registrations = 1u << 20;
};

enum class peer_kind : uint8_t { serving_node, call_controller };

struct peer {
    endpoint sender;        // source of its Register: where Peregrine sends to (the key)
    endpoint advertised;    // endpoint in its Register: what clients and other nodes are given
    uint16_t port_id = 0;   // ethdev port it registered through
    rte_ether_addr next_hop{};  // source MAC of that frame: the peer or its gateway
    uint64_t registered = 0;    // TSC of the last Register
    uint64_t probed = 0;        // TSC of the last liveness probe (Serving Nodes listing itself)
    uint32_t registrations = 0; // serving node: (group, user) registrations it reported
    uint32_t recent = 0;        // serving node: least-loaded assignments within assign_window_s
    uint32_t calls = 0;         // call controller: calls assigned to it
    uint16_t last_request = 0;  // Request ID of its last Register (telemetry)
    uint64_t incarnation = 0;   // set when it registers anew: what it sent before is no duplicate
    // Return routability (docs/protocols/lb.md, "Amplification"): until the peer Acks one of our
    // messages, it is sent no more bytes than it has sent (credit), and a serving node learns
    // the other nodes only once proven.
    bool proven = false;
    uint8_t misses = 0;         // unmatched Acks while unproven (max_ack_misses locks the proof)
    uint32_t credit = 0;        // unproven: bytes received minus bytes sent, at most max_credit
};

// Unmatched Acks an unproven peer may send: a blind spoofer gets this many guesses at a 16-bit
// random Request ID per registration.
static constexpr uint8_t max_ack_misses = 8;
// An unproven peer's byte budget never exceeds this (padded Registers buy at most 64 each).
static constexpr uint32_t max_credit = 256;

struct registration {
    endpoint ep;
    uint64_t reporter = 0;  // key of the serving node that reported it
    uint64_t updated = 0;   // TSC
};

struct call {
    uint16_t call_id = 0;
    uint64_t controller = 0;  // key of the controller, 0 while none is available
    uint32_t members = 0;     // registrations in the group
};

struct pending {
    uint64_t dest = 0;      // peer key
    peer_kind kind{};
    type t{};
    uint16_t group = 0;     // Start Call
    unsigned sent = 0;      // tries so far
    uint64_t due = 0;       // TSC of the next try (or of giving up)
    std::vector<uint8_t> payload;
};

class state {
public:
    state(config& cfg, const net::port_addr* ports, const state_params& p);
    ~state();
    state(const state&) = delete;
    state& operator=(const state&) = delete;

    // A datagram a worker handed over, received on m->port (already validated by the
    // worker). Consumes m: it becomes a reply in the outbox, or is freed and counted in st.
    void handle(rte_mbuf* m, uint64_t now, lcore_stats& st);
    // Expiry, retransmission, table publication and reclaim. Cheap when nothing is due.
    void tick(uint64_t now, lcore_stats& st);
    // Frames to transmit (mbuf->port set), oldest first; the caller takes them all.
    std::vector<rte_mbuf*>& outbox() { return outbox_; }

    // ---- reads (telemetry, tests): hold mu() ----
    std::mutex& mu() const { return mu_; }
    const std::map<uint64_t, peer>& serving_nodes() const { return nodes_; }
    const std::map<uint64_t, peer>& call_controllers() const { return controllers_; }
    const std::map<uint64_t, registration>& registrations() const { return regs_; }
    const std::map<uint16_t, call>& calls() const { return calls_; }
    std::size_t awaiting_ack() const { return pending_.size(); }
    uint64_t table_generation() const { return generation_; }
    // Key of a (group, user) registration in registrations().
    static uint64_t reg_key(uint16_t group, uint32_t user) { return (uint64_t(group) << 32) | user; }
    // Least-loaded choice among the live serving nodes (nullptr if none).
    const peer* least_loaded(uint32_t requester_hash) const;

private:
    // A datagram applied and answered. Another is its duplicate only if it is byte-identical
    // and comes from the same incarnation of the sender (docs/protocols/lb.md).
    struct dup {
        uint64_t expires;
        uint64_t incarnation;  // the sender's when it was applied (0: not a registered peer)
        endpoint answer;       // least-loaded Request Serving Node: the node it was given
        uint8_t len;                    // up to max_padded_len
        uint8_t bytes[max_request_len];  // past it, only padding zeros (lb::parse)
    };
    // The registered peer a datagram of type t speaks for (0 if none): a Register speaks for
    // the table it registers in, a Registration Update/Removed for a serving node.
    uint64_t incarnation_of(type t, uint64_t sender_key) const;

    void on_register(peer_kind k, const packet& p, const endpoint& sender, const net::udp_view& v, uint16_t port,
                     uint64_t now, lcore_stats& st, bool* ack);
    bool on_registration(const packet& p, uint64_t sender, uint64_t now, lcore_stats& st);
    void remove_node(uint64_t key, uint64_t now, lcore_stats& st);
    void remove_controller(uint64_t key);
    void drop_registration(std::map<uint64_t, registration>::iterator it);
    void start_call(uint16_t group, uint64_t now, lcore_stats& st);
    void assign_orphans(uint64_t now, lcore_stats& st);
    // Sends payload to peer and, when it needs an Ack, remembers it for retransmission.
    void send_new(peer& to, peer_kind kind, const uint8_t* payload, std::size_t len, uint64_t now,
                  lcore_stats& st, uint16_t group = 0);
    enum class tx : uint8_t { sent, no_mbuf, withheld };
    tx transmit(peer& to, const uint8_t* payload, std::size_t len, lcore_stats& st);
    void notify_nodes(const std::vector<endpoint>& eps, peer& to, uint64_t now, lcore_stats& st);
    std::vector<endpoint> others_of(uint64_t key) const;
    void proven(peer& e, uint64_t key, peer_kind k, uint64_t now, lcore_stats& st);
    uint16_t next_request();
    void publish();
    void reclaim();

    config& cfg_;
    const net::port_addr* ports_;
    state_params p_;
    uint64_t expiry_tsc_, ack_tsc_, dup_tsc_, assign_tsc_;
    std::map<uint64_t, peer> nodes_;        // by sender key; every node here is live
    std::map<uint64_t, peer> controllers_;  // by sender key; every controller here is healthy
    std::map<uint64_t, registration> regs_; // by reg_key
    std::map<uint16_t, call> calls_;        // by group
    std::map<uint64_t, pending> pending_;   // by (dest key << 16 | Request ID)
    std::unordered_map<uint64_t, dup> answered_;        // by (sender key << 16 | Request ID)
    std::deque<std::pair<uint64_t, uint64_t>> answered_fifo_;  // (expires, key)
    std::deque<std::pair<uint64_t, uint64_t>> assigned_fifo_;  // (expires, node key)
    std::vector<rte_mbuf*> outbox_;
    std::vector<std::pair<table*, uint64_t>> retired_;  // (table, QSBR token)
    table* current_ = nullptr;
    bool dirty_ = true;
    uint64_t generation_ = 0;
    uint8_t rand_[256];                 // random Request IDs, refilled from OpenSSL
    unsigned rand_at_ = sizeof(rand_);
    uint16_t next_call_ = 1;
    uint64_t next_incarnation_ = 1;
    uint64_t next_sweep_ = 0;
    mutable std::mutex mu_;
};

} // namespace peregrine::lb
