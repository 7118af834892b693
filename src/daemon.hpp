#pragma once

// The running daemon: its state, shared by the start-up stages, the control loop and the
// telemetry callbacks, and the stages src/main.cpp runs in order.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/stats.hpp"
#include "engine/context.hpp"
#include "engine/control.hpp"
#include "engine/plan.hpp"
#include "engine/service.hpp"
#include "engine/worker.hpp"
#include "options.hpp"

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
    std::mutex telemetry_mu;                   // serialises telemetry against tear-down
    engine::telemetry_env tel;
    std::vector<std::unique_ptr<engine::service>> services;  // the modules that run, in order
    source_limiter syn_limit;                  // --syn-rate (ctx.syn_limit points here when set)
};

using engine::plan;

[[noreturn]] void die(const std::string& msg);

// Application options are checked before the EAL starts, so a bad value costs nothing.
// Returns argc for rte_eal_init (the arguments before "--").
int parse_app_options(int argc, char** argv, options* o);
void app_usage_hook(const char* prog);
void init_log();                                  // after rte_eal_init
void select_ports(app& a);
plan make_plan(app& a);
void create_memory(app& a, const plan& pl);       // mbufs, the RCU variable, counters
void read_port_addrs(app& a);
void start_taps(app& a);                          // before any port starts: a TAP can be refused
void start_ports(app& a, const plan& pl);
std::vector<engine::control::worker_rings> create_workers(app& a, const plan& pl);
void start_services(app& a, const plan& pl);      // every module that is on (src/modules.cpp)
void start_telemetry(app& a);                     // telemetry, pdump, signals
void launch(app& a);                              // the workers; "peregrine: ready"
void run(app& a, engine::control& ctl);           // the control loop, until SIGINT/SIGTERM
void shutdown(app& a, const std::vector<engine::control::worker_rings>& rings);

// The core's /peregrine/... telemetry commands (the modules register their own).
void telemetry_init(app* a);

} // namespace peregrine
