#include "session/pipeline.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "net/frame.hpp"
#include "net/rewrite.hpp"
#include "net/source.hpp"

namespace peregrine::session {

static_assert(burst_size <= RTE_HASH_LOOKUP_BULK_MAX, "one bulk lookup per burst");

namespace {

using digest_t = uint8_t[digest_len];

// SHA-256 or, in keyed mode, HMAC-SHA-256 of n buffers, a burst at a time.
void digest_burst(const config& cfg, crypto::mb_context& mb, const uint8_t* const* p, const uint32_t* len,
                  unsigned n, digest_t* out)
{
    for (unsigned i = 0; i < n; i += burst_size) {
        const unsigned k = std::min(burst_size, n - i);
        if (cfg.key)
            crypto::hmac_sha256_burst(mb, *cfg.key, p + i, len + i, k, out + i);
        else
            crypto::sha256_burst(mb, p + i, len + i, k, out + i);
    }
}

// Bytes an answer may grow into past the datagram's end: Ethernet padding plus tailroom.
inline unsigned room(const rte_mbuf* m, const net::udp_view& v)
{
    const uint8_t* frame_end = rte_pktmbuf_mtod(m, const uint8_t*) + m->data_len;
    return static_cast<unsigned>(rte_pktmbuf_tailroom(m) + (frame_end - (v.data + v.len)));
}

// Answers written in place (or built by the application) waiting to be signed and readdressed.
struct answers {
    rte_mbuf* m[burst_size + max_app_out];
    net::udp_view* v[burst_size + max_app_out];
    uint16_t len[burst_size + max_app_out];  // datagram payload length: 64 + session payload
    uint16_t port[burst_size + max_app_out]; // ethdev port it leaves by (where it came from)
    unsigned n = 0;

    void add(rte_mbuf* mb, net::udp_view* vw, uint16_t l, uint16_t p)
    {
        m[n] = mb;
        v[n] = vw;
        len[n] = l;
        port[n++] = p;
    }

