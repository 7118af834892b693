#include "engine/control.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <utility>

#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "engine/burst.hpp"
#include "engine/idle.hpp"

namespace peregrine::engine {

// Bursts moved per ring (or TAP) per iteration: enough to empty a worker's exception ring
// while a busy LEKT poll holds the loop for a millisecond, bounded so that one busy
// direction cannot starve the others.
static constexpr unsigned max_bursts_per_poll = 8;

control::control(context& ctx, lcore_stats& st, std::vector<uint16_t> ports, std::vector<worker_rings> rings)
    : ctx_(ctx), st_(st), ports_(std::move(ports)), rings_(std::move(rings)), neigh_(rte_get_tsc_hz())
{
    tick_tsc_ = rte_get_tsc_hz() / tick_hz;
    io_.ports = ctx_.ports;
    io_.neigh = &neigh_;

    ep_ = epoll_create1(EPOLL_CLOEXEC);
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep_ < 0 || efd_ < 0)
        return;  // wakes_on_all_ stays false: timed sleeps only
    bool all = watch(efd_);
    for (uint16_t p : ports_) {
        const uint16_t tap = ctx_.tap_of[p];
        if (tap == no_port)
            continue;
        // net_tap's RX "interrupt" is the queue's own fd (intr_conf.rxq, drivers/exception/tap.cpp).
        const int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(tap, 0);
        all &= fd >= 0 && watch(fd);
    }
    for (unsigned k = 0; k < ctx_.n_modules; ++k)
        if (const int fd = ctx_.modules[k]->wait_fd(); fd >= 0)
            all &= watch(fd);
    ctx_.wake.fd.store(efd_, std::memory_order_release);
    wakes_on_all_ = all;
}

control::~control()
{
    ctx_.wake.sleeping.store(0, std::memory_order_seq_cst);
    ctx_.wake.fd.store(-1, std::memory_order_release);
    if (ep_ >= 0)
        ::close(ep_);
    if (efd_ >= 0)
        ::close(efd_);
}

