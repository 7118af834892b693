#pragma once

// The router protocol as an engine module (UDP --router-port, default 7100): the worker half
// is begin_burst (stage: parse, hash, prefetch the registry buckets one burst ahead) and
// end_burst (finish: answer Heartbeats, forward Individual Messages); the control half applies
// Register Client (the registry's single writer) and sweeps expired registrations.

#include "engine/module.hpp"
#include "router/pipeline.hpp"
#include "router/registry.hpp"

namespace peregrine::router {

class module final : public engine::module {
public:
    // cfg and reg outlive the module.
    module(config& cfg, registry& reg);

    const char* name() const override { return "router"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.udp_port}; }
    bool has_stage() const override { return true; }
    void stage(const engine::burst_in& b, lcore_stats& st, void* scratch) const override;
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;
    // Who hears registrations and their ends (nullptr: nobody). Before the module runs.
    void set_listener(registration_listener* l) { listener_ = l; }
    // Where IDs registered on other routers live (nullptr: nowhere else). Before the module runs.
    void set_remote(remote* r) { cfg_.remote = r; }

private:
    config& cfg_;
    registry& reg_;
    unsigned sweep_budget_;  // slots visited per 1 ms tick
    registration_listener* listener_ = nullptr;
};

} // namespace peregrine::router
