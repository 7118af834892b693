// peregrine: the daemon. Main lcore = control lcore; every other lcore in --config is a worker.

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pdump.h>
#include <rte_ring.h>

#include "app.hpp"
#include "net/format.hpp"
#include "engine/control.hpp"
#include "engine/worker.hpp"
#include "exception/tap.hpp"
#include "options.hpp"
#include "port/port.hpp"

using namespace peregrine;

namespace {

int logtype = RTE_LOGTYPE_USER1;
#define LOG(level, fmt, ...) rte_log(RTE_LOG_##level, logtype, "peregrine: " fmt "\n", ##__VA_ARGS__)

// Ring sizes between workers and the control lcore: a few bursts of headroom at line rate
// for the rare packets that take these paths.
static constexpr unsigned exception_ring_size = 1024;
static constexpr unsigned control_ring_size = 1024;
static constexpr unsigned tx_ring_size = 1024;
static constexpr unsigned mempool_cache = 256;

volatile std::sig_atomic_t got_signal = 0;
void on_signal(int sig) { got_signal = sig; }

[[noreturn]] void die(const std::string& msg)
{
    std::fprintf(stderr, "peregrine: %s\n", msg.c_str());
    std::exit(2);
}

std::string tap_name_for(const std::string& fmt, uint16_t port)
{
    std::string s = fmt;
    const size_t pct = s.find("%u");
    if (pct != std::string::npos)
        s.replace(pct, 2, std::to_string(port));
    return s;
}

void print_stats(const app& a, double secs)
{
    const lcore_stats s = stats_sum(a.stats, a.n_stats);
    const auto& r = s.router;
    std::printf("[%8.1fs] rx %lu tx %lu | hb %lu fwd %lu unknown %lu reg %lu | clients %u | to-kernel %lu "
                "from-kernel %lu | drops %lu | mbufs in use %u\n",
                secs, s.rx_packets, s.tx_packets, r[unsigned(rtr::heartbeat_answered)],
                r[unsigned(rtr::message_forwarded)], r[unsigned(rtr::unknown_recipient)],
                r[unsigned(rtr::register_rx)], a.ctx.registry->size(), s.kernel_in, s.kernel_out,
                s.drop_total(), rte_mempool_in_use_count(a.pool));
    std::fflush(stdout);
}

// Splits argv at the first "--": EAL options before, application options after.
int find_separator(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--") == 0)
            return i;
    return -1;
}

void app_usage_hook(const char* prog) { std::printf("\n%s", usage(prog).c_str()); }

} // namespace

