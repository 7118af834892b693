#pragma once

// One burst through the fast path, without any I/O: classify, dispatch by UDP destination
// port (context::udp_module), run each module's handler on its share of the burst, and sort
// the mbufs into what the caller must do with them.
// The worker loop wraps this with rte_eth_rx_burst/tx_burst; tests and benchmarks call it
// directly on pre-built bursts.

#include <cstdint>

#include <rte_mbuf.h>

#include "engine/context.hpp"

namespace peregrine::engine {

// A burst between stage_burst() and finish_burst(): classified, sorted by module, and the
// stage halves run (the router's registry lookups started).
struct staged_burst {
    // One module's share, contiguous: a burst of one protocol touches one block of lines, as
    // if the dispatcher had been written for that protocol alone.
    struct alignas(cache_line) share {
        rte_mbuf* m[burst_size];
        net::udp_view v[burst_size];
        alignas(cache_line) unsigned char scratch[stage_scratch_bytes];
    };
    uint16_t rx_port;
    uint8_t n[max_modules];  // datagrams per module
    share mod[max_modules];
};

// First half of a burst: n <= burst_size packets received on rx_port are classified; drops
// and exceptions go to out (reset() beforehand) at once, the modules' datagrams into s, and
// the modules that have a stage half run it.
void stage_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                 staged_burst& s, burst_out& out);

// Second half: each module's finish() on its share of s, results sorted into the same out.
void finish_burst(const context& ctx, lcore_stats& st, staged_burst& s, uint64_t now, burst_out& out);

// Both halves back to back (tests, fuzz targets, and the benchmarks of modules without a stage
// half).
// n <= burst_size packets received on rx_port. out must have been reset().
void process_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   uint64_t now, burst_out& out);

// Two bursts in flight, as a worker runs them: a new burst is staged (its registry lines start
// to load) before the previous one is finished, so one burst's misses overlap the other's
// packet work instead of stalling it. At 1M and 10M registered clients every Heartbeat and
// Individual Message misses the caches once or twice; within one burst only part of a miss's
// latency hides behind the burst's own work (docs/performance-history.md, "Two bursts in flight").
// The price: a burst leaves one push() later, so a caller must drain() whenever no new burst
// comes (the worker does after an RX round that brought nothing).
class burst_pipeline {
public:
    burst_pipeline()
    {
        init(slot_[0].out);
        init(slot_[1].out);
    }

    // Stages pkts and finishes the burst staged before, if any: returns that burst's output
    // (valid until the next push() or drain()) or nullptr.
    burst_out* push(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                    uint64_t now)
    {
        slot& s = slot_[next_];
        s.out.reset();
        stage_burst(ctx, st, rx_port, pkts, n, s.staged, s.out);
        burst_out* done = held_ ? finish(ctx, st, now) : nullptr;
        held_ = true;
        next_ ^= 1;
        return done;
    }

    // Finishes the burst held back, if any: its output, or nullptr.
    burst_out* drain(const context& ctx, lcore_stats& st, uint64_t now)
    {
        if (!held_)
            return nullptr;
        held_ = false;
        return finish(ctx, st, now);
    }

    bool holding() const { return held_; }

private:
    struct alignas(cache_line) slot {
        staged_burst staged;
        burst_out out;
    };

    // The held burst sits in the slot the next push() will not use.
    burst_out* finish(const context& ctx, lcore_stats& st, uint64_t now)
    {
        slot& h = slot_[next_ ^ 1];
        finish_burst(ctx, st, h.staged, now, h.out);
        return &h.out;
    }

    slot slot_[2];
    unsigned next_ = 0;
    bool held_ = false;
};

} // namespace peregrine::engine
