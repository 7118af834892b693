#pragma once

// The daemon's application options (after the EAL's "--"), in l3fwd's style: the core's own
// (ports, queues, addresses, exception path, cores, observability) and one section per module,
// each declared in its module's folder (lib/<module>/options.hpp). Parsing is pure: it checks
// syntax and ranges and never touches a device, so a bad value is refused before any port
// starts; checks that need the EAL (lcores enabled, ports present) come with the plan
// (engine/plan.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "engine/options.hpp"
#include "cluster/options.hpp"
#include "engine/plan.hpp"
#include "inspect/options.hpp"
#include "lb/options.hpp"
#include "lekt/options.hpp"
#include "router/options.hpp"
#include "rudp/options.hpp"
#include "session/options.hpp"

namespace peregrine {

using engine::queue_map;

struct port_address {
    uint16_t port;
    uint32_t ip_be;
    uint8_t prefix_len;
    bool operator==(const port_address&) const = default;
};

struct options {
    uint64_t portmask = 0;                 // 0: every port the EAL probed
    std::vector<queue_map> config;         // empty: queue 0 of each port on the first worker lcore
    std::vector<port_address> addrs;
    uint32_t stats_interval_s = 0;         // 0: no periodic stats line
    uint32_t idle_sleep_us = 0;            // 0: busy-poll (dedicated cores)
    // The control lcore's sleep ceiling: it carries the slow path only, so by default it sleeps
    // when idle and gives its core back (a busy-polling one halved a 2-core host's fast path).
    uint32_t control_sleep_us = 1000;
    // The resume latency in us the sleeping control lcore's CPU may cost (engine/resume_latency.hpp);
    // 0, the default, keeps that CPU's idle in the kernel's polling loop; -1: leave the CPU alone.
    int32_t control_resume_latency_us = 0;
    std::string tap_name = "pgx%u";        // %u is replaced by the port id
    bool no_tap = false;
    bool tap_rx_signal = false;            // net_tap's per-frame signal (default: polling)
    // TCP connection attempts to the engine, per source address and in all, per second (0:
    // unlimited): what reaches the kernel's listeners (LEKT) through the exception path.
    uint32_t syn_rate = 1000;
    uint32_t syn_global_rate = 0;
    uint32_t mbufs = 0;                    // 0: sized from ports, queues and descriptors
    bool help = false;
    // The modules' own.
    router::options router;
    lb::options lb;
    session::options session;
    rudp::options rudp;
    lekt::options lekt;
    cluster::options cluster;
    inspect::options inspect;
    bool operator==(const options&) const = default;
};

// Parses argv (argv[0] is the program name). On error returns false with *err set to a message
// naming the option and the accepted range.
bool parse_options(int argc, char** argv, options* o, std::string* err);

std::string usage(const char* prog);

// Every section of --help (the core's and the modules'), applying to *o.
std::vector<engine::option_section> option_sections(options* o);

// Parses "(port,queue,lcore)[,(port,queue,lcore)...]".
bool parse_config(const std::string& s, std::vector<queue_map>* out, std::string* err);

// Parses "PORT:A.B.C.D/PREFIX".
bool parse_addr(const std::string& s, port_address* out, std::string* err);

} // namespace peregrine
