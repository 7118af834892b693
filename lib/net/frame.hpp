#pragma once

// Frames the engine originates (not answers): Ethernet + 20-byte IPv4 + UDP from the engine's
// address on a port to an endpoint through a next hop, in an mbuf from a pool.

#include <cstdint>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "net/classify.hpp"

namespace peregrine::net {

struct udp_to {
    rte_ether_addr next_hop;
    uint32_t dst_ip_be;
    uint16_t src_port_be;
    uint16_t dst_port_be;
    uint16_t port_id;  // ethdev port it leaves by (m->port)
};

// An mbuf with the headers written for a payload of len bytes, which the caller writes at
// *payload and then seals with finish_udp_frame(). nullptr if the pool is empty or len does not fit.
rte_mbuf* new_udp_frame(rte_mempool* pool, const port_addr& pa, const udp_to& to, uint16_t len, uint8_t** payload);

// Fills the IPv4 and UDP checksums once the payload is written.
void finish_udp_frame(rte_mbuf* m);

} // namespace peregrine::net
