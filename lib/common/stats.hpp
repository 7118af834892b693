#pragma once

// Per-lcore counters. Each lcore (workers and the control lcore) owns one cache-line-aligned
// block and is its only writer (plain increments, no atomics); telemetry sums all blocks with
// relaxed loads. Every packet a worker receives is counted once in rx_packets and ends in one
// of: tx, to_exception, to_control or a drop reason. Frames the control lcore hands a worker
// to send (kernel output, registration replies) are counted in that worker's tx_packets too,
// so over the whole engine: rx_packets + kernel_out == tx_packets + kernel_in + drops, once
// the rings are empty.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/compiler.hpp"
#include "common/module_counters.hpp"

namespace peregrine {

// X(name, description). Names are the telemetry keys: keep them stable. The core's reasons,
// then each module's (declared in lib/<module>/counters.hpp).
#define PG_DROP_REASONS(X)                                                                  \
    X(eth_short, "frame shorter than an Ethernet header")                                  \
    X(l2_other_host, "unicast frame for another MAC address")                              \
    X(ipv4_short, "frame too short for the IPv4 header")                                   \
    X(ipv4_bad_version, "IPv4 ethertype with IP version other than 4")                    \
    X(ipv4_bad_len, "IPv4 total length inconsistent with the header or the frame")        \
    X(ipv4_bad_cksum, "IPv4 header checksum wrong")                                        \
    X(ipv4_ttl_zero, "IPv4 TTL of 0")                                                      \
    X(udp_short, "IPv4 payload too short for a UDP header")                                \
    X(udp_bad_len, "UDP length inconsistent with the IPv4 total length")                   \
    X(udp_bad_cksum, "UDP checksum wrong")                                                 \
    X(multi_seg, "protocol packet split over several mbufs")                               \
    X(syn_rate_limited, "TCP connection attempt (SYN) to the engine over --syn-rate for its source or --syn-global-rate") \
    X(control_ring_full, "frame for a module's control half could not be handed to the control lcore") \
    X(exception_ring_full, "exception packet could not be handed to the control lcore")    \
    X(exception_no_tap, "exception packet for a port without a TAP")                       \
    X(tx_full, "TX queue full")                                                            \
    X(tap_full, "TAP (kernel) refused an exception packet")                                \
    X(tx_ring_full, "frame from the control lcore could not be handed to a worker")        \
    PG_MODULE_DROP_REASONS(X)

enum class drop : uint16_t {
#define PG_X(name, desc) name,
    PG_DROP_REASONS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned drop_count = static_cast<unsigned>(drop::count_);

// Exception-path reasons: not drops, the kernel gets these.
#define PG_EXCEPTION_REASONS(X)                                                             \
    X(arp, "ARP")                                                                          \
    X(ipv6, "IPv6")                                                                        \
    X(other_ethertype, "other ethertype (VLAN, LLDP, ...)")                                \
    X(l2_multicast, "IPv4 to a broadcast or multicast MAC")                                \
    X(not_our_ip, "IPv4 to an address the fast path does not own")                       \
    X(ipv4_options, "IPv4 with options")                                                   \
    X(ipv4_fragment, "IPv4 fragment")                                                      \
    X(icmp, "ICMP")                                                                        \
    X(tcp, "TCP")                                                                          \
    X(udp_other_port, "UDP to a port no fast-path protocol owns")                         \
    X(other_ip_proto, "other IP protocol")

enum class exc : uint16_t {
#define PG_X(name, desc) name,
    PG_EXCEPTION_REASONS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned exc_count = static_cast<unsigned>(exc::count_);

// Each module's outcome counters, one enum and one array of lcore_stats per module.
#define PG_X(name, desc) name,
#define PG_COUNTER_ENUM(field, type, LIST)                                                  \
    enum class type : uint16_t { LIST(PG_X) count_ };                                      \
    static constexpr unsigned type##_count = static_cast<unsigned>(type::count_);
PG_MODULE_COUNTERS(PG_COUNTER_ENUM)
#undef PG_COUNTER_ENUM
#undef PG_X

struct alignas(cache_line) lcore_stats {
    uint64_t rx_packets;
    uint64_t rx_bursts;
    uint64_t tx_packets;
    uint64_t to_exception;
    uint64_t to_control;
    uint64_t busy_cycles;  // cycles spent in bursts that carried packets
    uint64_t idle_polls;
    uint64_t idle_sleep_us;  // microseconds slept by --idle-sleep (control lcore: --control-sleep)
    uint64_t sleeps;         // control lcore: sleeps on its file descriptors
    uint64_t sleeps_woken;   // control lcore: of those, ended by work rather than the timeout
    uint64_t doorbells;      // workers: eventfd writes that woke the sleeping control lcore
    uint64_t kernel_in;    // control lcore: frames written to a TAP (to the kernel)
    uint64_t kernel_out;   // control lcore: frames the kernel wrote to a TAP, sent on the wire
    std::array<uint64_t, drop_count> drops;
    std::array<uint64_t, exc_count> exceptions;
#define PG_COUNTER_ARRAY(field, type, LIST)                                                 \
    std::array<uint64_t, type##_count> field;                                              \
    void count(type c, uint64_t n = 1) { field[static_cast<unsigned>(c)] += n; }
    PG_MODULE_COUNTERS(PG_COUNTER_ARRAY)
#undef PG_COUNTER_ARRAY

    void count(drop d) { ++drops[static_cast<unsigned>(d)]; }
    void count(exc e) { ++exceptions[static_cast<unsigned>(e)]; }
    uint64_t drop_total() const;
};

// A snapshot summed over several lcores; reads are relaxed (counters may be mid-update).
lcore_stats stats_sum(const lcore_stats* blocks, unsigned n);

std::string_view drop_name(unsigned i);
std::string_view drop_desc(unsigned i);
std::string_view exc_name(unsigned i);
#define PG_COUNTER_NAME(field, type, LIST) std::string_view type##_name(unsigned i);
PG_MODULE_COUNTERS(PG_COUNTER_NAME)
#undef PG_COUNTER_NAME

} // namespace peregrine
