#pragma once

// First stage of every worker: decide what a received frame is, without trusting any length
// field. The result is a drop reason, an exception reason (the kernel gets it through the TAP),
// or a UDP datagram addressed to one of the engine's own ports with its payload located.

#include <cstdint>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/stats.hpp"

namespace peregrine::net {

// What the fast path knows about one port: its MAC and the engine's IPv4 address on it.
struct port_addr {
    rte_ether_addr mac;
    uint32_t ip_be = 0;     // 0: no address, every IPv4 packet goes to the exception path
    uint8_t prefix_len = 0;
};

// A UDP datagram for the engine, located inside a single-segment mbuf.
struct udp_view {
    rte_ether_hdr* eth;
    rte_ipv4_hdr* ip;
    rte_udp_hdr* udp;
    uint8_t* data;       // UDP payload
    uint16_t len;        // UDP payload length (from the UDP header, checked against the frame)
    uint16_t dst_port;   // host order, for dispatch
};

enum class verdict : uint8_t { local_udp, exception, drop };

struct classification {
    verdict v;
    union {
        drop d;
        exc e;
    };
};

// Classifies m (received on a port whose address is pa). On local_udp, fills *view.
// Never reads past rte_pktmbuf_data_len(m).
classification classify(rte_mbuf* m, const port_addr& pa, udp_view* view);

// Verifies the UDP checksum of a located datagram in software unless the NIC already did
// (RTE_MBUF_F_RX_L4_CKSUM_GOOD). A zero checksum (sender computed none) passes.
bool udp_cksum_ok(const rte_mbuf* m, const udp_view& v);

} // namespace peregrine::net
