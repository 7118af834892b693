// Replay driver for fuzz_trafgen in builds without libFuzzer (g++): every corpus file, then a
// fixed-seed stream of mutants (bit flips, truncations, extensions, byte edge values, with
// the IPv4/UDP checksums repaired half the time so mutants reach the router checks).
//
//   fuzz_trafgen_replay [--iterations=N] DIR...
//   fuzz_trafgen_replay --write-corpus DIR      (answer frames the profile accepts or rejects)

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "frame.hpp"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;
using bytes = std::vector<uint8_t>;
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

int write_corpus(const fs::path& dir)
{
    fs::create_directories(dir);
    const uint32_t c0 = 0xc6130001;  // 198.19.0.1
    bytes stamp = {0x02, 5, 0, 0, 0, 0x10, 0x27, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 'P', 'G', 'T', 'G'};
    bytes stamp_echo = stamp;
    stamp_echo[1] = 9;  // reflector: the echo of a message to client 8
    const std::pair<const char*, bytes> frames[] = {
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
    for (const auto& [name, f] : frames) {
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    }
    std::printf("wrote %zu frames to %s\n", std::size(frames), dir.c_str());
    return 0;
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

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = 200000;
    std::vector<bytes> seeds;
    std::vector<fs::path> paths;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--write-corpus" && i + 1 < argc)
            return write_corpus(argv[++i]);
        if (a.rfind("--iterations=", 0) == 0)
            iterations = std::stoull(a.substr(13));
        else
            paths.emplace_back(a);
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (const auto& p : paths)
        for (const auto& e : fs::directory_iterator(p)) {
            std::ifstream in(e.path(), std::ios::binary);
            bytes d((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            LLVMFuzzerTestOneInput(d.data(), d.size());
            seeds.push_back(d);
        }
    if (seeds.empty()) {
        std::fprintf(stderr, "fuzz_trafgen_replay: no corpus files\n");
        return 1;
    }
    std::mt19937_64 rng(0x7a6f);
    for (uint64_t i = 0; i < iterations; ++i) {
        bytes f = seeds[rng() % seeds.size()];
        switch (rng() % 5) {
        case 0: if (!f.empty()) f[rng() % f.size()] ^= uint8_t(1u << (rng() % 8)); break;
        case 1: f.resize(rng() % (f.size() + 1)); break;
        case 2: f.resize(f.size() + rng() % 64, uint8_t(rng())); break;
        case 3: if (!f.empty()) f[rng() % f.size()] = (rng() & 1) ? 0xff : 0x00; break;
        default: if (f.size() > 42) f[42 + rng() % (f.size() - 42)] = uint8_t(rng()); break;
        }
        if (rng() & 1)
            repair(f);
        LLVMFuzzerTestOneInput(f.data(), f.size());
    }
    std::printf("fuzz_trafgen_replay: %zu corpus files + %lu mutants\n", seeds.size(), static_cast<unsigned long>(iterations));
    return 0;
}
