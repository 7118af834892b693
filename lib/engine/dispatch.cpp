#include "engine/dispatch.hpp"

#include <rte_prefetch.h>
#include <rte_tcp.h>

namespace peregrine::engine {

namespace {
// A connection attempt: SYN without ACK. classify() handed TCP to the exception path only
// with a 20-byte IPv4 header, so the TCP header follows it.
bool tcp_syn(const rte_mbuf* m)
{
    constexpr unsigned at = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
    if (m->data_len < at + sizeof(rte_tcp_hdr))
        return false;
    const auto* t = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, at);
    return (t->tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG;
}
} // namespace

void stage_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                 staged_burst& s, burst_out& out)
{
    const net::port_addr& pa = ctx.ports[rx_port];
    const uint8_t* udp_module = ctx.udp_module;
    uint8_t counts[max_modules] = {};
    // Each packet is classified straight into the slot of the module the previous packet went
    // to: bursts are mostly of one protocol, so the view is seldom copied (copying a view that
    // classify() just stored field by field would stall on store-to-load forwarding), and that
    // module's count stays in a register.
    unsigned cur = 0;
    unsigned n_cur = 0;
    rte_mbuf** cur_m = s.mod[0].m;
    net::udp_view* cur_v = s.mod[0].v;
    // The previous datagram's port: the same again (the common case) needs no table lookup.
    // Starts beyond any 16-bit port.
    unsigned cur_port = 1u << 16;
    uint64_t now = 0;  // the TSC, read only if a connection attempt is rate-checked

    for (unsigned i = 0; i < prefetch_ahead && i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));

    for (unsigned i = 0; i < n; ++i) {
        if (i + prefetch_ahead < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_ahead], void*));
        rte_mbuf* m = pkts[i];
        net::udp_view& v = cur_v[n_cur];
        const net::classification c = net::classify(m, pa, &v);
        if (c.v == net::verdict::drop) {
            st.count(c.d);
            out.drop[out.n_drop++] = m;
            continue;
        }
        if (c.v == net::verdict::exception) {
            if (PG_UNLIKELY(c.e == exc::tcp) && ctx.syn_limit && tcp_syn(m)) {
                const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
                if (!source_limiter::admits(ctx.syn_limit, ip->src_addr, &now)) {
                    st.count(drop::syn_rate_limited);
                    out.drop[out.n_drop++] = m;
                    continue;
                }
            }
            st.count(c.e);
            out.exc[out.n_exc++] = m;
            continue;
        }
        if (PG_UNLIKELY(c.dst_port != cur_port)) {
            const unsigned mod = udp_module[c.dst_port];
            if (mod == no_module) {
                st.count(exc::udp_other_port);
                out.exc[out.n_exc++] = m;
                continue;
            }
            cur_port = c.dst_port;
            if (mod != cur) {
                counts[cur] = static_cast<uint8_t>(n_cur);
                n_cur = counts[mod];
                cur = mod;
                cur_m = s.mod[mod].m;
                cur_v = s.mod[mod].v;
                cur_v[n_cur] = v;
            }
        }
        if (PG_UNLIKELY(m->nb_segs != 1)) {
            st.count(drop::multi_seg);
            out.drop[out.n_drop++] = m;
            continue;
        }
        cur_m[n_cur++] = m;
    }
    counts[cur] = static_cast<uint8_t>(n_cur);

    s.rx_port = rx_port;
    for (unsigned k = 0; k < ctx.n_modules; ++k) {
        s.n[k] = counts[k];
        if (counts[k] && ctx.staged[k])
            ctx.modules[k]->stage({ctx.ports, rx_port, s.mod[k].m, s.mod[k].v, counts[k]}, st, s.mod[k].scratch);
    }
    st.rx_packets += n;
}

void finish_burst(const context& ctx, lcore_stats& st, staged_burst& s, uint64_t now, burst_out& out)
{
    for (unsigned k = 0; k < ctx.n_modules; ++k)
        if (s.n[k])
            ctx.modules[k]->finish({ctx.ports, s.rx_port, s.mod[k].m, s.mod[k].v, s.n[k]}, st, now, s.mod[k].scratch,
                                   out);
}

void process_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   uint64_t now, burst_out& out)
{
    staged_burst s;
    stage_burst(ctx, st, rx_port, pkts, n, s, out);
    finish_burst(ctx, st, s, now, out);
}

} // namespace peregrine::engine
