#include "session/app.hpp"

#include <cstring>

#include "session/codec.hpp"
#include "session/table.hpp"

namespace peregrine::session {

bool sender::send(const uint8_t* data, uint32_t len, bool ack)
{
    const uint8_t* base = rte_pktmbuf_mtod(src, const uint8_t*);
    const auto hdr = static_cast<uint32_t>(src_v->data - base);  // Ethernet + IPv4 + UDP
    const uint32_t frame = hdr + header_len + len;
    if (PG_UNLIKELY(*n_out >= max_out || len > max_payload)) {
        st->count(ses::app_send_failed);
        return false;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(src->pool);
    if (PG_UNLIKELY(!m)) {
        st->count(ses::app_send_failed);
        return false;
    }
    if (PG_UNLIKELY(frame > rte_pktmbuf_tailroom(m))) {
        rte_pktmbuf_free(m);
        st->count(ses::app_send_failed);
        return false;
    }
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    // The received headers, swapped into an answer by net::make_reply once the packet is signed.
    std::memcpy(d, base, hdr);
    write_header(d + hdr, session->client_id, ack ? type::data_ack : type::data_noack, static_cast<uint16_t>(len), 0,
                 session->next_tx_order());
    if (len)
        std::memcpy(d + hdr + header_len, data, len);
    m->data_len = static_cast<uint16_t>(frame);
    m->pkt_len = frame;
    m->port = src->port;

    slot& s = out[(*n_out)++];
    s.m = m;
    s.v.eth = reinterpret_cast<rte_ether_hdr*>(d);
    s.v.ip = reinterpret_cast<rte_ipv4_hdr*>(d + (reinterpret_cast<const uint8_t*>(src_v->ip) - base));
    s.v.udp = reinterpret_cast<rte_udp_hdr*>(d + (reinterpret_cast<const uint8_t*>(src_v->udp) - base));
    s.v.data = d + hdr;
    s.v.len = static_cast<uint16_t>(header_len + len);
    s.v.dst_port = src_v->dst_port;
    st->count(ses::app_sent);
    return true;
}

} // namespace peregrine::session
