// peregrine-trafgen: the driver around a traffic profile. One lcore does everything (build,
// TX, RX, accounting): the target hosts have few cores and the engine needs them more. See
// docs/perf.md for options and methods, profile.hpp for the profile interface.

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "options.hpp"
#include "pcap_writer.hpp"
#include "report.hpp"
#include "lb_profile.hpp"
#include "router_profile.hpp"
#include "rudp_profile.hpp"
#include "session_profile.hpp"

namespace {

using namespace peregrine::trafgen;

constexpr unsigned burst = 32;
constexpr unsigned n_mbufs = 8191;         // 2 x 1024 descriptors + bursts in flight, with margin
constexpr unsigned mbuf_cache = 256;
constexpr uint16_t ring_desc = 1024;
constexpr double link_wait_s = 10;         // memif: the peer may start a little later
constexpr double arp_wait_s = 3;
constexpr unsigned setup_idle_sleep_us = 100;  // setup is not measured; see the setup loop

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& m)
{
    std::fprintf(stderr, "peregrine-trafgen: %s\n", m.c_str());
    std::exit(2);
}

std::string mac_str(const rte_ether_addr& m)
{
    char b[RTE_ETHER_ADDR_FMT_SIZE];
    rte_ether_format_addr(b, sizeof(b), &m);
    return b;
}

std::unique_ptr<profile> make_profile(const gen_options& o)
{
    // One case per profile (docs/perf.md, "Adding a profile").
    if (o.profile == "lb") {
        lb_config c = o.lb;
        c.common = o.router;
        return std::make_unique<lb_profile>(c);
    }
    if (o.profile == "session") {
        session_config c = o.session;
        c.common = o.router;
        std::string err;
        auto p = session_profile::create(c, &err);
        if (!p)
            die(err);
        return p;
    }
    if (o.profile == "rudp") {
        rudp_config c = o.rudp;
        c.common = o.router;
        std::string err;
        auto p = rudp_profile::create(c, &err);
        if (!p)
            die(err);
        return p;
    }
    return std::make_unique<router_profile>(o.router);
}

std::string mode_name(const gen_options& o)
{
    if (o.profile == "lb")
        return o.lb.update_pct ? "request + " + std::to_string(o.lb.update_pct) + "% registration update" : "request";
    if (o.profile == "rudp")
        return "echo";
    if (o.profile == "session")
        return o.session.noack_pct ? "data_ack + " + std::to_string(o.session.noack_pct) + "% data_noack" : "data_ack";
    const router_config& r = o.router;
    if (r.heartbeat_pct == 100)
        return "heartbeat";
    if (r.heartbeat_pct == 0 && r.unknown_pct == 0)
        return "forward";
    if (r.heartbeat_pct == 0 && r.unknown_pct == 100)
        return "unknown";
    return "mix hb" + std::to_string(r.heartbeat_pct) + "% unknown" + std::to_string(r.unknown_pct) + "%";
}

// ---- pcap mode: no port ----------------------------------------------------------------------
int write_pcaps(const gen_options& o, profile& p)
{
    std::string err;
    static uint8_t buf[burst][peregrine::trafgen::max_frame];
    frame_buf f[burst];
    for (unsigned i = 0; i < burst; ++i)
        f[i].data = buf[i];
    const uint64_t t0 = rte_rdtsc();
    if (!o.pcap_register.empty()) {
        pcap_writer w;
        if (!w.open(o.pcap_register, 0, &err))
            die(err);
        // Every client once: the setup phase's first pass (nothing answers here).
        setup_state st;
        for (;;) {
            const unsigned n = p.setup_burst(f, burst, t0, &st);
            if (n == 0)
                break;
            for (unsigned i = 0; i < n; ++i)
                w.write(f[i].data, f[i].len);
        }
        std::printf("wrote %lu setup frames to %s\n", static_cast<unsigned long>(w.frames()),
                    o.pcap_register.c_str());
    }
    pcap_writer w;
    if (!w.open(o.pcap_out, o.rate, &err))
        die(err);
    p.start_measure();
    for (uint64_t left = o.pcap_count; left;) {
        const unsigned n = left < burst ? static_cast<unsigned>(left) : burst;
        p.traffic_burst(f, n, t0);
        for (unsigned i = 0; i < n; ++i)
            w.write(f[i].data, f[i].len);
        left -= n;
    }
    std::printf("wrote %lu frames (%s) to %s\n", static_cast<unsigned long>(w.frames()), mode_name(o).c_str(),
                o.pcap_out.c_str());
    return 0;
}