    // Fills every digest field (one multi-buffer call), then turns each datagram into an answer
    // to its sender (addresses, lengths, checksums).
    void finish(const config& cfg, crypto::mb_context& mb, const net::port_addr* ports)
    {
        if (!n)
            return;
        const uint8_t* p[burst_size + max_app_out];
        uint32_t l[burst_size + max_app_out];
        digest_t d[burst_size + max_app_out];
        for (unsigned k = 0; k < n; ++k) {
            p[k] = v[k]->data + off_client;
            l[k] = len[k] - off_client;
        }
        digest_burst(cfg, mb, p, l, n, d);
        for (unsigned k = 0; k < n; ++k) {
            std::memcpy(v[k]->data + off_digest, d[k], digest_len);
            net::make_reply(m[k], *v[k], len[k], ports[port[k]].mac);
        }
    }
};

} // namespace

void handle_burst(const config& cfg, const table& tab, lcore_stats& st, const net::port_addr* ports,
                  uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, unsigned n, uint64_t now,
                  outcome* out, rte_mbuf** app, unsigned* n_app)
{
    *n_app = 0;
    crypto::mb_context* mb = cfg.lcore_mb();
    if (PG_UNLIKELY(!mb)) {
        for (unsigned i = 0; i < n; ++i)
            out[i] = {action::drop, 0, drop::session_no_crypto};
        return;
    }

    // Pass 1: headers and sources; gather what to verify.
    header h[burst_size];
    uint8_t idx[burst_size];
    const uint8_t* vp[burst_size];
    uint32_t vl[burst_size];
    unsigned n_ok = 0;
    const uint32_t our_ip = ports[rx_port].ip_be;
    for (unsigned i = 0; i < n; ++i) {
        drop why;
        if (PG_UNLIKELY(!parse(v[i].data, v[i].len, &h[i], &why))) {
            out[i] = {action::drop, 0, why};
            continue;
        }
        if (PG_UNLIKELY(net::check_source(v[i], our_ip) != net::source::ok)) {
            out[i] = {action::drop, 0, drop::session_bad_source};
            continue;
        }
        vp[n_ok] = v[i].data + off_client;
        vl[n_ok] = static_cast<uint32_t>(v[i].len - off_client);
        idx[n_ok++] = static_cast<uint8_t>(i);
    }
    if (!n_ok)
        return;

    // Pass 2: every digest in one multi-buffer call; every session in one bulk lookup.
    digest_t dg[burst_size];
    digest_burst(cfg, *mb, vp, vl, n_ok, dg);

    const uint8_t* ids[burst_size];
    uint8_t id_of[burst_size];
    unsigned n_ids = 0;
    for (unsigned k = 0; k < n_ok; ++k)
        if (h[idx[k]].t != type::hello) {
            ids[n_ids] = h[idx[k]].client_id;
            id_of[n_ids++] = static_cast<uint8_t>(k);
        }
    entry* found[burst_size];
    entry* hit[burst_size] = {};
    if (n_ids)
        tab.lookup(ids, n_ids, found);
    for (unsigned j = 0; j < n_ids; ++j) {
        hit[id_of[j]] = found[j];
        if (found[j])
            rte_prefetch0(found[j]);
    }

    // Pass 3: the state machine.
    answers ans;
    sender::slot slots[max_app_out];
    unsigned n_slots = 0;
    sender snd;
    snd.out = slots;
    snd.n_out = &n_slots;
    snd.max_out = max_app_out;
    snd.st = &st;
    const uint64_t now_ms = cfg.wall_ms(now);

    // Writes the answer's header over the request's (Client ID stays where it is).
    auto answer_to = [&](unsigned i, type t, uint16_t plen) {
        const header& p = h[i];
        if (plen > p.length && room(m[i], v[i]) < unsigned(plen - p.length)) {
            out[i] = {action::drop, 0, drop::session_no_room};
            return false;
        }
        write_header(v[i].data, v[i].data + off_client, t, plen, p.custom, p.order);
        ans.add(m[i], &v[i], static_cast<uint16_t>(header_len + plen), rx_port);
        out[i] = {action::tx, rx_port, drop::count_};
        return true;
    };
    // A DATA packet that passed every check (and inspection): to the application, and ACKed
    // when it asks for it.
    auto deliver = [&](unsigned k, entry* e) {
        const unsigned i = idx[k];
        const header& p = h[i];
        const bool want_ack = p.t == type::data_ack;
        if (cfg.app) {
            snd.src = m[i];
            snd.src_v = &v[i];
            snd.session = e;
            cfg.app->on_data({v[i].data + header_len, p.length, want_ack, p.client_id, p.custom, p.order}, snd);
        }
        st.count(ses::delivered);
        if (want_ack) {
            // The digest of the acknowledged packet, as it arrived (verified equal to its field).
            if (answer_to(i, type::ack, digest_len)) {
                std::memcpy(v[i].data + header_len, dg[k], digest_len);
                st.count(ses::ack);
            }
        } else {
            out[i] = {action::consume, 0, drop::count_};
            st.count(ses::consumed);
            st.count(ses::data_noack);
        }
    };
    // A flood of verified HELLOs (anyone can compute a plain digest) from a few sources must not
    // fill the control ring for everyone else.
    auto to_control = [&](unsigned i) {
        if (!source_limiter::admits(cfg.control_limit, v[i].ip->src_addr, &now)) {
            out[i] = {action::drop, 0, drop::session_rate_limited};
            return false;
        }
        return true;
    };
    // With inspection, DATA waits until the state machine has seen the whole burst, and the
    // payloads are scanned back to back.
    uint8_t data_k[burst_size];
    entry* data_e[burst_size];
    unsigned n_data = 0;

    for (unsigned k = 0; k < n_ok; ++k) {
        const unsigned i = idx[k];
        const header& p = h[i];
        auto answer = [&](type t, uint16_t plen) { return answer_to(i, t, plen); };
        auto reject = [&](ses why) {
            if (answer(type::reject, 0))
                st.count(why);
        };
        const bool good = crypto::digest_equal(dg[k], v[i].data + off_digest, digest_len);

        if (p.t == type::hello) {
            if (PG_UNLIKELY(!good)) {
                out[i] = {action::drop, 0, drop::session_bad_digest};
                continue;
            }
            if (p.length != timestamp_len) {
                reject(ses::rejected_bad_hello);
                continue;
            }
            // Unsigned distance: any 64-bit timestamp, no overflow.
            const uint64_t ts = load_be64(v[i].data + header_len);
            if ((ts > now_ms ? ts - now_ms : now_ms - ts) > cfg.hello_window_ms) {
                reject(ses::rejected_stale_hello);
                continue;
            }
            // The control lcore stores the source address: make sure the headers are intact.
            if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
                out[i] = {action::drop, 0, drop::udp_bad_cksum};
                continue;
            }
            if (PG_UNLIKELY(!to_control(i)))
                continue;
            st.count(ses::hello_rx);
            out[i] = {action::control, 0, drop::count_};
            continue;
        }

        entry* e = hit[k];
        if (PG_UNLIKELY(!good)) {
            // BAD_ACK only towards a live session's own endpoint: a corrupt packet's Client ID
            // and source cannot be trusted otherwise.
            // BAD_ACK (96 bytes) may be longer than what arrived: a proven endpoint's only.
            if (p.t == type::data_ack && e && e->from(v[i].ip->src_addr, v[i].udp->src_port) &&
                !e->expired(now, cfg.timeout_tsc) && e->is_proven()) {
                if (answer(type::bad_ack, digest_len)) {
                    std::memcpy(v[i].data + header_len, dg[k], digest_len);
                    st.count(ses::bad_ack);
                }
            } else {
                out[i] = {action::drop, 0, drop::session_bad_digest};
            }
            continue;
        }
        if (!e) {
            reject(ses::rejected_no_session);
            continue;
        }
        if (e->expired(now, cfg.timeout_tsc)) {
            reject(ses::rejected_timed_out);
            continue;
        }
        if (PG_UNLIKELY(!e->from(v[i].ip->src_addr, v[i].udp->src_port))) {
            out[i] = {action::drop, 0, drop::session_wrong_endpoint};
            continue;
        }
        // Before the window: a wrong token must not take an order count from the client.
        if (PG_UNLIKELY(!e->is_proven())) {
            const proof pr = tab.prove(*e, p.token);
            if (pr == proof::now) {
                st.count(ses::proven);
            } else if (pr != proof::proven) {
                out[i] = {action::drop, 0, drop::session_unproven};
                continue;
            }
        }
        const replay r = e->win.check_and_set(p.order);
        if (PG_UNLIKELY(r != replay::fresh)) {
            // A repeated DISCONNECT (its REJECT was lost) is answered again; the first one is
            // already closing the session.
            if (r == replay::duplicate && p.t == type::disconnect)
                reject(ses::rejected_disconnect);
            else
                out[i] = {action::drop, 0, r == replay::duplicate ? drop::session_duplicate : drop::session_too_old};
            continue;
        }
        e->touch(now);

        switch (p.t) {
        case type::ping:
            if (answer(type::pong, p.length))  // the payload is echoed
                st.count(ses::pong);
            break;
        case type::data_ack:
        case type::data_noack:
            if (PG_UNLIKELY(cfg.inspect != nullptr)) {
                data_k[n_data] = static_cast<uint8_t>(k);
                data_e[n_data++] = e;
            } else {
                deliver(k, e);
            }
            break;
        case type::ack:
            out[i] = {action::consume, 0, drop::count_};
            st.count(ses::consumed);
            st.count(ses::ack_rx);
            break;
        default:  // disconnect: the control lcore closes the session and answers
            if (to_control(i))
                out[i] = {action::control, 0, drop::count_};
            break;
        }
    }

