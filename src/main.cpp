// peregrine: the daemon. The main lcore is the control lcore; every lcore named in --config is
// a worker. Start-up runs in stages, and everything that can be refused is refused before the
// first port starts: options (before the EAL), then the port/queue/lcore plan.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <time.h>

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
#include "engine/control.hpp"
#include "engine/idle.hpp"
#include "engine/plan.hpp"
#include "engine/worker.hpp"
#include "exception/tap.hpp"
#include "common/rcu.hpp"
#include "net/format.hpp"
#include "options.hpp"
#include "port/port.hpp"

using namespace peregrine;

namespace {

int logtype = RTE_LOGTYPE_USER1;
#define LOG(level, fmt, ...) rte_log(RTE_LOG_##level, logtype, "peregrine: " fmt "\n", ##__VA_ARGS__)

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

using engine::plan;

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

// The keyed mode's pre-shared key: the file's bytes, exactly.
std::vector<uint8_t> read_key_file(const std::string& path)
{
    // Short keys are guessable; long ones gain nothing (HMAC hashes keys over 64 bytes first).
    static constexpr size_t min_key = 16, max_key = 1024;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        die("--session-key-file: cannot open " + path + ": " + std::strerror(errno));
    std::vector<uint8_t> key(max_key + 1);
    const size_t n = std::fread(key.data(), 1, key.size(), f);
    const bool err = std::ferror(f);
    std::fclose(f);
    if (err)
        die("--session-key-file: cannot read " + path);
    if (n < min_key || n > max_key)
        die("--session-key-file: " + path + " holds " + (n > max_key ? "more than 1024" : std::to_string(n)) +
            " bytes; a key is 16 to 1024 bytes");
    key.resize(n);
    return key;
}

// Session protocol: table (on the workers' RCU variable), per-lcore SHA-256 managers,
// application, key, clock.
void create_sessions(app& a, const plan& pl)
{
    const options& o = a.opt;
    session::table::params sp;
    sp.capacity = o.session.max_sessions;
    sp.rcu = a.ctx.rcu;
    sp.socket_id = static_cast<int>(rte_socket_id());
    a.sessions = session::table::create(sp);
    if (!a.sessions)
        die("cannot create a session table for " + std::to_string(o.session.max_sessions) + " sessions: " +
            rte_strerror(rte_errno) + " (more hugepages, or a smaller --max-sessions)");

    session::config& c = a.session_cfg;
    std::vector<unsigned> lcores{rte_get_main_lcore()};
    for (const auto& [lcore, rxqs] : pl.rx_of_lcore)
        lcores.push_back(lcore);
    for (unsigned l : lcores) {
        auto mb = crypto::mb_context::create();
        if (!mb)
            die("cannot create an IPsec-MB manager for lcore " + std::to_string(l));
        c.mb[l] = mb.get();
        a.session_mb.push_back(std::move(mb));
    }
    a.session_app = session::make_app(o.session.app);
    if (!a.session_app)
        die("--session-app: unknown application " + o.session.app);
    c.app = a.session_app.get();
    if (!o.session.key_file.empty()) {
        std::vector<uint8_t> key = read_key_file(o.session.key_file);
        a.session_key = crypto::make_hmac_key(*a.session_mb[0], key.data(), key.size());
        std::fill(key.begin(), key.end(), 0);
        c.key = &a.session_key;
    }
    const uint64_t hz = rte_get_tsc_hz();
    c.udp_port = o.session.port;
    c.timeout_tsc = uint64_t(o.session.timeout_s) * hz;
    c.hello_window_ms = uint64_t(o.session.hello_window_s) * 1000;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    c.tsc_base = rte_rdtsc();
    c.wall_base_ms = uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
    c.tsc_per_ms = std::max<uint64_t>(hz / 1000, 1);
    a.session_mod = std::make_unique<session::module>(c, *a.sessions, a.pool);
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
    a.telemetry_reader = nw;

    router::registry::params rp;
    rp.capacity = o.router.max_clients;
    rp.rcu = a.ctx.rcu;
    rp.socket_id = socket;
    a.registry = router::registry::create(rp);
    if (!a.registry)
        die("cannot create a registry for " + std::to_string(o.router.max_clients) + " clients: " + rte_strerror(rte_errno) +
            " (more hugepages, or a smaller --max-clients)");
    a.router_cfg.udp_port = o.router.port;
    a.router_cfg.heartbeat_timeout_tsc = uint64_t(o.router.heartbeat_timeout_s) * rte_get_tsc_hz();
    a.router_mod = std::make_unique<router::module>(a.router_cfg, *a.registry);

    if (!o.session.off)
        create_sessions(a, pl);
    if (!o.lb.off) {
        a.lb_cfg.udp_port = o.lb.port;
        a.lb_cfg.pol = (o.lb.policy == 1) ? lb::policy::least_loaded : lb::policy::maglev;
        a.lb_cfg.answer_no_node = o.lb.answer_no_node;
        lb::state_params lp;
        lp.pool = a.pool;
        lp.rcu = a.ctx.rcu;
        lp.tsc_hz = rte_get_tsc_hz();
        lp.expiry_s = o.lb.expiry_s;
        a.lb_state = new lb::state(a.lb_cfg, a.ctx.ports, lp);
        a.lb_mod = std::make_unique<lb::module>(a.lb_cfg, *a.lb_state);
    }
    for (engine::module* m : std::initializer_list<engine::module*>{a.router_mod.get(), a.lb_mod.get(), a.session_mod.get()}) {
        std::string err;
        if (m && !a.ctx.add(m, &err))
            die(err);
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

rte_ring* make_ring(const char* what, unsigned idx, unsigned size)
{
    char name[RTE_RING_NAMESIZE];
    std::snprintf(name, sizeof(name), "pg_%s%u", what, idx);
    rte_ring* r = rte_ring_create(name, size, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!r)
        die(std::string("cannot create ring ") + name + ": " + rte_strerror(rte_errno));
    return r;
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

// LEKT listens on the engine's addresses, which live on the TAPs: no TAP, no LEKT.
void start_lekt(app& a)
{
    const options& o = a.opt;
    if (o.lekt.off || o.no_tap || o.addrs.empty()) {
        if (!o.lekt.off)
            LOG(INFO, "LEKT off: it needs the exception path (no --no-tap) and an --addr");
        return;
    }
    lekt::server_params p;
    for (const auto& ad : o.addrs)
        p.addrs.push_back(rte_be_to_cpu_32(ad.ip_be));
    p.port = o.lekt.port;
    p.max_clients = o.lekt.max_clients;
    p.max_per_ip = o.lekt.max_per_ip;
    p.heartbeat_timeout_ms = o.lekt.heartbeat_timeout_s * 1000;
    p.handshake_timeout_ms = o.lekt.handshake_timeout_s * 1000;
    a.lekt = std::make_unique<lekt::server>(p);
    std::string err;
    if (!a.lekt->start(&err))
        die(err);
    a.lekt_mod = std::make_unique<lekt::module>(*a.lekt);
    if (!a.ctx.add(a.lekt_mod.get(), &err))
        die(err);
    if (a.lekt->fd_limit() < uint64_t(o.lekt.max_clients) + 1024)
        LOG(WARNING, "LEKT: only %lu file descriptors (RLIMIT_NOFILE hard limit): fewer than --lekt-max-clients %u "
            "connections will be accepted", a.lekt->fd_limit(), o.lekt.max_clients);
    LOG(INFO, "LEKT on TCP %u: up to %u connections, %u per IP, heartbeat timeout %u s", o.lekt.port,
        o.lekt.max_clients, o.lekt.max_per_ip, o.lekt.heartbeat_timeout_s);
}

void print_stats(const app& a)
{
    const lcore_stats s = stats_sum(a.stats, a.n_stats);
    const auto& r = s.router;
    std::printf("[%8.1fs] rx %lu tx %lu | hb %lu fwd %lu unknown %lu reg %lu | clients %u | to-kernel %lu "
                "from-kernel %lu | drops %lu | mbufs in use %u\n",
                double(rte_rdtsc() - a.start_tsc) / double(rte_get_tsc_hz()), s.rx_packets, s.tx_packets,
                r[unsigned(rtr::heartbeat_answered)], r[unsigned(rtr::message_forwarded)],
                r[unsigned(rtr::unknown_recipient)], r[unsigned(rtr::register_rx)], a.registry->size(),
                s.kernel_in, s.kernel_out, s.drop_total(), rte_mempool_in_use_count(a.pool));
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

// The control lcore: data-plane duties every iteration, stats and link state on timers.
void control_loop(app& a, engine::control& ctl)
{
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t stats_every = uint64_t(a.opt.stats_interval_s) * hz;
    uint64_t next_stats = a.start_tsc + stats_every;
    uint64_t next_link = a.start_tsc;
    std::vector<int> link_up(a.ports.size(), -1);
    engine::idle_backoff idle(a.opt.idle_sleep_us);
    lcore_stats& st = a.stats[a.n_stats - 1];
    while (!got_signal) {
        const uint64_t now = rte_rdtsc();
        const bool busy = ctl.poll(now);
        if (busy) {
            idle.busy();
        } else {
            const uint32_t slept = idle.idle();
            st.idle_sleep_us += slept;
            if (!slept)
                rte_pause();
        }
        if (stats_every && now >= next_stats) {
            next_stats = now + stats_every;
            print_stats(a);
        }
        if (now >= next_link) {
            next_link = now + hz;
            for (size_t i = 0; i < a.ports.size(); ++i) {
                rte_eth_link l{};
                if (rte_eth_link_get_nowait(a.ports[i], &l) != 0 || link_up[i] == l.link_status)
                    continue;
                LOG(INFO, "port %u: link %s, %u Mbps", a.ports[i], l.link_status ? "up" : "down", l.link_speed);
                link_up[i] = l.link_status;
            }
        }
    }
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
    {
        std::lock_guard<std::mutex> lk(a.telemetry_mu);
        a.lekt.reset();  // its sockets close while the TAPs still exist
    }
    for (uint16_t p : a.ports)
        if (a.ctx.tap_of[p] != engine::no_port)
            drivers::tap_destroy(a.ctx.tap_of[p]);
    for (uint16_t p : a.ports)
        drivers::port_stop(p);
    rte_pdump_uninit();
    {
        std::lock_guard<std::mutex> lk(a.telemetry_mu);
        a.ctx.n_modules = 0;
        a.lekt_mod.reset();
        a.session_mod.reset();
        a.lb_mod.reset();
        a.router_mod.reset();
        delete a.sessions;
        a.sessions = nullptr;
        delete a.lb_state;  // its tables were guarded by the engine's RCU variable
        a.lb_state = nullptr;
        delete a.registry;
        a.registry = nullptr;
        rte_free(a.ctx.rcu);
        a.ctx.rcu = nullptr;
    }
}

} // namespace

int main(int argc, char** argv)
{
    static app a;  // outlives the telemetry thread, which may still be answering at exit
    const int eal_argc = parse_app_options(argc, argv, &a.opt);

    rte_set_application_usage_hook(app_usage_hook);
    // Before rte_eal_init: it probes the --vdev net_tap ports, which pick their signal then.
    if (!a.opt.tap_rx_signal)
        drivers::tap_use_polling();
    if (rte_eal_init(eal_argc, argv) < 0)
        die(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno));
    logtype = rte_log_register_type_and_pick_level("peregrine", RTE_LOG_INFO);
    if (logtype < 0)
        logtype = RTE_LOGTYPE_USER1;

    select_ports(a);
    const plan pl = make_plan(a);
    create_memory(a, pl);
    read_port_addrs(a);
    start_taps(a);  // a TAP that cannot be made (name taken, no /dev/net/tun) stops us before any port starts
    start_ports(a, pl);
    const auto rings = create_workers(a, pl);
    start_lekt(a);

    if (rte_pdump_init() != 0)
        LOG(WARNING, "pdump unavailable (%s): dpdk-dumpcap will not attach", rte_strerror(rte_errno));
    telemetry_init(&a);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    a.start_tsc = rte_rdtsc();
    for (auto* w : a.workers)
        rte_eal_remote_launch(engine::worker_main, w, w->lcore);
    LOG(INFO, "running: %u worker(s), router on UDP %u, heartbeat timeout %u s, up to %u clients", pl.n_workers(),
        a.opt.router.port, a.opt.router.heartbeat_timeout_s, a.opt.router.max_clients);
    if (a.session_mod)
        LOG(INFO, "session protocol on UDP %u: app %s, %s, timeout %u s, up to %u sessions", a.opt.session.port,
            a.opt.session.app.c_str(), a.session_cfg.key ? "keyed (HMAC-SHA-256)" : "plain SHA-256",
            a.opt.session.timeout_s, a.opt.session.max_sessions);
    if (a.lb_mod)
        LOG(INFO, "load balancer on UDP %u, policy %s, expiry %u s", a.opt.lb.port,
            (a.opt.lb.policy == 1) ? "least-loaded" : "maglev", a.opt.lb.expiry_s);
    std::printf("peregrine: ready\n");
    std::fflush(stdout);

    engine::control ctl(a.ctx, a.stats[pl.n_workers()], a.ports, rings);
    control_loop(a, ctl);
    shutdown(a, rings);
    rte_eal_cleanup();
    return 0;
}
