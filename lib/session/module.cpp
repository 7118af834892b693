#include "session/module.hpp"

#include <rte_log.h>

namespace peregrine::session {

module::module(const config& cfg, table& tab, rte_mempool* pool) : cfg_(cfg), tab_(tab), pool_(pool)
{
    // Every slot about once a second, as the router's registry.
    sweep_budget_ = tab_.slots() / engine::tick_hz + 1;
}

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    (void)scratch;
    outcome oc[burst_size];
    rte_mbuf* app[max_app_out];
    unsigned n_app = 0;
    handle_burst(cfg_, tab_, st, b.ports, b.rx_port, b.m, b.v, b.n, now, oc, app, &n_app);
    engine::emit(out, st, b.rx_port, index(), b.m, oc, b.n);
    for (unsigned k = 0; k < n_app; ++k)
        engine::emit_tx(out, b.rx_port, app[k]);
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    const unsigned k = apply_control(cfg_, tab_, st, io.ports, m, n, now);
    for (unsigned j = 0; j < k; ++j)
        io.reply(m[j]);
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    (void)st, (void)io;
    tab_.expire(now, cfg_.timeout_tsc, sweep_budget_ * ticks);
    tab_.reclaim();
}

void module::stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx)
{
    // "Server communication termination" to every live session while the ports are up.
    uint64_t sent = 0;
    unsigned unproven = 0;
    const unsigned built = reject_all(cfg_, tab_, pool_, ports, &unproven, [&](uint16_t port, rte_mbuf** m, unsigned n) {
        sent += tx(port, m, n);
    });
    st.count(ses::shutdown_reject, built);
    RTE_LOG(INFO, USER1, "peregrine: sent REJECT to %lu of %u session(s); %u unproven, not told\n", sent, built,
            unproven);
}

} // namespace peregrine::session
