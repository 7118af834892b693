#include "net/classify.hpp"

#include <cstring>

#include <rte_byteorder.h>

#include "net/checksum.hpp"

namespace peregrine::net {

namespace {
classification drop_(drop d)
{
    classification c;
    c.v = verdict::drop;
    c.d = d;
    c.dst_port = 0;
    return c;
}
classification exc_(exc e)
{
    classification c;
    c.v = verdict::exception;
    c.e = e;
    c.dst_port = 0;
    return c;
}
// rte_raw_cksum(ip, ihl) != 0xffff without the generic loop: ihl is a multiple of 4 in
// [20, 60], so the header is summed 32 bits at a time (same sum, same fold; see checksum.hpp).
bool ipv4_hdr_cksum_bad(const rte_ipv4_hdr* ip, unsigned ihl)
{
    const auto* b = reinterpret_cast<const uint8_t*>(ip);
    auto w = [b](unsigned off) {
        uint32_t v;
        std::memcpy(&v, b + off, sizeof(v));
        return uint64_t(v);
    };
    uint64_t s = w(0) + w(4) + w(8) + w(12) + w(16);
    if (PG_UNLIKELY(ihl > sizeof(rte_ipv4_hdr)))
        s += __rte_raw_cksum(b + sizeof(rte_ipv4_hdr), ihl - sizeof(rte_ipv4_hdr), 0);
    return csum_fold64(s) != 0xffff;
}
} // namespace

classification classify_slow(rte_mbuf* m, const port_addr& pa, udp_view* view)
{
    const uint32_t dlen = rte_pktmbuf_data_len(m);
    if (PG_UNLIKELY(dlen < sizeof(rte_ether_hdr)))
        return drop_(drop::eth_short);

    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const bool l2_group = rte_is_multicast_ether_addr(&eth->dst_addr);
    if (PG_UNLIKELY(!l2_group && !rte_is_same_ether_addr(&eth->dst_addr, &pa.mac)))
        return drop_(drop::l2_other_host);

    const uint16_t et = eth->ether_type;
    if (et != RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
        if (et == RTE_BE16(RTE_ETHER_TYPE_ARP))
            return exc_(exc::arp);
        if (et == RTE_BE16(RTE_ETHER_TYPE_IPV6))
            return exc_(exc::ipv6);
        return exc_(exc::other_ethertype);
    }

    if (PG_UNLIKELY(dlen < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)))
        return drop_(drop::ipv4_short);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    if (PG_UNLIKELY((ip->version_ihl >> 4) != 4))
        return drop_(drop::ipv4_bad_version);
    const unsigned ihl = (ip->version_ihl & 0x0f) * 4u;
    const unsigned tot = rte_be_to_cpu_16(ip->total_length);
    // Ethernet padding may make the frame longer than the datagram, never shorter.
    if (PG_UNLIKELY(ihl < sizeof(rte_ipv4_hdr) || tot < ihl ||
                    tot > dlen - sizeof(rte_ether_hdr) || ihl > dlen - sizeof(rte_ether_hdr)))
        return drop_(drop::ipv4_bad_len);

    const uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD)
        return drop_(drop::ipv4_bad_cksum);
    if (ipck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && PG_UNLIKELY(ipv4_hdr_cksum_bad(ip, ihl)))
        return drop_(drop::ipv4_bad_cksum);

    if (l2_group)
        return exc_(exc::l2_multicast);
    if (pa.ip_be == 0 || ip->dst_addr != pa.ip_be)
        return exc_(exc::not_our_ip);
    if (ihl != sizeof(rte_ipv4_hdr))
        return exc_(exc::ipv4_options);
    if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
        return exc_(exc::ipv4_fragment);
    if (PG_UNLIKELY(ip->time_to_live == 0))
        return drop_(drop::ipv4_ttl_zero);

    switch (ip->next_proto_id) {
    case IPPROTO_UDP:
        break;
    case IPPROTO_ICMP:
        return exc_(exc::icmp);
    case IPPROTO_TCP:
        return exc_(exc::tcp);
    default:
        return exc_(exc::other_ip_proto);
    }

    if (PG_UNLIKELY(tot < ihl + sizeof(rte_udp_hdr)))
        return drop_(drop::udp_short);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(reinterpret_cast<uint8_t*>(ip) + ihl);
    const unsigned ulen = rte_be_to_cpu_16(udp->dgram_len);
    if (PG_UNLIKELY(ulen != tot - ihl))
        return drop_(drop::udp_bad_len);

    view->eth = eth;
    view->ip = ip;
    view->udp = udp;
    view->data = reinterpret_cast<uint8_t*>(udp + 1);
    view->len = static_cast<uint16_t>(ulen - sizeof(rte_udp_hdr));
    view->dst_port = rte_be_to_cpu_16(udp->dst_port);
    classification c;
    c.v = verdict::local_udp;
    c.d = drop::count_;
    c.dst_port = view->dst_port;
    return c;
}

} // namespace peregrine::net
