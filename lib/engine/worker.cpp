#include "engine/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_rcu_qsbr.h>

#include "engine/burst.hpp"
#include "engine/dispatch.hpp"
#include "engine/idle.hpp"
#include "engine/pause.hpp"

namespace peregrine::engine {

namespace {

void flush(const worker_conf& w, context& ctx, lcore_stats& st, burst_out& out)
{
    for (uint64_t mask = out.tx_port_mask; mask; mask &= mask - 1) {
        const uint16_t p = static_cast<uint16_t>(__builtin_ctzll(mask));
        st.tx_packets += tx_or_drop(p, w.txq, out.tx[p], out.n_tx[p], st);
    }
    if (out.n_exc)
        st.to_exception += enqueue_or_drop(w.exc_ring, out.exc, out.n_exc, st, drop::exception_ring_full);
    if (out.n_ctl)
        st.to_control += enqueue_or_drop(w.ctl_ring, out.ctl, out.n_ctl, st, drop::control_ring_full);
    if ((out.n_exc | out.n_ctl) && PG_UNLIKELY(ctx.wake.notify()))
        ++st.doorbells;
    if (out.n_drop)
        rte_pktmbuf_free_bulk(out.drop, out.n_drop);
}

// Frames from the control lcore, usually none: one ring poll per loop.
bool drain_tx_ring(const worker_conf& w, lcore_stats& st)
{
    rte_mbuf* m[burst_size];
    const unsigned n = rte_ring_sc_dequeue_burst(w.tx_ring, reinterpret_cast<void**>(m), burst_size, nullptr);
    for_each_port_run(m, n, [&](uint16_t port, rte_mbuf** run, uint16_t cnt) {
        st.tx_packets += tx_or_drop(port, w.txq, run, cnt, st);
    });
    return n > 0;
}

} // namespace

int worker_main(void* arg)
{
    const worker_conf& w = *static_cast<const worker_conf*>(arg);
    context& ctx = *w.ctx;
    lcore_stats& st = *w.stats;
    rte_rcu_qsbr* rcu = ctx.rcu;

    rte_rcu_qsbr_thread_register(rcu, w.index);
    rte_rcu_qsbr_thread_online(rcu, w.index);

    burst_pipeline pipe;
    idle_backoff idle(w.idle_sleep_us);
    rte_mbuf* pkts[burst_size];
    pause::worker_started();

    while (!ctx.quit.load(std::memory_order_relaxed)) {
        // Inside no driver call here: the interrupt thread may change a port's state now.
        pause::checkpoint();
        bool any = false;
        for (unsigned r = 0; r < w.n_rx; ++r) {
            const uint16_t n = rte_eth_rx_burst(w.rx[r].port, w.rx[r].queue, pkts, burst_size);
            if (n == 0)
                continue;
            any = true;
            const uint64_t t0 = rte_rdtsc();
            ++st.rx_bursts;
            if (burst_out* done = pipe.push(ctx, st, w.rx[r].port, pkts, n, t0))
                flush(w, ctx, st, *done);
            st.busy_cycles += rte_rdtsc() - t0;
        }
        // A round of the queues that brought nothing: the burst held back in the pipeline
        // waits for no one, so a lone packet is late by one empty round at most.
        if (!any && pipe.holding()) {
            const uint64_t t0 = rte_rdtsc();
            flush(w, ctx, st, *pipe.drain(ctx, st, t0));
            st.busy_cycles += rte_rdtsc() - t0;
            any = true;
        }
        any |= drain_tx_ring(w, st);
        // Entry pointers from this iteration's lookups are dead: let the writer recycle them.
        // Before any sleep, so that a sleeping worker never holds up a grace period.
        rte_rcu_qsbr_quiescent(rcu, w.index);
        if (any) {
            idle.busy();
        } else {
            ++st.idle_polls;
            st.idle_sleep_us += idle.idle();
        }
    }

    pause::worker_stopped();
    // The burst still held: sent (or freed and counted), never leaked at shutdown.
    if (burst_out* done = pipe.drain(ctx, st, rte_rdtsc()))
        flush(w, ctx, st, *done);
    rte_rcu_qsbr_thread_offline(rcu, w.index);
    rte_rcu_qsbr_thread_unregister(rcu, w.index);
    return 0;
}

} // namespace peregrine::engine
