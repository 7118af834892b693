#include "options.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>

#include <arpa/inet.h>
#include <getopt.h>

#include <rte_config.h>

namespace peregrine {

namespace {

enum opt_id : int {
    opt_config = 256,
    opt_addr,
    opt_router_port,
    opt_lb_port,
    opt_session_port,
    opt_rudp_port,
    opt_lekt_port,
    opt_hb_timeout,
    opt_max_clients,
    opt_stats_interval,
    opt_tap_name,
    opt_no_tap,
    opt_mbufs,
    opt_session_app,
    opt_session_key_file,
    opt_max_sessions,
    opt_session_timeout,
    opt_session_hello_window,
    opt_lb_policy,
    opt_lb_expiry,
    opt_lb_answer_no_node,
    opt_no_lekt,
    opt_no_lb,
    opt_no_session,
    opt_lekt_max_clients,
    opt_lekt_max_per_ip,
    opt_lekt_hb_timeout,
    opt_lekt_hs_timeout,
    opt_idle_sleep,
    opt_tap_rx_signal,
};

const option long_opts[] = {
    {"config", required_argument, nullptr, opt_config},
    {"addr", required_argument, nullptr, opt_addr},
    {"router-port", required_argument, nullptr, opt_router_port},
    {"lb-port", required_argument, nullptr, opt_lb_port},
    {"session-port", required_argument, nullptr, opt_session_port},
    {"rudp-port", required_argument, nullptr, opt_rudp_port},
    {"lekt-port", required_argument, nullptr, opt_lekt_port},
    {"heartbeat-timeout", required_argument, nullptr, opt_hb_timeout},
    {"max-clients", required_argument, nullptr, opt_max_clients},
    {"stats-interval", required_argument, nullptr, opt_stats_interval},
    {"idle-sleep", required_argument, nullptr, opt_idle_sleep},
    {"tap-name", required_argument, nullptr, opt_tap_name},
    {"no-tap", no_argument, nullptr, opt_no_tap},
    {"tap-rx-signal", no_argument, nullptr, opt_tap_rx_signal},
    {"mbufs", required_argument, nullptr, opt_mbufs},
    {"session-app", required_argument, nullptr, opt_session_app},
    {"session-key-file", required_argument, nullptr, opt_session_key_file},
    {"max-sessions", required_argument, nullptr, opt_max_sessions},
    {"session-timeout", required_argument, nullptr, opt_session_timeout},
    {"session-hello-window", required_argument, nullptr, opt_session_hello_window},
    {"lb-policy", required_argument, nullptr, opt_lb_policy},
    {"lb-expiry", required_argument, nullptr, opt_lb_expiry},
    {"lb-answer-no-node", no_argument, nullptr, opt_lb_answer_no_node},
    {"no-lekt", no_argument, nullptr, opt_no_lekt},
    {"no-lb", no_argument, nullptr, opt_no_lb},
    {"no-session", no_argument, nullptr, opt_no_session},
    {"lekt-max-clients", required_argument, nullptr, opt_lekt_max_clients},
    {"lekt-max-per-ip", required_argument, nullptr, opt_lekt_max_per_ip},
    {"lekt-heartbeat-timeout", required_argument, nullptr, opt_lekt_hb_timeout},
    {"lekt-handshake-timeout", required_argument, nullptr, opt_lekt_hs_timeout},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

// Strict unsigned parse: the whole string, base 10 (or 16 with 0x when base is 0), in range.
bool parse_u64(const char* s, int base, uint64_t lo, uint64_t hi, uint64_t* out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, base);
    if (errno || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool range_err(std::string* err, const char* name, const char* val, uint64_t lo, uint64_t hi)
{
    *err = std::string("--") + name + ": '" + (val ? val : "") + "' is not an integer in [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "]";
    return false;
}

} // namespace

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
            if (!parse_u64(num.c_str(), 10, 0, hi[k], &v[k]))
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
    if (!parse_u64(s.substr(0, colon).c_str(), 10, 0, (RTE_MAX_ETHPORTS - 1), &port)) {
        *err = "--addr: port in '" + s + "' is not an integer in [0, " + std::to_string((RTE_MAX_ETHPORTS - 1)) + "]";
        return false;
    }
    in_addr a{};
    if (inet_pton(AF_INET, s.substr(colon + 1, slash - colon - 1).c_str(), &a) != 1) {
        *err = "--addr: '" + s.substr(colon + 1, slash - colon - 1) + "' is not a dotted IPv4 address";
        return false;
    }
    if (!parse_u64(s.substr(slash + 1).c_str(), 10, 1, 32, &prefix)) {
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
    // 0, not 1: glibc (and musl) then reset all getopt state, including the position inside a
    // group of short options, which otherwise still points into a previous call's argv.
    optind = 0;
    opterr = 0;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, ":p:h", long_opts, nullptr)) != -1) {
        const char* arg = optarg;
        switch (c) {
        case 'p':
            if (!parse_u64(arg, 16, 1, UINT64_MAX, &v)) {
                *err = std::string("-p: '") + (arg ? arg : "") + "' is not a non-zero hexadecimal port mask";
                return false;
            }
            o->portmask = v;
            break;
        case opt_config:
            if (!parse_config(arg, &o->config, err))
                return false;
            break;
        case opt_addr: {
            port_address a;
            if (!parse_addr(arg, &a, err))
                return false;
            for (const auto& x : o->addrs)
                if (x.port == a.port) {
                    *err = "--addr: port " + std::to_string(a.port) + " given twice (one address per port)";
                    return false;
                }
            o->addrs.push_back(a);
            break;
        }
#define PG_PORT_OPT(id, name, field)                                                          \
    case id:                                                                                  \
        if (!parse_u64(arg, 10, 1, 65535, &v))                                                \
            return range_err(err, name, arg, 1, 65535);                                       \
        o->field = static_cast<uint16_t>(v);                                                  \
        break;
            PG_PORT_OPT(opt_router_port, "router-port", router_port)
            PG_PORT_OPT(opt_lb_port, "lb-port", lb_port)
            PG_PORT_OPT(opt_session_port, "session-port", session_port)
            PG_PORT_OPT(opt_rudp_port, "rudp-port", rudp_port)
            PG_PORT_OPT(opt_lekt_port, "lekt-port", lekt_port)
#undef PG_PORT_OPT
        case opt_hb_timeout:
            if (!parse_u64(arg, 10, 1, 86400, &v))
                return range_err(err, "heartbeat-timeout", arg, 1, 86400);
            o->heartbeat_timeout_s = static_cast<uint32_t>(v);
            break;
        case opt_max_clients:
            if (!parse_u64(arg, 10, 1, 100'000'000, &v))
                return range_err(err, "max-clients", arg, 1, 100'000'000);
            o->max_clients = static_cast<uint32_t>(v);
            break;
        case opt_stats_interval:
            if (!parse_u64(arg, 10, 0, 3600, &v))
                return range_err(err, "stats-interval", arg, 0, 3600);
            o->stats_interval_s = static_cast<uint32_t>(v);
            break;
        case opt_idle_sleep:
            if (!parse_u64(arg, 10, 0, 100'000, &v))
                return range_err(err, "idle-sleep", arg, 0, 100'000);
            o->idle_sleep_us = static_cast<uint32_t>(v);
            break;
        case opt_tap_name: {
            const std::string s = arg;
            const size_t pct = s.find('%');
            if (s.empty() || (pct != std::string::npos && (s.compare(pct, 2, "%u") != 0 ||
                                                          s.find('%', pct + 1) != std::string::npos))) {
                *err = "--tap-name: '" + s + "' may contain only one '%u' (the port id) and no other '%'";
                return false;
            }
            if (s.size() > 13) {
                *err = "--tap-name: '" + s + "' is too long for a Linux interface name";
                return false;
            }
            o->tap_name = s;
            break;
        }
        case opt_tap_rx_signal:
            o->tap_rx_signal = true;
            break;
        case opt_no_tap:
            o->no_tap = true;
            break;
        case opt_mbufs:
            if (!parse_u64(arg, 10, 1024, 1u << 26, &v))
                return range_err(err, "mbufs", arg, 1024, 1u << 26);
            o->mbufs = static_cast<uint32_t>(v);
            break;
        case opt_session_app:
            if (std::strcmp(arg, "echo") != 0 && std::strcmp(arg, "discard") != 0) {
                *err = std::string("--session-app: '") + arg + "' is not one of: echo, discard";
                return false;
            }
            o->session_app = arg;
            break;
        case opt_session_key_file:
            if (!*arg) {
                *err = "--session-key-file: empty path";
                return false;
            }
            o->session_key_file = arg;
            break;
        case opt_max_sessions:
            if (!parse_u64(arg, 10, 1, 100'000'000, &v))
                return range_err(err, "max-sessions", arg, 1, 100'000'000);
            o->max_sessions = static_cast<uint32_t>(v);
            break;
        case opt_session_timeout:
            if (!parse_u64(arg, 10, 1, 86400, &v))
                return range_err(err, "session-timeout", arg, 1, 86400);
            o->session_timeout_s = static_cast<uint32_t>(v);
            break;
        case opt_session_hello_window:
            if (!parse_u64(arg, 10, 1, 3600, &v))
                return range_err(err, "session-hello-window", arg, 1, 3600);
            o->session_hello_window_s = static_cast<uint32_t>(v);
            break;
        case opt_lb_policy:
            if (std::strcmp(arg, "maglev") == 0) {
                o->lb_least_loaded = false;
            } else if (std::strcmp(arg, "least-loaded") == 0) {
                o->lb_least_loaded = true;
            } else {
                *err = std::string("--lb-policy: '") + arg + "' is not one of maglev, least-loaded";
                return false;
            }
            break;
        case opt_lb_expiry:
            if (!parse_u64(arg, 10, 1, 86400, &v))
                return range_err(err, "lb-expiry", arg, 1, 86400);
            o->lb_expiry_s = static_cast<uint32_t>(v);
            break;
        case opt_lb_answer_no_node:
            o->lb_answer_no_node = true;
            break;
        case opt_no_lekt:
            o->no_lekt = true;
            break;
        case opt_no_lb:
            o->no_lb = true;
            break;
        case opt_no_session:
            o->no_session = true;
            break;
#define PG_LEKT_OPT(id, name, field, lo, hi)                                                  \
    case id:                                                                                  \
        if (!parse_u64(arg, 10, lo, hi, &v))                                                  \
            return range_err(err, name, arg, lo, hi);                                         \
        o->field = static_cast<uint32_t>(v);                                                  \
        break;
            PG_LEKT_OPT(opt_lekt_max_clients, "lekt-max-clients", lekt_max_clients, 1, 1'000'000)
            PG_LEKT_OPT(opt_lekt_max_per_ip, "lekt-max-per-ip", lekt_max_per_ip, 1, 1'000'000)
            PG_LEKT_OPT(opt_lekt_hb_timeout, "lekt-heartbeat-timeout", lekt_heartbeat_timeout_s, 1, 3600)
            PG_LEKT_OPT(opt_lekt_hs_timeout, "lekt-handshake-timeout", lekt_handshake_timeout_s, 1, 300)
#undef PG_LEKT_OPT
        case 'h':
            o->help = true;
            return true;
        case ':':
            *err = std::string("option '") + argv[optind - 1] + "' needs a value";
            return false;
        default:
            *err = std::string("unknown option '") + argv[optind - 1] + "' (see --help)";
            return false;
        }
    }
    if (optind < argc) {
        *err = std::string("unexpected argument '") + argv[optind] + "'";
        return false;
    }
    const uint16_t ports[] = {o->router_port, o->lb_port, o->session_port, o->rudp_port};
    for (unsigned i = 0; i < 4; ++i)
        for (unsigned j = i + 1; j < 4; ++j)
            if (ports[i] == ports[j]) {
                *err = "UDP port " + std::to_string(ports[i]) + " is given to two protocols";
                return false;
            }
    return true;
}

std::string usage(const char* prog)
{
    return std::string("Usage: ") + prog + R"USAGE( [EAL options] -- [options]

Peregrine: a DPDK packet engine serving the router, load-balancer and session protocols (UDP)
on the fast path, with a TAP exception path to the Linux kernel for everything else.

Ports and queues:
  -p PORTMASK            hexadecimal mask of ports to drive (default: every probed port)
  --config "(port,queue,lcore)[,...]"
                         RX queue to worker lcore map; queues of a port are numbered from 0.
                         Every worker also gets one TX queue on every port (TX queues per port =
                         number of workers; net_tap needs as many RX as TX queues). Default:
                         queue 0 of each port on the first worker lcore. The main lcore is the
                         control lcore and never a worker.
  --addr PORT:A.B.C.D/PREFIX
                         the engine's IPv4 address on PORT (repeatable, one per port); set on the
                         port's TAP so the kernel answers ARP, ping and TCP for it
  --mbufs N              mbufs in the pool, [1024, 67108864] (default: from ports and queues)

Protocols (UDP ports on the engine's address, [1, 65535]):
  --router-port N        router protocol (default 7100)
  --lb-port N            load-balancer protocol, Peregrine as the Controlling Function (default 7200)
  --session-port N       session protocol (default 7300)
  --rudp-port N          RUDP, reserved (default 7400)
  --lekt-port N          LEKT rendezvous, TCP (default 7500)

Router:
  --heartbeat-timeout S  a registration expires S seconds after its last Register or
                         Heartbeat, [1, 86400] (default 90: three missed 30 s heartbeats)
  --max-clients N        registry capacity, [1, 100000000] (default 1048576; about 150
                         bytes of hugepage memory each: 10 million need ~1.4 GiB)

Session protocol (SHA-256 per packet; docs/protocols/session.md):
  --no-session           do not serve the session protocol: its port goes to the kernel and
                         the fast path does not look at it
  --session-app NAME     application DATA payloads go to: echo (default; answers each payload
                         with a DATA_NOACK carrying it) or discard
  --session-key-file F   keyed mode: every packet's digest is HMAC-SHA-256 with the key in F (its
                         bytes exactly, 16 to 1024 of them); default off (plain SHA-256: integrity,
                         not authenticity)
  --max-sessions N       session table capacity, [1, 100000000] (default 1048576; about 200 bytes
                         of hugepage memory each)
  --session-timeout S    a session with no accepted packet (PING or data) for S seconds is over,
                         [1, 86400] (default 30: three missed 10 s pings)
  --session-hello-window S
                         a HELLO timestamp may differ from our clock by S seconds, [1, 3600]
                         (default 30)
Load balancer (docs/protocols/load-balancer.md):
  --no-lb                do not serve the load-balancer protocol: its port goes to the kernel
  --lb-policy P          how Request Serving Node picks a node: maglev (default; consistent
                         hashing of the client's address, answered by the workers) or
                         least-loaded (fewest registrations plus recent assignments, decided by
                         the control lcore)
  --lb-expiry S          a serving node or call controller registration expires S seconds after
                         its last Register, [1, 86400] (default 120, as the origin)
  --lb-answer-no-node    with no serving node live, answer Request Serving Node with 0.0.0.0:0
                         (default: no answer, as the origin; its clients take any answer as
                         final and retry only on silence)

LEKT rendezvous (TCP on the engine's --addr addresses, served by the control lcore through
the exception path; see docs/protocols/lekt.md):
  --no-lekt              do not serve LEKT (it is also off with --no-tap)
  --lekt-max-clients N   connections at once, [1, 1000000] (default 16384)
  --lekt-max-per-ip N    connections from one source IPv4, [1, 1000000] (default 64)
  --lekt-heartbeat-timeout S
                         a member is removed S seconds after its last heartbeat, [1, 3600]
                         (default 15)
  --lekt-handshake-timeout S
                         handshake and setup must finish, and any partial packet must be
                         completed, within S seconds, [1, 300] (default 5)

Exception path:
  --tap-name FMT         kernel interface name per port, %u is the port id (default pgx%u)
  --no-tap               no exception path: ARP/ICMP/TCP/other traffic is dropped and counted
  --tap-rx-signal        keep net_tap's wake-up by a real-time signal per frame instead of
                         polling the TAPs (default: poll; a signal per frame costs more under
                         load, an idle poll costs one readv)

Cores:
  --idle-sleep US        on shared cores (VMs, test hosts): an lcore that finds nothing to do for
                         a while sleeps, 1 us then doubling up to US microseconds, [0, 100000]
                         (default 0: busy-poll, for dedicated cores). Costs up to US of extra
                         latency after a quiet spell; /peregrine/stats idle_sleep_us shows it

Observability:
  --stats-interval S     print a counters line on stdout every S seconds, [0, 3600] (default 0: off);
                         counters are always in telemetry under /peregrine/
  -h, --help             this text

Example (one port on a TAP wire, one worker on lcore 1):
  peregrine -l 0-1 --no-pci --vdev=net_tap0,iface=pgw0 -- -p 0x1 --config "(0,0,1)" \
      --addr 0:198.18.0.1/24
)USAGE";
}

} // namespace peregrine
