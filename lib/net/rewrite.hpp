#pragma once

// In-place rewrites of a located UDP datagram: the engine answers and forwards by editing the
// received mbuf, never by allocating a new one.
// Both take a view located by net::classify(), which hands over only 20-byte IPv4 headers.

#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>
#include <rte_debug.h>

#include "net/byteorder.hpp"
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
// so every reply carries a real one. Requires v.len >= 1 and v.data[0] == old_first: the caller
// has parsed that byte, and passing it as a constant folds the UDP checksum update.
inline void make_retyped_reply(rte_mbuf* m, udp_view& v, uint8_t old_first, uint8_t first_byte)
{
    uint8_t* f = reinterpret_cast<uint8_t*>(v.eth);
    RTE_ASSERT(reinterpret_cast<uint8_t*>(v.ip) == f + sizeof(rte_ether_hdr) && v.ip->version_ihl == RTE_IPV4_VHL_DEF &&
               v.ip->next_proto_id == IPPROTO_UDP && v.len >= 1 && v.data[0] == old_first);
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

    const uint32_t frame = static_cast<uint32_t>(sizeof(rte_ether_hdr)) + be16(tot);
    m->data_len = static_cast<uint16_t>(frame);
    m->pkt_len = frame;
    m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
}

// Readdresses the datagram, payload untouched, from the engine's (ip, port) on the output port
// to (dst_ip, dst_port) through next_hop. The UDP checksum is updated incrementally (RFC 1624,
// all four changed words in one sum and one fold), so a corrupt payload stays detectably
// corrupt at the recipient; the IPv4 header checksum is summed from the new header's values.
// Inline: it runs per forwarded packet, and out of line its target was built on the stack and
// read back (about 130 instructions per forward then, about 60 now, callgrind).
struct forward_target {
    rte_ether_addr next_hop;
    rte_ether_addr src_mac;
    uint32_t src_ip_be;
    uint32_t dst_ip_be;
    uint16_t src_port_be;
    uint16_t dst_port_be;
};
inline void forward(udp_view& v, const forward_target& t)
{
    rte_ipv4_hdr* ip = v.ip;
    rte_udp_hdr* udp = v.udp;
    RTE_ASSERT(ip->version_ihl == RTE_IPV4_VHL_DEF);
    static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the word layouts below assume little endian");

    // Read everything first (see rewrite.cpp on store-to-load forwarding).
    uint64_t addrs;  // source and destination, adjacent
    std::memcpy(&addrs, &ip->src_addr, sizeof(addrs));
    uint32_t ports;  // source and destination, adjacent
    std::memcpy(&ports, &udp->src_port, sizeof(ports));
    uint16_t vhl_tos;
    std::memcpy(&vhl_tos, ip, sizeof(vhl_tos));
    const uint16_t udp_ck = udp->dgram_cksum;
    const uint8_t proto = ip->next_proto_id;

    const uint32_t new_ports = uint32_t(t.src_port_be) | uint32_t(t.dst_port_be) << 16;
    if (udp_ck != 0) {
        // HC' = ~(~HC + ~m + m') over every changed word. A 32-bit word adds, and its complement
        // negates, modulo 0xffff exactly as its two 16-bit halves do (2^16 = 1 mod 0xffff).
        const uint64_t s = uint64_t(static_cast<uint16_t>(~udp_ck)) + uint32_t(~uint32_t(addrs)) +
                           uint32_t(~uint32_t(addrs >> 32)) + uint32_t(~ports) + uint64_t(t.src_ip_be) + t.dst_ip_be +
                           new_ports;
        udp->dgram_cksum = udp_csum_fixup(static_cast<uint16_t>(~csum_fold64(s)));
    }
    // TTL and protocol as the 16-bit header word holds them (network order, little-endian load).
    const uint16_t ttl_proto = static_cast<uint16_t>(default_ttl | proto << 8);
    const uint64_t ip_sum = uint64_t(vhl_tos) + ip->total_length + ip->packet_id + ip->fragment_offset + ttl_proto +
                            uint64_t(t.src_ip_be) + t.dst_ip_be;
    ip->hdr_checksum = static_cast<uint16_t>(~csum_fold64(ip_sum));

    rte_ether_addr_copy(&t.next_hop, &v.eth->dst_addr);
    rte_ether_addr_copy(&t.src_mac, &v.eth->src_addr);
    const uint64_t new_addrs = uint64_t(t.src_ip_be) | uint64_t(t.dst_ip_be) << 32;
    std::memcpy(&ip->src_addr, &new_addrs, sizeof(new_addrs));
    ip->time_to_live = default_ttl;
    std::memcpy(&udp->src_port, &new_ports, sizeof(new_ports));
}

// forward() out of port o: the port's MAC and address become the source.
inline void forward_from(udp_view& v, const port_addr& o, const rte_ether_addr& next_hop, uint32_t dst_ip_be,
                         uint16_t src_port_be, uint16_t dst_port_be)
{
    forward_target t;
    t.next_hop = next_hop;
    t.src_mac = o.mac;
    t.src_ip_be = o.ip_be;
    t.dst_ip_be = dst_ip_be;
    t.src_port_be = src_port_be;
    t.dst_port_be = dst_port_be;
    forward(v, t);
}

} // namespace peregrine::net
