#pragma once

// Incremental Internet checksum update (RFC 1624, eqn. 3): HC' = ~(~HC + ~m + m').
// Used when the relay rewrites addresses and ports but not the payload, so forwarding a
// 1400-byte message costs the same as a 64-byte one.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_debug.h>

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

// Whether a one's complement sum accumulated in 64 bits folds to 0xffff, i.e. whether the
// checksum it verifies is correct. Folding keeps the value modulo 0xffff (2^16 = 1 mod 0xffff)
// and maps a non-zero sum to [1, 0xffff], so for s != 0 this is s % 0xffff == 0, which
// compilers turn into a multiply by the inverse and one compare (3 instructions instead of
// csum_fold64's 12 and a compare). Requires s != 0: every sum the engine verifies includes a
// non-zero constant (the IPv4 version byte, the UDP protocol number).
inline bool csum_sum_ok(uint64_t s)
{
    RTE_ASSERT(s != 0);
    return s % 0xffff == 0;
}

// One's complement sum of len bytes at p, not folded: 8 bytes per load, then a 4-, 2- and
// 1-byte tail (an odd last byte padded with zero, as RFC 1071 and __rte_raw_cksum do).
// csum_fold64() of it equals __rte_raw_cksum(p, len, 0) bit for bit: a 32-bit word adds the
// same as its two 16-bit halves modulo 0xffff. On the short datagrams the fast path verifies
// (a 9-byte Heartbeat) it is 2-3 loads instead of DPDK's 2-byte loop. Only for bytes that were
// not just written with narrower stores (a wide load would not forward from them).
inline uint64_t csum_sum(const void* p, std::size_t len)
{
    const auto* b = static_cast<const uint8_t*>(p);
    uint64_t s = 0;
    for (; len >= 8; len -= 8, b += 8) {
        uint64_t v;
        std::memcpy(&v, b, sizeof(v));
        s += (v & 0xffffffffu) + (v >> 32);
    }
    if (len & 4) {
        uint32_t v;
        std::memcpy(&v, b, sizeof(v));
        s += v;
        b += 4;
    }
    if (len & 2) {
        uint16_t v;
        std::memcpy(&v, b, sizeof(v));
        s += v;
        b += 2;
    }
    if (len & 1) {
        uint16_t v = 0;
        std::memcpy(&v, b, 1);
        s += v;
    }
    return s;
}

// UDP over IPv4: a computed checksum of 0 is sent as 0xffff (RFC 768); 0 on the wire means
// "no checksum" and must stay 0 across updates.
inline uint16_t udp_csum_fixup(uint16_t c) { return c == 0 ? 0xffff : c; }

} // namespace peregrine::net
