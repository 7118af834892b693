#pragma once

// Small burst helpers shared by the worker and control loops: hand mbufs to a ring or a TX
// queue and count and free whatever did not fit, and walk a burst in runs of equal port.

#include <cstdint>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/stats.hpp"

namespace peregrine::engine {

// Sends n mbufs on (port, queue); frees and counts as `why` what the queue refused.
inline uint16_t tx_or_drop(uint16_t port, uint16_t queue, rte_mbuf** m, uint16_t n, lcore_stats& st,
                           drop why = drop::tx_full)
{
    const uint16_t sent = rte_eth_tx_burst(port, queue, m, n);
    if (PG_UNLIKELY(sent < n)) {
        st.drops[static_cast<unsigned>(why)] += n - sent;
        rte_pktmbuf_free_bulk(m + sent, n - sent);
    }
    return sent;
}

// Enqueues n mbufs on a single-producer ring; frees and counts as `why` what did not fit.
inline unsigned enqueue_or_drop(rte_ring* r, rte_mbuf** m, unsigned n, lcore_stats& st, drop why)
{
    const unsigned q = rte_ring_sp_enqueue_burst(r, reinterpret_cast<void**>(m), n, nullptr);
    if (PG_UNLIKELY(q < n)) {
        st.drops[static_cast<unsigned>(why)] += n - q;
        rte_pktmbuf_free_bulk(m + q, n - q);
    }
    return q;
}

// Calls fn(port, first, count) for each maximal run of consecutive mbufs with the same
// mbuf->port. Bursts come from one queue, so there is usually a single run.
template <typename Fn>
inline void for_each_port_run(rte_mbuf** m, unsigned n, Fn&& fn)
{
    unsigned i = 0;
    while (i < n) {
        const uint16_t port = m[i]->port;
        unsigned j = i + 1;
        while (j < n && m[j]->port == port)
            ++j;
        fn(port, &m[i], static_cast<uint16_t>(j - i));
        i = j;
    }
}

} // namespace peregrine::engine