int main(int argc, char** argv)
{
    app a;
    // Application options are checked before the EAL starts: a bad value costs nothing.
    const int sep = find_separator(argc, argv);
    {
        std::vector<char*> app_argv{argv[0]};
        if (sep > 0)
            for (int i = sep + 1; i < argc; ++i)
                app_argv.push_back(argv[i]);
        std::string err;
        if (!parse_options(static_cast<int>(app_argv.size()), app_argv.data(), &a.opt, &err)) {
            std::fprintf(stderr, "peregrine: %s\n", err.c_str());
            return 2;
        }
        if (a.opt.help) {
            std::fputs(usage(argv[0]).c_str(), stdout);
            return 0;
        }
    }

    rte_set_application_usage_hook(app_usage_hook);
    const int eal_argc = sep > 0 ? sep : argc;
    if (rte_eal_init(eal_argc, argv) < 0)
        die(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
    logtype = rte_log_register_type_and_pick_level("peregrine", RTE_LOG_INFO);
    if (logtype < 0)
        logtype = RTE_LOGTYPE_USER1;

    options& o = a.opt;
    const unsigned main_lcore = rte_get_main_lcore();

    // ---- ports ----
    const uint16_t avail = rte_eth_dev_count_avail();
    if (avail == 0)
        die("no ethdev ports: give a NIC (bound to vfio-pci) or a --vdev such as net_tap0");
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid)
    {
        if (o.portmask && !(o.portmask & (1ull << pid)))
            continue;
        if (pid >= max_ports)
            die("port " + std::to_string(pid) + " is beyond the " + std::to_string(max_ports) +
                " ports this build drives (meson -Dmax_ports)");
        a.ports.push_back(pid);
    }
    for (unsigned b = 0; b < 64; ++b)
        if ((o.portmask >> b) & 1 && std::find(a.ports.begin(), a.ports.end(), b) == a.ports.end())
            die("-p: port " + std::to_string(b) + " is in the mask but does not exist");

    // ---- queues and workers ----
    if (o.config.empty()) {
        const unsigned first = rte_get_next_lcore(-1, 1, 0);
        if (first >= RTE_MAX_LCORE)
            die("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); the main lcore is the control lcore");
        for (uint16_t p : a.ports)
            o.config.push_back({p, 0, first});
    }
    std::map<uint16_t, std::vector<uint16_t>> queues_of;
    std::map<unsigned, std::vector<engine::rx_queue>> rx_of_lcore;
    for (const auto& q : o.config) {
        if (std::find(a.ports.begin(), a.ports.end(), q.port) == a.ports.end())
            die("--config: port " + std::to_string(q.port) + " is not driven (not in -p or not probed)");
        if (q.lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(q.lcore))
            die("--config: lcore " + std::to_string(q.lcore) + " is not enabled in the EAL lcore list (-l/--lcores)");
        if (q.lcore == main_lcore)
            die("--config: lcore " + std::to_string(q.lcore) + " is the main lcore, which runs the control loop");
        queues_of[q.port].push_back(q.queue);
        rx_of_lcore[q.lcore].push_back({q.port, q.queue});
    }
    for (uint16_t p : a.ports) {
        auto& qs = queues_of[p];
        if (qs.empty())
            die("--config: port " + std::to_string(p) + " has no queue");
        std::sort(qs.begin(), qs.end());
        for (size_t i = 0; i < qs.size(); ++i)
            if (qs[i] != i)
                die("--config: queues of port " + std::to_string(p) + " must be numbered 0.." + std::to_string(qs.size() - 1));
    }
    for (const auto& ad : o.addrs)
        if (std::find(a.ports.begin(), a.ports.end(), ad.port) == a.ports.end())
            die("--addr: port " + std::to_string(ad.port) + " is not driven");
    const unsigned n_workers = static_cast<unsigned>(rx_of_lcore.size());
    if (n_workers + 1 > max_workers)
        die("too many worker lcores (at most " + std::to_string(max_workers - 1) + ")");
    const uint16_t n_txq = static_cast<uint16_t>(n_workers);  // one per worker on every port

    // ---- memory ----
    const int socket = static_cast<int>(rte_socket_id());
    uint32_t nb_mbufs = o.mbufs;
    if (!nb_mbufs) {
        uint64_t n = 0;
        for (uint16_t p : a.ports)
            n += queues_of[p].size() * 1024 + n_txq * 1024 + (o.no_tap ? 0 : 1024);
        n += n_workers * (exception_ring_size + control_ring_size + tx_ring_size + 4 * burst_size);
        n += (n_workers + 1) * mempool_cache * 2 + 4096;
        nb_mbufs = static_cast<uint32_t>(std::max<uint64_t>(n, 8192));
    }
    a.pool = rte_pktmbuf_pool_create("pg_mbuf", nb_mbufs, mempool_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (!a.pool)
        die("cannot create a pool of " + std::to_string(nb_mbufs) + " mbufs: " + rte_strerror(rte_errno) +
            " (more hugepages, or --mbufs)");

    router::registry::params rp;
    rp.capacity = o.max_clients;
    rp.max_readers = n_workers + 1;
    rp.socket_id = socket;
    a.ctx.registry = router::registry::create(rp);
    if (!a.ctx.registry)
        die("cannot create a registry for " + std::to_string(o.max_clients) + " clients: " + rte_strerror(rte_errno) +
            " (more hugepages, or a smaller --max-clients)");
    a.telemetry_reader = n_workers;
    a.ctx.router.udp_port = o.router_port;
    a.ctx.router.heartbeat_timeout_tsc = uint64_t(o.heartbeat_timeout_s) * rte_get_tsc_hz();

    a.n_stats = n_workers + 1;
    a.stats = static_cast<lcore_stats*>(rte_zmalloc_socket("pg_stats", sizeof(lcore_stats) * a.n_stats, cache_line, socket));
    if (!a.stats)
        die("out of memory for counters");

    // ---- start ports and exception TAPs ----
    for (auto& t : a.ctx.tap_of)
        t = engine::no_port;
    for (uint16_t p : a.ports) {
        drivers::port_params pp;
        pp.port_id = p;
        pp.n_rxq = static_cast<uint16_t>(queues_of[p].size());
        pp.n_txq = n_txq;
        pp.pool = a.pool;
        std::string err;
        if (!drivers::port_start(pp, &err))
            die(err);
        rte_eth_macaddr_get(p, &a.ctx.ports[p].mac);
        for (const auto& ad : o.addrs)
            if (ad.port == p) {
                a.ctx.ports[p].ip_be = ad.ip_be;
                a.ctx.ports[p].prefix_len = ad.prefix_len;
            }
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof(mac), &a.ctx.ports[p].mac);
        LOG(INFO, "port %u: %s, %zu RX queue(s), %u TX queue(s), address %s/%u", p, mac, queues_of[p].size(), n_txq,
            a.ctx.ports[p].ip_be ? net::ipv4_to_string(a.ctx.ports[p].ip_be).c_str() : "none", a.ctx.ports[p].prefix_len);
    }
    a.tap_names.resize(a.ports.size());
    if (!o.no_tap) {
        for (size_t i = 0; i < a.ports.size(); ++i) {
            const uint16_t p = a.ports[i];
            drivers::tap_params tp;
            tp.phys_port = p;
            tp.ifname = tap_name_for(o.tap_name, p);
            tp.mac = a.ctx.ports[p].mac;
            tp.ip_be = a.ctx.ports[p].ip_be;
            tp.prefix_len = a.ctx.ports[p].prefix_len;
            uint16_t mtu = 1500;
            if (rte_eth_dev_get_mtu(p, &mtu) == 0)
                tp.mtu = mtu;
            tp.pool = a.pool;
            std::string err;
            uint16_t tap;
            if (!drivers::tap_create(tp, &tap, &err))
                die(err);
            a.ctx.tap_of[p] = tap;
            a.tap_names[i] = tp.ifname;
            LOG(INFO, "port %u: exception path through TAP %s", p, tp.ifname.c_str());
        }
    }

    // ---- workers ----
    std::vector<engine::control::worker_rings> rings;
    unsigned idx = 0;
    for (auto& [lcore, rxqs] : rx_of_lcore) {
        auto* w = static_cast<engine::worker_conf*>(rte_zmalloc_socket("pg_worker", sizeof(engine::worker_conf), cache_line,
                                                                      static_cast<int>(rte_lcore_to_socket_id(lcore))));
        if (!w)
            die("out of memory for worker state");
        new (w) engine::worker_conf();
        w->ctx = &a.ctx;
        w->index = idx;
        w->lcore = lcore;
        w->stats = &a.stats[idx];
        if (rxqs.size() > std::size(w->rx))
            die("lcore " + std::to_string(lcore) + " has too many RX queues");
        for (const auto& q : rxqs)
            w->rx[w->n_rx++] = q;
        w->txq = static_cast<uint16_t>(idx);
        char name[RTE_RING_NAMESIZE];
        std::snprintf(name, sizeof(name), "pg_exc%u", idx);
        w->exc_ring = rte_ring_create(name, exception_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
        std::snprintf(name, sizeof(name), "pg_ctl%u", idx);
        w->ctl_ring = rte_ring_create(name, control_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
        std::snprintf(name, sizeof(name), "pg_tx%u", idx);
        w->tx_ring = rte_ring_create(name, tx_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!w->exc_ring || !w->ctl_ring || !w->tx_ring)
            die("cannot create worker rings");
        rings.push_back({w->exc_ring, w->ctl_ring, w->tx_ring});
        a.workers.push_back(w);
        ++idx;
    }

    if (rte_pdump_init() != 0)
        LOG(WARNING, "pdump unavailable (%s): dpdk-dumpcap will not attach", rte_strerror(rte_errno));
    telemetry_init(&a);

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    a.start_tsc = rte_rdtsc();
    for (auto* w : a.workers)
        rte_eal_remote_launch(engine::worker_main, w, w->lcore);
    LOG(INFO, "running: %u worker(s), router on UDP %u, heartbeat timeout %u s, up to %u clients", n_workers,
        o.router_port, o.heartbeat_timeout_s, o.max_clients);
    std::printf("peregrine: ready\n");
    std::fflush(stdout);

    // ---- control loop ----
    engine::control ctl(a.ctx, a.stats[n_workers], a.ports, rings);
    const uint64_t hz = rte_get_tsc_hz();
    uint64_t next_stats = a.start_tsc + uint64_t(o.stats_interval_s) * hz;
    uint64_t next_link = a.start_tsc + hz;
    std::vector<int> link_up(a.ports.size(), -1);
    while (!got_signal) {
        const uint64_t now = rte_rdtsc();
        if (!ctl.poll(now))
            rte_pause();
        if (o.stats_interval_s && now >= next_stats) {
            next_stats = now + uint64_t(o.stats_interval_s) * hz;
            print_stats(a, double(now - a.start_tsc) / double(hz));
        }
        if (now >= next_link) {
            next_link = now + hz;
            for (size_t i = 0; i < a.ports.size(); ++i) {
                rte_eth_link l{};
                if (rte_eth_link_get_nowait(a.ports[i], &l) != 0)
                    continue;
                if (link_up[i] != l.link_status) {
                    LOG(INFO, "port %u: link %s, %u Mbps", a.ports[i], l.link_status ? "up" : "down", l.link_speed);
                    link_up[i] = l.link_status;
                }
            }
        }
    }

    // ---- shutdown ----
    LOG(INFO, "signal %d: stopping", int(got_signal));
    a.ctx.quit.store(true);
    rte_eal_mp_wait_lcore();
    // Packets still in the rings belong to nobody now.
    for (auto& r : rings) {
        void* m = nullptr;
        while (rte_ring_dequeue(r.exc, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        while (rte_ring_dequeue(r.ctl, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        while (rte_ring_dequeue(r.tx, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    }
    print_stats(a, double(rte_rdtsc() - a.start_tsc) / double(hz));
    for (uint16_t p : a.ports)
        if (a.ctx.tap_of[p] != engine::no_port)
            drivers::tap_destroy(a.ctx.tap_of[p]);
    for (uint16_t p : a.ports)
        drivers::port_stop(p);
    rte_pdump_uninit();
    {
        std::lock_guard<std::mutex> lk(a.telemetry_mu);
        delete a.ctx.registry;
        a.ctx.registry = nullptr;
    }
    rte_eal_cleanup();
    return 0;
}
