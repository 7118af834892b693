#pragma once

// Application options (after the EAL's "--"), in l3fwd's style. Parsing is pure: it checks
// syntax and ranges and never touches a device, so a bad value is refused before any port
// starts; checks that need the EAL (lcores enabled, ports present) are in validate().

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine {

struct queue_map {
    uint16_t port;
    uint16_t queue;
    unsigned lcore;
};

struct port_address {
    uint16_t port;
    uint32_t ip_be;
    uint8_t prefix_len;
};

struct options {
    uint64_t portmask = 0;                 // 0: every port the EAL probed
    std::vector<queue_map> config;         // empty: queue 0 of each port on the first worker lcore
    std::vector<port_address> addrs;
    uint16_t router_port = 7100;
    // Reserved for the later protocols so deployments can open firewalls today.
    uint16_t lb_port = 7200;
    uint16_t session_port = 7300;
    uint16_t rudp_port = 7400;
    uint16_t lekt_port = 7500;
    uint32_t heartbeat_timeout_s = 90;     // 3 missed 30 s heartbeats
    bool lb_least_loaded = false;          // --lb-policy least-loaded (default maglev)
    uint32_t lb_expiry_s = 120;            // NOTES.md: the origin's registration lifetime
    bool lb_answer_no_node = false;        // 0.0.0.0:0 when no node is live (origin: silence)
    uint32_t max_clients = 1u << 20;
    // Session protocol (docs/protocols/session.md).
    std::string session_app = "echo";      // what DATA payloads are delivered to: echo | discard
    std::string session_key_file;          // keyed mode (HMAC-SHA-256) with this pre-shared key
    uint32_t max_sessions = 1u << 20;
    uint32_t session_timeout_s = 30;       // three missed 10 s pings
    uint32_t session_hello_window_s = 30;  // HELLO timestamp vs our clock
    uint32_t stats_interval_s = 0;         // 0: no periodic stats line
    uint32_t idle_sleep_us = 0;            // 0: busy-poll (dedicated cores)
    std::string tap_name = "pgx%u";        // %u is replaced by the port id
    bool no_tap = false;
    bool tap_rx_signal = false;            // net_tap's per-frame signal (default: polling)
    uint32_t mbufs = 0;                    // 0: sized from ports, queues and descriptors
    bool help = false;
    // LEKT rendezvous (TCP, served by the control lcore through the exception path).
    bool no_lekt = false;
    bool no_lb = false;                    // the load balancer's port goes to the kernel
    bool no_session = false;               // the session protocol's port goes to the kernel
    uint32_t lekt_max_clients = 16384;
    uint32_t lekt_max_per_ip = 64;          // a NAT of a small office, not a whole carrier
    uint32_t lekt_heartbeat_timeout_s = 15; // clients heartbeat every few seconds
    uint32_t lekt_handshake_timeout_s = 5;  // handshake + setup, and finishing any partial packet
};

// Parses argv (argv[0] is the program name). On error returns false with *err set to a message
// naming the option and the accepted range.
bool parse_options(int argc, char** argv, options* o, std::string* err);

std::string usage(const char* prog);

// Parses "(port,queue,lcore)[,(port,queue,lcore)...]".
bool parse_config(const std::string& s, std::vector<queue_map>* out, std::string* err);

// Parses "PORT:A.B.C.D/PREFIX".
bool parse_addr(const std::string& s, port_address* out, std::string* err);

} // namespace peregrine
