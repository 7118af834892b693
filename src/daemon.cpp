// The daemon's start-up stages, control loop and shutdown (src/main.cpp runs them in order).
// Everything that can be refused is refused before the first port starts: options (before the
// EAL), then the port/queue/lcore plan.

#include "daemon.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

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

#include "common/rcu.hpp"
#include "engine/resume_latency.hpp"
#include "exception/tap.hpp"
#include "modules.hpp"
#include "net/format.hpp"
#include "port/port.hpp"

namespace peregrine {

namespace {

int logtype = RTE_LOGTYPE_USER1;
#define LOG(level, fmt, ...) rte_log(RTE_LOG_##level, logtype, "peregrine: " fmt "\n", ##__VA_ARGS__)

volatile std::sig_atomic_t got_signal = 0;
void on_signal(int sig) { got_signal = sig; }

std::string tap_name_for(const std::string& fmt, uint16_t port)
{
    std::string s = fmt;
    const size_t pct = s.find("%u");
    if (pct != std::string::npos)
        s.replace(pct, 2, std::to_string(port));
    return s;
}

rte_ring* make_ring(const char* what, unsigned idx, unsigned size)
{
    char name[RTE_RING_NAMESIZE];
    std::snprintf(name, sizeof(name), "pg_%s%u", what, idx);
    rte_ring* r = rte_ring_create(name, size, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!r)
        die(std::string("cannot create ring ") + name + ": " + rte_strerror(rte_errno));
    return r;
}

void print_stats(const app& a)

{
    const lcore_stats s = stats_sum(a.stats, a.n_stats);
    std::string mods;
    for (const auto& svc : a.services)
        if (std::string m = svc->status(s); !m.empty())
            mods += " | " + m;
    std::printf("[%8.1fs] rx %lu tx %lu%s | to-kernel %lu from-kernel %lu | drops %lu | mbufs in use %u\n",
                double(rte_rdtsc() - a.start_tsc) / double(rte_get_tsc_hz()), s.rx_packets, s.tx_packets,
                mods.c_str(), s.kernel_in, s.kernel_out, s.drop_total(), rte_mempool_in_use_count(a.pool));
    std::fflush(stdout);
}

// At exit: every drop reason that counted anything, so that a run's losses can be read off its log.
void print_drops(const app& a)
{
    const lcore_stats s = stats_sum(a.stats, a.n_stats);
    if (s.drop_total() == 0)
        return;
    std::printf("drops by reason:");
    for (unsigned i = 0; i < drop_count; ++i)
        if (s.drops[i])
            std::printf(" %.*s=%lu", int(drop_name(i).size()), drop_name(i).data(), s.drops[i]);
    std::printf("\n");
    std::fflush(stdout);
}

// Each module's last words (the session protocol's REJECTs) while the ports are still up. The
// workers have stopped, so queue 0 of each port is ours.
void stop_modules(app& a)
{
    // Full TX queues are retried for a bounded time: a stuck link must not hang the exit.
    static constexpr uint64_t budget_ms = 2000;
    lcore_stats& st = a.stats[a.n_stats - 1];
    const uint64_t give_up = rte_rdtsc() + budget_ms * rte_get_tsc_hz() / 1000;
    const engine::shutdown_tx tx = [&](uint16_t port, rte_mbuf** m, unsigned n) {
        unsigned done = 0;
        while (done < n && rte_rdtsc() < give_up)
            done += rte_eth_tx_burst(port, 0, m + done, static_cast<uint16_t>(n - done));
        if (done < n) {
            st.drops[static_cast<unsigned>(drop::tx_full)] += n - done;
            rte_pktmbuf_free_bulk(m + done, n - done);
        }
        st.tx_packets += done;
        return done;
    };
    for (unsigned k = 0; k < a.ctx.n_modules; ++k)
        a.ctx.modules[k]->stop(a.ctx.ports, st, tx);
}

} // namespace

[[noreturn]] void die(const std::string& msg)
{
    std::fprintf(stderr, "peregrine: %s\n", msg.c_str());
    std::exit(2);
}

// Application options are checked before the EAL starts, so a bad value costs nothing.
// Returns argc for rte_eal_init (the arguments before "--").
int parse_app_options(int argc, char** argv, options* o)
{
    int sep = -1;
    for (int i = 1; i < argc && sep < 0; ++i)
        if (std::strcmp(argv[i], "--") == 0)
            sep = i;
    std::vector<char*> app_argv{argv[0]};
    if (sep > 0)
        app_argv.insert(app_argv.end(), argv + sep + 1, argv + argc);
    std::string err;
    if (!parse_options(static_cast<int>(app_argv.size()), app_argv.data(), o, &err))
        die(err);
    if (o->help) {
        std::fputs(usage(argv[0]).c_str(), stdout);
        std::exit(0);
    }
    return sep > 0 ? sep : argc;
}

void app_usage_hook(const char* prog) { std::printf("\n%s", usage(prog).c_str()); }

void select_ports(app& a)
{
    const options& o = a.opt;
    if (rte_eth_dev_count_avail() == 0)
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
    for (const auto& ad : o.addrs)
        if (std::find(a.ports.begin(), a.ports.end(), ad.port) == a.ports.end())
            die("--addr: port " + std::to_string(ad.port) + " is not driven");
}

plan make_plan(app& a)
{
    std::vector<unsigned> enabled;
    for (unsigned l = 0; l < RTE_MAX_LCORE; ++l)
        if (rte_lcore_is_enabled(l))
            enabled.push_back(l);
    plan pl;
    std::string err;
    if (!engine::make_plan(a.ports, a.opt.config, rte_get_main_lcore(), enabled, &pl, &err))
        die(err);
    a.opt.config = pl.config;
    return pl;
}

void create_memory(app& a, const plan& pl)
{
    const options& o = a.opt;
    const int socket = static_cast<int>(rte_socket_id());
    const unsigned nw = pl.n_workers();
    const uint32_t nb_mbufs = o.mbufs ? o.mbufs : engine::mbufs_needed(pl, !o.no_tap);
    a.pool = rte_pktmbuf_pool_create("pg_mbuf", nb_mbufs, engine::mempool_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (!a.pool)
        die("cannot create a pool of " + std::to_string(nb_mbufs) + " mbufs: " + rte_strerror(rte_errno) +
            " (more hugepages, or --mbufs)");

    // The engine's RCU variable: reader i is worker i, then telemetry.
    a.ctx.rcu = rcu_create(nw + 1, socket);
    if (!a.ctx.rcu)
        die(std::string("cannot create the RCU variable: ") + rte_strerror(rte_errno));
    if (o.syn_rate || o.syn_global_rate) {
        a.syn_limit.init(o.syn_rate, 2 * uint64_t(o.syn_rate), o.syn_global_rate, 2 * uint64_t(o.syn_global_rate),
                         rte_get_tsc_hz());
        a.ctx.syn_limit = &a.syn_limit;
    }

    a.n_stats = nw + 1;
    a.stats = static_cast<lcore_stats*>(rte_zmalloc_socket("pg_stats", sizeof(lcore_stats) * a.n_stats, cache_line, socket));
    if (!a.stats)
        die("out of memory for counters");
}

// The fast path's view of each port: its MAC (known from probing, before start) and --addr.
void read_port_addrs(app& a)
{
    for (uint16_t p : a.ports) {
        net::port_addr& pa = a.ctx.ports[p];
        if (rte_eth_macaddr_get(p, &pa.mac) != 0)
            die("port " + std::to_string(p) + ": cannot read its MAC address");
        for (const auto& ad : a.opt.addrs)
            if (ad.port == p) {
                pa.ip_be = ad.ip_be;
                pa.prefix_len = ad.prefix_len;
            }
    }
}

void start_taps(app& a)
{
    for (auto& t : a.ctx.tap_of)
        t = engine::no_port;
    a.tap_names.assign(a.ports.size(), "");
    if (a.opt.no_tap)
        return;
    for (size_t i = 0; i < a.ports.size(); ++i) {
        const uint16_t p = a.ports[i];
        drivers::tap_params tp;
        tp.phys_port = p;
        tp.ifname = tap_name_for(a.opt.tap_name, p);
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

void start_ports(app& a, const plan& pl)
{
    for (uint16_t p : a.ports) {
        drivers::port_params pp;
        pp.port_id = p;
        pp.n_rxq = pl.n_rxq.at(p);
        pp.n_txq = static_cast<uint16_t>(pl.n_workers());  // one per worker on every port
        pp.pool = a.pool;
        std::string err;
        if (!drivers::port_start(pp, &err))
            die(err);
        const net::port_addr& pa = a.ctx.ports[p];
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof(mac), &pa.mac);
        LOG(INFO, "port %u: %s, %u RX queue(s), %u TX queue(s), address %s/%u", p, mac, pp.n_rxq, pp.n_txq,
            pa.ip_be ? net::ipv4_to_string(pa.ip_be).c_str() : "none", pa.prefix_len);
    }
}

std::vector<engine::control::worker_rings> create_workers(app& a, const plan& pl)
{
    std::vector<engine::control::worker_rings> rings;
    unsigned idx = 0;
    for (const auto& [lcore, rxqs] : pl.rx_of_lcore) {
        void* mem = rte_zmalloc_socket("pg_worker", sizeof(engine::worker_conf), cache_line,
                                       static_cast<int>(rte_lcore_to_socket_id(lcore)));
        if (!mem)
            die("out of memory for worker state");
        auto* w = new (mem) engine::worker_conf();
        w->ctx = &a.ctx;
        w->index = idx;
        w->lcore = lcore;
        w->stats = &a.stats[idx];
        for (const auto& q : rxqs)
            w->rx[w->n_rx++] = q;
        w->txq = static_cast<uint16_t>(idx);
        w->exc_ring = make_ring("exc", idx, engine::exception_ring_size);
        w->ctl_ring = make_ring("ctl", idx, engine::control_ring_size);
        w->tx_ring = make_ring("tx", idx, engine::tx_ring_size);
        w->idle_sleep_us = a.opt.idle_sleep_us;
        rings.push_back({w->exc_ring, w->ctl_ring, w->tx_ring});
        a.workers.push_back(w);
        ++idx;
    }
    return rings;
}

void start_services(app& a, const plan& pl)
{
    engine::env e;
    e.ctx = &a.ctx;
    e.pool = a.pool;
    e.socket = static_cast<int>(rte_socket_id());
    e.lcores.push_back(rte_get_main_lcore());
    for (const auto& [lcore, rxqs] : pl.rx_of_lcore)
        e.lcores.push_back(lcore);
    e.exception_path = !a.opt.no_tap;
    for (const auto& ad : a.opt.addrs)
        e.addrs_be.push_back(ad.ip_be);
    std::vector<std::string> notes;
    std::string err;
    const bool ok = start_modules(a.opt, e, &a.services, &notes, &err);
    for (const auto& n : notes)
        LOG(INFO, "%s", n.c_str());
    if (!ok)
        die(err);
}

void start_telemetry(app& a)
{
    a.tel.stats = a.stats;
    a.tel.n_stats = a.n_stats;
    a.tel.mu = &a.telemetry_mu;
    a.tel.rcu = a.ctx.rcu;
    a.tel.reader = static_cast<unsigned>(a.workers.size());  // readers 0..n-1 are the workers
    telemetry_init(&a);
    register_module_telemetry(&a.tel);
    if (rte_pdump_init() != 0)
        LOG(WARNING, "pdump unavailable (%s): dpdk-dumpcap will not attach", rte_strerror(rte_errno));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

void launch(app& a)
{
    a.start_tsc = rte_rdtsc();
    for (auto* w : a.workers)
        rte_eal_remote_launch(engine::worker_main, w, w->lcore);
    LOG(INFO, "running: %zu worker(s)", a.workers.size());
    for (const auto& svc : a.services)
        LOG(INFO, "%s", svc->describe().c_str());
    std::printf("peregrine: ready\n");
    std::fflush(stdout);
}

void init_log()
{
    logtype = rte_log_register_type_and_pick_level("peregrine", RTE_LOG_INFO);
    if (logtype < 0)
        logtype = RTE_LOGTYPE_USER1;
}

namespace {
// The CPUs the control lcore (the main lcore) may run on.
std::vector<unsigned> control_cpus()
{
    std::vector<unsigned> cpus;
    const rte_cpuset_t set = rte_lcore_cpuset(rte_get_main_lcore());
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}
} // namespace

// The control lcore: data-plane duties every iteration, stats and link state on timers.
void run(app& a, engine::control& ctl)
{
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t stats_every = uint64_t(a.opt.stats_interval_s) * hz;
    uint64_t next_stats = a.start_tsc + stats_every;
    uint64_t next_link = a.start_tsc;
    std::vector<int> link_up(a.ports.size(), -1);
    auto periodic = [&](uint64_t now) {
        if (stats_every && now >= next_stats) {
            next_stats = now + stats_every;
            print_stats(a);
        }
        if (now < next_link)
            return;
        next_link = now + hz;
        for (size_t i = 0; i < a.ports.size(); ++i) {
            rte_eth_link l{};
            if (rte_eth_link_get_nowait(a.ports[i], &l) != 0 || link_up[i] == l.link_status)
                continue;
            LOG(INFO, "port %u: link %s, %u Mbps", a.ports[i], l.link_status ? "up" : "down", l.link_speed);
            link_up[i] = l.link_status;
        }
    };
    const uint32_t max_sleep_us = std::max(a.opt.idle_sleep_us, a.opt.control_sleep_us);
    const engine::cpu_resume_latency qos(control_cpus(), max_sleep_us ? a.opt.control_resume_latency_us
                                                                      : engine::cpu_resume_latency::off);
    if (!qos.error().empty())
        LOG(WARNING, "control lcore: resume latency not set (%s): a slow-path packet after a quiet spell "
                     "waits for its CPU to leave an idle state", qos.error().c_str());
    else if (qos.held())
        LOG(INFO, "control lcore: resume latency %d us on %u CPU(s), %u set here", a.opt.control_resume_latency_us,
            qos.held(), qos.changed());
    engine::run_control(ctl, a.stats[a.n_stats - 1], max_sleep_us,
                        [] { return got_signal != 0; }, periodic);
}

void shutdown(app& a, const std::vector<engine::control::worker_rings>& rings)
{
    LOG(INFO, "signal %d: stopping", int(got_signal));
    a.ctx.quit.store(true);
    rte_eal_mp_wait_lcore();
    // Packets still in the rings belong to nobody now.
    rte_mbuf* m[burst_size];
    for (const auto& r : rings)
        for (rte_ring* ring : {r.exc, r.ctl, r.tx})
            while (unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(m), burst_size, nullptr))
                rte_pktmbuf_free_bulk(m, n);
    stop_modules(a);
    print_stats(a);
    print_drops(a);
    // The modules go while the TAPs still exist (LEKT's sockets close on them); each takes the
    // telemetry lock as it leaves.
    a.ctx.n_modules = 0;
    while (!a.services.empty())
        a.services.pop_back();
    for (uint16_t p : a.ports)
        if (a.ctx.tap_of[p] != engine::no_port)
            drivers::tap_destroy(a.ctx.tap_of[p]);
    for (uint16_t p : a.ports)
        drivers::port_stop(p);
    // Every mbuf is back by now (the ports and TAPs are closed, the modules gone): one that is
    // not was lost somewhere, and the line says so.
    if (a.pool) {
        const unsigned left = rte_mempool_in_use_count(a.pool);
        if (left)
            RTE_LOG(WARNING, USER1, "peregrine: mbuf leak: %u of %u mbufs not returned at exit\n", left, a.pool->size);
        else
            RTE_LOG(INFO, USER1, "peregrine: all %u mbufs returned\n", a.pool->size);
    }
    rte_pdump_uninit();
    {
        std::lock_guard<std::mutex> lk(a.telemetry_mu);
        rte_free(a.ctx.rcu);
        a.ctx.rcu = nullptr;
    }
}

} // namespace peregrine
