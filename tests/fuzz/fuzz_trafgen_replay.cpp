// Replay hooks (replay.hpp) for fuzz_trafgen: mutants of the corpus files (bit flips,
// truncations, extensions, byte edge values, with the IPv4/UDP checksums repaired half the time
// so mutants reach the router checks).
//
//   fuzz_trafgen_replay --write-corpus DIR      (answer frames the profile accepts or rejects)

#include <utility>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "frame.hpp"
#include "replay.hpp"

using fuzz_replay::bytes;
using namespace peregrine::trafgen;

namespace {

bytes answer(uint32_t client_ip, uint16_t client_port, const bytes& payload, uint16_t src_port = 7100)
{
    udp_addrs a{};
    a.src_mac = rte_ether_addr{{0x02, 0, 0, 0, 0, 0x01}};
    a.dst_mac = rte_ether_addr{{0x02, 0, 0, 0, 0, 0x10}};
    a.src_ip_be = rte_cpu_to_be_32(0xc6120001);
    a.dst_ip_be = rte_cpu_to_be_32(client_ip);
    a.src_port_be = rte_cpu_to_be_16(src_port);
    a.dst_port_be = rte_cpu_to_be_16(client_port);
    bytes f(max_frame);
    const uint16_t n = build_udp(f.data(), a, payload.data(), static_cast<uint16_t>(payload.size()),
                                 static_cast<uint16_t>(payload.size()), 1);
    f.resize(n);
    return f;
}

fuzz_replay::named_inputs seeds()
{
    const uint32_t c0 = 0xc6130001;  // 198.19.0.1
    bytes stamp = {0x02, 5, 0, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 'P', 'G', 'T', 'G'};
    bytes stamp_echo = stamp;
    stamp_echo[1] = 9;  // reflector: the echo of a message to client 8
    return {
        {"register-response", answer(c0, 10001, {0x01})},
        {"heartbeat-response", answer(c0 + 1, 10003, {0x05})},
        {"unknown-recipient", answer(c0, 10002, {0x03, 65 + 3, 0, 0, 0})},
        {"unknown-recipient-registered-id", answer(c0, 10002, {0x03, 3, 0, 0, 0})},
        {"message-stamped", answer(c0, 10004, stamp)},
        {"message-echo", answer(c0, 10004, stamp_echo)},
        {"message-short", answer(c0, 10004, {0x02, 5, 0, 0, 0, 1, 2})},
        {"heartbeat-echo", answer(c0 + 2, 10000, {0x04})},
        {"register-echo", answer(c0, 10000, {0x00, 1, 0, 0, 0})},
        {"not-a-client", answer(c0 + 9, 10000, {0x05})},
        {"other-source-port", answer(c0, 10000, {0x05}, 7101)},
        {"empty", answer(c0, 10000, {})},
        {"unknown-type", answer(c0, 10000, {0x77})},
    };
}

void repair(bytes& f)
{
    if (f.size() < 42)
        return;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
    if ((ip->version_ihl & 0x0f) != 5)
        return;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    const uint16_t ulen = rte_be_to_cpu_16(reinterpret_cast<rte_udp_hdr*>(ip + 1)->dgram_len);
    if (ulen >= 8 && 34u + ulen <= f.size()) {
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        udp->dgram_cksum = 0;
        const uint16_t c = rte_ipv4_udptcp_cksum(ip, udp);
        udp->dgram_cksum = c ? c : 0xffff;
    }
}

class frame_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        bytes f = seeds_[pick(seeds_.size())];
        switch (pick(5)) {
        case 0: flip_bit(f); break;
        case 1: truncate(f); break;
        case 2: f.resize(f.size() + rng_() % 64, uint8_t(rng_())); break;
        case 3: if (!f.empty()) f[rng_() % f.size()] = (rng_() & 1) ? 0xff : 0x00; break;
        default: if (f.size() > 42) f[42 + rng_() % (f.size() - 42)] = uint8_t(rng_()); break;
        }
        if (rng_() & 1)
            repair(f);
        return f;
    }
};

} // namespace

// No built-in seeds: mutants start from the corpus files.
const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 200000,
    .seed = 0x7a6f,
    .seeds = seeds,
    .builtin_seeds = false,
    .new_mutator = fuzz_replay::make_mutator<frame_mutator>,
    .check = nullptr,
};
