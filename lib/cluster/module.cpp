#include "cluster/module.hpp"

#include <cstring>

#include <rte_cycles.h>

#include "net/frame.hpp"
#include "net/rewrite.hpp"
#include "router/codec.hpp"

namespace peregrine::cluster {

module::module(const config& cfg, const member_params& mp, const peering_params& pp)
    : cfg_(cfg),
      member_(mp, [this](const uint8_t* d, std::size_t len) {
          return send_to(cfg_.server_ip_be, cfg_.server_port_be, d, len);
      }),
      peering_(pp,
               [this](const lb::endpoint& to, const uint8_t* d, std::size_t len) {
                   return send_to(to.ip_be, rte_cpu_to_be_16(cfg_.port), d, len);
               },
               [this](uint32_t id, peering::answer a, const lb::endpoint& owner) { resolved(id, a, owner); }),
      locs_(std::make_unique<locations>(cfg.cache_entries))
{
    for (unsigned s = locations::max_peers; s-- > 0;)
        free_slots_.push_back(s);
}

module::~module()
{
    for (auto& [id, ms] : held_)
        for (rte_mbuf* m : ms)
            rte_pktmbuf_free(m);
}

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    (void)now, (void)scratch;
    engine::outcome oc[burst_size];
    const uint16_t ours = rte_cpu_to_be_16(cfg_.port);
    for (unsigned i = 0; i < b.n; ++i) {
        const net::udp_view& v = b.v[i];
        // Only the Controlling Function and the routers it listed speak to us: anyone else
        // could edit the peer list or the directory, or make us Ack towards any address.
        const bool server = v.ip->src_addr == cfg_.server_ip_be && v.udp->src_port == cfg_.server_port_be;
        if (server || (v.udp->src_port == ours && locs_->is_peer(v.ip->src_addr)))
            oc[i] = {engine::action::control, 0, drop{}};
        else
            oc[i] = {engine::action::drop, 0, drop::cluster_not_server};
    }
    engine::emit(out, st, b.rx_port, index(), b.m, oc, b.n);
}

router::remote::where module::locate(uint32_t id, uint32_t src_ip_be, router::remote_target* t) const
{
    return place(*locs_, n_peers_.load(std::memory_order_relaxed) == 0, id, src_ip_be, t);
}

void module::enter(engine::control_io& io, lcore_stats& st, uint64_t now)
{
    io_ = &io;
    st_ = &st;
    now_ = now;
}

bool module::mac_of(uint32_t ip_be, rte_ether_addr* mac)
{
    const uint32_t hop = net::on_link(io_->ports[cfg_.out_port], ip_be) ? ip_be : cfg_.gateway_be;
    if (!hop || !io_->neigh)
        return false;
    bool ask = false;
    const bool known = io_->neigh->lookup(cfg_.out_port, hop, now_, mac, &ask);
    if (ask) {
        if (rte_mbuf* arp = net::neigh_table::request(cfg_.pool, cfg_.out_port, io_->ports[cfg_.out_port], hop)) {
            io_->send(arp);
            st_->count(cls::originated);
        }
    }
    return known;
}

bool module::send_to(uint32_t ip_be, uint16_t port_be, const uint8_t* d, std::size_t len)
{
    if (!io_)
        return false;
    rte_ether_addr mac;
    if (!mac_of(ip_be == cfg_.server_ip_be ? cfg_.next_hop_be : ip_be, &mac)) {
        st_->count(cls::no_next_hop);
        return false;
    }
    const net::udp_to to{mac, ip_be, rte_cpu_to_be_16(cfg_.port), port_be, cfg_.out_port};
    uint8_t* p;
    rte_mbuf* m = net::new_udp_frame(cfg_.pool, io_->ports[cfg_.out_port], to, static_cast<uint16_t>(len), &p);
    if (!m)
        return false;
    std::memcpy(p, d, len);
    net::finish_udp_frame(m);
    io_->send(m);
    return true;
}

void module::sync_peers()
{
    const std::set<uint64_t>& now = member_.peers();
    if (now == known_)
        return;
    for (auto it = slots_.begin(); it != slots_.end();) {
        if (now.count(it->first)) {
            ++it;
            continue;
        }
        locs_->clear_peer(it->second.slot);  // entries cached for it are void
        free_slots_.push_back(it->second.slot);
        by_ip_.erase(it->second.p.ip_be);
        it = slots_.erase(it);
    }
    for (uint64_t k : now) {
        if (slots_.count(k) || free_slots_.empty())
            continue;
        peer_slot ps{free_slots_.back(), {}, false};
        free_slots_.pop_back();
        ps.p.ip_be = static_cast<uint32_t>(k >> 16);
        ps.p.port_be = static_cast<uint16_t>(k);
        ps.p.port_id = cfg_.out_port;
        locs_->set_peer(ps.slot, ps.p, false);  // a peer at once (is_peer), ready once its MAC is known
        refresh_mac(ps);                         // asks ARP if unknown
        by_ip_[ps.p.ip_be] = k;
        slots_[k] = ps;
    }
    known_ = now;
    n_peers_.store(static_cast<unsigned>(slots_.size()), std::memory_order_relaxed);
    peering_.set_peers(now, *st_);
}

bool module::refresh_mac(peer_slot& ps)
{
    rte_ether_addr mac;
    // Published when it becomes known or changes (a peer restarted with a new NIC).
    if (mac_of(ps.p.ip_be, &mac) && (!ps.ready || !rte_is_same_ether_addr(&ps.p.mac, &mac))) {
        ps.p.mac = mac;
        ps.ready = true;
        locs_->set_peer(ps.slot, ps.p, true);
    }
    return ps.ready;
}

