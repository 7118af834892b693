#pragma once

// Adaptive idle sleep for poll loops on shared cores (--idle-sleep): after a run of empty
// polls the loop sleeps, 1 us first and twice as long each further empty round, up to the
// configured ceiling; the first packet resets it. With a ceiling of 0 (the default) the loop
// busy-polls, as a DPDK lcore on a dedicated core should. A sleep is a syscall, so it is only
// taken when there is no packet to process; the cost is up to one ceiling of extra latency for
// the first packet after a quiet spell. Same idea as DPDK/grout's datapath sleep.

#include <algorithm>
#include <cstdint>

#include <rte_cycles.h>

namespace peregrine::engine {

class idle_backoff {
public:
    // Empty polls before the first sleep: a burst that is merely late does not pay a syscall.
    static constexpr unsigned spins_before_sleep = 256;

    explicit idle_backoff(uint32_t max_sleep_us = 0) : max_us_(max_sleep_us) {}

    void busy()
    {
        empty_ = 0;
        next_us_ = 1;
    }

    // Called after an empty poll; returns the microseconds slept (0: none).
    uint32_t idle()
    {
        if (max_us_ == 0 || ++empty_ < spins_before_sleep)
            return 0;
        const uint32_t us = next_us_;
        next_us_ = std::min(next_us_ * 2, max_us_);
        rte_delay_us_sleep(us);
        return us;
    }

    uint32_t max_sleep_us() const { return max_us_; }

private:
    uint32_t max_us_;
    uint32_t next_us_ = 1;
    unsigned empty_ = 0;
};

} // namespace peregrine::engine
