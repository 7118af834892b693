// epoll_wait, as the EAL interrupt thread calls it: the engine's pause around the interrupt
// callbacks (lib/engine/pause.hpp). Every other thread goes straight to libc. The executable
// exports this symbol (src/meson.build), so the shared EAL library's call binds here first.

#include <dlfcn.h>
#include <sys/epoll.h>

#include <rte_interrupts.h>

#include "engine/pause.hpp"

namespace {
using epoll_wait_fn = int (*)(int, epoll_event*, int, int);
epoll_wait_fn real_epoll_wait()
{
    static const auto fn = reinterpret_cast<epoll_wait_fn>(dlsym(RTLD_NEXT, "epoll_wait"));
    return fn;
}
} // namespace

extern "C" int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)
{
    if (!rte_thread_is_intr())
        return real_epoll_wait()(epfd, events, maxevents, timeout);
    // Back to waiting: the callbacks of the last wake-up are done.
    peregrine::engine::pause::release();
    const int n = real_epoll_wait()(epfd, events, maxevents, timeout);
    if (n > 0)
        peregrine::engine::pause::hold();
    return n;
}
