#pragma once

// The session protocol as an engine module (UDP --session-port, default 7300): the worker half
// is session::handle_burst (batched SHA-256/HMAC verify, bulk lookup, answers in place, the
// application's packets); the control half opens and closes sessions (apply_control), expires
// the silent ones, and at shutdown sends every live session a REJECT.

#include "engine/module.hpp"
#include "session/pipeline.hpp"
#include "session/table.hpp"

namespace peregrine::session {

class module final : public engine::module {
public:
    // cfg and tab outlive the module; pool: the frames of the REJECTs at shutdown.
    module(const config& cfg, table& tab, rte_mempool* pool);

    const char* name() const override { return "session"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.udp_port}; }
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;
    void stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx) override;

private:
    const config& cfg_;
    table& tab_;
    rte_mempool* pool_;
    unsigned sweep_budget_;  // slots visited per 1 ms tick
};

} // namespace peregrine::session
