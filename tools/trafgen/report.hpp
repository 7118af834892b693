#pragma once

// The result of one run, as numbers (for JSON and the comparison harness) and as a table row.
// Rates use the measured phase's duration; Gbps counts frame bytes from the Ethernet header to
// the end of the payload/padding (no preamble, inter-frame gap or FCS); loss is the share of
// offered frames without an answer after the drain.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "profile.hpp"

namespace peregrine::trafgen {

struct result {
    std::string label, profile, mode, setup;
    bool setup_ok = true;
    uint32_t clients = 0;
    double target_pps = 0;  // 0: max
    unsigned payload_min = 0, payload_max = 0;
    double seconds = 0;
    uint64_t offered = 0, answered = 0, rx_other = 0;
    double offered_mpps = 0, answered_mpps = 0, offered_gbps = 0, answered_gbps = 0;
    double loss = 0;  // fraction in [0, 1]
    uint64_t lat_count = 0;
    double lat_min_ns = 0, lat_p50_ns = 0, lat_p99_ns = 0, lat_p999_ns = 0, lat_max_ns = 0, lat_mean_ns = 0;
    std::vector<std::pair<std::string, uint64_t>> counters;
};

result make_result(const traffic_stats& s, double seconds, double tsc_hz);

std::string table_header();
std::string table_row(const result& r);
std::string to_text(const result& r);  // header, row, then counters
std::string to_json(const result& r);

} // namespace peregrine::trafgen
