#include "rudp/retransmit.hpp"

#include <rte_ip.h>
#include <rte_udp.h>

namespace peregrine::rudp {

retransmitter::~retransmitter()
{
    for (auto& [k, pc] : conns_)
        for (auto& [s, it] : pc.items)
            rte_pktmbuf_free(it.m);
}

bool retransmitter::acked_by(uint16_t seq, uint16_t ack, uint16_t bits) const
{
    if (seq == ack)
        return true;
    const uint16_t d = static_cast<uint16_t>(ack - seq);  // ack - 1 - i == seq  <=>  i == d - 1
    return d >= 1 && d <= rudp::ack_bits && ((bits >> (d - 1)) & 1);
}

void retransmitter::drop_item(per_conn& pc, std::map<uint16_t, item>::iterator it)
{
    rte_pktmbuf_free(it->second.m);
    pc.items.erase(it);
    --n_pending_;
}

void retransmitter::sample(per_conn& pc, uint64_t rtt)
{
    // RFC 6298 2.2-2.3, alpha 1/8, beta 1/4.
    if (pc.srtt == 0) {
        pc.srtt = rtt;
        pc.rttvar = rtt / 2;
    } else {
        const uint64_t diff = pc.srtt > rtt ? pc.srtt - rtt : rtt - pc.srtt;
        pc.rttvar = (3 * pc.rttvar + diff) / 4;
        pc.srtt = (7 * pc.srtt + rtt) / 8;
    }
    pc.rto = std::clamp(pc.srtt + 4 * pc.rttvar, p_.min_rto, p_.max_rto);
}

uint64_t retransmitter::rto_of(uint64_t key) const
{
    auto it = conns_.find(key);
    return it == conns_.end() || it->second.rto == 0 ? p_.initial_rto : it->second.rto;
}

void retransmitter::take_sent(rte_mbuf* m, uint64_t now, lcore_stats& st, const generation_fn& generation)
{
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(ip + 1);
    const auto* d = reinterpret_cast<const uint8_t*>(udp + 1);
    const uint64_t key = endpoint_key(ip->dst_addr, udp->dst_port);
    const uint16_t seq = static_cast<uint16_t>(d[2] << 8 | d[3]);
    const int64_t gen = generation(key);
    if (gen < 0) {  // closed meanwhile
        rte_pktmbuf_free(m);
        return;
    }
    per_conn& pc = conns_[key];
    if (pc.generation != gen) {  // a new connection from the same endpoint
        for (auto it = pc.items.begin(); it != pc.items.end();)
            drop_item(pc, it++);
        pc = per_conn{};
        pc.generation = gen;
    }
    if (pc.has_ack && now - pc.last_ack_at < p_.max_rto && acked_by(seq, pc.last_ack, pc.last_bits)) {
        st.count(rdp::acked);
        rte_pktmbuf_free(m);
        return;
    }
    if (n_pending_ >= p_.max_pending || pc.items.size() >= p_.max_per_conn || pc.items.count(seq)) {
        st.count(rdp::untracked);
        rte_pktmbuf_free(m);
        return;
    }
    const uint64_t rto = pc.rto ? pc.rto : p_.initial_rto;
    pc.items.emplace(seq, item{m, now, now + rto, 1});
    ++n_pending_;
    timers_.push({now + rto, key, seq, 1});
}

void retransmitter::take_ack(const ack_event& e, uint64_t now, lcore_stats& st)
{
    auto c = conns_.find(e.key);
    if (c == conns_.end())
        return;
    per_conn& pc = c->second;
    pc.last_ack = e.ack_id;
    pc.last_bits = e.bits;
    pc.last_ack_at = now;
    pc.has_ack = true;
    bool sampled = false;  // one RTT sample per ACK: the frames it covers left together
    auto one = [&](uint16_t s) {
        auto it = pc.items.find(s);
        if (it == pc.items.end())
            return;
        if (it->second.tries == 1 && !sampled) {
            sample(pc, now - it->second.first);
            sampled = true;
        }
        st.count(rdp::acked);
        drop_item(pc, it);
    };
    one(e.ack_id);
    for (unsigned i = 0; i < rudp::ack_bits; ++i)
        if ((e.bits >> i) & 1)
            one(static_cast<uint16_t>(e.ack_id - 1 - i));
}

void retransmitter::forget(uint64_t key)
{
    auto c = conns_.find(key);
    if (c == conns_.end())
        return;
    for (auto it = c->second.items.begin(); it != c->second.items.end();)
        drop_item(c->second, it++);
    conns_.erase(c);
}

void retransmitter::run(rte_ring* sent, rte_ring* acks, uint64_t now, lcore_stats& st, const generation_fn& generation,
                        const std::function<void(rte_mbuf*)>& send, const std::function<void(uint64_t)>& give_up)
{
    // Frames first, then ACKs: an ACK queued after its frame always finds it.
    rte_mbuf* ms[burst_size];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst(sent, reinterpret_cast<void**>(ms), burst_size, nullptr)) > 0)
        for (unsigned i = 0; i < n; ++i)
            take_sent(ms[i], now, st, generation);
    ack_event ev[burst_size];
    while ((n = rte_ring_sc_dequeue_burst_elem(acks, ev, sizeof(ack_event), burst_size, nullptr)) > 0)
        for (unsigned i = 0; i < n; ++i)
            take_ack(ev[i], now, st);

    while (!timers_.empty() && static_cast<int64_t>(now - timers_.top().due) >= 0) {
        const timer t = timers_.top();
        timers_.pop();
        auto c = conns_.find(t.key);
        if (c == conns_.end())
            continue;
        per_conn& pc = c->second;
        auto it = pc.items.find(t.seq);
        if (it == pc.items.end() || it->second.tries != t.tries)
            continue;  // acknowledged, or a later timer of the same frame
        if (generation(t.key) != pc.generation) {
            forget(t.key);
            continue;
        }
        if (it->second.tries >= p_.max_tries) {
            st.count(rdp::retransmit_closed);
            forget(t.key);
            give_up(t.key);
            continue;
        }
        rte_mbuf* again = rte_pktmbuf_clone(it->second.m, it->second.m->pool);
        // Exponential backoff (RFC 6298 5.5), whether or not this try could be sent.
        const uint64_t rto = std::min(p_.max_rto, (pc.rto ? pc.rto : p_.initial_rto) << it->second.tries);
        ++it->second.tries;
        it->second.due = now + rto;
        timers_.push({now + rto, t.key, t.seq, it->second.tries});
        if (again) {
            st.count(rdp::retransmitted);
            send(again);
        }
    }
}

} // namespace peregrine::rudp
