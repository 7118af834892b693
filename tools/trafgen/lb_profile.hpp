#pragma once

// Load-balancer profile (docs/protocols/lb.md): the Controlling Function's callers.
//
//   serving node j   endpoint (client_ip, node_port + j), j < nodes; it advertises its own
//                    source endpoint in Register Serving Node
//   client k         endpoint as the router profile's client k (client_ip + k / ports_per_ip,
//                    client_port + k % ports_per_ip), k < clients
//
// Setup registers every serving node and waits for its Ack, resending the unanswered ones after
// register_timeout_ms, up to register_retries passes. The engine tells each node about the
// others (Serving Nodes) and retransmits until Acked, then drops a node that never Acks; so the
// profile Acks every Serving Nodes / Serving Node Removed it receives, in every phase (those Acks
// are extra frames, not counted as offered). Setup is done when every node is registered and no
// notification has arrived for register_timeout_ms.
//
// Measure: clients in turn send Request Serving Node (Request IDs count per client); a share
// update_pct of the frames are Registration Updates from the nodes in turn ((group, user) ->
// a client endpoint), answered by an Ack. Answers are matched by destination endpoint and the
// echoed Request ID. Latency: each client keeps the TSC of its last request (as the router
// profile's Heartbeats: exact while a client has one request in flight, else counted as
// stamp_overwritten); each node keeps a ring of send TSCs indexed by Request ID.
//
// Consistency: the first node a client is given is remembered; every later answer naming
// another node counts as `moved` (Maglev keeps a client on its node while the set is stable,
// so with a stable set of nodes this must stay 0). An answer of 0.0.0.0:0 (no live node, from
// an engine run with --lb-answer-no-node; by default it does not answer) counts as `no_node`.

#include <cstdint>
#include <string>
#include <vector>

#include <rte_ether.h>

#include "frame.hpp"
#include "profile.hpp"
#include "profile_util.hpp"
#include "router_profile.hpp"

namespace peregrine::trafgen {

struct lb_config {
    // Addressing, clients, timing, retries, seed: as the router profile's (router_config).
    router_config common;
    uint16_t server_port = 7200;
    uint32_t nodes = 8;
    uint16_t node_port = 9000;     // node j sends from client_ip:node_port + j
    unsigned update_pct = 0;       // share of measure frames that are Registration Updates
};

std::string check_lb_config(const lb_config& c);

class lb_profile final : public profile {
public:
    explicit lb_profile(const lb_config& c);

    const char* name() const override { return "lb"; }
    unsigned setup_burst(frame_buf* f, unsigned n, uint64_t now_tsc, setup_state* state) override;
    std::string setup_summary() const override;
    void traffic_burst(frame_buf* f, unsigned n, uint64_t now_tsc) override;
    void receive(const uint8_t* frame, uint16_t len, uint64_t now_tsc) override;
    void start_measure() override;
    const traffic_stats& stats() const override { return st_; }
    std::vector<std::pair<std::string, uint64_t>> counters() const override;

    // For tests.
    uint32_t registered_nodes() const { return n_registered_; }
    uint64_t moved() const { return c_.moved; }
    uint64_t pending_acks() const { return n_acks_; }
    uint32_t client_ip(uint32_t k) const { return space_.ip(k); }
    uint16_t client_port(uint32_t k) const { return space_.port(k); }
    uint16_t node_port(uint32_t j) const { return static_cast<uint16_t>(cfg_.node_port + j); }

private:
    // Request IDs per node whose send TSC is remembered: a node has at most this many Updates
    // in flight before the oldest stamp is overwritten (counted).
    static constexpr unsigned node_ring = 1024;
    // Notification Acks waiting to go out (the engine sends at most nodes - 1 per registration).
    static constexpr unsigned ack_queue = 4096;

    struct counters_t {
        uint64_t reg_acked = 0, late_register = 0;
        uint64_t notified = 0, notify_acked = 0, ack_queue_full = 0;
        uint64_t request_sent = 0, request_answered = 0, no_node = 0, moved = 0;
        uint64_t update_sent = 0, update_acked = 0, stamp_overwritten = 0, stale_answer = 0;
    };
    struct pending_ack {
        uint32_t node;
        uint16_t req;
    };

    uint16_t frame_from(uint8_t* f, uint32_t ip, uint16_t port, const uint8_t* payload, uint16_t len);
    unsigned flush_acks(frame_buf* f, unsigned n);
    uint32_t node_of(uint32_t ip, uint16_t port) const;

    lb_config cfg_;
    client_space space_;
    setup_pacer pacer_;
    traffic_stats st_;
    counters_t c_;
    rx_errors rx_err_;
    // per node
    std::vector<uint8_t> node_registered_;
    std::vector<uint16_t> node_req_;
    std::vector<uint64_t> node_sent_;     // nodes x node_ring send TSCs
    uint32_t n_registered_ = 0;
    // per client
    std::vector<uint16_t> client_req_;
    std::vector<uint64_t> client_sent_;   // TSC of the last request, 0 if none in flight
    std::vector<uint64_t> client_node_;   // endpoint key of the node first given, 0 if none yet
    // notification Acks to send
    std::vector<pending_ack> acks_;
    unsigned ack_head_ = 0, n_acks_ = 0;
    uint64_t setup_notified_ = 0;   // notifications Acked during setup (for the summary)
    // measure
    uint32_t next_client_ = 0, next_node_ = 0;
    uint16_t ip_id_ = 0;
    xorshift64 rng_;
};

} // namespace peregrine::trafgen