// ---- the port --------------------------------------------------------------------------------
struct port_io {
    uint16_t port;
    rte_mempool* pool;
    rte_mbuf* pend[burst];  // built, not yet accepted by the TX queue
    unsigned n_pend = 0, pend_off = 0;
    uint64_t rx_frames = 0;
    uint64_t rx_seen = 0;  // rx_frames at the last rx_idle()

    // True when nothing arrived since the last call.
    bool rx_idle()
    {
        const bool idle = rx_frames == rx_seen;
        rx_seen = rx_frames;
        return idle;
    }

    // Polls RX once, handing every frame to p. Returns frames received.
    unsigned poll_rx(profile& p)
    {
        rte_mbuf* m[burst];
        const uint16_t n = rte_eth_rx_burst(port, 0, m, burst);
        if (!n)
            return 0;
        const uint64_t now = rte_rdtsc();
        const uint8_t* data[burst];
        uint16_t len[burst];
        for (uint16_t i = 0; i < n; ++i) {
            rte_prefetch0(rte_pktmbuf_mtod(m[i], void*));
            // Multi-segment: counted as not-UDP (we never send such frames).
            const bool one = m[i]->nb_segs == 1;
            data[i] = one ? rte_pktmbuf_mtod(m[i], const uint8_t*) : nullptr;
            len[i] = one ? rte_pktmbuf_data_len(m[i]) : 0;
        }
        p.receive_burst(data, len, n, now);
        rte_pktmbuf_free_bulk(m, n);
        rx_frames += n;
        return n;
    }

    // Sends what is pending; true when nothing is left pending.
    bool flush()
    {
        if (n_pend) {
            const uint16_t s = rte_eth_tx_burst(port, 0, pend + pend_off, static_cast<uint16_t>(n_pend));
            pend_off += s;
            n_pend -= s;
            if (!n_pend)
                pend_off = 0;
        }
        return n_pend == 0;
    }

    // Allocates n mbufs and points f at them; false when the pool is empty.
    bool alloc(frame_buf* f, unsigned n)
    {
        if (rte_pktmbuf_alloc_bulk(pool, pend, n) != 0)
            return false;
        for (unsigned i = 0; i < n; ++i)
            f[i].data = rte_pktmbuf_mtod(pend[i], uint8_t*);
        return true;
    }
    // After the profile filled `used` of the n allocated frames: queue them, free the rest.
    void commit(const frame_buf* f, unsigned n, unsigned used)
    {
        for (unsigned i = 0; i < used; ++i) {
            pend[i]->data_len = f[i].len;
            pend[i]->pkt_len = f[i].len;
        }
        if (used < n)
            rte_pktmbuf_free_bulk(pend + used, n - used);
        n_pend = used;
        pend_off = 0;
    }
};

void start_port(uint16_t port, rte_mempool* pool)
{
    if (!rte_eth_dev_is_valid_port(port))
        die("port " + std::to_string(port) + " does not exist (give the EAL a --vdev or a device; " +
            std::to_string(rte_eth_dev_count_avail()) + " port(s) probed)");
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc)
        die("port configure: " + std::string(std::strerror(-rc)));
    uint16_t nrx = ring_desc, ntx = ring_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
    const int sock = rte_eth_dev_socket_id(port);
    const unsigned s = sock < 0 ? SOCKET_ID_ANY : unsigned(sock);
    if ((rc = rte_eth_rx_queue_setup(port, 0, nrx, s, nullptr, pool)) != 0)
        die("rx queue setup: " + std::string(std::strerror(-rc)));
    if ((rc = rte_eth_tx_queue_setup(port, 0, ntx, s, nullptr)) != 0)
        die("tx queue setup: " + std::string(std::strerror(-rc)));
    // memif: a server that just lost its previous client refuses for a moment; retry.
    for (int tries = 0; (rc = rte_eth_dev_start(port)) != 0 && tries < 25 && !g_stop; ++tries)
        rte_delay_ms(200);
    if (rc != 0)
        die("port start: " + std::string(std::strerror(-rc)));
    rte_eth_promiscuous_enable(port);  // best effort: answers come to the MAC we send from
}

