#pragma once

// 16-bit byte swaps for the fast path. DPDK's rte_be_to_cpu_16() is an asm statement on x86
// (xchgb), which the compiler can neither fold into the load (movbe) nor schedule freely;
// the builtin gives it both.

#include <cstdint>

#include <rte_byteorder.h>

namespace peregrine::net {

static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the fast path's byte order helpers assume little endian");

// Network to host order and back (the same swap).
constexpr uint16_t be16(uint16_t v) { return __builtin_bswap16(v); }

} // namespace peregrine::net
