#pragma once

// A worker lcore: polls its RX queues, runs each burst through the burst_pipeline (two bursts
// in flight: stage_burst, then finish_burst one burst later), and sends the results: TX on its
// own queue of each port, exception packets and the modules' control frames to the control
// lcore through single-producer rings. It also transmits, on its queue, the frames the control
// lcore hands back (kernel output, the modules' replies and what they originate): the control lcore owns
// no TX queue, so the engine works on PMDs that need as many TX as RX queues (net_tap) or
// have few queues. No allocation, lock, syscall or log here (the one exception: with
// --idle-sleep, a worker that has found nothing to do for a while sleeps; see engine/idle.hpp).

#include <cstdint>

#include <rte_ring.h>

#include "common/stats.hpp"
#include "engine/context.hpp"

namespace peregrine::engine {

struct rx_queue {
    uint16_t port;
    uint16_t queue;
};

struct alignas(cache_line) worker_conf {
    context* ctx = nullptr;
    unsigned index = 0;        // RCU reader id and stats slot
    unsigned lcore = 0;
    lcore_stats* stats = nullptr;
    rx_queue rx[max_ports * 4];
    unsigned n_rx = 0;
    uint16_t txq = 0;          // this worker's TX queue id on every port
    rte_ring* exc_ring = nullptr;  // SP/SC, to the control lcore
    rte_ring* ctl_ring = nullptr;  // SP/SC, to the control lcore
    rte_ring* tx_ring = nullptr;   // SP/SC, from the control lcore: frames it sends through us
    uint32_t idle_sleep_us = 0;    // --idle-sleep ceiling; 0 busy-polls (engine/idle.hpp)
};

// rte_eal_remote_launch entry point; arg is a worker_conf*.
int worker_main(void* arg);

} // namespace peregrine::engine
