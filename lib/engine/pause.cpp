#include "engine/pause.hpp"

#include <rte_cycles.h>
#include <rte_pause.h>

namespace peregrine::engine::pause {

std::atomic<bool> requested{false};

namespace {
std::atomic<unsigned> running{0};
std::atomic<unsigned> aside{0};
std::atomic<uint64_t> n_holds{0}, n_timeouts{0}, max_wait{0};
// Longer than any burst takes, shorter than a link event may wait.
constexpr uint64_t max_wait_us = 20'000;
} // namespace

void worker_started() { running.fetch_add(1, std::memory_order_acq_rel); }
void worker_stopped() { running.fetch_sub(1, std::memory_order_acq_rel); }

void stand_aside()
{
    aside.fetch_add(1, std::memory_order_acq_rel);
    while (requested.load(std::memory_order_acquire))
        rte_pause();
    aside.fetch_sub(1, std::memory_order_acq_rel);
}

void hold()
{
    if (running.load(std::memory_order_acquire) == 0)
        return;
    requested.store(true, std::memory_order_seq_cst);
    const uint64_t t0 = rte_get_tsc_cycles();
    const uint64_t limit = t0 + rte_get_tsc_hz() / 1'000'000 * max_wait_us;
    while (aside.load(std::memory_order_acquire) < running.load(std::memory_order_acquire)) {
        if (rte_get_tsc_cycles() > limit) {
            n_timeouts.fetch_add(1, std::memory_order_relaxed);
            break;
        }
        rte_pause();
    }
    n_holds.fetch_add(1, std::memory_order_relaxed);
    const uint64_t ns = (rte_get_tsc_cycles() - t0) * 1'000'000'000 / rte_get_tsc_hz();
    if (ns > max_wait.load(std::memory_order_relaxed))
        max_wait.store(ns, std::memory_order_relaxed);
}

void release() { requested.store(false, std::memory_order_release); }

counters stats()
{
    return {n_holds.load(std::memory_order_relaxed), n_timeouts.load(std::memory_order_relaxed),
            max_wait.load(std::memory_order_relaxed)};
}

} // namespace peregrine::engine::pause
