#include "net/rewrite.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_debug.h>

#include "net/checksum.hpp"

namespace peregrine::net {

// Performance note (docs/performance-history.md): both rewrites read every header field they need
// before the first store and compute the new checksums from those values, instead of storing
// the new header and summing it again from memory. Re-reading freshly stored bytes with wide
// loads defeats store-to-load forwarding (a stall of tens of cycles per checksum). The sums
// cover exactly the words rte_ipv4_cksum()/rte_ipv4_udptcp_cksum() would read and are folded
// to the same representative, so the results are bit-identical to DPDK's. Both assume the
// 20-byte header classify() guarantees for local UDP (options go to the exception path).

namespace {

inline uint16_t load16(const void* p)
{
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return v;
}

// The 16-bit word holding TTL and protocol, as stored in the header (network order).
inline uint16_t ttl_proto_word(uint8_t ttl, uint8_t proto)
{
    return rte_cpu_to_be_16(static_cast<uint16_t>((ttl << 8) | proto));
}

} // namespace

void make_reply(rte_mbuf* m, udp_view& v, uint16_t payload_len, const rte_ether_addr& our_mac)
{
    rte_ipv4_hdr* ip = v.ip;
    RTE_ASSERT(ip->version_ihl == RTE_IPV4_VHL_DEF);
    rte_udp_hdr* udp = v.udp;

    // Everything the reply needs, read before the first store.
    const rte_ether_addr peer = v.eth->src_addr;
    const uint16_t vhl_tos = load16(ip);
    const uint16_t packet_id = ip->packet_id;
    const uint8_t proto = ip->next_proto_id;
    const uint32_t src_ip = ip->src_addr;
    const uint32_t dst_ip = ip->dst_addr;
    const uint16_t src_port = udp->src_port;
    const uint16_t dst_port = udp->dst_port;

    const uint16_t ulen = static_cast<uint16_t>(sizeof(rte_udp_hdr) + payload_len);
    const uint16_t ulen_be = rte_cpu_to_be_16(ulen);
    const uint16_t tot_be = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + ulen));

    // IPv4 header after the rewrite: fragment_offset and the checksum field are 0, and the
    // swapped addresses sum the same.
    const uint64_t ip_sum = uint64_t(vhl_tos) + tot_be + packet_id + ttl_proto_word(default_ttl, proto) +
                            uint64_t(src_ip) + dst_ip;
    const uint16_t ip_ck = static_cast<uint16_t>(~csum_fold64(ip_sum));

    // UDP: pseudo header (addresses, protocol, length), header (ports swapped, length, checksum
    // field 0) and the payload the caller wrote. The caller's payload stores are narrow, so
    // it is summed with narrow loads (__rte_raw_cksum), which forward from them.
    const uint64_t udp_sum = uint64_t(src_ip) + dst_ip + rte_cpu_to_be_16(uint16_t(proto)) + ulen_be + src_port +
                             dst_port + ulen_be + __rte_raw_cksum(v.data, payload_len, 0);
    uint16_t udp_ck = static_cast<uint16_t>(~csum_fold64(udp_sum));

    rte_ether_hdr* eth = v.eth;
    eth->dst_addr = peer;
    eth->src_addr = our_mac;
    ip->total_length = tot_be;
    ip->fragment_offset = 0;
    ip->time_to_live = default_ttl;
    ip->hdr_checksum = ip_ck;
    ip->src_addr = dst_ip;
    ip->dst_addr = src_ip;
    udp->src_port = dst_port;
    udp->dst_port = src_port;
    udp->dgram_len = ulen_be;
    udp->dgram_cksum = udp_csum_fixup(udp_ck);

    const uint32_t frame = static_cast<uint32_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) + ulen;
    m->data_len = static_cast<uint16_t>(frame);
    m->pkt_len = frame;
    v.len = payload_len;
    // Drop the RX offload flags (they described the request); keep the buffer-ownership flags
    // (external or attached buffers) the mempool needs to free this mbuf correctly.
    m->ol_flags &= RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT;
}

} // namespace peregrine::net
