#include "engine/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_rcu_qsbr.h>

#include "engine/dispatch.hpp"

namespace peregrine::engine {

namespace {
void flush(const worker_conf& w, lcore_stats& st, burst_out& out)
{
    for (uint64_t mask = out.tx_port_mask; mask; mask &= mask - 1) {
        const uint16_t p = static_cast<uint16_t>(__builtin_ctzll(mask));
        const uint16_t n = out.n_tx[p];
        const uint16_t sent = rte_eth_tx_burst(p, w.txq, out.tx[p], n);
        st.tx_packets += sent;
        if (PG_UNLIKELY(sent < n)) {
            st.drops[static_cast<unsigned>(drop::tx_full)] += n - sent;
            rte_pktmbuf_free_bulk(&out.tx[p][sent], n - sent);
        }
    }
    if (out.n_exc) {
        const unsigned q = rte_ring_sp_enqueue_burst(w.exc_ring, reinterpret_cast<void**>(out.exc), out.n_exc, nullptr);
        st.to_exception += q;
        if (PG_UNLIKELY(q < out.n_exc)) {
            st.drops[static_cast<unsigned>(drop::exception_ring_full)] += out.n_exc - q;
            rte_pktmbuf_free_bulk(&out.exc[q], out.n_exc - q);
        }
    }
    if (out.n_ctl) {
        const unsigned q = rte_ring_sp_enqueue_burst(w.ctl_ring, reinterpret_cast<void**>(out.ctl), out.n_ctl, nullptr);
        st.to_control += q;
        if (PG_UNLIKELY(q < out.n_ctl)) {
            st.drops[static_cast<unsigned>(drop::control_ring_full)] += out.n_ctl - q;
            rte_pktmbuf_free_bulk(&out.ctl[q], out.n_ctl - q);
        }
    }
    if (out.n_drop)
        rte_pktmbuf_free_bulk(out.drop, out.n_drop);
}
// Frames from the control lcore, usually none: one ring poll per loop.
bool drain_tx_ring(const worker_conf& w, lcore_stats& st)
{
    rte_mbuf* m[burst_size];
    const unsigned n = rte_ring_sc_dequeue_burst(w.tx_ring, reinterpret_cast<void**>(m), burst_size, nullptr);
    unsigned i = 0;
    while (i < n) {
        const uint16_t port = m[i]->port;
        unsigned j = i + 1;
        while (j < n && m[j]->port == port)
            ++j;
        const uint16_t cnt = static_cast<uint16_t>(j - i);
        const uint16_t sent = rte_eth_tx_burst(port, w.txq, &m[i], cnt);
        st.tx_packets += sent;
        if (PG_UNLIKELY(sent < cnt)) {
            st.drops[static_cast<unsigned>(drop::tx_full)] += cnt - sent;
            rte_pktmbuf_free_bulk(&m[i + sent], cnt - sent);
        }
        i = j;
    }
    return n > 0;
}

} // namespace

int worker_main(void* arg)
{
    const worker_conf& w = *static_cast<const worker_conf*>(arg);
    context& ctx = *w.ctx;
    lcore_stats& st = *w.stats;
    rte_rcu_qsbr* rcu = ctx.registry->rcu();

    rte_rcu_qsbr_thread_register(rcu, w.index);
    rte_rcu_qsbr_thread_online(rcu, w.index);

    burst_out out;
    init(out);
    rte_mbuf* pkts[burst_size];

    while (!ctx.quit.load(std::memory_order_relaxed)) {
        bool any = false;
        for (unsigned r = 0; r < w.n_rx; ++r) {
            const uint16_t n = rte_eth_rx_burst(w.rx[r].port, w.rx[r].queue, pkts, burst_size);
            if (n == 0)
                continue;
            any = true;
            const uint64_t t0 = rte_rdtsc();
            ++st.rx_bursts;
            out.reset();
            process_burst(ctx, st, w.rx[r].port, pkts, n, t0, out);
            flush(w, st, out);
            st.busy_cycles += rte_rdtsc() - t0;
        }
        any |= drain_tx_ring(w, st);
        if (!any)
            ++st.idle_polls;
        // Entry pointers from this iteration's lookups are dead: let the writer recycle them.
        rte_rcu_qsbr_quiescent(rcu, w.index);
    }

    rte_rcu_qsbr_thread_offline(rcu, w.index);
    rte_rcu_qsbr_thread_unregister(rcu, w.index);
    return 0;
}

} // namespace peregrine::engine
