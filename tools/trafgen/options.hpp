#pragma once

// peregrine-trafgen options (after the EAL's "--"). Parsing is pure (no EAL, no devices) so it is
// unit-tested; what needs the port (its MAC) is filled in by main.cpp.

#include <cstdint>
#include <string>

#include "lb_profile.hpp"
#include "router_profile.hpp"
#include "rudp_profile.hpp"
#include "session_profile.hpp"

namespace peregrine::trafgen {

struct gen_options {
    std::string profile = "router";
    uint16_t port = 0;
    router_config router;              // every profile's addressing, clients, payload, timing
    lb_config lb;                      // --profile lb: its own fields (common is copied from router)
    session_config session;            // --profile session: likewise
    rudp_config rudp;                  // --profile rudp: likewise
    bool dst_mac_set = false;          // else resolved by ARP for the engine's address
    bool src_mac_set = false;          // else the port's MAC
    double rate = 0;                   // frames per second in the measure phase; 0: as fast as TX takes them
    double duration = 5;               // seconds of measure phase
    uint64_t count = 0;                // stop after this many frames (0: duration only)
    uint32_t drain_ms = 300;           // receive-only time after the last frame
    double interval = 0;               // print a progress line every S seconds (0: never)
    std::string json_path;             // "-": stdout
    std::string label;                 // free text copied into the report (e.g. "peregrine")
    std::string pcap_out;              // write measure-phase traffic here instead of sending
    std::string pcap_register;         // and the setup-phase frames (Register Client) here
    uint64_t pcap_count = 100000;      // frames in pcap_out
    bool help = false;
};

// Parses argv (argv[0] the program name). false with *err naming the option on error.
bool parse_options(int argc, char** argv, gen_options* o, std::string* err);
std::string usage(const char* prog);

// "12", "2.5M", "100k" (SI: k = 1e3, M = 1e6, G = 1e9). false if not a non-negative number.
bool parse_rate(const std::string& s, double* out);
bool parse_mac(const std::string& s, rte_ether_addr* out);

} // namespace peregrine::trafgen
