#include "lb/module.hpp"

namespace peregrine::lb {

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    (void)now, (void)scratch;
    outcome oc[burst_size];
    handle_burst(cfg_, st, b.ports, b.rx_port, b.m, b.v, b.n, oc);
    engine::emit(out, st, b.rx_port, index(), b.m, oc, b.n);
}

void module::flush(engine::control_io& io)
{
    // Replies and originated frames alike: lb::state orders them (an Ack before the Serving
    // Nodes list that follows it), and one ring per port keeps that order.
    for (rte_mbuf* m : state_.outbox())
        io.send(m);
    state_.outbox().clear();
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    for (unsigned i = 0; i < n; ++i)
        state_.handle(m[i], now, st);  // consumes m[i]; what it sends goes to its outbox
    flush(io);
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    (void)ticks;
    state_.tick(now, st);
    flush(io);
}

} // namespace peregrine::lb
