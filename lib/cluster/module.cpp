#include "cluster/module.hpp"

#include <cstring>

#include "net/frame.hpp"

namespace peregrine::cluster {

module::module(const config& cfg, const member_params& mp)
    : cfg_(cfg), member_(mp, [this](const uint8_t* d, std::size_t len) { return send(d, len); })
{
}

void module::finish(const engine::burst_in& b, lcore_stats& st, uint64_t now, void* scratch,
                    engine::burst_out& out) const
{
    (void)now, (void)scratch;
    engine::outcome oc[burst_size];
    for (unsigned i = 0; i < b.n; ++i) {
        const net::udp_view& v = b.v[i];
        // Only the Controlling Function speaks to us: anything else would let a stranger edit
        // the peer list or make us Ack towards any address.
        if (v.ip->src_addr == cfg_.server_ip_be && v.udp->src_port == cfg_.server_port_be)
            oc[i] = {engine::action::control, 0, drop{}};
        else
            oc[i] = {engine::action::drop, 0, drop::cluster_not_server};
    }
    engine::emit(out, st, b.rx_port, index(), b.m, oc, b.n);
}

bool module::send(const uint8_t* d, std::size_t len)
{
    if (!io_)
        return false;
    lcore_stats& st = *st_;
    rte_ether_addr mac;
    bool ask = false;
    const bool known = io_->neigh && io_->neigh->lookup(cfg_.out_port, cfg_.next_hop_be, now_, &mac, &ask);
    if (ask) {
        if (rte_mbuf* arp = net::neigh_table::request(cfg_.pool, cfg_.out_port, io_->ports[cfg_.out_port],
                                                      cfg_.next_hop_be)) {
            io_->send(arp);
            st.count(cls::originated);
        }
    }
    if (!known) {
        st.count(cls::no_next_hop);
        return false;
    }
    const net::udp_to to{mac, cfg_.server_ip_be, rte_cpu_to_be_16(cfg_.port), cfg_.server_port_be, cfg_.out_port};
    uint8_t* p;
    rte_mbuf* m = net::new_udp_frame(cfg_.pool, io_->ports[cfg_.out_port], to, static_cast<uint16_t>(len), &p);
    if (!m)
        return false;
    std::memcpy(p, d, len);
    net::finish_udp_frame(m);
    io_->send(m);
    return true;
}

void module::control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, engine::control_io& io)
{
    std::lock_guard lk(mu_);
    io_ = &io;
    st_ = &st;
    now_ = now;
    for (unsigned i = 0; i < n; ++i) {
        net::udp_view v;
        // The worker already validated it; classifying again relocates the headers.
        net::classify(m[i], io.ports[m[i]->port], &v);
        member_.on_datagram(v.data, v.len, now, st);
    }
    rte_pktmbuf_free_bulk(m, n);
    io_ = nullptr;
}

void module::tick(uint64_t now, unsigned ticks, lcore_stats& st, engine::control_io& io)
{
    (void)ticks;
    std::lock_guard lk(mu_);
    io_ = &io;
    st_ = &st;
    now_ = now;
    member_.tick(now, st);
    io_ = nullptr;
}

void module::registered(uint32_t id, const router::endpoint& ep, uint64_t now, lcore_stats& st)
{
    std::lock_guard lk(mu_);
    member_.registered(id, lb::endpoint{ep.ip_be, ep.udp_port_be}, now, st);
}

void module::unregistered(uint32_t id, uint64_t now, lcore_stats& st)
{
    std::lock_guard lk(mu_);
    member_.unregistered(id, now, st);
}

} // namespace peregrine::cluster
