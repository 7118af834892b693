#include "engine/dispatch.hpp"

#include <rte_prefetch.h>

namespace peregrine::engine {

void stage_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                 staged_burst& s, burst_out& out)
{
    const net::port_addr& pa = ctx.ports[rx_port];
    rte_mbuf** rtr_m = s.rtr_m;
    net::udp_view* rtr_v = s.rtr_v;
    unsigned n_rtr = 0;
    rte_mbuf** ses_m = s.ses_m;
    net::udp_view* ses_v = s.ses_v;
    unsigned n_ses = 0;
    rte_mbuf** lb_m = s.lb_m;
    net::udp_view* lb_v = s.lb_v;
    unsigned n_lb = 0;

    // Read once: the stores into the views below could alias ctx as far as the compiler knows.
    const uint16_t router_port = ctx.router.udp_port;
    const uint16_t session_port = ctx.sessions ? ctx.session.udp_port : 0;
    const uint16_t lb_port = ctx.lb.enabled ? ctx.lb.udp_port : 0;

    for (unsigned i = 0; i < prefetch_ahead && i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));

    for (unsigned i = 0; i < n; ++i) {
        if (i + prefetch_ahead < n)
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + prefetch_ahead], void*));
        rte_mbuf* m = pkts[i];
        // Classified straight into the router's slot (reused if the packet is not for it):
        // copying a view that classify() just stored field by field would stall on
        // store-to-load forwarding.
        net::udp_view& v = rtr_v[n_rtr];
        const net::classification c = net::classify(m, pa, &v);
        if (c.v == net::verdict::drop) {
            st.count(c.d);
            out.drop[out.n_drop++] = m;
            continue;
        }
        if (c.v == net::verdict::exception) {
            st.count(c.e);
            out.exc[out.n_exc++] = m;
            continue;
        }
        if (c.dst_port == router_port) {
            if (PG_UNLIKELY(m->nb_segs != 1)) {
                st.count(drop::multi_seg);
                out.drop[out.n_drop++] = m;
                continue;
            }
            rtr_m[n_rtr++] = m;
            continue;
        }
        if (session_port != 0 && c.dst_port == session_port) {
            if (PG_UNLIKELY(m->nb_segs != 1)) {
                st.count(drop::multi_seg);
                out.drop[out.n_drop++] = m;
                continue;
            }
            ses_v[n_ses] = v;
            ses_m[n_ses++] = m;
            continue;
        }
        if (lb_port != 0 && c.dst_port == lb_port) {
            if (PG_UNLIKELY(m->nb_segs != 1)) {
                st.count(drop::multi_seg);
                out.drop[out.n_drop++] = m;
                continue;
            }
            lb_v[n_lb] = v;
            lb_m[n_lb++] = m;
            continue;
        }
        st.count(exc::udp_other_port);
        out.exc[out.n_exc++] = m;
    }

    s.rx_port = rx_port;
    s.n_rtr = static_cast<uint8_t>(n_rtr);
    s.n_ses = static_cast<uint8_t>(n_ses);
    s.n_lb = static_cast<uint8_t>(n_lb);
    if (n_rtr)
        router::begin_burst(*ctx.registry, st, ctx.ports, rx_port, rtr_m, rtr_v, n_rtr, s.rtr_oc, &s.rtr);
    st.rx_packets += n;
}

