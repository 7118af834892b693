#pragma once

// One burst through the fast path, without any I/O: classify, dispatch by UDP destination
// port, run the protocol handler, and sort the mbufs into what the caller must do with them.
// The worker loop wraps this with rte_eth_rx_burst/tx_burst; tests and benchmarks call it
// directly on pre-built bursts.

#include <cstdint>

#include <rte_mbuf.h>

#include "engine/context.hpp"

namespace peregrine::engine {

struct burst_out {
    // Twice a burst: a session DATA_ACK may yield its ACK and an application packet.
    rte_mbuf* tx[max_ports][2 * burst_size];
    uint16_t n_tx[max_ports];
    rte_mbuf* exc[burst_size];   // to the kernel through the port's TAP
    uint16_t n_exc;
    rte_mbuf* ctl[burst_size];   // to the control lcore (registry writes)
    uint16_t n_ctl;
    rte_mbuf* drop[burst_size];  // to free; every one already counted by reason
    uint16_t n_drop;
    uint64_t tx_port_mask;       // ports with n_tx > 0

    void reset()
    {
        for (uint64_t mask = tx_port_mask; mask; mask &= mask - 1)
            n_tx[__builtin_ctzll(mask)] = 0;
        tx_port_mask = 0;
        n_exc = n_ctl = n_drop = 0;
    }
};

// Call once before the first reset().
inline void init(burst_out& o)
{
    static_assert(max_ports <= 64, "tx_port_mask has one bit per port");
    for (auto& n : o.n_tx)
        n = 0;
    o.tx_port_mask = 0;
    o.reset();
}

// n <= burst_size packets received on rx_port. out must have been reset().
void process_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   uint64_t now, burst_out& out);

} // namespace peregrine::engine
