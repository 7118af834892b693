#include "net/frame.hpp"

#include <cstring>

#include <rte_ip.h>
#include <rte_udp.h>

#include "net/checksum.hpp"
#include "net/rewrite.hpp"

namespace peregrine::net {

rte_mbuf* new_udp_frame(rte_mempool* pool, const port_addr& pa, const udp_to& to, uint16_t len, uint8_t** payload)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m)
        return nullptr;
    const uint32_t frame = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + uint32_t(len);
    auto* d = frame <= UINT16_MAX ? reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(frame)))
                                  : nullptr;
    if (!d) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    auto* eth = reinterpret_cast<rte_ether_hdr*>(d);
    eth->dst_addr = to.next_hop;
    eth->src_addr = pa.mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    std::memset(ip, 0, sizeof(*ip));
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(frame - sizeof(rte_ether_hdr)));
    ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = default_ttl;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = pa.ip_be;
    ip->dst_addr = to.dst_ip_be;
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->src_port = to.src_port_be;
    udp->dst_port = to.dst_port_be;
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + len));
    udp->dgram_cksum = 0;
    m->port = to.port_id;
    *payload = reinterpret_cast<uint8_t*>(udp + 1);
    return m;
}

void finish_udp_frame(rte_mbuf* m)
{
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = udp_csum_fixup(rte_ipv4_udptcp_cksum(ip, udp));
}

} // namespace peregrine::net
