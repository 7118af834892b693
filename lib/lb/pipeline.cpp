#include "lb/pipeline.hpp"

#include <rte_prefetch.h>

#include "net/rewrite.hpp"
#include "net/source.hpp"

namespace peregrine::lb {

bool source_ok(const net::udp_view& v, uint32_t our_ip, drop* why)
{
    // Storing a spoofed source as a node we later notify would make the engine a reflector.
    const net::source src = net::check_source(v, our_ip);
    if (PG_LIKELY(src == net::source::ok))
        return true;
    *why = src == net::source::self ? drop::lb_self_source : drop::lb_bad_source;
    return false;
}

uint8_t* reply_room(rte_mbuf* m, const net::udp_view& v, uint16_t len)
{
    const auto* base = static_cast<const uint8_t*>(m->buf_addr);
    const std::size_t end = static_cast<std::size_t>(v.data - base) + len;
    return end <= m->buf_len ? v.data : nullptr;
}

void finish_reply(rte_mbuf* m, net::udp_view& v, uint16_t len, const rte_ether_addr& our_mac)
{
    net::make_reply(m, v, len, our_mac);
}

void handle_burst(config& cfg, lcore_stats& st, const net::port_addr* ports, uint16_t rx_port,
                  rte_mbuf* const* m, net::udp_view* v, unsigned n, outcome* out)
{
    const net::port_addr& in = ports[rx_port];
    // Pass 1: parse and validate; for Request Serving Node, hash the requester and prefetch its
    // table slot (the table is 128 KiB: usually L2, so the prefetch hides an L1 miss).
    const table* t = cfg.current.load(std::memory_order_acquire);
    const bool fast = cfg.pol == policy::maglev;
    uint32_t hash[burst_size];
    uint16_t req[burst_size];
    uint8_t rsn[burst_size];
    unsigned n_rsn = 0;
    uint64_t now = 0;  // read once, and only if a datagram goes to the control lcore
    for (unsigned i = 0; i < n; ++i) {
        packet p;
        drop why;
        if (PG_UNLIKELY(!parse(v[i].data, v[i].len, &p, &why)) || PG_UNLIKELY(!source_ok(v[i], in.ip_be, &why))) {
            out[i] = {action::drop, 0, why};
            continue;
        }
        // Every type either echoes the Request ID or is stored: a corrupt datagram must not be.
        if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
            out[i] = {action::drop, 0, drop::udp_bad_cksum};
            continue;
        }
        if (p.t == type::request_serving_node && fast) {
            const uint32_t h = requester_hash(v[i].ip->src_addr, v[i].udp->src_port);
            if (t && t->n_nodes)
                rte_prefetch0(slot_of(t, h));
            if (cfg.credit.enabled() && v[i].len < serving_node_response_len)
                cfg.credit.prefetch(v[i].ip->src_addr);
            hash[n_rsn] = h;
            req[n_rsn] = p.request_id;
            rsn[n_rsn++] = static_cast<uint8_t>(i);
            out[i] = {action::tx, rx_port, drop::count_};
            continue;
        }
        if (!source_limiter::admits(cfg.control_limit, v[i].ip->src_addr, &now)) {
            out[i] = {action::drop, 0, drop::lb_rate_limited};
            continue;
        }
        st.count(lbc::to_control);
        out[i] = {action::control, 0, drop::count_};
    }

    // Pass 2: answer. No live node: silence by default, so the origin's client retries after
    // its 1 s wait; 0.0.0.0:0 with --lb-answer-no-node (docs/protocols/lb.md).
    const bool none = !t || !t->n_nodes;
    for (unsigned k = 0; k < n_rsn; ++k) {
        const unsigned i = rsn[k];
        if (PG_UNLIKELY(none)) {
            st.count(lbc::request_no_node);
            if (!cfg.answer_no_node) {
                cfg.unanswered(v[i].ip->src_addr, v[i].len);
                out[i] = {action::drop, 0, drop::lb_no_node};
                continue;
            }
        }
        if (!cfg.may_answer(v[i].ip->src_addr, v[i].len)) {
            out[i] = {action::drop, 0, drop::lb_unvalidated};
            continue;
        }
        uint8_t* d = reply_room(m[i], v[i], serving_node_response_len);
        if (PG_UNLIKELY(!d)) {
            out[i] = {action::drop, 0, drop::lb_no_room};
            continue;
        }
        if (PG_LIKELY(!none)) {
            encode_serving_node_response(d, req[k], pick(t, hash[k]));
            st.count(lbc::request_answered);
        } else {
            encode_serving_node_response(d, req[k], endpoint{});
        }
        finish_reply(m[i], v[i], serving_node_response_len, in.mac);
    }
}

} // namespace peregrine::lb
