#pragma once

// The cluster as an engine module (UDP --cluster-port, default 7201): the router as a serving
// node of a Controlling Function (docs/cluster.md). Its worker half hands the datagrams from
// --lb-server to the control lcore and drops the rest; its control half is the member (the
// protocol), the frames it sends (through net::neigh_table's next hop), and the router's
// registry changes it reports.

#include <mutex>

#include "cluster/member.hpp"
#include "engine/module.hpp"
#include "router/pipeline.hpp"

namespace peregrine::cluster {

struct config {
    uint32_t server_ip_be = 0;
    uint16_t server_port_be = 0;
    uint16_t port = 0;            // ours, host order
    uint16_t out_port = 0;        // the ethdev port that reaches the server
    uint32_t next_hop_be = 0;     // the server itself when on-link, else --lb-next-hop
    rte_mempool* pool = nullptr;  // the frames we originate
};

class module final : public engine::module, public router::registration_listener {
public:
    module(const config& cfg, const member_params& mp);

    const char* name() const override { return "cluster"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.port}; }
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;

    // router::registration_listener, on the control lcore (inside router::module::control/tick).
    void registered(uint32_t id, const router::endpoint& ep, uint64_t now, lcore_stats& st) override;
    void unregistered(uint32_t id, uint64_t now, lcore_stats& st) override;

    // Telemetry reads state() under mu(); the control lcore holds it while it changes the state.
    const member& state() const { return member_; }
    std::mutex& mu() const { return mu_; }
    const config& conf() const { return cfg_; }

private:
    bool send(const uint8_t* d, std::size_t len);

    config cfg_;
    member member_;
    engine::control_io* io_ = nullptr;  // during control() and tick()
    lcore_stats* st_ = nullptr;         // the control lcore's, during control() and tick()
    uint64_t now_ = 0;
    mutable std::mutex mu_;
};

} // namespace peregrine::cluster
