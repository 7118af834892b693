#include "net/rewrite.hpp"

#include <rte_byteorder.h>

#include "net/checksum.hpp"

namespace peregrine::net {

void make_reply(rte_mbuf* m, udp_view& v, uint16_t payload_len, const rte_ether_addr& our_mac)
{
    rte_ether_addr_copy(&v.eth->src_addr, &v.eth->dst_addr);
    rte_ether_addr_copy(&our_mac, &v.eth->src_addr);

    rte_ipv4_hdr* ip = v.ip;
    const uint32_t src_ip = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src_ip;
    const uint16_t ulen = static_cast<uint16_t>(sizeof(rte_udp_hdr) + payload_len);
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + ulen));
    ip->time_to_live = default_ttl;
    ip->fragment_offset = 0;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);

    rte_udp_hdr* udp = v.udp;
    const uint16_t src_port = udp->src_port;
    udp->src_port = udp->dst_port;
    udp->dst_port = src_port;
    udp->dgram_len = rte_cpu_to_be_16(ulen);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = udp_csum_fixup(rte_ipv4_udptcp_cksum(ip, udp));

    const uint32_t frame = static_cast<uint32_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) + ulen;
    m->data_len = static_cast<uint16_t>(frame);
    m->pkt_len = frame;
    v.len = payload_len;
    m->ol_flags = 0;
}

void forward(udp_view& v, const forward_target& t)
{
    rte_ether_addr_copy(&t.next_hop, &v.eth->dst_addr);
    rte_ether_addr_copy(&t.src_mac, &v.eth->src_addr);

    rte_ipv4_hdr* ip = v.ip;
    rte_udp_hdr* udp = v.udp;
    if (udp->dgram_cksum != 0) {
        uint16_t c = udp->dgram_cksum;
        c = csum_replace32(c, ip->src_addr, t.src_ip_be);
        c = csum_replace32(c, ip->dst_addr, t.dst_ip_be);
        c = csum_replace16(c, udp->src_port, t.src_port_be);
        c = csum_replace16(c, udp->dst_port, t.dst_port_be);
        udp->dgram_cksum = udp_csum_fixup(c);
    }
    ip->src_addr = t.src_ip_be;
    ip->dst_addr = t.dst_ip_be;
    ip->time_to_live = default_ttl;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->src_port = t.src_port_be;
    udp->dst_port = t.dst_port_be;
}

} // namespace peregrine::net
