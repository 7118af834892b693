#pragma once

// What every lcore of one running engine shares: read-mostly, set up before the workers start.

#include <atomic>
#include <cstdint>

#include <rte_ring.h>

#include "common/compiler.hpp"
#include "common/stats.hpp"
#include "lb/pipeline.hpp"
#include "net/classify.hpp"
#include "router/pipeline.hpp"
#include "router/registry.hpp"
#include "session/pipeline.hpp"
#include "session/table.hpp"

namespace peregrine::lb {
class state;
}

namespace peregrine::engine {

static constexpr uint16_t no_port = UINT16_MAX;

struct context {
    net::port_addr ports[RTE_MAX_ETHPORTS];  // indexed by ethdev port id
    uint16_t tap_of[RTE_MAX_ETHPORTS];       // exception TAP ethdev of each port, or no_port
    router::config router;
    router::registry* registry = nullptr;
    session::config session;
    session::table* sessions = nullptr;      // nullptr: no session protocol (its port is the kernel's)
    lb::config lb;                    // load-balancer protocol (lb.enabled: served at all)
    lb::state* lb_state = nullptr;    // its state; the control lcore's alone
    std::atomic<bool> quit{false};
};

} // namespace peregrine::engine
