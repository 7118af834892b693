#include "lekt/module.hpp"

#include <chrono>

#include <rte_cycles.h>

namespace peregrine::lekt {

module::module(server& srv) : srv_(srv)
{
    // An epoll_wait is a syscall (~1.1 us here), so an idle server is polled every 20 us; a
    // busy one every control iteration (its own per-poll bounds keep the data-plane duties
    // fed).
    idle_gap_ = rte_get_tsc_hz() / 50000;
}

bool module::poll(uint64_t now)
{
    if (now < next_)
        return false;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch()).count();
    const bool busy = srv_.poll(static_cast<uint64_t>(ms));
    next_ = busy ? now : now + idle_gap_;
    return busy;
}

} // namespace peregrine::lekt
