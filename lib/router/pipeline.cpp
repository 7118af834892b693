#include "router/pipeline.hpp"

#include <rte_cycles.h>
#include <rte_prefetch.h>

#include "net/rewrite.hpp"
#include "net/source.hpp"
#include "router/codec.hpp"

namespace peregrine::router {

static_assert(burst_size <= 256, "packet indexes are bytes");

namespace {
// Why a reply or a forward may never go to this datagram's source (net::check_source), or
// drop::count_ if it may.
PG_ALWAYS_INLINE drop source_check(const net::udp_view& v, uint32_t our_ip)
{
    const net::source src = net::check_source(v, our_ip);
    if (PG_LIKELY(src == net::source::ok))
        return drop::count_;
    return src == net::source::self ? drop::router_self_source : drop::router_bad_source;
}

// A Heartbeat whose endpoint lookup ended: seen is its registration's stamp, or nullptr if the
// endpoint is not registered. Answers it in place (true) or sets the drop (false). A function
// with its arguments in registers, not a lambda: the closure's captures were loaded from the
// stack for every packet.
PG_ALWAYS_INLINE bool answer_heartbeat(rte_mbuf* m, net::udp_view& v, stamp* seen, uint64_t now, uint16_t rx_port,
                                       outcome* out)
{
    if (PG_UNLIKELY(!seen) || PG_UNLIKELY(!net::udp_cksum_ok_len<sizeof(rte_udp_hdr) + heartbeat_len>(m, v))) {
        *out = {action::drop, 0, seen ? drop::udp_bad_cksum : drop::router_hb_unregistered};
        return false;
    }
    seen->store(now);
    // A Heartbeat Response is the Heartbeat with another type byte (same length).
    static_assert(heartbeat_len == response_len);
    net::make_retyped_reply(m, v, static_cast<uint8_t>(type::heartbeat), static_cast<uint8_t>(type::heartbeat_response));
    out->port = rx_port;
    return true;
}
// An Unknown Recipient from a peer router (to be handed to the control lcore).
PG_NOINLINE bool peer_unknown_recipient(const remote& r, rte_mbuf* m, const net::udp_view& v)
{
    return v.len == unknown_recipient_len && v.data[0] == static_cast<uint8_t>(type::unknown_recipient) &&
           r.is_peer(v.ip->src_addr) && net::udp_cksum_ok(m, v);
}

// An Individual Message whose recipient is not registered here, on a router of a cluster: sets
// out and returns true when it is settled (forwarded to the peer the cache names, or handed to
// the control lcore), false when it is to be answered Unknown Recipient.
PG_NOINLINE bool place_remote(const config& cfg, uint16_t router_port_be, const net::port_addr* ports, rte_mbuf* m,
                              net::udp_view& v, uint32_t id, uint64_t now, lcore_stats& st, outcome* out)
{
    remote_target t;
    switch (cfg.remote->locate(id, v.ip->src_addr, &t)) {
    case remote::where::peer: {
        // Unchanged, as to a local recipient: the seeds' router-to-router form.
        net::forward_from(v, ports[t.port_id], t.next_hop, t.ip_be, router_port_be, t.port_be);
        out->port = t.port_id;
        st.count(rtr::message_remote);
        return true;
    }
    case remote::where::ask:
        // Verified: the control lcore would ask the directory about a corrupt ID.
        if (!net::udp_cksum_ok(m, v)) {
            *out = {action::drop, 0, drop::udp_bad_cksum};
            return true;
        }
        // A source's trips to the control lcore share one budget: a flood of messages to
        // random IDs must not fill the control ring, nor turn into Locates to the peers.
        if (!source_limiter::admits(cfg.register_limit, v.ip->src_addr, &now)) {
            *out = {action::drop, 0, drop::router_rate_limited};
            return true;
        }
        *out = {action::control, 0, drop::count_};
        st.count(rtr::message_asked);
        return true;
    case remote::where::nowhere:
    case remote::where::from_peer:
        break;
    }
    return false;
}

// Scans the payloads of the messages that have a recipient (id_hit[k] set); drop[k] for each k.
PG_NOINLINE void inspect_messages(const engine::inspection_point& pt, const net::udp_view* v, const uint8_t* id_pkt,
                                  entry* const* id_hit, unsigned n_ids, bool* drop)
{
    engine::inspection_batch b;
    for (unsigned k = 0; k < n_ids; ++k) {
        drop[k] = false;
        if (!id_hit[k])
            continue;
        const net::udp_view& x = v[id_pkt[k]];
        b.add(x.data + message_header_len, static_cast<uint32_t>(x.len - message_header_len), k);
    }
    b.scan(pt, drop);
}
} // namespace

void begin_burst(const config& cfg, const registry& reg, lcore_stats& st, const net::port_addr* ports, uint16_t rx_port,
                 rte_mbuf* const* m, const net::udp_view* v, unsigned n, outcome* out, pending* pend)
{
    // Parse, gather the keys of the two kinds that need the registry, and start their lookups
    // (hash, prefetch the bucket line) so that the whole burst's misses overlap.
    uint32_t* ids = pend->ids;
    probe* id_probe = pend->id_probe;
    uint8_t* id_pkt = pend->id_pkt;
    uint64_t* eps = pend->eps;
    probe* ep_probe = pend->ep_probe;
    uint8_t* ep_pkt = pend->ep_pkt;
    unsigned n_ids = 0, n_eps = 0;
    const uint32_t our_ip = ports[rx_port].ip_be;
    uint64_t now = 0;  // read only when a Register Client needs it

    for (unsigned i = 0; i < n; ++i) {
        packet p;
        drop why;
        // The commonest datagram first, without parse()'s jump table.
        if (PG_LIKELY(v[i].len == heartbeat_len && v[i].data[0] == static_cast<uint8_t>(type::heartbeat)))
            p.t = type::heartbeat;
        else if (PG_UNLIKELY(!parse(v[i].data, v[i].len, &p, &why))) {
            // In a cluster, a peer's Unknown Recipient tells that the ID it was sent left.
            if (PG_UNLIKELY(cfg.remote != nullptr) && peer_unknown_recipient(*cfg.remote, m[i], v[i])) {
                st.count(rtr::peer_unknown_rx);
                out[i] = {action::control, 0, drop::count_};
                continue;
            }
            out[i] = {action::drop, 0, why};
            continue;
        }
        why = source_check(v[i], our_ip);
        if (PG_UNLIKELY(why != drop::count_)) {
            out[i] = {action::drop, 0, why};
            continue;
        }
        switch (p.t) {
        case type::message:
            ids[n_ids] = p.client_id;
            id_probe[n_ids] = reg.aim_id(p.client_id);
            id_pkt[n_ids++] = static_cast<uint8_t>(i);
            out[i].a = action::tx;
            break;
        case type::heartbeat:
            eps[n_eps] = endpoint_key(v[i].ip->src_addr, v[i].udp->src_port);
            ep_probe[n_eps] = reg.aim_endpoint(eps[n_eps]);
            ep_pkt[n_eps++] = static_cast<uint8_t>(i);
            out[i].a = action::tx;
            break;
        default:  // register_client: parse() lets nothing else through
            // Verified here because the control lcore would store a corrupt ID.
            if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
                out[i] = {action::drop, 0, drop::udp_bad_cksum};
                break;
            }
            // A flood from a few sources must not fill the control ring for everyone else.
            if (!source_limiter::admits(cfg.register_limit, v[i].ip->src_addr, &now)) {
                out[i] = {action::drop, 0, drop::router_rate_limited};
                break;
            }
            st.count(rtr::register_rx);
            out[i] = {action::control, 0, drop::count_};
            break;
        }
    }

