#pragma once

// First stage of every worker: decide what a received frame is, without trusting any length
// field. The result is a drop reason, an exception reason (the kernel gets it through the TAP),
// or a UDP datagram addressed to one of the engine's own ports with its payload located.

#include <cstdint>
#include <cstring>

#include <rte_debug.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/stats.hpp"
#include "net/byteorder.hpp"
#include "net/checksum.hpp"

namespace peregrine::net {

// What the fast path knows about one port: its MAC and the engine's IPv4 address on it.
struct port_addr {
    rte_ether_addr mac;
    uint32_t ip_be = 0;     // 0: no address, every IPv4 packet goes to the exception path
    uint8_t prefix_len = 0;
};

// A UDP datagram for the engine, located inside a single-segment mbuf.
struct udp_view {
    rte_ether_hdr* eth;
    rte_ipv4_hdr* ip;
    rte_udp_hdr* udp;
    uint8_t* data;       // UDP payload
    uint16_t len;        // UDP payload length (from the UDP header, checked against the frame)
    uint16_t dst_port;   // host order, for dispatch
};

enum class verdict : uint8_t { local_udp, exception, drop };

struct classification {
    verdict v;
    union {
        drop d;
        exc e;
    };
    // local_udp: the view's dst_port again, returned in a register so that the dispatcher need
    // not read back the view (its fast and slow paths join there, through memory).
    uint16_t dst_port;
};

// The full classification, every case and reason (classify() below calls it for anything that
// is not a plain datagram to us).
classification classify_slow(rte_mbuf* m, const port_addr& pa, udp_view* view);

// Classifies m (received on a port whose address is pa). On local_udp, fills *view.
// Never reads past rte_pktmbuf_data_len(m).
// Inline fast path for what the engine mostly receives, a UDP datagram to our MAC and address
// with a 20-byte IPv4 header and no fragmentation: the header checks are a few masked word
// compares instead of classify_slow()'s field-by-field walk (about 40 instructions instead of
// about 115 per packet, callgrind). Anything else, valid or not, takes classify_slow(), which
// makes the same decision for these frames and finds the reason for the others.
inline classification classify(rte_mbuf* m, const port_addr& pa, udp_view* view)
{
    static constexpr unsigned l3 = sizeof(rte_ether_hdr);
    static constexpr unsigned l4 = l3 + sizeof(rte_ipv4_hdr);
    static constexpr unsigned l7 = l4 + sizeof(rte_udp_hdr);
    const uint32_t dlen = rte_pktmbuf_data_len(m);
    auto* f = rte_pktmbuf_mtod(m, uint8_t*);
    if (PG_UNLIKELY(dlen < l7))
        return classify_slow(m, pa, view);
    auto word = [f](unsigned off) {
        uint32_t w;
        std::memcpy(&w, f + off, sizeof(w));
        return w;
    };
    uint32_t mac_hi;
    uint16_t mac_lo, dst_lo;
    std::memcpy(&mac_hi, &pa.mac, sizeof(mac_hi));
    std::memcpy(&mac_lo, pa.mac.addr_bytes + 4, sizeof(mac_lo));
    std::memcpy(&dst_lo, f + 4, sizeof(dst_lo));
    // Bytes as loaded on a little-endian host: 12..15 = ethertype 08 00, version/IHL 45, TOS;
    // 20..23 = flags/fragment offset (2), TTL, protocol.
    static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the masks below assume little endian");
    const uint32_t w12 = word(12), w20 = word(20);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + l3);
    if (PG_UNLIKELY(word(0) != mac_hi || dst_lo != mac_lo || (w12 & 0x00ffffffu) != 0x00450008u ||
                    (w20 & 0xff00ff3fu) != 0x11000000u || (w20 & 0x00ff0000u) == 0 || ip->dst_addr != pa.ip_be ||
                    pa.ip_be == 0))
        return classify_slow(m, pa, view);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(f + l4);
    const unsigned tot = be16(ip->total_length);
    const unsigned ulen = be16(udp->dgram_len);
    const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    // Ethernet padding may make the frame longer than the datagram, never shorter.
    if (PG_UNLIKELY(tot > dlen - l3 || ulen < sizeof(rte_udp_hdr) || ulen != tot - sizeof(rte_ipv4_hdr)))
        return classify_slow(m, pa, view);
    if (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD) {
        uint64_t s = 0;
        for (unsigned off = l3; off < l4; off += 4)
            s += word(off);
        if (PG_UNLIKELY(ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD || !csum_sum_ok(s)))
            return classify_slow(m, pa, view);
    }
    view->eth = reinterpret_cast<rte_ether_hdr*>(f);
    view->ip = ip;
    view->udp = udp;
    view->data = f + l7;
    view->len = static_cast<uint16_t>(ulen - sizeof(rte_udp_hdr));
    view->dst_port = be16(udp->dst_port);
    classification c;
    c.v = verdict::local_udp;
    c.d = drop::count_;
    c.dst_port = view->dst_port;
    return c;
}

namespace detail {
// UDP checksum check of a located datagram whose UDP length (header + payload) is l4.
inline bool udp_cksum_ok(const rte_mbuf* m, const udp_view& v, unsigned l4)
{
    const uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
        return true;
    if (f == RTE_MBUF_F_RX_L4_CKSUM_BAD)
        return false;
    if (v.udp->dgram_cksum == 0)
        return true;
    // rte_ipv4_udptcp_cksum_verify(v.ip, v.udp) == 0, summed from the header fields instead of
    // a pseudo header built on the stack (whose narrow stores the wide re-read would stall on).
    // The protocol is UDP: classify() hands over nothing else.
    const rte_ipv4_hdr* ip = v.ip;
    RTE_ASSERT(ip->next_proto_id == IPPROTO_UDP);
    const uint64_t s = uint64_t(ip->src_addr) + ip->dst_addr + be16(IPPROTO_UDP) + be16(static_cast<uint16_t>(l4)) +
                       csum_sum(v.udp, l4);
    return csum_sum_ok(s);
}
} // namespace detail

// Verifies the UDP checksum of a located datagram in software unless the NIC already did
// (RTE_MBUF_F_RX_L4_CKSUM_GOOD). A zero checksum (sender computed none) passes.
inline bool udp_cksum_ok(const rte_mbuf* m, const udp_view& v)
{
    return detail::udp_cksum_ok(m, v, sizeof(rte_udp_hdr) + v.len);
}

// The same for a datagram whose length the caller has checked and knows at compile time
// (a Heartbeat: 8 + 1 bytes): the sum is unrolled to two loads.
template <unsigned l4>
inline bool udp_cksum_ok_len(const rte_mbuf* m, const udp_view& v)
{
    RTE_ASSERT(sizeof(rte_udp_hdr) + v.len == l4);
    return detail::udp_cksum_ok(m, v, l4);
}

} // namespace peregrine::net
