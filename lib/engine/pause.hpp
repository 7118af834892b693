#pragma once

// Stop-the-world for the EAL interrupt thread. Some PMDs change a port's datapath state from
// that thread with no synchronisation with rx_burst/tx_burst on the lcores: DPDK 22.11's
// net_memif, when its peer goes, frees the shared regions and their descriptors in
// memif_disconnect() while a worker may be inside a burst on them (docs/security.md). So when
// the interrupt thread wakes with events, it asks every running worker to stand aside at the
// top of its loop, where it is inside no driver call, and waits for them before the callbacks
// run; when it goes back to waiting it lets them go. The daemon hooks epoll_wait, the call the
// interrupt thread waits in (src/intr_hook.cpp).
//
// Cost: one relaxed load per worker loop; a pause only while interrupt callbacks run (link
// changes, alarms), microseconds to a memif (re)connection's milliseconds.

#include <atomic>
#include <cstdint>

#include "common/compiler.hpp"

namespace peregrine::engine::pause {

extern std::atomic<bool> requested;

// Workers: once per loop, holding no burst inside a driver.
void stand_aside();
inline void checkpoint()
{
    if (PG_UNLIKELY(requested.load(std::memory_order_acquire)))
        stand_aside();
}
// A worker counts from its first loop to its exit: the interrupt thread waits for those only.
void worker_started();
void worker_stopped();

// The interrupt thread: hold() when its wait returned events (returns once every running
// worker stands aside, or after a bound: a stuck worker must not stop link handling);
// release() before it waits again.
void hold();
void release();

struct counters {
    uint64_t holds, timeouts, max_wait_ns;
};
counters stats();

} // namespace peregrine::engine::pause
