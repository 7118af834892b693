#pragma once

// The control lcore's share of the data plane, one poll() per loop iteration:
//  - exception packets from the workers' rings go to their port's TAP (the kernel);
//  - frames the kernel writes to a TAP go out of its port through a worker's TX ring;
//  - frames the workers hand over (action::control: state writes such as the router's Register
//    Client) go to the control half of the module they are tagged with (engine::module_of);
//    its replies go back through the TX ring of the worker that received them, so a client
//    that holds an answer is already visible to every worker, and what it originates goes out
//    through the worker of its port;
//  - every module's housekeeping tick at 1 kHz (expiry, retransmission, RCU reclaim), and its
//    poll on every iteration.

#include <cstdint>
#include <functional>
#include <vector>

#include <rte_ring.h>

#include "common/stats.hpp"
#include "engine/context.hpp"

namespace peregrine::engine {

class control {
public:
    struct worker_rings {
        rte_ring* exc;
        rte_ring* ctl;
        rte_ring* tx;   // frames the worker transmits for us; mbuf->port says where
    };

    // ports: the physical ports; rings: one set per worker (at least one).
    control(context& ctx, lcore_stats& st, std::vector<uint16_t> ports, std::vector<worker_rings> rings);

    ~control();
    control(const control&) = delete;
    control& operator=(const control&) = delete;

    // One iteration; now is rte_rdtsc(). Returns true when it moved any packet or a module's
    // poll did any work.
    bool poll(uint64_t now);

    struct slept {
        uint32_t us;  // how long
        bool woken;   // by work (a TAP frame, a socket, a worker's frames), not the timeout
    };
    // Sleeps until there is work or max_us have passed (engine/wake.hpp); returns at once when
    // a ring already holds frames. When some source of work has no file descriptor to wait on
    // (a TAP without RX interrupts), no longer than fallback_sleep_us.
    slept sleep(uint32_t max_us);
    // Every source of work can wake a sleep: no TAP, module or ring is left to the timeout.
    bool wakes_on_all() const { return wakes_on_all_; }

    // The longest sleep when some source of work cannot wake it: the old timed-sleep default.
    static constexpr uint32_t fallback_sleep_us = 100;

private:
    // Queues frames (mbuf->port set) for transmission by worker w.
    void send(unsigned w, rte_mbuf** m, unsigned n);
    bool drain_exceptions();
    bool drain_taps();
    bool drain_control(uint64_t now);
    void housekeeping(uint64_t now);
    void flush_sent();  // what the modules originated, through the worker of each port
    bool rings_empty() const;
    bool watch(int fd);


    context& ctx_;
    lcore_stats& st_;
    std::vector<uint16_t> ports_;
    std::vector<worker_rings> rings_;
    control_io io_;
    net::neigh_table neigh_;
    uint64_t next_tick_ = 0;
    uint64_t tick_tsc_;
    uint64_t last_tick_ = 0;  // TSC of the last housekeeping
    int ep_ = -1;             // epoll set of the TAPs, the modules' fds and the wake eventfd
    int efd_ = -1;            // the eventfd the workers write (context::wake)
    bool wakes_on_all_ = false;
};

// The control lcore's loop: ctl.poll() every iteration; after a run of empty polls,
// ctl.sleep(max_sleep_us) (0: busy-poll with a pause); the caller's periodic work (the daemon's
// stats line and link state) on every iteration, cheap when nothing is due; until stop() says
// so. What it slept feeds st.idle_sleep_us and st.wakeups.
void run_control(control& ctl, lcore_stats& st, uint32_t max_sleep_us, const std::function<bool()>& stop,
                 const std::function<void(uint64_t now)>& periodic);

} // namespace peregrine::engine