bool wait_link(uint16_t port)
{
    const uint64_t end = rte_rdtsc() + uint64_t(link_wait_s * double(rte_get_tsc_hz()));
    while (!g_stop && rte_rdtsc() < end) {
        rte_eth_link l{};
        if (rte_eth_link_get_nowait(port, &l) == 0 && l.link_status)
            return true;
        rte_delay_ms(20);
    }
    return false;
}

bool resolve_mac(port_io& io, const rte_ether_addr& src, uint32_t src_ip_be, uint32_t ip_be, rte_ether_addr* out)
{
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t end = rte_rdtsc() + uint64_t(arp_wait_s * double(hz));
    uint64_t next = 0;
    while (!g_stop && rte_rdtsc() < end) {
        if (rte_rdtsc() >= next) {
            rte_mbuf* m = rte_pktmbuf_alloc(io.pool);
            if (m) {
                m->data_len = m->pkt_len = build_arp_request(rte_pktmbuf_mtod(m, uint8_t*), src, src_ip_be, ip_be);
                if (rte_eth_tx_burst(io.port, 0, &m, 1) != 1)
                    rte_pktmbuf_free(m);
            }
            next = rte_rdtsc() + hz / 5;
        }
        rte_mbuf* r[burst];
        const uint16_t n = rte_eth_rx_burst(io.port, 0, r, burst);
        bool found = false;
        for (uint16_t i = 0; i < n; ++i)
            found = found || parse_arp_reply(rte_pktmbuf_mtod(r[i], uint8_t*), rte_pktmbuf_data_len(r[i]), ip_be, out);
        rte_pktmbuf_free_bulk(r, n);
        if (found)
            return true;
    }
    return false;
}

} // namespace

