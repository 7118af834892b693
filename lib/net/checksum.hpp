#pragma once

// Incremental Internet checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m').
// Used when the relay rewrites addresses and ports but not the payload, so forwarding a
// 1400-byte message costs the same as a 64-byte one.

#include <cstdint>

namespace peregrine::net {

inline uint32_t csum_fold32(uint32_t s)
{
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return s;
}

// All values in network byte order as stored in the packet.
inline uint16_t csum_replace16(uint16_t hc, uint16_t old_v, uint16_t new_v)
{
    uint32_t s = static_cast<uint16_t>(~hc);
    s += static_cast<uint16_t>(~old_v);
    s += new_v;
    return static_cast<uint16_t>(~csum_fold32(s));
}

inline uint16_t csum_replace32(uint16_t hc, uint32_t old_v, uint32_t new_v)
{
    uint32_t s = static_cast<uint16_t>(~hc);
    s += static_cast<uint16_t>(~old_v) + static_cast<uint16_t>(~(old_v >> 16));
    s += (new_v & 0xffff) + (new_v >> 16);
    return static_cast<uint16_t>(~csum_fold32(s));
}

// Folds a one's complement sum accumulated in 64 bits (16-bit words, or 32-bit words, which is
// the same sum) to 16 bits. A non-zero sum folds to [1, 0xffff], the representative
// rte_raw_cksum() returns, so checksums built on it match DPDK's bit for bit.
inline uint16_t csum_fold64(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(s);
}

// UDP over IPv4: a computed checksum of 0 is sent as 0xffff (RFC 768); 0 on the wire means
// "no checksum" and must stay 0 across updates.
inline uint16_t udp_csum_fixup(uint16_t c) { return c == 0 ? 0xffff : c; }

} // namespace peregrine::net
