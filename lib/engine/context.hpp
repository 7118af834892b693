#pragma once

// What every lcore of one running engine shares: read-mostly, set up before the workers start.
// The protocols are in it only as modules (engine/module.hpp).

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include <rte_rcu_qsbr.h>

#include "common/compiler.hpp"
#include "common/gcra.hpp"
#include "engine/module.hpp"
#include "engine/inspection.hpp"
#include "engine/wake.hpp"
#include "net/classify.hpp"

namespace peregrine::engine {

static constexpr uint16_t no_port = UINT16_MAX;

struct context {
    net::port_addr ports[RTE_MAX_ETHPORTS];  // indexed by ethdev port id
    uint16_t tap_of[RTE_MAX_ETHPORTS];       // exception TAP ethdev of each port, or no_port
    // The workers' QSBR variable (reader i: worker i, then telemetry): every RCU-protected
    // structure of every module defers its frees on it, and each worker reports once a loop.
    rte_rcu_qsbr* rcu = nullptr;
    module* modules[max_modules] = {};
    // Payload inspection (lib/inspect), set before the modules start when it is configured:
    // each module that inspects asks it for its point.
    inspection* inspect = nullptr;
    // TCP connection attempts (SYN without ACK) to the engine's address, which the exception
    // path hands to the kernel's listeners: limited per source and in all before the exception
    // ring, so a SYN flood from a few sources cannot fill it (--syn-rate). nullptr: unlimited.
    source_limiter* syn_limit = nullptr;
    bool staged[max_modules] = {};  // modules[i]->has_stage(), read without a virtual call
    unsigned n_modules = 0;
    // Module index by UDP destination port (host order), or no_module: that port's datagrams
    // go to the kernel. 64 KiB, of which a burst touches the lines of its few ports.
    uint8_t udp_module[65536];
    std::atomic<bool> quit{false};
    // The sleeping control lcore's doorbell, rung by workers that hand it frames.
    control_wake wake;

    context()
    {
        for (auto& t : tap_of)
            t = no_port;
        std::memset(udp_module, no_module, sizeof(udp_module));
    }

    // Plugs m in and claims its UDP ports. Refused (false, *err says why) when a port is taken
    // or max_modules are in. Call after rte_eal_init (it registers the module dynfield), before
    // the workers start.
    bool add(module* m, std::string* err = nullptr);
    // The module named name, or nullptr.
    module* find(const char* name) const;
};

} // namespace peregrine::engine