void module::refresh_macs()
{
    for (auto& [k, ps] : slots_)
        refresh_mac(ps);
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    std::lock_guard lk(mu_);
    enter(io, st, now);
    for (unsigned i = 0; i < n; ++i) {
        net::udp_view v;
        // The worker already validated it; classifying again relocates the headers.
        net::classify(m[i], io.ports[m[i]->port], &v);
        if (v.ip->src_addr == cfg_.server_ip_be && v.udp->src_port == cfg_.server_port_be) {
            member_.on_datagram(v.data, v.len, now, st);
            sync_peers();
            if (member_.probes() != probes_) {
                // The CF registered us anew (restarted, or expired us): it forgot what we reported.
                if (peering_.local()) {
                    peering_.for_each_local([&](uint32_t id, const lb::endpoint& client) {
                        member_.registered(id, client, now, st);
                    });
                    st.count(cls::resyncs);
                }
                probes_ = member_.probes();
            }
        } else if (auto it = by_ip_.find(v.ip->src_addr); it != by_ip_.end()) {
            peering_.on_datagram(slots_.at(it->second).ep(), v.data, v.len, now, st);
        } else {
            st.count(drop::cluster_not_server);  // a peer removed since the worker looked
        }
    }
    rte_pktmbuf_free_bulk(m, n);
    io_ = nullptr;
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    (void)ticks;
    std::lock_guard lk(mu_);
    enter(io, st, now);
    member_.tick(now, st);
    if (now >= next_epoch_) {
        locs_->next_epoch();
        next_epoch_ = now + rte_get_tsc_hz();
        refresh_macs();  // ARP answers arrive between ticks; a peer's MAC may change
    }
    peering_.tick(now, st);
    io_ = nullptr;
}

void module::stop(const net::port_addr* ports, lcore_stats& st, const engine::shutdown_tx& tx)
{
    (void)ports, (void)tx;
    std::lock_guard lk(mu_);
    for (auto& [id, ms] : held_) {
        for (rte_mbuf* m : ms) {
            rte_pktmbuf_free(m);
            st.count(drop::cluster_locate_lost);
        }
    }
    held_.clear();
    held_n_ = 0;
}

void module::registered(uint32_t id, const router::endpoint& ep, uint64_t now, lcore_stats& st)
{
    std::lock_guard lk(mu_);
    const lb::endpoint client{ep.ip_be, ep.udp_port_be};
    member_.registered(id, client, now, st);
    peering_.registered(id, client, st);
}

void module::unregistered(uint32_t id, uint64_t now, lcore_stats& st)
{
    std::lock_guard lk(mu_);
    member_.unregistered(id, now, st);
    peering_.unregistered(id, st);
}

void module::answer_unknown(rte_mbuf* m, uint32_t id)
{
    net::udp_view v;
    const net::port_addr& pa = io_->ports[m->port];
    net::classify(m, pa, &v);
    router::encode_unknown_recipient(v.data, id);
    net::make_reply(m, v, router::unknown_recipient_len, pa.mac);
    io_->send(m);
    st_->count(cls::remote_nowhere);
}

void module::deliver(rte_mbuf* m, uint32_t id, const lb::endpoint& owner)
{
    auto it = slots_.find(lb::key_of(owner));
    // Its ARP answer may have come since the last refresh.
    if (it == slots_.end() || !refresh_mac(it->second)) {
        // Not a peer (this router itself: it registered since the worker looked), or no MAC.
        rte_pktmbuf_free(m);
        st_->count(drop::cluster_peer_unresolved);
        return;
    }
    const locations::peer& p = it->second.p;
    locs_->cache(id, it->second.slot);
    net::udp_view v;
    net::classify(m, io_->ports[m->port], &v);
    // From our router port, which it arrived at.
    net::forward_from(v, io_->ports[p.port_id], p.mac, p.ip_be, v.udp->dst_port, p.port_be);
    m->port = p.port_id;
    io_->send(m);
    st_->count(cls::remote_forwarded);
}

void module::resolve(rte_mbuf* m, uint32_t id, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    std::lock_guard lk(mu_);
    enter(io, st, now);
    lb::endpoint owner;
    switch (peering_.locate(id, &owner, now, st)) {
    case peering::answer::owner:
        deliver(m, id, owner);
        break;
    case peering::answer::nowhere:
        locs_->cache_nowhere(id);
        answer_unknown(m, id);
        break;
    case peering::answer::asked:
        if (held_n_ >= max_held) {
            rte_pktmbuf_free(m);
            st.count(drop::cluster_held_full);
            break;
        }
        held_[id].push_back(m);
        ++held_n_;
        break;
    case peering::answer::lost:
        rte_pktmbuf_free(m);
        st.count(drop::cluster_held_full);
        break;
    }
    io_ = nullptr;
}

void module::resolved(uint32_t id, peering::answer a, const lb::endpoint& owner)
{
    auto it = held_.find(id);
    if (it == held_.end())
        return;
    std::vector<rte_mbuf*> ms = std::move(it->second);
    held_.erase(it);
    held_n_ -= ms.size();
    if (a == peering::answer::nowhere)
        locs_->cache_nowhere(id);
    for (rte_mbuf* m : ms) {
        if (a == peering::answer::owner) {
            deliver(m, id, owner);
        } else if (a == peering::answer::nowhere) {
            answer_unknown(m, id);
        } else {
            rte_pktmbuf_free(m);
            st_->count(drop::cluster_locate_lost);
        }
    }
}

void module::not_there(rte_mbuf* m, uint32_t id, lcore_stats& st)
{
    std::lock_guard lk(mu_);
    locs_->invalidate(id);
    rte_pktmbuf_free(m);
    st.count(cls::cache_invalidated);
}

} // namespace peregrine::cluster
