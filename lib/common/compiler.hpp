#pragma once

#include <cstddef>

namespace peregrine {

// One cache line on every CPU DPDK supports for this project (x86-64, arm64 N1/V1).
static constexpr std::size_t cache_line = 64;

// Packets per RX/TX burst: l3fwd's MAX_PKT_BURST, amortises the PMD call without blowing L1.
static constexpr unsigned burst_size = 32;

// How far ahead of the packet being handled we prefetch its headers (l3fwd's PREFETCH_OFFSET).
static constexpr unsigned prefetch_ahead = 3;

#ifndef PEREGRINE_MAX_PORTS
#define PEREGRINE_MAX_PORTS 8
#endif
static constexpr unsigned max_ports = PEREGRINE_MAX_PORTS;

// Worker lcores plus the control lcore; RCU reader ids and per-lcore stats slots are sized by it.
static constexpr unsigned max_workers = 64;

#define PG_LIKELY(x) __builtin_expect(!!(x), 1)
#define PG_UNLIKELY(x) __builtin_expect(!!(x), 0)
// For per-packet helpers the compiler might otherwise leave out of line.
#define PG_ALWAYS_INLINE inline __attribute__((always_inline))
// Off the hot path: kept out of its caller so that the common case stays compact.
#define PG_NOINLINE __attribute__((noinline))

} // namespace peregrine