    if (n_data) {
        // A DATA packet a drop rule matches is neither delivered nor ACKed (docs/inspection.md).
        engine::inspection_batch ib;
        bool drop_it[burst_size] = {};
        for (unsigned j = 0; j < n_data; ++j) {
            const unsigned i = idx[data_k[j]];
            ib.add(v[i].data + header_len, h[i].length, j);
        }
        ib.scan(*cfg.inspect, drop_it);
        for (unsigned j = 0; j < n_data; ++j) {
            if (drop_it[j])
                out[idx[data_k[j]]] = {action::drop, 0, drop::session_inspect_drop};
            else
                deliver(data_k[j], data_e[j]);
        }
    }

    for (unsigned s = 0; s < n_slots; ++s) {
        slots[s].m->port = rx_port;
        ans.add(slots[s].m, &slots[s].v, slots[s].v.len, rx_port);
        app[s] = slots[s].m;
    }
    *n_app = n_slots;
    ans.finish(cfg, *mb, ports);
}

unsigned apply_control(const config& cfg, table& tab, lcore_stats& st, const net::port_addr* ports, rte_mbuf** m,
                       unsigned n, uint64_t now)
{
    crypto::mb_context* mb = cfg.lcore_mb();
    answers ans;
    net::udp_view v[burst_size];
    unsigned n_keep = 0;
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* x = m[i];
        header h;
        drop why = drop::session_no_crypto;
        // The worker validated the frame; classifying again relocates the headers.
        const bool ok = mb && net::classify(x, ports[x->port], &v[n_keep]).v == net::verdict::local_udp &&
                        parse(v[n_keep].data, v[n_keep].len, &h, &why);
        if (PG_UNLIKELY(!ok)) {
            st.count(why);
            rte_pktmbuf_free(x);
            continue;
        }
        net::udp_view& w = v[n_keep];
        type t;
        uint16_t plen = 0;
        if (h.t == type::hello) {
            endpoint ep;
            ep.ip_be = w.ip->src_addr;
            ep.udp_port_be = w.udp->src_port;
            ep.port_id = x->port;
            ep.next_hop = w.eth->src_addr;
            const open_result r = tab.open(h.client_id, ep, load_be64(w.data + header_len), h.order, now, cfg.timeout_tsc);
            if (r == open_result::replayed) {
                st.count(drop::session_hello_replayed);
                rte_pktmbuf_free(x);
                continue;
            }
            if (r == open_result::full) {
                t = type::reject;
                st.count(ses::rejected_full);
            } else {
                t = type::accept;
                plen = timestamp_len;  // the server's clock, in the HELLO's timestamp's place
                store_be64(w.data + header_len, cfg.wall_ms(now));
                st.count(ses::accepted);
            }
        } else {
            // DISCONNECT. A session reopened from another endpoint meanwhile is not this one's.
            const entry* e = tab.find(h.client_id);
            if (e && e->from(w.ip->src_addr, w.udp->src_port))
                tab.close(h.client_id);
            t = type::reject;
            st.count(ses::rejected_disconnect);
        }
        // ACCEPT hands the client the session's token (its own session: open just filled it).
        const entry* opened = t == type::accept ? tab.find(h.client_id) : nullptr;
        write_header(w.data, w.data + off_client, t, plen, h.custom, h.order, opened ? tab.token(*opened) : 0);
        ans.add(x, &w, static_cast<uint16_t>(header_len + plen), x->port);
        m[n_keep++] = x;
    }
    if (mb)
        ans.finish(cfg, *mb, ports);
    return n_keep;
}

rte_mbuf* build_reject(const config& cfg, const table& tab, const entry& e, rte_mempool* pool,
                       const net::port_addr* ports)
{
    crypto::mb_context* mb = cfg.lcore_mb();
    if (!mb)
        return nullptr;
    const net::port_addr& pa = ports[e.port_id];
    const net::udp_to to{tab.next_hop(e), e.ip_be, rte_cpu_to_be_16(cfg.udp_port), e.udp_port_be, e.port_id};
    uint8_t* s = nullptr;
    rte_mbuf* m = net::new_udp_frame(pool, pa, to, header_len, &s);
    if (!m)
        return nullptr;
    // The server's own next order count: not an answer to any packet.
    write_header(s, e.client_id, type::reject, 0, 0, std::atomic_ref<const uint64_t>(e.tx_order).load());
    const uint8_t* p[1] = {s + off_client};
    const uint32_t l[1] = {header_len - off_client};
    digest_t dg[1];
    digest_burst(cfg, *mb, p, l, 1, dg);
    std::memcpy(s, dg[0], digest_len);
    net::finish_udp_frame(m);
    return m;
}

} // namespace peregrine::session
