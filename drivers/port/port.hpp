#pragma once

// Ethdev set-up for the ports the engine drives: queues, offloads, RSS, start.

#include <cstdint>
#include <string>

#include <rte_mempool.h>

namespace peregrine::drivers {

struct port_params {
    uint16_t port_id = 0;
    uint16_t n_rxq = 1;
    uint16_t n_txq = 1;
    // Ring sizes: l3fwd's defaults; deep enough to ride out a control-lcore hiccup.
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    rte_mempool* pool = nullptr;
};

// Configures n_rxq/n_txq queues (RSS over IPv4/UDP when n_rxq > 1, RX checksum offloads when
// the device has them), starts the port and enables promiscuous mode off (the engine owns one
// MAC per port). On failure returns false with a message in *err naming the port and the step.
bool port_start(const port_params& p, std::string* err);

// Stops and closes the port (best effort, for shutdown).
void port_stop(uint16_t port_id);

} // namespace peregrine::drivers
