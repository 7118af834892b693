#pragma once

// Test frame builder: Ethernet/IPv4/UDP frames as byte vectors with correct checksums, plus
// accessors to break a field afterwards and re-checksum. Header-only; shared with the fuzz
// target's seed generator (tests/fuzz/seeds.cpp).

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

namespace pgtest {

using bytes = std::vector<uint8_t>;

// 02:00:00:00:hi:lo, a locally administered unicast MAC.
inline rte_ether_addr mac(uint8_t lo, uint8_t hi = 0)
{
    return rte_ether_addr{{0x02, 0, 0, 0, hi, lo}};
}

inline constexpr rte_ether_addr broadcast_mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// a.b.c.d in network byte order, as stored in a packet.
inline uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    return rte_cpu_to_be_32(RTE_IPV4(a, b, c, d));
}

inline bytes concat(std::initializer_list<bytes> parts)
{
    bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

struct udp_frame {
    rte_ether_addr dst_mac = mac(1);
    rte_ether_addr src_mac = mac(0x10);
    uint32_t src_ip_be = ip4(198, 18, 0, 10);
    uint32_t dst_ip_be = ip4(198, 18, 0, 1);
    uint16_t src_port = 40000;  // host order
    uint16_t dst_port = 7100;   // host order
    bytes payload;
    uint8_t ttl = 64;
    bool udp_cksum = true;      // false: send 0 ("no checksum")
    unsigned padding = 0;       // Ethernet padding after the datagram
};

static constexpr std::size_t l2_len = sizeof(rte_ether_hdr);
static constexpr std::size_t headers_len = l2_len + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);

// Header accessors into a built frame (which must be long enough).
inline rte_ether_hdr* eth(bytes& f) { return reinterpret_cast<rte_ether_hdr*>(f.data()); }
inline rte_ipv4_hdr* ipv4(bytes& f) { return reinterpret_cast<rte_ipv4_hdr*>(f.data() + l2_len); }
inline unsigned ihl(bytes& f) { return (ipv4(f)->version_ihl & 0x0f) * 4u; }
inline rte_udp_hdr* udp(bytes& f) { return reinterpret_cast<rte_udp_hdr*>(f.data() + l2_len + ihl(f)); }
inline uint8_t* payload(bytes& f) { return reinterpret_cast<uint8_t*>(udp(f) + 1); }

inline void fix_ip_cksum(bytes& f)
{
    if (f.size() < l2_len + ihl(f))  // a header longer than the frame: nothing to sum
        return;
    ipv4(f)->hdr_checksum = 0;
    ipv4(f)->hdr_checksum = rte_ipv4_cksum(ipv4(f));
}

inline void fix_udp_cksum(bytes& f)
{
    udp(f)->dgram_cksum = 0;
    const uint16_t c = rte_ipv4_udptcp_cksum(ipv4(f), udp(f));
    udp(f)->dgram_cksum = c == 0 ? 0xffff : c;
}

inline void fix_cksums(bytes& f)
{
    fix_ip_cksum(f);
    if (udp(f)->dgram_cksum != 0)
        fix_udp_cksum(f);
}

inline bytes build(const udp_frame& s)
{
    bytes f(headers_len + s.payload.size() + s.padding, 0);
    rte_ether_hdr* e = eth(f);
    e->dst_addr = s.dst_mac;
    e->src_addr = s.src_mac;
    e->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

    rte_ipv4_hdr* i = ipv4(f);
    i->version_ihl = RTE_IPV4_VHL_DEF;
    i->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) +
                                                             s.payload.size()));
    i->packet_id = rte_cpu_to_be_16(0x1234);
    i->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    i->time_to_live = s.ttl;
    i->next_proto_id = IPPROTO_UDP;
    i->src_addr = s.src_ip_be;
    i->dst_addr = s.dst_ip_be;

    rte_udp_hdr* u = udp(f);
    u->src_port = rte_cpu_to_be_16(s.src_port);
    u->dst_port = rte_cpu_to_be_16(s.dst_port);
    u->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + s.payload.size()));
    if (!s.payload.empty())
        std::memcpy(payload(f), s.payload.data(), s.payload.size());
    // Padding bytes are not zero, so a reader that counts them as payload gets them wrong.
    for (unsigned k = 0; k < s.padding; ++k)
        f[headers_len + s.payload.size() + k] = 0xa5;

    fix_ip_cksum(f);
    if (s.udp_cksum)
        fix_udp_cksum(f);
    return f;
}

// Inserts words*4 bytes of IPv4 options (NOPs and an End) after the base header.
inline bytes with_ip_options(bytes f, unsigned words)
{
    const std::size_t at = l2_len + sizeof(rte_ipv4_hdr);
    bytes opts(words * 4, 0x01);  // NOP
    opts.back() = 0x00;           // End of options list
    f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), opts.begin(), opts.end());
    ipv4(f)->version_ihl = static_cast<uint8_t>(0x40 | (5 + words));
    ipv4(f)->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(rte_be_to_cpu_16(ipv4(f)->total_length) + words * 4));
    fix_cksums(f);
    return f;
}

// Byte helpers for router payloads.
inline bytes le32(uint32_t v)
{
    return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
            static_cast<uint8_t>(v >> 24)};
}
inline bytes register_payload(uint32_t id) { return concat({{0x00}, le32(id)}); }
inline bytes message_payload(uint32_t id, const bytes& body) { return concat({{0x02}, le32(id), body}); }
inline bytes heartbeat_payload() { return {0x04}; }

} // namespace pgtest
