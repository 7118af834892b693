#pragma once

// Rate limits as GCRA (the generic cell rate algorithm, ITU-T I.371; a token bucket kept as one
// "theoretical arrival time"): one 64-bit word per bucket, updated by a compare-and-swap, so any
// number of worker lcores share a bucket without a lock and without losing a token.
//
// source_limiter: a global bucket and per-source buckets in a fixed array indexed by a hash of
// the source address. Sources that collide share a bucket, which only makes their limit
// stricter; the array never grows, so a flood of sources costs no memory.

#include <atomic>
#include <cstdint>
#include <memory>

#include <rte_cycles.h>

namespace peregrine {

class gcra {
public:
    gcra() = default;
    // rate events per second (0: unlimited), bursts of up to `burst` at once, on a clock of hz.
    void init(uint64_t rate, uint64_t burst, uint64_t hz)
    {
        interval_ = rate ? hz / rate : 0;
        if (rate && !interval_)
            interval_ = 1;
        tolerance_ = interval_ * (burst ? burst - 1 : 0);
    }
    bool unlimited() const { return interval_ == 0; }

    // Takes one event at time now (same clock): false if over the rate.
    bool allow(std::atomic<uint64_t>& tat, uint64_t now) const
    {
        if (!interval_)
            return true;
        uint64_t t = tat.load(std::memory_order_relaxed);
        for (;;) {
            const uint64_t base = t > now ? t : now;
            if (base - now > tolerance_)
                return false;
            if (tat.compare_exchange_weak(t, base + interval_, std::memory_order_relaxed))
                return true;
        }
    }

private:
    uint64_t interval_ = 0;
    uint64_t tolerance_ = 0;
};

class source_limiter {
public:
    // n_buckets is rounded up to a power of two.
    void init(uint64_t per_source_rate, uint64_t per_source_burst, uint64_t global_rate, uint64_t global_burst,
              uint64_t hz, uint32_t n_buckets = 4096)
    {
        uint32_t n = 1;
        while (n < n_buckets)
            n <<= 1;
        mask_ = n - 1;
        buckets_ = std::make_unique<std::atomic<uint64_t>[]>(n);
        for (uint32_t i = 0; i < n; ++i)
            buckets_[i].store(0, std::memory_order_relaxed);
        per_source_.init(per_source_rate, per_source_burst, hz);
        global_.init(global_rate, global_burst, hz);
    }

    enum class verdict : uint8_t { ok, source, global };

    // The source's bucket first: a flooding source does not use up the global budget.
    verdict allow(uint32_t src, uint64_t now)
    {
        if (!buckets_)
            return verdict::ok;
        // Fibonacci hashing: the top bits of src * 2^32/phi spread neighbouring addresses.
        const uint32_t i = static_cast<uint32_t>((uint64_t(src) * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
        if (!per_source_.allow(buckets_[i], now))
            return verdict::source;
        if (!global_.allow(global_tat_, now))
            return verdict::global;
        return verdict::ok;
    }

    // A worker's check: true when there is no limit (l is nullptr) or src is within it. *now is
    // the TSC, read here on first use (0: not read yet), so a burst reads it once, and only if
    // it has something to limit.
    static bool admits(source_limiter* l, uint32_t src, uint64_t* now)
    {
        if (!l)
            return true;
        if (!*now)
            *now = rte_rdtsc();
        return l->allow(src, *now) == verdict::ok;
    }

private:
    gcra per_source_, global_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
    std::atomic<uint64_t> global_tat_{0};
    uint32_t mask_ = 0;
};

} // namespace peregrine
