#pragma once

// In-place rewrites of a located UDP datagram: the engine answers and forwards by editing the
// received mbuf, never by allocating a new one.
// Both take a view located by net::classify(), which hands over only 20-byte IPv4 headers.

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include "net/checksum.hpp"
#include "net/classify.hpp"

namespace peregrine::net {

// TTL of packets the engine originates (Linux's default).
static constexpr uint8_t default_ttl = 64;

// Turns the datagram into a reply to its sender carrying payload_len bytes that the caller has
// already written at v.data. payload_len must not exceed v.len (the engine never amplifies).
// Swaps MACs (the reply goes back to the frame's source MAC: the sender or its gateway), IPs
// and ports, and recomputes both checksums (UDP over the new payload only: replies are short).
void make_reply(rte_mbuf* m, udp_view& v, uint16_t payload_len, const rte_ether_addr& our_mac);

// make_reply() for the commonest answer, one whose payload is the request's with its first byte
// replaced (Heartbeat -> Heartbeat Response): same length, so swapping addresses and ports
// leaves the UDP sum unchanged and its checksum is updated for the one byte (RFC 1624) instead
// of summed again. The caller must have verified the request's UDP checksum (udp_cksum_ok); a
// request sent without one (0) takes make_reply(), so every reply carries a real checksum.
// Requires v.len >= 1.
// Measured: bench_router heartbeat ~3 ns/packet cheaper than make_reply (docs/performance.md).
inline void make_retyped_reply(rte_mbuf* m, udp_view& v, uint8_t first_byte, const rte_ether_addr& our_mac)
{
    if (PG_UNLIKELY(v.udp->dgram_cksum == 0)) {
        v.data[0] = first_byte;
        make_reply(m, v, v.len, our_mac);
        return;
    }
    rte_ipv4_hdr* ip = v.ip;
    rte_udp_hdr* udp = v.udp;

    // Read everything first (see rewrite.cpp on store-to-load forwarding).
    const rte_ether_addr peer = v.eth->src_addr;
    uint16_t vhl_tos, tot, id;
    std::memcpy(&vhl_tos, ip, sizeof(vhl_tos));
    tot = ip->total_length;
    id = ip->packet_id;
    const uint8_t proto = ip->next_proto_id;
    uint64_t addrs;  // source and destination, adjacent
    std::memcpy(&addrs, &ip->src_addr, sizeof(addrs));
    uint32_t ports;  // source and destination, adjacent
    std::memcpy(&ports, &udp->src_port, sizeof(ports));
    const uint16_t old_ck = udp->dgram_cksum;
    const uint8_t old_first = v.data[0];

    const uint64_t ip_sum = uint64_t(vhl_tos) + tot + id +
                            rte_cpu_to_be_16(static_cast<uint16_t>((default_ttl << 8) | proto)) +
                            (addrs & 0xffffffffu) + (addrs >> 32);
    // The payload byte sits at an even offset of the datagram: the first byte of its 16-bit
    // word, i.e. that word's low byte as loaded on this little-endian host; the word's other
    // byte is the same before and after, so it cancels out of the update.
    static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the first-byte word below assumes little endian");
    const uint16_t udp_ck = udp_csum_fixup(csum_replace16(old_ck, old_first, first_byte));

    v.eth->dst_addr = peer;
    v.eth->src_addr = our_mac;
    ip->fragment_offset = 0;
    ip->time_to_live = default_ttl;
    ip->hdr_checksum = static_cast<uint16_t>(~csum_fold64(ip_sum));
    addrs = (addrs >> 32) | (addrs << 32);
    std::memcpy(&ip->src_addr, &addrs, sizeof(addrs));
    ports = (ports >> 16) | (ports << 16);
    std::memcpy(&udp->src_port, &ports, sizeof(ports));
    udp->dgram_cksum = udp_ck;
    v.data[0] = first_byte;

    const uint32_t frame = static_cast<uint32_t>(sizeof(rte_ether_hdr)) + rte_be_to_cpu_16(tot);
    m->data_len = static_cast<uint16_t>(frame);
    m->pkt_len = frame;
    m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
}

// Readdresses the datagram, payload untouched, from the engine's (ip, port) on the output port
// to (dst_ip, dst_port) through next_hop. Checksums are updated incrementally (RFC 1624), so a
// corrupt payload stays detectably corrupt at the recipient.
struct forward_target {
    rte_ether_addr next_hop;
    rte_ether_addr src_mac;
    uint32_t src_ip_be;
    uint32_t dst_ip_be;
    uint16_t src_port_be;
    uint16_t dst_port_be;
};
void forward(udp_view& v, const forward_target& t);

} // namespace peregrine::net
