#pragma once

// Ethernet/IPv4/UDP frames for the generator: build one with valid checksums into a buffer,
// and take a received one apart. Shared by every profile; no DPDK state, so pcap output and
// unit tests use it without ports.

#include <cstdint>

#include <rte_ether.h>

namespace peregrine::trafgen {

static constexpr uint16_t eth_ip_udp_len = 14 + 20 + 8;
// Largest frame a profile may build: a 1500-byte IP MTU.
static constexpr uint16_t max_frame = 14 + 1500;
static constexpr uint16_t min_frame = 60;  // Ethernet minimum without FCS: shorter frames are padded

struct udp_addrs {
    rte_ether_addr src_mac, dst_mac;
    uint32_t src_ip_be, dst_ip_be;
    uint16_t src_port_be, dst_port_be;
};

// Writes an Ethernet/IPv4/UDP frame to f (room for max(min_frame, eth_ip_udp_len + plen)
// bytes): the UDP payload is `head` (head_len bytes) followed by plen - head_len zero bytes.
// IPv4 and UDP checksums are computed; the zero tail is not summed (it adds nothing), so a
// 1400-byte payload costs a memset, not a 1400-byte checksum pass. Returns the frame length
// (padded with zeros to min_frame). Requires head_len <= plen <= 1472.
uint16_t build_udp(uint8_t* f, const udp_addrs& a, const uint8_t* head, uint16_t head_len, uint16_t plen,
                   uint16_t ip_id);

// A received IPv4/UDP frame, located. Addresses and ports in network order as on the wire.
struct udp_rx {
    uint32_t src_ip_be, dst_ip_be;
    uint16_t src_port_be, dst_port_be;
    const uint8_t* payload;
    uint16_t len;  // UDP payload length
};

enum class rx_verdict : uint8_t { ok, not_udp, malformed, bad_cksum };

// Takes f apart: IPv4 without options or fragments, UDP, lengths consistent with the frame
// (Ethernet padding allowed). With verify, the IPv4 and UDP checksums must be right (a UDP
// checksum of 0 passes).
rx_verdict parse_udp(const uint8_t* f, uint16_t len, bool verify, udp_rx* out);

// ARP: a request for target_ip_be from (src_mac, src_ip_be), 60 bytes; and the sender of a
// reply that answers target_ip_be (false if f is not such a reply).
uint16_t build_arp_request(uint8_t* f, const rte_ether_addr& src_mac, uint32_t src_ip_be, uint32_t target_ip_be);
bool parse_arp_reply(const uint8_t* f, uint16_t len, uint32_t target_ip_be, rte_ether_addr* mac);

} // namespace peregrine::trafgen
