#pragma once

// The load-balancer protocol as an engine module (UDP --lb-port, default 7200): the worker half
// answers Request Serving Node from the published Maglev table (lb::handle_burst); the control
// half is lb::state (every write, the timers, what Peregrine originates).

#include "engine/module.hpp"
#include "lb/pipeline.hpp"
#include "lb/state.hpp"

namespace peregrine::lb {

class module final : public engine::module {
public:
    // cfg and st outlive the module; st publishes its tables through cfg.
    module(config& cfg, state& st) : cfg_(cfg), state_(st) {}

    const char* name() const override { return "lb"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.udp_port}; }
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;

private:
    void flush(engine::control_io& io);

    config& cfg_;  // workers update its credit table
    state& state_;
};

} // namespace peregrine::lb
