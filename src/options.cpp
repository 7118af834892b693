#include "options.hpp"

#include "modules.hpp"

#include "engine/resume_latency.hpp"

#include <cstring>
#include <set>
#include <utility>

#include <arpa/inet.h>

#include <rte_config.h>

namespace peregrine {

// The core's own sections; the modules' are added in the order of the list of modules.
std::vector<engine::option_section> option_sections(options* o)
{
    using engine::option_section;
    option_section ports;
    ports.title = "Ports and queues:";
    ports.options = {
        {"config", "\"(port,queue,lcore)[,...]\"",
         "RX queue to worker lcore map; queues of a port are numbered from 0.\n"
         "Every worker also gets one TX queue on every port (TX queues per port =\n"
         "number of workers; net_tap needs as many RX as TX queues). Default:\n"
         "queue 0 of each port on the first worker lcore. The main lcore is the\n"
         "control lcore and never a worker.",
         [o](const char* v, std::string* err) { return parse_config(v, &o->config, err); }},
        {"addr", "PORT:A.B.C.D/PREFIX",
         "the engine's IPv4 address on PORT (repeatable, one per port); set on the\n"
         "port's TAP so the kernel answers ARP, ping and TCP for it",
         [o](const char* v, std::string* err) {
             port_address a;
             if (!parse_addr(v, &a, err))
                 return false;
             for (const auto& x : o->addrs)
                 if (x.port == a.port) {
                     *err = "--addr: port " + std::to_string(a.port) + " given twice (one address per port)";
                     return false;
                 }
             o->addrs.push_back(a);
             return true;
         }},
        engine::integer("mbufs", "N", 1024, 1u << 26, "mbufs in the pool, [1024, 67108864] (default: from ports and queues)",
                        &o->mbufs),
    };

    option_section exc;
    exc.title = "Exception path:";
    exc.options = {
        {"tap-name", "FMT", "kernel interface name per port, %u is the port id (default pgx%u)",
         [o](const char* v, std::string* err) {
             const std::string s = v;
             const size_t pct = s.find('%');
             if (s.empty() || (pct != std::string::npos &&
                               (s.compare(pct, 2, "%u") != 0 || s.find('%', pct + 1) != std::string::npos))) {
                 *err = "--tap-name: '" + s + "' may contain only one '%u' (the port id) and no other '%'";
                 return false;
             }
             if (s.size() > 13) {
                 *err = "--tap-name: '" + s + "' is too long for a Linux interface name";
                 return false;
             }
             o->tap_name = s;
             return true;
         }},
        engine::flag("no-tap", "no exception path: ARP/ICMP/TCP/other traffic is dropped and counted", &o->no_tap),
        engine::flag("tap-rx-signal",
                     "keep net_tap's wake-up by a real-time signal per frame instead of\n"
                     "polling the TAPs (default: poll; a signal per frame costs more under\n"
                     "load, an idle poll costs one readv)",
                     &o->tap_rx_signal),
        engine::integer("syn-rate", "N", 0, 10'000'000,
                        "TCP connection attempts (SYN) to the engine's address that one source\n"
                        "may make per second, bursts of 2N, [0, 10000000] (default 1000; 0: no\n"
                        "limit); over it they are dropped on the worker (syn_rate_limited), so a\n"
                        "SYN flood from a few sources cannot fill the exception path",
                        &o->syn_rate),
        engine::integer("syn-global-rate", "N", 0, 100'000'000,
                        "the same for all sources together, bursts of 2N (default 0: no limit)",
                        &o->syn_global_rate),
    };

    option_section cores;
    cores.title = "Cores:";
    cores.options = {
        engine::integer("idle-sleep", "US", 0, 100'000,
                        "on shared cores (VMs, test hosts): an lcore that finds nothing to do for\n"
                        "a while sleeps, 1 us then doubling up to US microseconds, [0, 100000]\n"
                        "(default 0: workers busy-poll, for dedicated cores). Costs up to US of extra\n"
                        "latency after a quiet spell; /peregrine/stats idle_sleep_us shows it",
                        &o->idle_sleep_us),
        engine::integer("control-sleep", "US", 0, 100'000,
                        "the longest the idle control lcore sleeps, [0, 100000] (default 1000,\n"
                        "its housekeeping tick). It sleeps on its TAPs, sockets and the workers'\n"
                        "doorbell, so a packet or connection wakes it at once; it carries only\n"
                        "the slow path, and busy-polling it would take a core from the workers\n"
                        "on a host with fewer cores than pollers. 0: busy-poll. The larger of\n"
                        "it and --idle-sleep applies",
                        &o->control_sleep_us),
        {"control-resume-latency", "US|off",
         "the longest wake-up the sleeping control lcore's CPU may cost, in us\n"
         "(its pm_qos_resume_latency_us, restored at exit; needs root), [0, 1000000]\n"
         "(default 0: that CPU idles in the kernel's polling loop, free for any\n"
         "other thread, and a worker's doorbell need not wake a halted CPU; it\n"
         "costs the power of a busy core). off: leave the CPU's idle states as\n"
         "they are, for power, at tens of microseconds more per slow-path packet\n"
         "after a quiet spell.\n"
         "Nothing is set while --control-sleep is 0",
         [o](const char* v, std::string* err) {
             if (v && std::strcmp(v, "off") == 0) {
                 o->control_resume_latency_us = engine::cpu_resume_latency::off;
                 return true;
             }
             uint64_t x;
             if (!engine::parse_u64(v, 10, 0, 1'000'000, &x)) {
                 *err = std::string("--control-resume-latency: '") + (v ? v : "") +
                        "' is neither off nor an integer in [0, 1000000]";
                 return false;
             }
             o->control_resume_latency_us = static_cast<int32_t>(x);
             return true;
         }},
    };

    option_section obs;
    obs.title = "Observability:";
    obs.options = {
        engine::integer("stats-interval", "S", 0, 3600,
                        "print a counters line on stdout every S seconds, [0, 3600] (default 0: off);\n"
                        "counters are always in telemetry under /peregrine/",
                        &o->stats_interval_s),
    };

    std::vector<engine::option_section> all{ports};
    for (auto& s : module_sections(o))
        all.push_back(std::move(s));
    all.insert(all.end(), {exc, cores, obs});
    return all;
}

bool parse_config(const std::string& s, std::vector<queue_map>* out, std::string* err)
{
    out->clear();
    size_t i = 0;
    auto bad = [&](const std::string& why) {
        *err = "--config: " + why + " in '" + s + "' (expected \"(port,queue,lcore)[,(port,queue,lcore)...]\")";
        return false;
    };
    std::set<std::pair<uint16_t, uint16_t>> seen;
    while (i < s.size()) {
        if (s[i] != '(')
            return bad("expected '(' at offset " + std::to_string(i));
        const size_t close = s.find(')', i);
        if (close == std::string::npos)
            return bad("missing ')'");
        const std::string tuple = s.substr(i + 1, close - i - 1);
        uint64_t v[3];
        size_t start = 0;
        for (int k = 0; k < 3; ++k) {
            const size_t comma = tuple.find(',', start);
            const bool last = k == 2;
            if (last != (comma == std::string::npos))
                return bad("each tuple needs exactly three numbers");
            const std::string num = tuple.substr(start, last ? std::string::npos : comma - start);
            static constexpr uint64_t hi[3] = {(RTE_MAX_ETHPORTS - 1), 1023, 1023};
            if (!engine::parse_u64(num.c_str(), 10, 0, hi[k], &v[k]))
                return bad("'" + num + "' is not an integer in [0, " + std::to_string(hi[k]) + "]");
            start = comma + 1;
        }
        queue_map q{static_cast<uint16_t>(v[0]), static_cast<uint16_t>(v[1]), static_cast<unsigned>(v[2])};
        if (!seen.insert({q.port, q.queue}).second)
            return bad("port " + std::to_string(q.port) + " queue " + std::to_string(q.queue) + " listed twice");
        out->push_back(q);
        i = close + 1;
        if (i < s.size()) {
            if (s[i] != ',')
                return bad("expected ',' between tuples");
            ++i;
            if (i == s.size())
                return bad("trailing ','");
        }
    }
    if (out->empty())
        return bad("no tuples");
    return true;
}

bool parse_addr(const std::string& s, port_address* out, std::string* err)
{
    const size_t colon = s.find(':');
    const size_t slash = s.find('/');
    if (colon == std::string::npos || slash == std::string::npos || slash < colon) {
        *err = "--addr: '" + s + "' is not PORT:A.B.C.D/PREFIX";
        return false;
    }
    uint64_t port, prefix;
    if (!engine::parse_u64(s.substr(0, colon).c_str(), 10, 0, (RTE_MAX_ETHPORTS - 1), &port)) {
        *err = "--addr: port in '" + s + "' is not an integer in [0, " + std::to_string((RTE_MAX_ETHPORTS - 1)) + "]";
        return false;
    }
    in_addr a{};
    if (inet_pton(AF_INET, s.substr(colon + 1, slash - colon - 1).c_str(), &a) != 1) {
        *err = "--addr: '" + s.substr(colon + 1, slash - colon - 1) + "' is not a dotted IPv4 address";
        return false;
    }
    if (!engine::parse_u64(s.substr(slash + 1).c_str(), 10, 1, 32, &prefix)) {
        *err = "--addr: prefix in '" + s + "' is not an integer in [1, 32]";
        return false;
    }
    const uint32_t host = ntohl(a.s_addr);
    if (host == 0 || (host >> 24) == 127 || (host >> 28) >= 14) {
        *err = "--addr: " + s.substr(colon + 1, slash - colon - 1) + " is not a unicast host address";
        return false;
    }
    *out = {static_cast<uint16_t>(port), a.s_addr, static_cast<uint8_t>(prefix)};
    return true;
}

bool parse_options(int argc, char** argv, options* o, std::string* err)
{
    const auto secs = option_sections(o);
    auto on_short = [o](int c, const char* v, std::string* e) {
        uint64_t mask;
        if (c != 'p')
            return false;
        if (!engine::parse_u64(v, 16, 1, UINT64_MAX, &mask)) {
            *e = std::string("-p: '") + (v ? v : "") + "' is not a non-zero hexadecimal port mask";
            return false;
        }
        o->portmask = mask;
        return true;
    };
    return engine::parse(argc, argv, secs, "p:", on_short, &o->help, err);
}

std::string usage(const char* prog)
{
    options scratch;
    return std::string("Usage: ") + prog + R"USAGE( [EAL options] -- [options]

Peregrine: a DPDK packet engine serving the router, load-balancer and session protocols (UDP)
on the fast path and LEKT (TCP) on its control lcore, with a TAP exception path to the Linux
kernel for everything else.

  -p PORTMASK            hexadecimal mask of ports to drive (default: every probed port)
  -h, --help             this text
)USAGE" + engine::format(option_sections(&scratch)) + R"USAGE(
Example (one port on a TAP wire, one worker on lcore 1):
  peregrine -l 0-1 --no-pci --vdev=net_tap0,iface=pgw0 -- -p 0x1 --config "(0,0,1)" \
      --addr 0:198.18.0.1/24
)USAGE";
}

} // namespace peregrine
