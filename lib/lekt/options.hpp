#pragma once

// The LEKT module's options (a section of --help). LEKT is TCP: its port is not among the UDP
// ports the fast path dispatches on.

#include <cstdint>

#include "engine/options.hpp"

namespace peregrine::lekt {

struct options {
    bool off = false;
    uint16_t port = 7500;
    uint32_t max_clients = 16384;
    uint32_t max_per_ip = 64;            // a NAT of a small office, not a whole carrier
    uint32_t heartbeat_timeout_s = 15;   // clients heartbeat every few seconds
    uint32_t handshake_timeout_s = 5;    // handshake + setup, and finishing any partial packet
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::lekt
