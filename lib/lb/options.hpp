#pragma once

// The load-balancer module's options (a section of --help).

#include <cstdint>

#include "engine/options.hpp"

namespace peregrine::lb {

struct options {
    bool off = false;             // --no-lb: the port goes to the kernel
    uint16_t port = 7200;
    unsigned policy = 0;          // 0 maglev, 1 least-loaded (the order of --lb-policy's choices)
    uint32_t expiry_s = 120;      // NOTES.md: the origin's registration lifetime
    uint32_t probe_s = 10;        // a serving node not heard from this long is asked for an Ack
    bool answer_no_node = false;  // 0.0.0.0:0 when no node is live (the origin: silence)
    bool answer_unvalidated = false;  // Request Serving Node answered at once from any source
    uint32_t control_rate = 10000;     // datagrams per second per source to the control lcore
    uint32_t control_global_rate = 0; // the same in all (0: unlimited)
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::lb
