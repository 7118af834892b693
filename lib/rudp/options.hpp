#pragma once

// The RUDP module's options (a section of --help).

#include <cstdint>
#include <string>

#include "engine/options.hpp"

namespace peregrine::rudp {

struct options {
    bool off = false;                  // --no-rudp: the port goes to the kernel
    uint16_t port = 7400;
    unsigned app = 0;                  // 0 echo, 1 discard
    uint32_t max_connections = 1u << 14;  // 38 MiB; 1 million take 2.3 GiB (--rudp-max-connections)
    uint32_t timeout_s = 30;           // three missed 10 s PINGs
    uint32_t max_half_open = 4096;
    uint32_t handshake_timeout_s = 10;
    uint32_t auth_rate = 20;           // AUTHs per second per source address
    uint32_t auth_global_rate = 2000;  // AUTHs per second in all
    uint32_t reassembly_mb = 16;       // memory for messages in reassembly
    uint32_t reassembly_timeout_s = 5;
    uint32_t rto_ms = 200;             // first retransmission timeout, before any RTT sample
    uint32_t max_tries = 6;            // transmissions of a RELIABLE frame before ERROR 2/0
    uint32_t max_unacked = 4096;       // RELIABLE frames kept for retransmission, all connections
    std::string cert, key, client_ca;  // PEM files
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::rudp
