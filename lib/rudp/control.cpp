// RUDP's control-lcore half: the handshake (handshaker) and the table's writes, and the
// SERVER DISCONNECT at shutdown.

#include <cstring>

#include <openssl/crypto.h>

#include "crypto/aes_gcm.hpp"
#include "net/frame.hpp"
#include "net/rewrite.hpp"
#include "rudp/pipeline.hpp"

namespace peregrine::rudp {

namespace {


// m's datagram becomes an ERROR in clear (the endpoint has no connection): never longer than
// the request (checked by the caller's size rules: AUTH >= 38 bytes, ACK >= 8).
unsigned error_reply(lcore_stats& st, const net::port_addr& pa, rte_mbuf* m, net::udp_view& v, uint8_t code,
                     const uint8_t* data, size_t dlen, rte_mbuf** out)
{
    const size_t len = base_header + 1 + dlen;
    if (v.len < len) {
        st.count(drop::rudp_malformed);
        rte_pktmbuf_free(m);
        return 0;
    }
    header h;
    h.t = type::error;
    write_header(v.data, &h);
    v.data[base_header] = code;
    std::memcpy(v.data + base_header + 1, data, dlen);
    net::make_reply(m, v, static_cast<uint16_t>(len), pa.mac);
    st.count(error_sent(code));
    out[0] = m;
    return 1;
}

// Frees m, counted as malformed (an ERROR for it would be longer than it).
unsigned refuse(lcore_stats& st, rte_mbuf* m)
{
    st.count(drop::rudp_malformed);
    rte_pktmbuf_free(m);
    return 0;
}

} // namespace

unsigned control_one(const config& cfg, table& tab, handshaker& hs, lcore_stats& st, const net::port_addr* ports,
                     rte_mbuf* m, uint64_t now, rte_mbuf** out)
{
    net::udp_view v;
    header h;
    uint8_t why;
    const lcore_ctx* lc = cfg.lcore();
    // The worker validated the frame; classifying again relocates the headers.
    if (!lc || net::classify(m, ports[m->port], &v).v != net::verdict::local_udp ||
        !parse_header(v.data, v.len, &h, &why)) {
        st.count(drop::rudp_malformed);
        rte_pktmbuf_free(m);
        return 0;
    }
    const net::port_addr& pa = ports[m->port];
    const uint64_t key = endpoint_key(v.ip->src_addr, v.udp->src_port);
    handshaker::answers a;
    if (h.t == type::auth) {
        const handshaker::result r = hs.on_auth(key, v.data, v.len, h, now, &a);
        if (r == handshaker::result::drop)
            return refuse(st, m);
        if (r == handshaker::result::error)
            return error_reply(st, pa, m, v, a.error, a.err_data, a.err_len, out);
        // The finished ACK in a frame of its own, from the request's headers (before they swap).
        net::udp_to to{v.eth->src_addr, v.ip->src_addr, v.udp->dst_port, v.udp->src_port, m->port};
        uint8_t* p = nullptr;
        rte_mbuf* second = net::new_udp_frame(m->pool, pa, to, static_cast<uint16_t>(a.ack_len), &p);
        if (!second) {
            st.count(drop::rudp_no_mbuf);
            rte_pktmbuf_free(m);
            return 0;
        }
        std::memcpy(p, a.ack, a.ack_len);
        net::finish_udp_frame(second);
        std::memcpy(v.data, a.auth, a.auth_len);  // a.auth_len + a.ack_len <= v.len: no amplification
        net::make_reply(m, v, static_cast<uint16_t>(a.auth_len), pa.mac);
        out[0] = m;
        out[1] = second;
        st.count(rdp::extra);
        return 2;
    }
    if (h.t == type::ack) {
        handshake_done d;
        const handshaker::result r = hs.on_finished(key, v.data, v.len, h, now, &d, &a);
        if (r == handshaker::result::drop)
            return refuse(st, m);
        if (r == handshaker::result::error)
            return error_reply(st, pa, m, v, a.error, a.err_data, a.err_len, out);
        table::opening o{v.ip->src_addr, v.udp->src_port, m->port, v.eth->src_addr, &d.keys, d.client_top,
                         d.server_next};
        conn* c = tab.open(o, *lc->mb, now);
        OPENSSL_cleanse(&d, sizeof(d));
        if (!c)
            return error_reply(st, pa, m, v, err::no_space, nullptr, 0, out);
        // The confirmation: an encrypted ACK of the client's finished. Until it comes the client
        // sends nothing else (its packets could overtake the finished to a worker that does not
        // know the connection yet), and sends its finished again if it does not come.
        const unsigned len = confirm_in_place(*lc, *c, v.data, h.seq);
        net::make_reply(m, v, static_cast<uint16_t>(len), pa.mac);
        st.count(rdp::acks_sent);
        out[0] = m;
        return 1;
    }
    if (h.t == type::error) {  // CLIENT DISCONNECT, decrypted and checked by the worker
        if (tab.close(key))
            st.count(rdp::disconnects);
        if (cfg.reasm)
            cfg.reasm->forget(key);
        st.count(rdp::consumed);
        rte_pktmbuf_free(m);
        return 0;
    }
    st.count(drop::rudp_malformed);
    rte_pktmbuf_free(m);
    return 0;
}

unsigned confirm_in_place(const lcore_ctx& lc, conn& c, uint8_t* d, uint16_t finished_seq)
{
    header h;
    h.t = type::ack;
    h.flags = flag::encrypted;
    const uint64_t full = c.take_seq(1);
    h.seq = static_cast<uint16_t>(full);
    h.iv = static_cast<uint16_t>(full >> 16);
    const unsigned hl = write_header(d, &h);
    write_ack(d + hl, finished_seq, 0);
    uint8_t nonce[crypto::gcm_iv_len];
    make_nonce(c.tx_salt, message_counter(h), nonce);
    const crypto::gcm_op op{d + hl, d + hl, ack_fields, nonce, d, hl, d + hl + ack_fields};
    crypto::aes_gcm_encrypt_burst(*lc.mb, c.tx_key, &op, 1);
    return hl + ack_fields + tag_len;
}

rte_mbuf* error_frame(const config& cfg, const table& tab, conn& c, uint8_t code, rte_mempool* pool,
                      const net::port_addr* ports)
{
    const lcore_ctx* lc = cfg.lcore();
    const uint64_t full = c.take_seq(1);
    if (!lc || full >= max_counter)
        return nullptr;
    header h;
    h.t = type::error;
    h.flags = flag::encrypted;
    h.seq = static_cast<uint16_t>(full);
    h.iv = static_cast<uint16_t>(full >> 16);
    const unsigned hl = header_len(h.flags);
    net::udp_to to{tab.next_hop(c), c.ip_be, rte_cpu_to_be_16(cfg.udp_port), c.port_be, c.port_id};
    uint8_t* p = nullptr;
    rte_mbuf* m = net::new_udp_frame(pool, ports[c.port_id], to, static_cast<uint16_t>(hl + 1 + tag_len), &p);
    if (!m)
        return nullptr;
    write_header(p, &h);
    p[hl] = code;
    uint8_t nonce[crypto::gcm_iv_len];
    make_nonce(c.tx_salt, message_counter(h), nonce);
    const crypto::gcm_op op{p + hl, p + hl, 1, nonce, p, hl, p + hl + 1};
    crypto::aes_gcm_encrypt_burst(*lc->mb, c.tx_key, &op, 1);
    net::finish_udp_frame(m);
    return m;
}

unsigned disconnect_all(const config& cfg, const table& tab, rte_mempool* pool, const net::port_addr* ports,
                        const engine::shutdown_tx& send)
{
    unsigned built = 0;
    rte_mbuf* batch[burst_size];
    unsigned nb = 0;
    uint16_t port = 0;
    tab.for_each([&](const conn& cc) {
        auto& c = const_cast<conn&>(cc);  // the workers are stopped: the sequence counter is ours
        if (nb && (nb == burst_size || c.port_id != port)) {
            send(port, batch, nb);
            nb = 0;
        }
        rte_mbuf* m = error_frame(cfg, tab, c, err::server_disconnect, pool, ports);
        if (!m)
            return;
        port = c.port_id;
        batch[nb++] = m;
        ++built;
    });
    if (nb)
        send(port, batch, nb);
    return built;
}

} // namespace peregrine::rudp
