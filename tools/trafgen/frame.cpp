#include "frame.hpp"

#include <cstring>

#include <netinet/in.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "net/neigh.hpp"

namespace peregrine::trafgen {

uint16_t build_udp(uint8_t* f, const udp_addrs& a, const uint8_t* head, uint16_t head_len, uint16_t plen,
                   uint16_t ip_id)
{
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
    eth->dst_addr = a.dst_mac;
    eth->src_addr = a.src_mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + 8 + plen));
    ip->packet_id = rte_cpu_to_be_16(ip_id);
    ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->hdr_checksum = 0;
    ip->src_addr = a.src_ip_be;
    ip->dst_addr = a.dst_ip_be;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->src_port = a.src_port_be;
    udp->dst_port = a.dst_port_be;
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(8 + plen));
    udp->dgram_cksum = 0;
    auto* p = reinterpret_cast<uint8_t*>(udp + 1);
    if (head_len)
        std::memcpy(p, head, head_len);
    const uint16_t frame = static_cast<uint16_t>(eth_ip_udp_len + plen);
    const uint16_t out = frame < min_frame ? min_frame : frame;
    std::memset(p + head_len, 0, out - eth_ip_udp_len - head_len);  // zero tail and padding
    // Pseudo header + UDP header + head: the zero tail adds nothing to the sum. An odd head is
    // summed as if followed by a zero byte, which is what the tail holds.
    uint32_t s = rte_ipv4_phdr_cksum(ip, 0);
    s = __rte_raw_cksum(udp, 8 + head_len, s);
    const uint16_t c = static_cast<uint16_t>(~__rte_raw_cksum_reduce(s));
    udp->dgram_cksum = c == 0 ? 0xffff : c;
    return out;
}

rx_verdict parse_udp(const uint8_t* f, uint16_t len, bool verify, udp_rx* out)
{
    if (len < eth_ip_udp_len)
        return len >= 14 && reinterpret_cast<const rte_ether_hdr*>(f)->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)
                   ? rx_verdict::malformed
                   : rx_verdict::not_udp;
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(f);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))
        return rx_verdict::not_udp;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
    if (ip->next_proto_id != IPPROTO_UDP)
        return rx_verdict::not_udp;
    if (ip->version_ihl != RTE_IPV4_VHL_DEF || (ip->fragment_offset & RTE_BE16(0x3fff)) != 0)
        return rx_verdict::malformed;
    const uint16_t tot = rte_be_to_cpu_16(ip->total_length);
    if (tot < 28 || tot > len - 14)
        return rx_verdict::malformed;
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(ip + 1);
    if (rte_be_to_cpu_16(udp->dgram_len) != tot - 20)
        return rx_verdict::malformed;
    if (verify) {
        if (rte_ipv4_cksum(ip) != 0)  // summed over a correct header, the result is 0
            return rx_verdict::bad_cksum;
        if (udp->dgram_cksum != 0 && rte_ipv4_udptcp_cksum_verify(ip, udp) != 0)
            return rx_verdict::bad_cksum;
    }
    out->src_ip_be = ip->src_addr;
    out->dst_ip_be = ip->dst_addr;
    out->src_port_be = udp->src_port;
    out->dst_port_be = udp->dst_port;
    out->payload = reinterpret_cast<const uint8_t*>(udp + 1);
    out->len = static_cast<uint16_t>(tot - 28);
    return rx_verdict::ok;
}

uint16_t build_arp_request(uint8_t* f, const rte_ether_addr& src_mac, uint32_t src_ip_be, uint32_t target_ip_be)
{
    std::memset(f, 0, min_frame);  // padded to the minimum frame
    peregrine::net::write_arp_request(f, src_mac, src_ip_be, target_ip_be);
    return min_frame;
}

bool parse_arp_reply(const uint8_t* f, uint16_t len, uint32_t target_ip_be, rte_ether_addr* mac)
{
    if (len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
        return false;
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(f);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_ARP))
        return false;
    const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    if (arp->arp_opcode != RTE_BE16(RTE_ARP_OP_REPLY) || arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
        arp->arp_data.arp_sip != target_ip_be)
        return false;
    *mac = arp->arp_data.arp_sha;
    return true;
}

} // namespace peregrine::trafgen
