#pragma once

// A serving node's side of the load-balancer protocol (../shared/specs/load-balancer-protocol.md,
// docs/cluster.md): what the router says to its Controlling Function (CF) and what it keeps of
// the answers. Pure logic on the control lcore: datagrams in, payloads out through send, time
// as TSC.
//
//  - Register Serving Node at start, again every reregister_s; until Acked, every ack_timeout
//    (the origin's 1 s), then every unreachable_retry_s once `tries` went unanswered: an
//    unreachable CF costs a datagram every few seconds and never stops the router.
//  - Registration Update / Removed for each change the router's registry reports, queued
//    (latest per Client ID wins), sent at report_rate once registered, each retransmitted every
//    ack_timeout up to `tries` times.
//  - Serving Nodes / Serving Node Removed keep the peer list; they, and Start Call (sent to
//    call controllers, never expected here), are Acked: the spec asks every message without an
//    answer of its own to be Acked.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "common/stats.hpp"
#include "lb/codec.hpp"

namespace peregrine::cluster {

struct member_params {
    lb::endpoint advertise;        // in our Register: what clients are given
    uint16_t group = 0;
    uint64_t tsc_hz = 0;
    uint64_t reregister_s = 60;
    uint64_t ack_timeout_ms = 1000;  // NOTES.md: 1 s, 3 tries
    unsigned tries = 3;
    uint32_t report_rate = 2000;    // per second
    uint32_t report_queue = 1u << 20;
    uint16_t first_request_id = 0;  // random in service; fixed in tests
};

class member {
public:
    // Sends one payload to the CF; false when it cannot now (no next hop, no mbuf): the message
    // counts as sent and lost, and its timer retries it.
    using send_fn = std::function<bool(const uint8_t* d, std::size_t len)>;

    static constexpr uint64_t unreachable_retry_s = 5;
    // Reports awaiting an Ack at once: bounds the retransmission state.
    static constexpr std::size_t max_in_flight = 8192;

    member(const member_params& p, send_fn send);

    // A datagram from the CF's endpoint (the worker checked the source).
    void on_datagram(const uint8_t* d, std::size_t len, uint64_t now, lcore_stats& st);
    // The router's registry changed.
    void registered(uint32_t id, const lb::endpoint& client, uint64_t now, lcore_stats& st);
    void unregistered(uint32_t id, uint64_t now, lcore_stats& st);
    // Timers and the report queue; cheap when nothing is due.
    void tick(uint64_t now, lcore_stats& st);

    // ---- reads (telemetry, tests) ----
    bool registered_with_server() const { return acked_; }
    const std::set<uint64_t>& peers() const { return peers_; }  // lb::key_of of each endpoint
    std::size_t queued() const { return latest_.size(); }  // reports waiting (one per Client ID)
    std::size_t in_flight() const { return in_flight_.size(); }
    // Empty Serving Nodes heard: Peregrine's CF probes a node it has just registered anew, so
    // one after the first Register says the CF forgot us (it restarted, or expired us): the
    // caller reports its registrations again.
    unsigned probes() const { return probes_; }

private:
    struct report {
        bool update;          // Update, else Removed
        lb::endpoint client;  // for an Update
        uint64_t seq;         // the queue entry that holds it (latest wins)
    };
    struct flight {
        uint8_t payload[lb::registration_update_len];
        uint8_t len;
        unsigned sent;
        uint64_t due;
    };

    void send_register(uint64_t now, lcore_stats& st);
    void ack(uint16_t req, lcore_stats& st);
    bool transmit(const uint8_t* d, std::size_t len, lcore_stats& st);
    void queue(uint32_t id, bool update, const lb::endpoint& client, lcore_stats& st);
    void compact();
    void send_reports(uint64_t now, lcore_stats& st);
    void retransmit(uint64_t now, lcore_stats& st);
    uint16_t next_id() { return req_++; }

    member_params p_;
    send_fn send_;
    uint64_t ack_tsc_;
    uint16_t req_;
    // Register
    bool acked_ = false;          // the CF holds our registration
    uint16_t reg_req_ = 0;        // Request ID of the Register awaiting its Ack
    bool reg_waiting_ = false;
    unsigned reg_tries_ = 0;
    uint64_t reg_due_ = 0;        // next Register (retry or re-registration)
    // Reports
    std::unordered_map<uint32_t, report> latest_;  // Client ID -> what to say
    std::deque<std::pair<uint32_t, uint64_t>> order_;  // (Client ID, seq), oldest first
    uint64_t seq_ = 0;
    std::map<uint16_t, flight> in_flight_;  // by Request ID
    std::deque<std::pair<uint64_t, uint16_t>> timers_;  // (due, Request ID), due order; stale ones skipped
    double tokens_ = 0;
    uint64_t last_fill_ = 0;
    std::set<uint64_t> peers_;
    unsigned probes_ = 0;
};

} // namespace peregrine::cluster
