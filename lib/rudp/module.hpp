#pragma once

// RUDP as an engine module (UDP --rudp-port, default 7400): the worker half is
// rudp::handle_burst; the control half runs the handshake and the connection table's writes,
// expires silent connections and half-open handshakes, and at shutdown tells every connection
// SERVER DISCONNECT.

#include "engine/module.hpp"
#include "rudp/handshake.hpp"
#include "rudp/pipeline.hpp"
#include "rudp/retransmit.hpp"
#include "rudp/table.hpp"

namespace peregrine::rudp {

class module final : public engine::module {
public:
    // cfg, tab, hs and rt outlive the module; pool: the frames the control lcore originates.
    module(const config& cfg, table& tab, handshaker& hs, retransmitter* rt, rte_mempool* pool);

    const char* name() const override { return "rudp"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.udp_port}; }
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;
    void stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx) override;

private:
    const config& cfg_;
    table& tab_;
    handshaker& hs_;
    retransmitter* rt_;
    rte_mempool* pool_;
    unsigned sweep_budget_;
};

} // namespace peregrine::rudp
