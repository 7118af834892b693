#include "options.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <arpa/inet.h>
#include <getopt.h>

namespace peregrine::trafgen {

namespace {

enum opt_id : int {
    o_profile = 256, o_port, o_clients, o_base_id, o_client_ip, o_client_port, o_ports_per_ip, o_dst_mac,
    o_src_mac, o_addr, o_router_port, o_mode, o_hb_pct, o_unknown_pct, o_payload, o_reflector, o_no_rx_verify,
    o_reg_window, o_reg_timeout, o_reg_retries, o_seed, o_rate, o_duration, o_count, o_drain, o_interval,
    o_json, o_label, o_pcap_out, o_pcap_register, o_pcap_count,
    o_lb_port, o_lb_nodes, o_lb_node_port, o_lb_update_pct, o_session_port, o_session_noack_pct, o_session_key_file,
    o_rudp_port, o_rudp_flags,
};

const option long_opts[] = {
    {"profile", required_argument, nullptr, o_profile},
    {"port", required_argument, nullptr, o_port},
    {"clients", required_argument, nullptr, o_clients},
    {"base-id", required_argument, nullptr, o_base_id},
    {"client-ip", required_argument, nullptr, o_client_ip},
    {"client-port", required_argument, nullptr, o_client_port},
    {"ports-per-ip", required_argument, nullptr, o_ports_per_ip},
    {"dst-mac", required_argument, nullptr, o_dst_mac},
    {"src-mac", required_argument, nullptr, o_src_mac},
    {"addr", required_argument, nullptr, o_addr},
    {"router-port", required_argument, nullptr, o_router_port},
    {"mode", required_argument, nullptr, o_mode},
    {"heartbeat-pct", required_argument, nullptr, o_hb_pct},
    {"unknown-pct", required_argument, nullptr, o_unknown_pct},
    {"payload", required_argument, nullptr, o_payload},
    {"reflector", no_argument, nullptr, o_reflector},
    {"no-rx-verify", no_argument, nullptr, o_no_rx_verify},
    {"register-window", required_argument, nullptr, o_reg_window},
    {"register-timeout-ms", required_argument, nullptr, o_reg_timeout},
    {"register-retries", required_argument, nullptr, o_reg_retries},
    {"seed", required_argument, nullptr, o_seed},
    {"rate", required_argument, nullptr, o_rate},
    {"duration", required_argument, nullptr, o_duration},
    {"count", required_argument, nullptr, o_count},
    {"drain-ms", required_argument, nullptr, o_drain},
    {"interval", required_argument, nullptr, o_interval},
    {"json", required_argument, nullptr, o_json},
    {"label", required_argument, nullptr, o_label},
    {"pcap-out", required_argument, nullptr, o_pcap_out},
    {"pcap-register", required_argument, nullptr, o_pcap_register},
    {"pcap-count", required_argument, nullptr, o_pcap_count},
    {"lb-port", required_argument, nullptr, o_lb_port},
    {"lb-nodes", required_argument, nullptr, o_lb_nodes},
    {"lb-node-port", required_argument, nullptr, o_lb_node_port},
    {"lb-update-pct", required_argument, nullptr, o_lb_update_pct},
    {"session-port", required_argument, nullptr, o_session_port},
    {"session-noack-pct", required_argument, nullptr, o_session_noack_pct},
    {"session-key-file", required_argument, nullptr, o_session_key_file},
    {"rudp-port", required_argument, nullptr, o_rudp_port},
    {"rudp-flags", required_argument, nullptr, o_rudp_flags},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

bool parse_u64(const char* s, uint64_t lo, uint64_t hi, uint64_t* out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 0);
    if (errno || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool parse_ipv4(const char* s, uint32_t* host)
{
    in_addr a{};
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *host = ntohl(a.s_addr);
    return true;
}

} // namespace

bool parse_rate(const std::string& s, double* out)
{
    if (s.empty())
        return false;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (errno || end == s.c_str() || !std::isfinite(v) || v < 0)
        return false;
    const std::string suf(end);
    if (suf == "k" || suf == "K")
        v *= 1e3;
    else if (suf == "M" || suf == "m")
        v *= 1e6;
    else if (suf == "G" || suf == "g")
        v *= 1e9;
    else if (!suf.empty())
        return false;
    *out = v;
    return true;
}

bool parse_mac(const std::string& s, rte_ether_addr* out)
{
    unsigned b[6];
    char tail;
    if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
        return false;
    for (int i = 0; i < 6; ++i)
        out->addr_bytes[i] = static_cast<uint8_t>(b[i]);
    return true;
}

bool parse_options(int argc, char** argv, gen_options* o, std::string* err)
{
    optind = 1;
    opterr = 0;
    bool have_addr = false;
    int c;
    auto bad = [&](const char* name, const char* why) {
        *err = std::string("--") + name + ": '" + (optarg ? optarg : "") + "' " + why;
        return false;
    };
    while ((c = getopt_long(argc, argv, "h", long_opts, nullptr)) != -1) {
        uint64_t v = 0;
        router_config& r = o->router;
        switch (c) {
        case o_profile:
            if (std::strcmp(optarg, "router") != 0 && std::strcmp(optarg, "lb") != 0 &&
                std::strcmp(optarg, "session") != 0 && std::strcmp(optarg, "rudp") != 0)
                return bad("profile", "is not a profile (router, lb, session, rudp)");
            o->profile = optarg;
            break;
        case o_lb_port:
        case o_session_port:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad(c == o_lb_port ? "lb-port" : "session-port", "is not a UDP port in [1, 65535]");
            (c == o_lb_port ? o->lb.server_port : o->session.server_port) = static_cast<uint16_t>(v);
            break;
        case o_rudp_port:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("rudp-port", "is not a UDP port in [1, 65535]");
            o->rudp.server_port = static_cast<uint16_t>(v);
            break;
        case o_rudp_flags: {
            // A comma-separated list of checksum, compressed, encrypted (none: an empty string).
            uint8_t f = 0;
            std::string list = optarg, name;
            for (size_t at = 0; at <= list.size(); ++at) {
                if (at < list.size() && list[at] != ',') {
                    name += list[at];
                    continue;
                }
                if (name == "checksum")
                    f |= 0x40;
                else if (name == "compressed")
                    f |= 0x20;
                else if (name == "encrypted")
                    f |= 0x10;
                else if (!name.empty())
                    return bad("rudp-flags", "lists a flag other than checksum, compressed, encrypted");
                name.clear();
            }
            o->rudp.flags = f;
            break;
        }
        case o_lb_nodes:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("lb-nodes", "is not an integer in [1, 65535]");
            o->lb.nodes = static_cast<uint32_t>(v);
            break;
        case o_lb_node_port:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("lb-node-port", "is not a UDP port in [1, 65535]");
            o->lb.node_port = static_cast<uint16_t>(v);
            break;
        case o_lb_update_pct:
        case o_session_noack_pct:
            if (!parse_u64(optarg, 0, 100, &v))
                return bad(c == o_lb_update_pct ? "lb-update-pct" : "session-noack-pct", "is not an integer in [0, 100]");
            (c == o_lb_update_pct ? o->lb.update_pct : o->session.noack_pct) = static_cast<unsigned>(v);
            break;
        case o_session_key_file: {
            // The engine's keyed mode takes the file's bytes exactly, 16 to 1024 of them.
            FILE* fp = std::fopen(optarg, "rb");
            if (!fp)
                return bad("session-key-file", std::strerror(errno));
            uint8_t buf[1025];
            const size_t got = std::fread(buf, 1, sizeof(buf), fp);
            std::fclose(fp);
            if (got < 16 || got > 1024)
                return bad("session-key-file", "must hold 16 to 1024 bytes");
            o->session.key.assign(buf, buf + got);
            break;
        }
        case o_port:
            if (!parse_u64(optarg, 0, 1023, &v))
                return bad("port", "is not a port id in [0, 1023]");
            o->port = static_cast<uint16_t>(v);
            break;
        case o_clients:
            if (!parse_u64(optarg, 1, 100000000, &v))
                return bad("clients", "is not an integer in [1, 100000000]");
            r.clients = static_cast<uint32_t>(v);
            break;
        case o_base_id:
            if (!parse_u64(optarg, 0, 0xffffffffu, &v))
                return bad("base-id", "is not a 32-bit Client ID");
            r.base_id = static_cast<uint32_t>(v);
            break;
        case o_client_ip:
            if (!parse_ipv4(optarg, &r.client_ip))
                return bad("client-ip", "is not a dotted IPv4 address");
            break;
        case o_client_port:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("client-port", "is not a UDP port in [1, 65535]");
            r.client_port = static_cast<uint16_t>(v);
            break;
        case o_ports_per_ip:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("ports-per-ip", "is not an integer in [1, 65535]");
            r.ports_per_ip = static_cast<uint32_t>(v);
            break;
        case o_dst_mac:
            if (!parse_mac(optarg, &r.dst_mac))
                return bad("dst-mac", "is not a MAC address xx:xx:xx:xx:xx:xx");
            o->dst_mac_set = true;
            break;
        case o_src_mac:
            if (!parse_mac(optarg, &r.src_mac))
                return bad("src-mac", "is not a MAC address xx:xx:xx:xx:xx:xx");
            o->src_mac_set = true;
            break;
        case o_addr:
            if (!parse_ipv4(optarg, &r.server_ip))
                return bad("addr", "is not a dotted IPv4 address");
            have_addr = true;
            break;
        case o_router_port:
            if (!parse_u64(optarg, 1, 65535, &v))
                return bad("router-port", "is not a UDP port in [1, 65535]");
            r.server_port = static_cast<uint16_t>(v);
            break;
        case o_mode:
            if (std::strcmp(optarg, "heartbeat") == 0) {
                r.heartbeat_pct = 100;
                r.unknown_pct = 0;
            } else if (std::strcmp(optarg, "forward") == 0) {
                r.heartbeat_pct = 0;
                r.unknown_pct = 0;
            } else if (std::strcmp(optarg, "unknown") == 0) {
                r.heartbeat_pct = 0;
                r.unknown_pct = 100;
            } else {
                return bad("mode", "is not heartbeat, forward or unknown");
            }
            break;
        case o_hb_pct:
        case o_unknown_pct:
            if (!parse_u64(optarg, 0, 100, &v))
                return bad(c == o_hb_pct ? "heartbeat-pct" : "unknown-pct", "is not an integer in [0, 100]");
            (c == o_hb_pct ? r.heartbeat_pct : r.unknown_pct) = static_cast<unsigned>(v);
            break;
        case o_payload: {
            const std::string s(optarg);
            const size_t dash = s.find('-');
            uint64_t lo, hi;
            if (!parse_u64(s.substr(0, dash).c_str(), 0, 1400, &lo) ||
                (dash != std::string::npos && !parse_u64(s.substr(dash + 1).c_str(), 0, 1400, &hi)))
                return bad("payload", "is not MIN[-MAX] body bytes in [0, 1400]");
            if (dash == std::string::npos)
                hi = lo;
            if (lo > hi)
                return bad("payload", "has MIN above MAX");
            r.payload_min = static_cast<uint16_t>(lo);
            r.payload_max = static_cast<uint16_t>(hi);
            break;
        }
        case o_reflector:
            r.reflector = true;
            break;
        case o_no_rx_verify:
            r.verify_rx = false;
            break;
        case o_reg_window:
            if (!parse_u64(optarg, 1, 1u << 20, &v))
                return bad("register-window", "is not an integer in [1, 1048576]");
            r.register_window = static_cast<unsigned>(v);
            break;
        case o_reg_timeout:
            if (!parse_u64(optarg, 1, 60000, &v))
                return bad("register-timeout-ms", "is not an integer in [1, 60000]");
            r.register_timeout_ms = static_cast<uint32_t>(v);
            break;
        case o_reg_retries:
            if (!parse_u64(optarg, 0, 1000, &v))
                return bad("register-retries", "is not an integer in [0, 1000]");
            r.register_retries = static_cast<unsigned>(v);
            break;
        case o_seed:
            if (!parse_u64(optarg, 0, UINT64_MAX, &v))
                return bad("seed", "is not an unsigned integer");
            r.seed = v;
            break;
        case o_rate:
            if (!parse_rate(optarg, &o->rate))
                return bad("rate", "is not a rate in frames/s (e.g. 500000, 2.5M; 0 = as fast as possible)");
            break;
        case o_duration:
            if (!parse_rate(optarg, &o->duration) || o->duration <= 0 || o->duration > 86400)
                return bad("duration", "is not a number of seconds in (0, 86400]");
            break;
        case o_count:
            if (!parse_u64(optarg, 1, UINT64_MAX, &v))
                return bad("count", "is not a positive integer");
            o->count = v;
            break;
        case o_drain:
            if (!parse_u64(optarg, 0, 60000, &v))
                return bad("drain-ms", "is not an integer in [0, 60000]");
            o->drain_ms = static_cast<uint32_t>(v);
            break;
        case o_interval:
            if (!parse_rate(optarg, &o->interval) || o->interval > 3600)
                return bad("interval", "is not a number of seconds in [0, 3600]");
            break;
        case o_json:
            o->json_path = optarg;
            break;
        case o_label:
            o->label = optarg;
            break;
        case o_pcap_out:
            o->pcap_out = optarg;
            break;
        case o_pcap_register:
            o->pcap_register = optarg;
            break;
        case o_pcap_count:
            if (!parse_u64(optarg, 1, 1ull << 32, &v))
                return bad("pcap-count", "is not an integer in [1, 4294967296]");
            o->pcap_count = v;
            break;
        case 'h':
            o->help = true;
            return true;
        default:
            *err = std::string("unknown option or missing value '") + argv[optind - 1] + "' (see --help)";
            return false;
        }
    }
    if (optind < argc) {
        *err = std::string("unexpected argument '") + argv[optind] + "'";
        return false;
    }
    if (!have_addr) {
        *err = "--addr (the engine's IPv4 address) is required";
        return false;
    }
    if (!o->pcap_register.empty() && o->pcap_out.empty()) {
        *err = "--pcap-register needs --pcap-out";
        return false;
    }
    o->router.tsc_hz = 1;  // checked for real once the EAL knows it
    std::string why;
    if (o->profile == "lb") {
        o->lb.common = o->router;
        why = check_lb_config(o->lb);
    } else if (o->profile == "session") {
        o->session.common = o->router;
        why = check_session_config(o->session);
    } else if (o->profile == "rudp") {
        o->rudp.common = o->router;
        why = check_rudp_config(o->rudp);
    } else {
        why = check_router_config(o->router);
    }
    if (why.empty() && o->profile != "router" && o->router.reflector)
        why = "--reflector is for the router profile only";
    if (!why.empty()) {
        *err = why;
        return false;
    }
    o->router.tsc_hz = 0;
    return true;
}

std::string usage(const char* prog)
{
    return std::string("Usage: ") + prog + R"USAGE( [EAL options] -- --addr A.B.C.D [options]

Peregrine traffic generator: a crowd of protocol clients on one DPDK port (net_memif, net_tap,
net_af_packet, or a NIC). Setup (e.g. register every client, waiting for the answers), then a
measured phase at a fixed rate or as fast as the port takes frames, then a drain. Reports
offered and answered Mpps and Gbps, loss, and latency p50/p99/p99.9 (docs/perf.md).

Target:
  --addr A.B.C.D         the engine's IPv4 address (required)
  --router-port N        its router UDP port (default 7100)
  --dst-mac MAC          the engine port's MAC (default: ARP for --addr; the engine drops frames
                         for other MACs, and answers ARP only through its TAP exception path)
  --src-mac MAC          source MAC of every frame (default: the port's)
  --port N               DPDK port id to use (default 0)

Profile:
  --profile P            router (default), lb (load balancer), session or rudp (docs/perf.md)

Clients (every profile; the router's own options are marked router):
  --clients N            simulated clients, [1, 100000000] (default 1000)
  --base-id ID           Client ID of client 0 (default 1); IDs base+N.. are the unknown ones
  --client-ip A.B.C.D    address of client 0 (default 198.19.0.1)
  --client-port N        UDP port of client 0 (default 10000)
  --ports-per-ip N       clients per address (default 50000): client k uses
                         client-ip + k / N, client-port + k % N
  --mode M               router: heartbeat (default), forward (messages to registered IDs) or
                         unknown
  --heartbeat-pct P      router: share of frames that are Heartbeats, the rest Individual Messages
  --unknown-pct P        router: share of messages sent to never-registered IDs (Unknown Recipient)
  --payload MIN[-MAX]    router and session: body bytes after the header (router: type and ID;
                         session: the 64-byte header), [0, 1400] (default 16); bodies
                         of 16 bytes or more carry the send timestamp and a sequence number
  --reflector            the far end mirrors frames (dpdk-testpmd 5tswap): an echoed request
                         counts as its answer
  --register-window N    Register Clients (lb: Registers, session: HELLOs) in flight (default 512)
  --register-timeout-ms T  resend unanswered registrations after T ms of silence (default 200)
  --register-retries N   passes over the still unregistered clients after the first, before
                         giving up (default 20)
  --no-rx-verify         do not check IPv4/UDP checksums of received frames

Load balancer (--profile lb): setup registers the serving nodes, then the clients send Request
Serving Node (and the nodes Registration Updates); answers are matched by Request ID:
  --lb-port N            the engine's load-balancer UDP port (default 7200)
  --lb-nodes N           serving nodes to register, [1, 65535] (default 8)
  --lb-node-port N       node j sends from --client-ip, port N + j (default 9000)
  --lb-update-pct P      share of frames that are Registration Updates from the nodes (default 0)

Session (--profile session): setup opens one session per client (HELLO/ACCEPT), then DATA_ACK
(answered by ACK) or DATA_NOACK (answered by the echo application's echo), every packet hashed:
  --session-port N       the engine's session UDP port (default 7300)
  --session-noack-pct P  share of DATA_NOACK (default 0; needs --session-app echo on the engine)
  --session-key-file F   keyed mode: HMAC-SHA-256 with the engine's pre-shared key

RUDP (--profile rudp): setup runs one handshake per client (X25519, HKDF, both finisheds, the
confirmation), then DEFAULT messages answered by the engine's echo, decrypted and checked:
  --rudp-port N          the engine's RUDP UDP port (default 7400)
  --rudp-flags LIST      of checksum, compressed, encrypted (default checksum,encrypted);
                         --payload within [16, 972] (988 without encrypted)
  --seed N               recipient choice and payload sizes (default 1)

Run:
  --rate R               frames/s in the measured phase, e.g. 500k, 2.5M; 0 = max (default)
  --duration S           seconds of measured phase (default 5)
  --count N              or stop after N frames
  --drain-ms T           receive-only time afterwards (default 300)
  --interval S           progress line every S seconds
  --json FILE            write the result as JSON (- for stdout)
  --label TEXT           name of the system under test, copied into the report

Pcap (no traffic is sent; the port is not used):
  --pcap-out FILE        write --pcap-count measured-phase frames (default 100000)
  --pcap-register FILE   and the setup frames (one Register Client per client) to FILE
  --pcap-count N

  -h, --help             this text

Examples:
  peregrine-trafgen -l 1 --no-pci --file-prefix=tg --vdev=net_memif0,role=client,socket=/tmp/pg.sock \
      -- --addr 198.18.0.1 --dst-mac 02:00:00:00:00:01 --clients 1000000 --mode forward --duration 10
  peregrine-trafgen -l 0 --no-pci --no-huge -m 256 -- --addr 198.18.0.1 --dst-mac 02:00:00:00:00:01 \
      --clients 1000 --pcap-out hb.pcap --pcap-register reg.pcap
)USAGE";
}

} // namespace peregrine::trafgen
