#pragma once

// The cluster module's options (a section of --help): the router as a serving node of a
// Controlling Function (docs/cluster.md).

#include <cstdint>

#include "engine/options.hpp"

namespace peregrine::cluster {

struct options {
    uint32_t server_ip_be = 0;     // --lb-server: 0 means the module is off
    uint16_t server_port_be = 0;
    uint32_t advertise_ip_be = 0;  // --lb-advertise: 0 means the port's address and the router's port
    uint16_t advertise_port_be = 0;
    uint32_t next_hop_be = 0;      // --lb-next-hop: the gateway when the server is not on-link
    uint32_t group = 0;            // --lb-group: the Group ID of the reports
    uint16_t port = 7201;          // --cluster-port: where the Controlling Function's messages arrive
    uint32_t report_rate = 2000;   // --lb-report-rate: reports per second
    uint32_t report_queue = 1u << 20;  // --lb-report-queue: reports waiting at most
    uint32_t reregister_s = 60;    // --lb-reregister: NOTES.md, the origin's interval
    uint32_t cache_entries = 1u << 20;  // --cluster-cache: the location cache (8 bytes each)
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

} // namespace peregrine::cluster
