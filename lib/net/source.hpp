#pragma once

// The anti-reflection rule every UDP protocol applies before it answers, forwards to, or stores
// a datagram's source: the source must not be the engine itself, and must be a unicast host
// address (not 0/8, 127/8, multicast, class E or broadcast) with a non-zero UDP port and a
// unicast MAC. Anything else is spoofed or broken, and answering or storing it would turn the
// engine into a reflector towards it. Each module maps the verdict to its own drop reasons.

#include <cstdint>

#include <rte_ether.h>

#include "common/compiler.hpp"
#include "net/classify.hpp"

namespace peregrine::net {

enum class source : uint8_t { ok, self, bad };

// One branch for the good case: the tests are combined with | (they are cheap and never fault).
PG_ALWAYS_INLINE source check_source(const udp_view& v, uint32_t our_ip_be)
{
    const uint32_t src = v.ip->src_addr;
    const uint8_t first = reinterpret_cast<const uint8_t*>(&v.ip->src_addr)[0];
    const bool bad_host = (first == 0) | (first == 127) | (first >= 224) | (v.udp->src_port == 0) |
                          rte_is_multicast_ether_addr(&v.eth->src_addr);
    if (PG_LIKELY(!((src == our_ip_be) | bad_host)))
        return source::ok;
    return src == our_ip_be ? source::self : source::bad;
}

} // namespace peregrine::net
