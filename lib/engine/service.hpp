#pragma once

// A protocol as the daemon starts it: each module's folder has a service (lib/<module>/
// service.hpp) that builds the module's state from its options, plugs its engine::module into
// the context, registers its telemetry commands under /peregrine/<module>, and owns all of it
// until shutdown. The daemon knows services only through this interface and its list of
// modules (src/modules.cpp).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_mempool.h>

#include "engine/context.hpp"
#include "engine/telemetry.hpp"

namespace peregrine::engine {

// What a service gets from the daemon at start, after the EAL and before the workers.
struct env {
    context* ctx = nullptr;
    rte_mempool* pool = nullptr;      // the engine's mbufs
    int socket = 0;
    std::vector<unsigned> lcores;     // every lcore that runs engine code: the main one first
    bool exception_path = false;      // the ports have TAPs (the kernel serves our addresses)
    std::vector<uint32_t> addrs_be;   // the engine's IPv4 addresses
};

class service {
public:
    virtual ~service() = default;
    // The start-up log line ("load balancer on UDP 7200, policy maglev, ...").
    virtual std::string describe() const = 0;
    // Its part of the --stats-interval line, from the summed counters ("" for none).
    virtual std::string status(const lcore_stats& s) const
    {
        (void)s;
        return "";
    }
};

// The last step of every module's start(): plugs the service's module m into e.ctx and points
// the module's telemetry at it; nullptr (and *err) when the context refuses the module.
template <typename Service>
std::unique_ptr<service> plug(std::unique_ptr<Service> svc, module& m, const env& e, telemetry_slot<Service>& tel,
                              std::string* err)
{
    if (!e.ctx->add(&m, err))
        return nullptr;
    tel.svc = svc.get();
    return svc;
}

// Each module's telemetry and start, by convention (the daemon's list of modules calls them):
//   void <module>::register_telemetry(const engine::telemetry_env*);  // once, after the EAL
//   std::unique_ptr<engine::service> <module>::start(const <module>::options&, const engine::env&,
//                                                    std::string* err, std::string* note);
// nullptr with *err set: it cannot start and the daemon stops; nullptr with *err empty: it
// stays off (*note says why, if it is worth a log line).

} // namespace peregrine::engine
