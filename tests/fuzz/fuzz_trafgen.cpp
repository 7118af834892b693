// Fuzz target for peregrine-trafgen's receive path: parse_udp (with and without checksum
// verification) and router_profile::receive, which take apart whatever the far end sends back.
// Invariants: nothing reads out of bounds (ASan), and every frame is accounted exactly once:
// as an answer, as "other", or as a first registration. No EAL needed.
//
// Seeds: tests/fuzz/corpus/trafgen (answer frames for the profile below; regenerate with
// fuzz_trafgen_replay --write-corpus tests/fuzz/corpus/trafgen).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "frame.hpp"
#include "router_profile.hpp"

namespace {

using namespace peregrine::trafgen;

struct state {
    std::unique_ptr<router_profile> normal, reflector;
    uint64_t frames = 0;
};
state* S;

router_config fuzz_config(bool reflector)
{
    router_config c;
    c.clients = 64;
    c.ports_per_ip = 16;  // 4 client addresses: 198.19.0.1 .. 198.19.0.4, ports 10000..10015
    c.server_ip = 0xc6120001;  // 198.18.0.1
    c.src_mac = rte_ether_addr{{0x02, 0, 0, 0, 0, 0x10}};
    c.dst_mac = rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}};
    c.reflector = reflector;
    c.tsc_hz = 2000000000ull;
    return c;
}

uint64_t accounted(const router_profile& p)
{
    uint64_t reg = 0;
    for (const auto& [k, v] : p.counters())
        if (k == "register_acked")
            reg = v;
    return p.stats().answered + p.stats().rx_other + reg;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    S = new state();
    S->normal = std::make_unique<router_profile>(fuzz_config(false));
    S->reflector = std::make_unique<router_profile>(fuzz_config(true));
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size > max_frame)
        return 0;  // the driver never hands a profile more than one mbuf's frame
    const auto len = static_cast<uint16_t>(size);
    udp_rx u;
    for (bool verify : {false, true}) {
        if (parse_udp(data, len, verify, &u) == rx_verdict::ok &&
            (u.payload < data + 42 || u.payload + u.len > data + size)) {
            std::fprintf(stderr, "fuzz_trafgen: payload outside the frame\n");
            std::abort();
        }
    }
    ++S->frames;
    // Time moves forward so latency arithmetic sees both fresh and stale stamps.
    const uint64_t now = S->frames * 1000;
    S->normal->receive(data, len, now);
    S->reflector->receive(data, len, now);
    if (accounted(*S->normal) != S->frames || accounted(*S->reflector) != S->frames) {
        std::fprintf(stderr, "fuzz_trafgen: frame not accounted exactly once (%lu frames)\n",
                     static_cast<unsigned long>(S->frames));
        std::abort();
    }
    return 0;
}
