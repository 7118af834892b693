#pragma once

// The cluster as an engine module (UDP --cluster-port, default 7201; docs/cluster.md):
//  - the router as a serving node of a Controlling Function (member: Register, peers, reports);
//  - the routers among themselves (peering: the directory sharded over the routers, Locate);
//  - the router's remote: where the workers find a Client ID registered on another router
//    (locations: the peers and the location cache), and the control lcore's answer for the
//    messages they could not place (held until the ID's home router answers).
// Its worker half hands the datagrams from --lb-server and from peers to the control lcore and
// drops the rest.

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cluster/locations.hpp"
#include "cluster/member.hpp"
#include "cluster/peering.hpp"
#include "engine/module.hpp"
#include "router/pipeline.hpp"

namespace peregrine::cluster {

struct config {
    uint32_t server_ip_be = 0;
    uint16_t server_port_be = 0;
    uint16_t port = 0;            // ours, host order (every router's: peers are sent to it)
    uint16_t out_port = 0;        // the ethdev port that reaches the server and the peers
    uint32_t next_hop_be = 0;     // the server itself when on-link, else --lb-next-hop
    uint32_t gateway_be = 0;      // --lb-next-hop (0: none): towards peers off the port's subnet
    uint32_t cache_entries = 1u << 20;  // the location cache (a power of two)
    rte_mempool* pool = nullptr;  // the frames we originate
};

class module final : public engine::module, public router::registration_listener, public router::remote {
public:
    // Messages held for their directory answer at most (each an mbuf).
    static constexpr std::size_t max_held = 4096;

    module(const config& cfg, const member_params& mp, const peering_params& pp);
    ~module() override;

    const char* name() const override { return "cluster"; }
    std::vector<uint16_t> udp_ports() const override { return {cfg_.port}; }
    void finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                engine::burst_out& out) const override;
    void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io) override;
    void stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx) override;

    // router::registration_listener, on the control lcore (inside router::module::control/tick).
    void registered(uint32_t id, const router::endpoint& ep, uint64_t now, lcore_stats& st) override;
    void unregistered(uint32_t id, uint64_t now, lcore_stats& st) override;

    // router::remote.
    where locate(uint32_t id, uint32_t src_ip_be, router::remote_target* t) const override;
    bool is_peer(uint32_t ip_be) const override { return locs_->is_peer(ip_be); }
    void prefetch(uint32_t id) const override { locs_->prefetch(id); }
    void resolve(rte_mbuf* m, uint32_t id, uint64_t now, lcore_stats& st, engine::control_io& io) override;
    void not_there(rte_mbuf* m, uint32_t id, lcore_stats& st) override;

    // Telemetry reads under mu(); the control lcore holds it while it changes the state.
    const member& state() const { return member_; }
    const peering& peers() const { return peering_; }
    std::size_t held() const { return held_n_; }
    const locations& cache() const { return *locs_; }
    std::mutex& mu() const { return mu_; }
    const config& conf() const { return cfg_; }

private:
    struct peer_slot {
        unsigned slot;
        locations::peer p;  // its advertised router endpoint, our port towards it, its MAC
        bool ready;         // p.mac is known and published
        lb::endpoint ep() const { return {p.ip_be, p.port_be}; }
    };

    // Sets the context of one control call (frames go out through io).
    void enter(engine::control_io& io, lcore_stats& st, uint64_t now);
    bool mac_of(uint32_t ip_be, rte_ether_addr* mac);
    bool send_to(uint32_t ip_be, uint16_t port_be, const uint8_t* d, std::size_t len);
    void sync_peers();
    bool refresh_mac(peer_slot& ps);  // publishes its MAC once known or changed; true if ready
    void refresh_macs();
    void deliver(rte_mbuf* m, uint32_t id, const lb::endpoint& owner);
    void answer_unknown(rte_mbuf* m, uint32_t id);
    void resolved(uint32_t id, peering::answer a, const lb::endpoint& owner);

    config cfg_;
    member member_;
    peering peering_;
    std::unique_ptr<locations> locs_;
    std::map<uint64_t, peer_slot> slots_;         // by lb::key_of(advertised)
    std::unordered_map<uint32_t, uint64_t> by_ip_;  // peer address -> its key
    std::vector<unsigned> free_slots_;
    std::set<uint64_t> known_;                    // the peer set slots_ reflects
    std::atomic<unsigned> n_peers_{0};
    std::unordered_map<uint32_t, std::vector<rte_mbuf*>> held_;  // by Client ID
    std::size_t held_n_ = 0;
    unsigned probes_ = 0;                         // member_.probes() when last seen
    uint64_t next_epoch_ = 0;
    engine::control_io* io_ = nullptr;  // during a control call
    lcore_stats* st_ = nullptr;
    uint64_t now_ = 0;
    mutable std::mutex mu_;
};

} // namespace peregrine::cluster
