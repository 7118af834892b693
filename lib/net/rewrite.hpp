#pragma once

// In-place rewrites of a located UDP datagram: the engine answers and forwards by editing the
// received mbuf, never by allocating a new one.
// Both take a view located by net::classify(), which hands over only 20-byte IPv4 headers.

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_debug.h>

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
// replaced (Heartbeat -> Heartbeat Response), for a datagram classify() found local_udp: sent
// to our MAC (so the Ethernet rewrite is a swap of the two addresses), 20-byte IPv4 header,
// UDP. Same length, so the reply differs from the request only in swapped addresses and ports
// (which leave both sums unchanged), fragment field, TTL and that byte, and both checksums are
// updated for those (RFC 1624) instead of summed again: about 35 instructions instead of
// make_reply's 85 (callgrind). The caller must have verified both of the request's checksums
// (classify and udp_cksum_ok do); a request sent without a UDP checksum (0) takes make_reply(),
// so every reply carries a real one. Requires v.len >= 1.
inline void make_retyped_reply(rte_mbuf* m, udp_view& v, uint8_t first_byte)
{
    uint8_t* f = reinterpret_cast<uint8_t*>(v.eth);
    RTE_ASSERT(reinterpret_cast<uint8_t*>(v.ip) == f + sizeof(rte_ether_hdr) && v.ip->version_ihl == RTE_IPV4_VHL_DEF &&
               v.ip->next_proto_id == IPPROTO_UDP && v.len >= 1);
    rte_ipv4_hdr* ip = v.ip;
    rte_udp_hdr* udp = v.udp;
    if (PG_UNLIKELY(udp->dgram_cksum == 0)) {
        const rte_ether_addr our_mac = v.eth->dst_addr;
        v.data[0] = first_byte;
        make_reply(m, v, v.len, our_mac);
        return;
    }
    static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the word layouts below assume little endian");

    // Read everything first (see rewrite.cpp on store-to-load forwarding).
    typedef uint8_t bytes16 __attribute__((vector_size(16)));
    bytes16 l2;  // destination MAC, source MAC, ethertype, IPv4 version/IHL and TOS
    std::memcpy(&l2, f, sizeof(l2));
    uint32_t frag_ttl_proto;  // bytes 6..9 of the IPv4 header
    std::memcpy(&frag_ttl_proto, &ip->fragment_offset, sizeof(frag_ttl_proto));
    uint64_t addrs;  // source and destination, adjacent
    std::memcpy(&addrs, &ip->src_addr, sizeof(addrs));
    uint32_t ports;  // source and destination, adjacent
    std::memcpy(&ports, &udp->src_port, sizeof(ports));
    const uint16_t ip_ck = ip->hdr_checksum;
    const uint16_t udp_ck = udp->dgram_cksum;
    const uint8_t old_first = v.data[0];
    const uint16_t tot = ip->total_length;

    // Fragment field 0, TTL 64, protocol UDP (bytes 00 00 40 11).
    static constexpr uint32_t new_frag_ttl_proto = uint32_t(default_ttl) << 16 | uint32_t(IPPROTO_UDP) << 24;
    // The payload byte sits at an even offset of the datagram: the low byte, as loaded here, of
    // its 16-bit word; the word's other byte is the same before and after and cancels out.
    // __builtin_shufflevector: GCC (12+) and clang both have it; __builtin_shuffle is GCC's only.
    l2 = __builtin_shufflevector(l2, l2, 6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5, 12, 13, 14, 15);
    std::memcpy(f, &l2, sizeof(l2));
    std::memcpy(&ip->fragment_offset, &new_frag_ttl_proto, sizeof(new_frag_ttl_proto));
    ip->hdr_checksum = csum_replace32(ip_ck, frag_ttl_proto, new_frag_ttl_proto);
    addrs = (addrs >> 32) | (addrs << 32);
    std::memcpy(&ip->src_addr, &addrs, sizeof(addrs));
    ports = (ports >> 16) | (ports << 16);
    std::memcpy(&udp->src_port, &ports, sizeof(ports));
    udp->dgram_cksum = udp_csum_fixup(csum_replace16(udp_ck, old_first, first_byte));
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
