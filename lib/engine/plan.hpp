#pragma once

// The start-up plan, decided before any port starts: which RX queues each port has and which
// worker lcore polls each, checked against the lcores the EAL gave; and how many mbufs that
// takes. Pure functions of their arguments, so that unit tests reach them without an EAL.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/worker.hpp"

namespace peregrine::engine {

// One --config tuple: RX queue `queue` of `port` is polled by `lcore`.
struct queue_map {
    uint16_t port;
    uint16_t queue;
    unsigned lcore;
    bool operator==(const queue_map&) const = default;
};

struct plan {
    std::vector<queue_map> config;                        // as given, or the default
    std::map<uint16_t, uint16_t> n_rxq;                   // by port
    std::map<unsigned, std::vector<rx_queue>> rx_of_lcore;  // by worker lcore
    unsigned n_workers() const { return static_cast<unsigned>(rx_of_lcore.size()); }
};

// Rings between workers and the control lcore: a few bursts of headroom for the rare packets
// that take these paths. The exception ring is larger: a kernel TCP service (LEKT) with
// thousands of clients sends it tens of thousands of segments a second, and a busy control
// iteration (a LEKT poll full of socket syscalls) can hold its drain for a millisecond or more.
static constexpr unsigned exception_ring_size = 4096;
static constexpr unsigned control_ring_size = 1024;
static constexpr unsigned tx_ring_size = 1024;
// Per-lcore mempool cache: DPDK's recommended ceiling, keeps frees off the shared ring.
static constexpr unsigned mempool_cache = 256;
// RX/TX descriptors per queue (drivers/port) and per TAP.
static constexpr unsigned ring_descriptors = 1024;

// ports: the ports driven; config: the --config tuples (empty: queue 0 of every port on the
// first enabled lcore after the main one); enabled: the EAL's lcores, main included. Refuses
// (false, *err says why) a tuple naming a port not driven, an lcore not enabled or the main
// lcore, queues of a port not numbered 0..n-1, a port without a queue, too many workers, or a
// worker with more RX queues than it can poll.
bool make_plan(const std::vector<uint16_t>& ports, const std::vector<queue_map>& config, unsigned main_lcore,
               const std::vector<unsigned>& enabled, plan* out, std::string* err);

// mbufs for every descriptor and ring slot full at once, plus the lcore caches (at least 8192).
uint32_t mbufs_needed(const plan& p, bool with_taps);

} // namespace peregrine::engine
