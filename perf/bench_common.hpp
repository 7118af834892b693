#pragma once

// What the DPDK benchmarks (bench_router, bench_session, bench_lb, bench_cryptodev) share: the
// EAL flags and set-up, the per-packet counters, test frames, the failure flag the smoke tests
// rely on.
//
// Flags (removed before Google Benchmark sees argv):
//   --eal-mem=huge|nohuge (and auto where the benchmark allows it: hugepages if enough are free)
//                        huge: --in-memory (hugepages mapped on demand, no files left behind);
//                        nohuge: --no-huge -m N --no-shconf (4 KiB pages)
//   --eal-mem-mb=N       -m for --no-huge

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <rte_ether.h>

#include "engine/context.hpp"

namespace bench {

// A benchmark saw wrong outcomes or could not set up: finish() returns non-zero (smoke tests).
inline bool failed = false;

inline void fail(benchmark::State& state, const char* why)
{
    failed = true;
    state.SkipWithError(why);
}

// Console: "per_pkt=35.2ns" (CPU time per packet) and "pps=28.4M/s"; JSON: seconds and 1/s.
inline void set_counters(benchmark::State& state, unsigned burst)
{
    using C = benchmark::Counter;
    state.counters["per_pkt"] = C(burst, C::kIsIterationInvariantRate | C::kInvert);
    state.counters["pps"] = C(burst, C::kIsIterationInvariantRate);
}

// A benchmark frame's addresses (IPv4 addresses and ports in host order).
struct udp_addrs {
    rte_ether_addr src_mac, dst_mac;
    uint32_t src_ip, dst_ip;
    uint16_t src_port, dst_port;
};

// A port of the benchmark engine: its MAC and IPv4 address (host order), a /24.
struct port {
    rte_ether_addr mac;
    uint32_t ip;
};

// A new engine context (kept to the process exit) with these ports and no TAPs.
peregrine::engine::context* new_context(std::initializer_list<port> ports);

// Writes the Ethernet/IPv4/UDP headers (20-byte IPv4 header with its checksum, don't-fragment,
// TTL 64; UDP checksum 0) of a frame carrying plen payload bytes at f; returns where the payload
// goes.
uint8_t* write_udp_headers(uint8_t* f, const udp_addrs& a, uint16_t plen);

// The UDP checksum of the frame at f, once its payload is written, as a client computes it.
void seal_udp(uint8_t* f);

struct eal_config {
    const char* prog = "bench";      // messages and the EAL's argv[0]
    const char* prefix = "pgbench";  // --file-prefix, the pid appended
    std::string mode = "nohuge";     // --eal-mem default
    bool huge_ok = true;             // --eal-mem=huge allowed
    unsigned auto_huge_mb = 0;       // --eal-mem=auto allowed: hugepages if this many MB are free
    unsigned nohuge_mb = 1024;       // --eal-mem-mb default
    std::vector<std::string> extra;  // more EAL arguments (--vdev=...)
};

// Takes the flags above (and those own(arg) claims) out of argv and hands the rest to
// benchmark::Initialize. False (with a message) for a bad flag: exit 2.
bool parse_args(int argc, char** argv, eal_config& cfg, const std::function<bool(const std::string&)>& own = {});

// rte_eal_init as cfg says (-l 0, no PCI, no telemetry); reports the memory used on stderr and
// in the benchmark context ("eal_memory"). False (with a message) on failure.
bool start_eal(const eal_config& cfg);

// rte_eal_cleanup (returns --in-memory hugepages) and the runtime directory it leaves behind,
// which would pile up under /var/run/dpdk. Returns main's exit status.
int finish();

} // namespace bench
