#pragma once

// The session module's options (a section of --help).

#include <cstdint>
#include <string>

#include "engine/options.hpp"

namespace peregrine::session {

struct options {
    bool off = false;                 // --no-session: the port goes to the kernel
    uint16_t port = 7300;
    std::string app = "echo";         // what DATA payloads are delivered to: echo | discard
    std::string key_file;             // keyed mode (HMAC-SHA-256) with this pre-shared key
    uint32_t max_sessions = 1u << 20;
    uint32_t timeout_s = 30;          // three missed 10 s pings
    uint32_t hello_window_s = 30;     // HELLO timestamp vs our clock
    uint32_t control_rate = 10000;     // HELLO + DISCONNECT per second per source to the control lcore
    uint32_t control_global_rate = 0; // the same in all (0: unlimited)
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::session