void finish_burst(const context& ctx, lcore_stats& st, staged_burst& s, uint64_t now, burst_out& out)
{
    const uint16_t rx_port = s.rx_port;
    const unsigned n_rtr = s.n_rtr, n_ses = s.n_ses, n_lb = s.n_lb;
    rte_mbuf** rtr_m = s.rtr_m;
    rte_mbuf** ses_m = s.ses_m;
    rte_mbuf** lb_m = s.lb_m;

    if (n_lb) {
        lb::outcome oc[burst_size];
        lb::handle_burst(ctx.lb, st, ctx.ports, rx_port, lb_m, s.lb_v, n_lb, oc);
        for (unsigned k = 0; k < n_lb; ++k) {
            rte_mbuf* m = lb_m[k];
            switch (oc[k].a) {
            case lb::action::tx:
                out.tx[rx_port][out.n_tx[rx_port]++] = m;
                out.tx_port_mask |= 1ull << rx_port;
                break;
            case lb::action::control:
                out.ctl[out.n_ctl++] = m;
                break;
            case lb::action::drop:
                st.count(oc[k].why);
                out.drop[out.n_drop++] = m;
                break;
            }
        }
    }

    if (n_rtr) {
        router::outcome* oc = s.rtr_oc;
        router::end_burst(ctx.router, *ctx.registry, st, ctx.ports, rx_port, rtr_m, s.rtr_v, now, oc, s.rtr);
        // Answers (Heartbeat Responses, Unknown Recipient) and forwards to the receiving port,
        // the common case, are appended with the count in a register: out.n_tx[port]++ in
        // memory makes a store-to-load chain through the whole burst. Forwards to other ports
        // are collected without a branch on the port (recipients' ports are random, so that
        // branch would mispredict) and sorted afterwards.
        rte_mbuf** back = out.tx[rx_port];
        unsigned n_back = out.n_tx[rx_port];
        rte_mbuf* away[burst_size];
        uint16_t away_port[burst_size];
        unsigned n_away = 0;
        for (unsigned k = 0; k < n_rtr; ++k) {
            rte_mbuf* m = rtr_m[k];
            if (PG_LIKELY(oc[k].a == router::action::tx)) {
                const uint16_t p = oc[k].port;
                const bool here = p == rx_port;
                back[n_back] = m;
                away[n_away] = m;
                away_port[n_away] = p;
                n_back += here;
                n_away += !here;
                continue;
            }
            if (oc[k].a == router::action::control) {
                out.ctl[out.n_ctl++] = m;
            } else {
                st.count(oc[k].why);
                out.drop[out.n_drop++] = m;
            }
        }
        out.n_tx[rx_port] = static_cast<uint16_t>(n_back);
        if (n_back)
            out.tx_port_mask |= 1ull << rx_port;
        for (unsigned k = 0; k < n_away; ++k) {
            const uint16_t p = away_port[k];
            out.tx[p][out.n_tx[p]++] = away[k];
            out.tx_port_mask |= 1ull << p;
        }
    }
    if (n_ses) {
        session::outcome oc[burst_size];
        rte_mbuf* app[session::max_app_out];
        unsigned n_app = 0;
        session::handle_burst(ctx.session, *ctx.sessions, st, ctx.ports, rx_port, ses_m, s.ses_v, n_ses, now, oc, app,
                              &n_app);
        rte_mbuf** tx = out.tx[rx_port];
        uint16_t& n_tx = out.n_tx[rx_port];
        for (unsigned k = 0; k < n_ses; ++k) {
            rte_mbuf* m = ses_m[k];
            switch (oc[k].a) {
            case session::action::tx:
                tx[n_tx++] = m;
                break;
            case session::action::control:
                out.ctl[out.n_ctl++] = m;
                break;
            case session::action::drop:
                st.count(oc[k].why);
                out.drop[out.n_drop++] = m;
                break;
            case session::action::consume:
                st.count(ses::consumed);
                out.drop[out.n_drop++] = m;
                break;
            }
        }
        for (unsigned k = 0; k < n_app; ++k)
            tx[n_tx++] = app[k];
        if (n_tx)
            out.tx_port_mask |= 1ull << rx_port;
    }
}

void process_burst(const context& ctx, lcore_stats& st, uint16_t rx_port, rte_mbuf** pkts, uint16_t n,
                   uint64_t now, burst_out& out)
{
    staged_burst s;
    stage_burst(ctx, st, rx_port, pkts, n, s, out);
    finish_burst(ctx, st, s, now, out);
}

} // namespace peregrine::engine
