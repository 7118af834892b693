#pragma once

// The router module's options (a section of --help).

#include <cstdint>

#include "engine/options.hpp"

namespace peregrine::router {

struct options {
    uint16_t port = 7100;
    uint32_t heartbeat_timeout_s = 90;  // 3 missed 30 s heartbeats
    uint32_t max_clients = 1u << 20;
    // Register Clients per second that reach the control lcore, per source address and in all
    // (0: unlimited). One address may front a NAT's thousands of clients, hence the room.
    uint32_t register_rate = 10000;
    uint32_t register_global_rate = 0;
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::router
