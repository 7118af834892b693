#include "bench_common.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "net/checksum.hpp"

namespace bench {

namespace {

uint64_t meminfo_kb(const char* key)
{
    std::ifstream f("/proc/meminfo");
    std::string k;
    uint64_t v;
    std::string unit;
    while (f >> k) {
        if (k == key) {
            f >> v;
            return v;
        }
        std::getline(f, unit);
    }
    return 0;
}

} // namespace

peregrine::engine::context* new_context(std::initializer_list<port> ports)
{
    auto* ctx = new peregrine::engine::context();
    unsigned i = 0;
    for (const port& p : ports) {
        ctx->ports[i].mac = p.mac;
        ctx->ports[i].ip_be = rte_cpu_to_be_32(p.ip);
        ctx->ports[i].prefix_len = 24;
        ++i;
    }
    return ctx;
}

uint8_t* write_udp_headers(uint8_t* f, const udp_addrs& a, uint16_t plen)
{
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
    eth->dst_addr = a.dst_mac;
    eth->src_addr = a.src_mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    std::memset(ip, 0, sizeof(*ip));
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + plen));
    ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(a.src_ip);
    ip->dst_addr = rte_cpu_to_be_32(a.dst_ip);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->src_port = rte_cpu_to_be_16(a.src_port);
    udp->dst_port = rte_cpu_to_be_16(a.dst_port);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + plen));
    udp->dgram_cksum = 0;
    return reinterpret_cast<uint8_t*>(udp + 1);
}

void seal_udp(uint8_t* f)
{
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + sizeof(rte_ether_hdr));
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->dgram_cksum = peregrine::net::udp_csum_fixup(rte_ipv4_udptcp_cksum(ip, udp));
}

bool parse_args(int argc, char** argv, eal_config& cfg, const std::function<bool(const std::string&)>& own)
{
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        const std::string s = argv[i];
        if (s.rfind("--eal-mem=", 0) == 0)
            cfg.mode = s.substr(10);
        else if (s.rfind("--eal-mem-mb=", 0) == 0)
            cfg.nohuge_mb = static_cast<unsigned>(std::stoul(s.substr(13)));
        else if (!own || !own(s))
            rest.push_back(argv[i]);
    }
    if (cfg.mode != "nohuge" && !(cfg.huge_ok && cfg.mode == "huge") && !(cfg.auto_huge_mb && cfg.mode == "auto")) {
        std::fprintf(stderr, "%s: --eal-mem must be %s\n", cfg.prog,
                     !cfg.huge_ok ? "nohuge" : cfg.auto_huge_mb ? "auto, huge or nohuge" : "huge or nohuge");
        return false;
    }
    int rargc = static_cast<int>(rest.size());
    benchmark::Initialize(&rargc, rest.data());
    return !benchmark::ReportUnrecognizedArguments(rargc, rest.data());
}

bool start_eal(const eal_config& cfg)
{
    const uint64_t huge_free_mb = meminfo_kb("HugePages_Free:") * meminfo_kb("Hugepagesize:") / 1024;
    const bool huge = cfg.mode == "huge" || (cfg.mode == "auto" && huge_free_mb >= cfg.auto_huge_mb);
    const std::string mem = std::to_string(cfg.nohuge_mb);
    std::vector<std::string> a = {cfg.prog, "-l", "0", "--no-pci", "--no-telemetry", "--log-level=*:error",
                                  std::string("--file-prefix=") + cfg.prefix + std::to_string(getpid())};
    if (huge)
        a.push_back("--in-memory");  // hugepages mapped on demand, no files left behind
    else
        a.insert(a.end(), {"--no-huge", "-m", mem, "--no-shconf"});
    a.insert(a.end(), cfg.extra.begin(), cfg.extra.end());
    std::vector<char*> argv;
    for (auto& s : a)
        argv.push_back(s.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "%s: rte_eal_init failed: %s\n", cfg.prog, rte_strerror(rte_errno));
        return false;
    }
    const std::string used = huge ? "hugepages (" + std::to_string(meminfo_kb("Hugepagesize:")) + " kB), --in-memory"
                                  : "--no-huge -m " + mem + " (4 KiB pages)";
    std::fprintf(stderr, "%s: EAL memory: %s\n", cfg.prog, used.c_str());
    benchmark::AddCustomContext("eal_memory", used);
    return true;
}

int finish()
{
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    rmdir(runtime_dir.c_str());
    return failed ? 1 : 0;
}

} // namespace bench