bool control::watch(int fd)
{
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: what one poll leaves behind wakes the next sleep
    ev.data.fd = fd;
    return epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool control::rings_empty() const
{
    for (const auto& r : rings_)
        if (!rte_ring_empty(r.exc) || !rte_ring_empty(r.ctl))
            return false;
    return true;
}

control::slept control::sleep(uint32_t max_us)
{
    if (!wakes_on_all_)
        max_us = std::min(max_us, fallback_sleep_us);
    if (ep_ < 0 || efd_ < 0) {
        rte_delay_us_sleep(max_us);
        return {max_us, false};
    }
    auto& wake = ctx_.wake;
    wake.sleeping.store(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!rings_empty()) {
        wake.sleeping.store(0, std::memory_order_relaxed);
        return {0, true};
    }
    const uint64_t t0 = rte_rdtsc();
    epoll_event ev[8];
    const timespec ts{static_cast<time_t>(max_us / 1000000), static_cast<long>(max_us % 1000000) * 1000};
    int n = epoll_pwait2(ep_, ev, 8, &ts, nullptr);
    if (n < 0 && errno == ENOSYS)  // kernels before 5.11: millisecond timeouts
        n = epoll_wait(ep_, ev, 8, static_cast<int>((max_us + 999) / 1000));
    wake.sleeping.store(0, std::memory_order_relaxed);
    bool woken = n > 0;
    for (int i = 0; i < n; ++i)
        if (ev[i].data.fd == efd_) {
            uint64_t v;
            [[maybe_unused]] const ssize_t r = ::read(efd_, &v, sizeof(v));
        }
    ++st_.sleeps;
    st_.sleeps_woken += woken;
    return {static_cast<uint32_t>((rte_rdtsc() - t0) * 1000000 / rte_get_tsc_hz()), woken};
}

void control::send(unsigned w, rte_mbuf** m, unsigned n)
{
    enqueue_or_drop(rings_[w].tx, m, n, st_, drop::tx_ring_full);
}

bool control::drain_exceptions()
{
    bool any = false;
    rte_mbuf* pkts[burst_size];
    for (auto& r : rings_) {
        for (unsigned b = 0; b < max_bursts_per_poll; ++b) {
            const unsigned n = rte_ring_sc_dequeue_burst(r.exc, reinterpret_cast<void**>(pkts), burst_size, nullptr);
            if (!n)
                break;
            any = true;
            const uint64_t now = rte_rdtsc();
            for_each_port_run(pkts, n, [&](uint16_t port, rte_mbuf** run, uint16_t cnt) {
                for (uint16_t i = 0; i < cnt; ++i)
                    neigh_.snoop(run[i], ctx_.ports[port], now);  // ARP: the next hops of what we originate
                const uint16_t tap = ctx_.tap_of[port];
                if (tap == no_port) {
                    st_.drops[static_cast<unsigned>(drop::exception_no_tap)] += cnt;
                    rte_pktmbuf_free_bulk(run, cnt);
                    return;
                }
                st_.kernel_in += tx_or_drop(tap, 0, run, cnt, st_, drop::tap_full);
            });
            if (n < burst_size)
                break;
        }
    }
    return any;
}

bool control::drain_taps()
{
    bool any = false;
    rte_mbuf* pkts[burst_size];
    for (uint16_t p : ports_) {
        const uint16_t tap = ctx_.tap_of[p];
        if (tap == no_port)
            continue;
        rte_ring* tx = rings_[p % rings_.size()].tx;
        for (unsigned b = 0; b < max_bursts_per_poll; ++b) {
            // Read no more than the worker's ring can take: what stays in the TAP pushes back
            // on the kernel's queue (and TCP's), where a drop here would only cost a retransmit.
            const unsigned room = std::min<unsigned>(rte_ring_free_count(tx), burst_size);
            if (!room)
                break;
            const uint16_t n = rte_eth_rx_burst(tap, 0, pkts, static_cast<uint16_t>(room));
            if (!n)
                break;
            any = true;
            st_.kernel_out += n;
            for (uint16_t i = 0; i < n; ++i)
                pkts[i]->port = p;
            enqueue_or_drop(tx, pkts, n, st_, drop::tx_ring_full);
            if (n < room)
                break;
        }
    }
    return any;
}

bool control::drain_control(uint64_t now)
{
    bool any = false;
    rte_mbuf* pkts[burst_size];
    for (unsigned w = 0; w < rings_.size(); ++w) {
        const unsigned n = rte_ring_sc_dequeue_burst(rings_[w].ctl, reinterpret_cast<void**>(pkts), burst_size, nullptr);
        if (!n)
            continue;
        any = true;
        // Runs of one module, in arrival order.
        unsigned i = 0;
        while (i < n) {
            const uint8_t mod = module_of(pkts[i]);
            unsigned j = i + 1;
            while (j < n && module_of(pkts[j]) == mod)
                ++j;
            ctx_.modules[mod]->control(&pkts[i], j - i, now, st_, io_);
            i = j;
        }
        // Back through the worker that received them: same queue, same flow order.
        if (io_.n_replies())
            send(w, io_.replies(), io_.n_replies());
        io_.clear_replies();
    }
    return any;
}

void control::flush_sent()
{
    auto& out = io_.sent();
    if (out.empty())
        return;
    // One ring per port keeps each peer's frames in order (an Ack before the list it precedes).
    for_each_port_run(out.data(), static_cast<unsigned>(out.size()), [&](uint16_t port, rte_mbuf** run, uint16_t cnt) {
        send(port % rings_.size(), run, cnt);
    });
    out.clear();
}

void control::housekeeping(uint64_t now)
{
    if (now < next_tick_)
        return;
    next_tick_ = now + tick_tsc_;
    // The ticks that passed, not one per call: a descheduled control lcore still sweeps every
    // registration and session about once a second.
    const uint64_t ticks = last_tick_ ? std::clamp<uint64_t>((now - last_tick_) / tick_tsc_, 1, tick_hz) : 1;
    last_tick_ = now;
    for (unsigned k = 0; k < ctx_.n_modules; ++k)
        ctx_.modules[k]->tick(now, static_cast<unsigned>(ticks), st_, io_);
}

bool control::poll(uint64_t now)
{
    bool any = drain_exceptions();
    any |= drain_taps();
    any |= drain_control(now);
    housekeeping(now);
    for (unsigned k = 0; k < ctx_.n_modules; ++k)
        any |= ctx_.modules[k]->poll(now);
    flush_sent();  // once, for what control(), tick() and poll() sent
    return any;
}

void run_control(control& ctl, lcore_stats& st, uint32_t max_sleep_us, const std::function<bool()>& stop,
                 const std::function<void(uint64_t now)>& periodic)
{
    unsigned empty = 0;
    while (!stop()) {
        const uint64_t now = rte_rdtsc();
        if (ctl.poll(now)) {
            empty = 0;
        } else if (max_sleep_us && ++empty >= idle_backoff::spins_before_sleep) {
            const control::slept s = ctl.sleep(max_sleep_us);
            st.idle_sleep_us += s.us;
            // Woken by work: more may follow, so poll a while before the next sleep. Woken by
            // the timeout: nothing is waiting, one poll (the tick) and back to sleep.
            empty = s.woken ? 0 : idle_backoff::spins_before_sleep - 1;
        } else if (max_sleep_us) {
            // The empty polls before a sleep yield the CPU: a thread woken there meanwhile (the
            // client of the answer just sent, a LEKT peer, the generator) runs now, not after
            // the whole run of polls (issue 17: 40-80 us of a lone request here). A busy-polling
            // control lcore (0) keeps its core to itself, as asked.
            sched_yield();
        } else {
            rte_pause();
        }
        periodic(now);
    }
}

} // namespace peregrine::engine