    // The burst's bucket misses, issued back to back: a prefetch that misses DRAM holds up
    // retirement on this class of core, so interleaved with parsing only a few fit in the
    // reorder window at once; in a tight loop all of them are in flight together.
    for (unsigned k = 0; k < n_eps; ++k)
        reg.prefetch_endpoint(ep_probe[k]);
    for (unsigned k = 0; k < n_ids; ++k)
        reg.prefetch_id(id_probe[k]);
    pend->n_ids = static_cast<uint8_t>(n_ids);
    pend->n_eps = static_cast<uint8_t>(n_eps);
}

void end_burst(const config& cfg, const registry& reg, lcore_stats& st, const net::port_addr* ports,
               uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, uint64_t now, outcome* out,
               pending& pend)
{
    const uint32_t* ids = pend.ids;
    const uint8_t* id_pkt = pend.id_pkt;
    const uint64_t* eps = pend.eps;
    const uint8_t* ep_pkt = pend.ep_pkt;
    probe* id_probe = pend.id_probe;  // find() advances a probe past an overflowed bucket
    probe* ep_probe = pend.ep_probe;
    const unsigned n_ids = pend.n_ids, n_eps = pend.n_eps;

    // Pass 2: compare the IDs; a hit starts the prefetch of its registration, which pass 4
    // reads. Keys whose bucket overflowed go round again while their next bucket arrives.
    // Measured (lookup_ids: ID bucket + entry read; docs/performance.md, AMD EPYC Zen 5 VM,
    // 2.69 GHz TSC, 2026-12-06): ~25 TSC cycles/packet at 1K clients, ~59 at 10M (two
    // dependent misses).
    entry* id_hit[burst_size];
    uint8_t again[burst_size];
    unsigned n_again = 0;
    for (unsigned k = 0; k < n_ids; ++k) {
        const step r = reg.find_id(ids[k], id_probe[k], &id_hit[k]);
        if (r == step::miss)
            id_hit[k] = nullptr;
        else if (PG_UNLIKELY(r == step::again))
            again[n_again++] = static_cast<uint8_t>(k);
    }
    while (PG_UNLIKELY(n_again != 0)) {
        unsigned left = 0;
        for (unsigned j = 0; j < n_again; ++j) {
            const unsigned k = again[j];
            const step r = reg.find_id(ids[k], id_probe[k], &id_hit[k]);
            if (r == step::miss)
                id_hit[k] = nullptr;
            else if (r == step::again)
                again[left++] = static_cast<uint8_t>(k);
        }
        n_again = left;
    }

    const uint16_t router_port_be = rte_cpu_to_be_16(cfg.udp_port);
    const net::port_addr& in = ports[rx_port];

    // Pass 3: Heartbeats, each answered as soon as its bucket line is compared (the stamp it
    // refreshes is in that line), so the rewrite of one overlaps the next one's miss.
    // Measured (bench_router, TSC cycles/packet, the whole two-burst pipeline + harness, NIC
    // checksum, same machine): ~57 at 1K clients, ~73 at 10M, of which the registry
    // (lookup_endpoints) ~19 / ~55.
    // Counted once per burst: a counter incremented in memory per packet is a chain of
    // store-to-load forwards.
    unsigned answered = 0, forwarded = 0;
    for (unsigned k = 0; k < n_eps; ++k) {
        stamp* seen = nullptr;
        const step r = reg.find_endpoint(eps[k], ep_probe[k], &seen);
        if (PG_UNLIKELY(r == step::again))
            again[n_again++] = static_cast<uint8_t>(k);
        else
            answered += answer_heartbeat(m[ep_pkt[k]], v[ep_pkt[k]], r == step::hit ? seen : nullptr, now, rx_port,
                                         &out[ep_pkt[k]]);
    }
    while (PG_UNLIKELY(n_again != 0)) {
        unsigned left = 0;
        for (unsigned j = 0; j < n_again; ++j) {
            const unsigned k = again[j];
            stamp* seen = nullptr;
            const step r = reg.find_endpoint(eps[k], ep_probe[k], &seen);
            if (r == step::again)
                again[left++] = static_cast<uint8_t>(k);
            else
                answered += answer_heartbeat(m[ep_pkt[k]], v[ep_pkt[k]], r == step::hit ? seen : nullptr, now,
                                             rx_port, &out[ep_pkt[k]]);
        }
        n_again = left;
    }

    // Pass 4: Individual Messages. Those about to be forwarded go through inspection first,
    // their payloads scanned back to back; a drop rule's match is dropped and counted.
    // In a cluster, the location cache lines of the IDs not registered here, all in flight at
    // once (at 1M cached IDs each is a DRAM miss: docs/performance.md).
    if (PG_UNLIKELY(cfg.remote != nullptr))
        for (unsigned k = 0; k < n_ids; ++k)
            if (!id_hit[k])
                cfg.remote->prefetch(ids[k]);
    bool inspect_drop[burst_size];
    if (cfg.inspect && n_ids)
        inspect_messages(*cfg.inspect, v, id_pkt, id_hit, n_ids, inspect_drop);
    for (unsigned k = 0; k < n_ids; ++k) {
        const unsigned i = id_pkt[k];
        const entry* e = id_hit[k];
        if (PG_UNLIKELY(cfg.inspect != nullptr) && e && inspect_drop[k]) {
            out[i] = {action::drop, 0, drop::router_inspect_drop};
            continue;
        }
        if (PG_LIKELY(e != nullptr)) {
            // Forwarded unchanged (type byte and ID included), as the origin router does.
            net::forward_from(v[i], ports[e->port_id], e->next_hop, e->ip_be, router_port_be, e->udp_port_be);
            out[i].port = e->port_id;
            ++forwarded;
            continue;
        }
        if (PG_UNLIKELY(cfg.remote != nullptr) &&
            place_remote(cfg, router_port_be, ports, m[i], v[i], ids[k], now, st, &out[i]))
            continue;
        // Unknown Recipient echoes the ID: verify first so a corrupt ID is never echoed.
        if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
            out[i] = {action::drop, 0, drop::udp_bad_cksum};
            continue;
        }
        encode_unknown_recipient(v[i].data, ids[k]);
        net::make_reply(m[i], v[i], unknown_recipient_len, in.mac);
        out[i].port = rx_port;
        st.count(rtr::unknown_recipient);
    }
    st.count(rtr::heartbeat_answered, answered);
    st.count(rtr::message_forwarded, forwarded);
}

upsert_result apply_register(registry& reg, rte_mbuf* m, const net::port_addr& pa, uint64_t now, registered* what)
{
    net::udp_view v;
    // The worker already validated this frame; classifying again just relocates the headers.
    net::classify(m, pa, &v);
    endpoint ep;
    ep.ip_be = v.ip->src_addr;
    ep.udp_port_be = v.udp->src_port;
    ep.port_id = m->port;
    ep.next_hop = v.eth->src_addr;
    const uint32_t id = read_id(v.data + 1);
    const upsert_result r = reg.upsert(id, ep, now, what ? &what->displaced : nullptr);
    if (what) {
        what->id = id;
        what->ep = ep;
    }
    if (r != upsert_result::full) {
        encode_register_response(v.data);
        net::make_reply(m, v, response_len, pa.mac);
    }
    return r;
}

} // namespace peregrine::router
