#include "router/module.hpp"

#include "router/codec.hpp"

namespace peregrine::router {

namespace {
// What stage() leaves for finish().
struct staged {
    outcome oc[burst_size];
    pending p;
};
static_assert(sizeof(staged) <= engine::stage_scratch_bytes);
} // namespace

module::module(config& cfg, registry& reg) : cfg_(cfg), reg_(reg)
{
    // Visit every slot about once a second: expiry is late by at most ~1 s plus the timeout.
    sweep_budget_ = reg_.slots() / engine::tick_hz + 1;
}

void module::stage(const engine::burst_in& b, lcore_stats& st, void* scratch) const
{
    auto* s = static_cast<staged*>(scratch);
    begin_burst(cfg_, reg_, st, b.ports, b.rx_port, b.m, b.v, b.n, s->oc, &s->p);
}

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    auto* s = static_cast<staged*>(scratch);
    end_burst(cfg_, reg_, st, b.ports, b.rx_port, b.m, b.v, now, s->oc, s->p);
    engine::emit(out, st, b.rx_port, index(), b.m, s->oc, b.n);
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    for (unsigned i = 0; i < n; ++i) {
        // Register Client; in a cluster also Individual Messages for IDs of no known router and
        // peers' Unknown Recipients.
        net::udp_view v;
        net::classify(m[i], io.ports[m[i]->port], &v);  // validated by the worker: relocates the headers
        const uint8_t t = v.data[0];
        if (PG_UNLIKELY(t != static_cast<uint8_t>(type::register_client))) {
            const uint32_t id = read_id(v.data + 1);
            if (!cfg_.remote)
                rte_pktmbuf_free(m[i]);
            else if (t == static_cast<uint8_t>(type::message))
                cfg_.remote->resolve(m[i], id, now, st, io);
            else
                cfg_.remote->not_there(m[i], id, st);
            continue;
        }
        registered what;
        const upsert_result r = apply_register(reg_, m[i], io.ports[m[i]->port], now, &what);
        if (r == upsert_result::full) {
            st.count(drop::registry_full);  // no answer: the client retries
            rte_pktmbuf_free(m[i]);
            continue;
        }
        io.reply(m[i]);
        if (!listener_)
            continue;
        if (what.displaced)
            listener_->unregistered(*what.displaced, now, st);
        if (r == upsert_result::added || r == upsert_result::moved)
            listener_->registered(what.id, what.ep, now, st);
    }
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    (void)io;
    std::function<void(uint32_t)> on_expired;
    if (listener_)
        on_expired = [&](uint32_t id) { listener_->unregistered(id, now, st); };
    reg_.expire(now, cfg_.heartbeat_timeout_tsc, sweep_budget_ * ticks, on_expired);
    reg_.reclaim();
}

} // namespace peregrine::router