int main(int argc, char** argv)
{
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0)
        die(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
    argc -= eal;
    argv += eal;
    argv[0] = const_cast<char*>("peregrine-trafgen");

    gen_options o;
    std::string err;
    if (!parse_options(argc, argv, &o, &err)) {
        std::fprintf(stderr, "peregrine-trafgen: %s\n", err.c_str());
        return 2;
    }
    if (o.help) {
        std::fputs(usage("peregrine-trafgen").c_str(), stdout);
        return 0;
    }
    const uint64_t hz = rte_get_tsc_hz();
    o.router.tsc_hz = hz;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    // ---- pcap mode ----
    if (!o.pcap_out.empty()) {
        if (!o.dst_mac_set)
            die("--pcap-out needs --dst-mac (no port to ARP from)");
        if (!o.src_mac_set)
            o.router.src_mac = rte_ether_addr{{0x02, 0x00, 0x00, 0x00, 0x00, 0x10}};
        // Nothing answers a file: one pass over every client, no window to wait on.
        o.router.register_window = o.router.clients;
        auto p = make_profile(o);
        const int rc = write_pcaps(o, *p);
        rte_eal_cleanup();
        return rc;
    }

    // ---- port ----
    port_io io{};
    io.port = o.port;
    io.pool = rte_pktmbuf_pool_create("trafgen_pool", n_mbufs, mbuf_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                      rte_socket_id());
    if (!io.pool)
        die(std::string("mbuf pool: ") + rte_strerror(rte_errno));
    start_port(o.port, io.pool);
    if (!wait_link(o.port))
        die("port " + std::to_string(o.port) + ": link down after " + std::to_string(int(link_wait_s)) +
            " s (memif: is the peer running with the same socket and the other role?)");
    rte_ether_addr port_mac{};
    rte_eth_macaddr_get(o.port, &port_mac);
    if (!o.src_mac_set)
        o.router.src_mac = port_mac;
    if (!o.dst_mac_set) {
        const uint32_t src_ip = rte_cpu_to_be_32(o.router.client_ip), dst_ip = rte_cpu_to_be_32(o.router.server_ip);
        if (!resolve_mac(io, o.router.src_mac, src_ip, dst_ip, &o.router.dst_mac))
            die("no ARP reply for the engine's address in " + std::to_string(int(arp_wait_s)) +
                " s: give its port MAC with --dst-mac");
        std::printf("trafgen: the engine's MAC is %s (ARP)\n", mac_str(o.router.dst_mac).c_str());
    }
    std::printf("trafgen: port %u (%s) -> %s, %u clients, %s\n", o.port, mac_str(o.router.src_mac).c_str(),
                mac_str(o.router.dst_mac).c_str(), o.router.clients, mode_name(o).c_str());
    std::fflush(stdout);

    auto prof = make_profile(o);
    profile& p = *prof;
    frame_buf f[burst];

    // ---- setup ----
    setup_state st = setup_state::running;
    while (!g_stop && st == setup_state::running) {
        io.poll_rx(p);
        if (!io.flush() || !io.alloc(f, burst))
            continue;
        const unsigned n = p.setup_burst(f, burst, rte_rdtsc(), &st);
        io.commit(f, burst, n);
        // Waiting for answers: sleep a little rather than spin, so an engine whose control
        // lcore shares this core (2-core hosts) gets the CPU to make the registrations.
        if (n == 0 && st == setup_state::running && io.rx_idle())
            rte_delay_us_sleep(setup_idle_sleep_us);
    }
    while (!io.flush())
        io.poll_rx(p);
    std::printf("trafgen: setup: %s\n", p.setup_summary().c_str());
    std::fflush(stdout);
    if (st != setup_state::done) {
        std::fprintf(stderr, "peregrine-trafgen: setup %s\n", g_stop ? "interrupted" : "failed");
        rte_eal_cleanup();
        return 3;
    }

    // ---- measure ----
    p.start_measure();
    const uint64_t t0 = rte_rdtsc();
    const uint64_t t_end = t0 + uint64_t(o.duration * double(hz));
    const double per_tsc = o.rate / double(hz);
    // Up to 50 ms of backlog: on a shared core the generator is descheduled for a few ms at a time
    // and must catch up to hold the average rate; beyond that it gives up the lost time.
    const double max_tokens = o.rate > 0 ? std::max(double(burst), o.rate / 20) : 0;
    double tokens = 0;
    uint64_t last = t0, next_print = o.interval > 0 ? t0 + uint64_t(o.interval * double(hz)) : UINT64_MAX;
    uint64_t prev_off = 0, prev_ans = 0, prev_print = t0;
    uint64_t now = t0;
    while (!g_stop) {
        now = rte_rdtsc();
        if (now >= t_end)
            break;
        io.poll_rx(p);
        if (now >= next_print) {
            const traffic_stats& s = p.stats();
            const double dt = double(now - prev_print) / double(hz);
            std::printf("trafgen: [%6.1fs] offered %.3f Mpps, answered %.3f Mpps\n", double(now - t0) / double(hz),
                        double(s.offered - prev_off) / dt / 1e6, double(s.answered - prev_ans) / dt / 1e6);
            std::fflush(stdout);
            prev_off = s.offered;
            prev_ans = s.answered;
            prev_print = now;
            next_print = now + uint64_t(o.interval * double(hz));
        }
        if (!io.flush())
            continue;
        unsigned n = burst;
        if (o.rate > 0) {
            tokens += double(now - last) * per_tsc;
            last = now;
            if (tokens > max_tokens)
                tokens = max_tokens;
            if (tokens < 1)
                continue;
            n = tokens < burst ? unsigned(tokens) : burst;
        }
        if (o.count) {
            const uint64_t left = o.count - p.stats().offered;
            if (left == 0)
                break;
            if (left < n)
                n = unsigned(left);
        }
        if (!io.alloc(f, n))
            continue;
        p.traffic_burst(f, n, now);
        io.commit(f, n, n);
        tokens -= n;
        io.flush();
    }
    // The last built frames still go out; the measured time ends when they have.
    while (!io.flush())
        io.poll_rx(p);
    const uint64_t t_stop = rte_rdtsc();
    const uint64_t drain_end = t_stop + hz / 1000 * o.drain_ms;
    while (rte_rdtsc() < drain_end)
        io.poll_rx(p);

    // ---- report ----
    result r = make_result(p.stats(), double(t_stop - t0) / double(hz), double(hz));
    r.label = o.label;
    r.profile = p.name();
    r.mode = mode_name(o);
    r.setup = p.setup_summary();
    r.clients = o.router.clients;
    r.target_pps = o.rate;
    r.payload_min = o.router.payload_min;
    r.payload_max = o.router.payload_max;
    r.counters = p.counters();
    std::fputs(to_text(r).c_str(), stdout);
    if (!o.json_path.empty()) {
        const std::string j = to_json(r);
        if (o.json_path == "-") {
            std::fputs(j.c_str(), stdout);
        } else {
            std::ofstream out(o.json_path);
            out << j;
            if (!out)
                die("cannot write " + o.json_path);
        }
    }
    std::fflush(stdout);
    rte_eth_dev_stop(o.port);
    rte_eth_dev_close(o.port);
    rte_eal_cleanup();
    return 0;
}
