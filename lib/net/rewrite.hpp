#pragma once

// In-place rewrites of a located UDP datagram: the engine answers and forwards by editing the
// received mbuf, never by allocating a new one.
// Both take a view located by net::classify(), which hands over only 20-byte IPv4 headers.

#include <cstdint>

#include "net/classify.hpp"

namespace peregrine::net {

// TTL of packets the engine originates (Linux's default).
static constexpr uint8_t default_ttl = 64;

// Turns the datagram into a reply to its sender carrying payload_len bytes that the caller has
// already written at v.data. payload_len must not exceed v.len (the engine never amplifies).
// Swaps MACs (the reply goes back to the frame's source MAC: the sender or its gateway), IPs
// and ports, and recomputes both checksums (UDP over the new payload only: replies are short).
void make_reply(rte_mbuf* m, udp_view& v, uint16_t payload_len, const rte_ether_addr& our_mac);

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
