#include "rudp/module.hpp"

#include <rte_log.h>

namespace peregrine::rudp {

module::module(const config& cfg, table& tab, handshaker& hs, retransmitter* rt, rte_mempool* pool)
    : cfg_(cfg), tab_(tab), hs_(hs), rt_(rt), pool_(pool)
{
    sweep_budget_ = tab_.slots() / engine::tick_hz + 1;  // every slot about once a second
}

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    (void)scratch;
    outcome oc[burst_size];
    rte_mbuf* extra[max_extra];
    unsigned n_extra = 0;
    handle_burst(cfg_, tab_, st, b.ports, b.rx_port, b.m, b.v, b.n, now, oc, extra, &n_extra);
    engine::emit(out, st, b.rx_port, index(), b.m, oc, b.n);
    for (unsigned k = 0; k < n_extra; ++k)
        engine::emit_tx(out, b.rx_port, extra[k]);
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    apply_control(cfg_, tab_, hs_, st, io.ports, m, n, now, [&](rte_mbuf* x) { io.send(x); });
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    tab_.expire(now, cfg_.timeout_tsc, sweep_budget_ * ticks, [&](conn& c) {
        // Its nonce counter is spent: ERROR 2/0 with one of the reserved numbers, and the client
        // opens a new connection (new keys).
        if (rte_mbuf* m = error_frame(cfg_, tab_, c, err::disconnect, pool_, io.ports)) {
            st.count(rdp::error_2_0);
            io.send(m);
        }
        if (cfg_.reasm)
            cfg_.reasm->forget(c.key);
    });
    tab_.reclaim();
    hs_.expire(now);
    if (cfg_.reasm)
        cfg_.reasm->expire(now);
    if (!rt_)
        return;
    rt_->run(
        cfg_.sent_ring, cfg_.ack_ring, now, st,
        [&](uint64_t key) -> int64_t {
            const conn* c = tab_.find(key);
            return c ? int64_t(c->number) : -1;
        },
        [&](rte_mbuf* m) { io.send(m); },
        [&](uint64_t key) {
            // Out of tries: the client is told ERROR 2/0 and forgotten.
            if (conn* c = tab_.find(key)) {
                if (rte_mbuf* m = error_frame(cfg_, tab_, *c, err::disconnect, pool_, io.ports)) {
                    st.count(rdp::error_2_0);
                    io.send(m);
                }
                tab_.close(key);
            }
            if (cfg_.reasm)
                cfg_.reasm->forget(key);
        });
}

void module::stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx)
{
    uint64_t sent = 0;
    const unsigned built = disconnect_all(cfg_, tab_, pool_, ports, [&](uint16_t port, rte_mbuf** m, unsigned n) {
        const unsigned k = tx(port, m, n);
        sent += k;
        return k;
    });
    st.count(rdp::shutdown_error, built);
    RTE_LOG(INFO, USER1, "peregrine: sent SERVER DISCONNECT to %lu of %u RUDP connection(s)\n", sent, built);
}

} // namespace peregrine::rudp
