#pragma once

// The control lcore's share of the data plane, one poll() per loop iteration:
//  - exception packets from the workers' rings go to their port's TAP (the kernel);
//  - frames the kernel writes to a TAP go out of its port through a worker's TX ring;
//  - Register Client packets from the workers are applied to the registry (its only writer)
//    and answered through the TX ring of the worker that received them, so a client that holds its Register Client
//    Response is already visible to every worker;
//  - load-balancer datagrams from the workers (state writes) go to lb::state, and what it
//    queues (replies, notifications, retransmissions) goes out through a worker's TX ring;
//  - registrations that missed their heartbeats expire, a slice per millisecond;
//  - session HELLOs and DISCONNECTs open and close sessions (the table's only writer), answered
//    the same way; sessions that missed their pings expire like registrations;
//  - retired registry slots are recycled once the workers have passed a quiescent state.

#include <cstdint>
#include <vector>

#include <rte_ring.h>

#include "common/stats.hpp"
#include "engine/context.hpp"

namespace peregrine::engine {

class control {
public:
    struct worker_rings {
        rte_ring* exc;
        rte_ring* ctl;
        rte_ring* tx;   // frames the worker transmits for us; mbuf->port says where
    };

    // ports: the physical ports; rings: one set per worker (at least one).
    control(context& ctx, lcore_stats& st, std::vector<uint16_t> ports, std::vector<worker_rings> rings);

    // One iteration; now is rte_rdtsc(). Returns true when it moved any packet.
    bool poll(uint64_t now);

private:
    // Queues frames (mbuf->port set) for transmission by worker w.
    void send(unsigned w, rte_mbuf** m, unsigned n);
    bool drain_exceptions();
    bool drain_taps();
    bool drain_registrations(uint64_t now);
    void housekeeping(uint64_t now);
    bool is_lb(rte_mbuf* m) const;  // a load-balancer datagram (else a router one)
    void flush_lb();                // sends what lb::state queued

    context& ctx_;
    lcore_stats& st_;
    std::vector<uint16_t> ports_;
    std::vector<worker_rings> rings_;
    uint64_t next_tick_ = 0;
    uint64_t tick_tsc_;
    unsigned sweep_budget_;
    unsigned session_sweep_budget_;
    uint64_t last_sweep_ = 0;  // TSC of the last expiry slice
};

} // namespace peregrine::engine
