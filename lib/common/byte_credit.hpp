#pragma once

// Anti-amplification budget per source address: what a source has sent minus what it has been
// sent, in UDP payload bytes (the measure of amplification factors, Rossow, NDSS 2014), for
// answers that are longer than the request that draws them. An answer is sent only when the
// source's balance covers it, so towards any address the engine never sends more than it got.
//
// A fixed array of one 64-bit word per entry, (address << 32 | balance), indexed by a hash of
// the address and updated by compare-and-swap, so every worker shares it without a lock. An
// address that takes another's entry starts from 0: a collision or a flood of sources only ever
// costs a balance, never lets one address spend another's bytes.

#include <atomic>
#include <cstdint>
#include <memory>

namespace peregrine {

class byte_credit {
public:
    // A balance never exceeds this: a source cannot bank bytes for a burst of answers later.
    static constexpr uint32_t max_balance = 256;

    // n_entries is rounded up to a power of two.
    void init(uint32_t n_entries)
    {
        uint32_t n = 1;
        while (n < n_entries)
            n <<= 1;
        mask_ = n - 1;
        e_ = std::make_unique<std::atomic<uint64_t>[]>(n);
        for (uint32_t i = 0; i <= mask_; ++i)
            e_[i].store(0, std::memory_order_relaxed);
    }
    bool enabled() const { return e_ != nullptr; }

    // Credits `in` bytes received from src (an IPv4 address; never 0), then takes `out` if the
    // balance covers it. Returns whether the answer of `out` bytes may be sent.
    bool exchange(uint32_t src, uint32_t in, uint32_t out)
    {
        std::atomic<uint64_t>& w = e_[index(src)];
        uint64_t v = w.load(std::memory_order_relaxed);
        for (;;) {
            uint64_t bal = (v >> 32) == src ? (v & 0xffffffffu) : 0;
            bal = bal + in > max_balance ? max_balance : bal + in;
            const bool ok = bal >= out;
            if (ok)
                bal -= out;
            if (w.compare_exchange_weak(v, uint64_t(src) << 32 | bal, std::memory_order_relaxed))
                return ok;
        }
    }

    // The entry exchange(src, ...) will use: issued a few packets ahead, it hides the miss.
    void prefetch(uint32_t src) const { __builtin_prefetch(&e_[index(src)], 1); }

    // The balance of src (tests, telemetry).
    uint32_t balance(uint32_t src) const
    {
        const uint64_t v = e_[index(src)].load(std::memory_order_relaxed);
        return (v >> 32) == src ? static_cast<uint32_t>(v) : 0;
    }

private:
    // Fibonacci hashing: neighbouring addresses land far apart.
    uint32_t index(uint32_t src) const { return static_cast<uint32_t>((uint64_t(src) * 0x9E3779B97F4A7C15ull) >> 32) & mask_; }

    std::unique_ptr<std::atomic<uint64_t>[]> e_;
    uint32_t mask_ = 0;
};

} // namespace peregrine
