#pragma once

// Waking a sleeping control lcore. When it finds nothing to do the control lcore sleeps in
// epoll_wait on everything that can bring it work: each TAP's RX queue (the kernel wrote a
// frame), each module's wait_fd() (LEKT's sockets), and an eventfd for the workers' exception
// and control rings, which have no file descriptor of their own. A worker that has just
// enqueued on those rings writes the eventfd only when the control lcore says it sleeps, and
// only the first worker to see that does: one write() per sleep at most, never one on a
// worker whose control lcore is awake (the fast path's common case, and all of a busy slow
// path).
//
// The flag and the rings are a Dekker pair: the worker enqueues, then reads the flag; the
// control lcore raises the flag, then reads the rings; a full fence on both sides means that
// at least one of them sees the other, so no enqueue is left waiting for the timeout.

#include <atomic>
#include <cstdint>

#include <unistd.h>

#include "common/compiler.hpp"

namespace peregrine::engine {

struct alignas(cache_line) control_wake {
    std::atomic<uint32_t> sleeping{0};
    std::atomic<int> fd{-1};  // the eventfd, or -1 before the control lcore made it

    // A worker, after it enqueued frames for the control lcore. True when it rang.
    bool notify()
    {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (PG_LIKELY(!sleeping.load(std::memory_order_relaxed)))
            return false;
        if (!sleeping.exchange(0, std::memory_order_acq_rel))
            return false;  // another worker woke it
        const uint64_t one = 1;
        return ::write(fd.load(std::memory_order_relaxed), &one, sizeof(one)) == sizeof(one);
    }
};

} // namespace peregrine::engine
