#pragma once

// The running daemon's state, shared by main, the control loop and the telemetry callbacks.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/stats.hpp"
#include "crypto/sha256.hpp"
#include "engine/context.hpp"
#include "engine/worker.hpp"
#include "lb/module.hpp"
#include "lekt/module.hpp"
#include "lekt/server.hpp"
#include "options.hpp"
#include "router/module.hpp"
#include "session/module.hpp"

namespace peregrine {

struct app {
    options opt;
    engine::context ctx;
    std::vector<uint16_t> ports;               // physical ports driven
    std::vector<std::string> tap_names;        // by index in ports
    std::vector<engine::worker_conf*> workers;
    lcore_stats* stats = nullptr;              // workers.size() + 1 blocks; the last is control
    unsigned n_stats = 0;
    rte_mempool* pool = nullptr;
    uint64_t start_tsc = 0;
    unsigned telemetry_reader = 0;             // RCU reader id of telemetry lookups
    std::mutex telemetry_mu;                   // serialises telemetry's RCU reader id
    // Session protocol: one multi-buffer SHA-256 manager per lcore (workers and control), the
    // application, and the keyed mode's key.
    std::vector<std::unique_ptr<crypto::mb_context>> session_mb;
    std::unique_ptr<session::application> session_app;
    crypto::hmac_key session_key{};
    std::unique_ptr<lekt::server> lekt;        // null with --no-lekt or --no-tap
    // The protocols' state, and the modules that plug them into ctx (null when off).
    router::config router_cfg;
    router::registry* registry = nullptr;
    session::config session_cfg;
    session::table* sessions = nullptr;
    lb::config lb_cfg;
    lb::state* lb_state = nullptr;
    std::unique_ptr<router::module> router_mod;
    std::unique_ptr<lb::module> lb_mod;
    std::unique_ptr<session::module> session_mod;
    std::unique_ptr<lekt::module> lekt_mod;
};

// Registers the /peregrine/... telemetry commands. Call after the registry exists.
void telemetry_init(app* a);

} // namespace peregrine
