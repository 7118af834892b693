// /peregrine/... telemetry commands (dpdk-telemetry.py, or any client of the v2 socket).
// The core's commands; each module registers its own under /peregrine/<module> (its
// service.cpp). Callbacks run on the telemetry thread: they only read counters (relaxed).

#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_telemetry.h>

#include "daemon.hpp"
#include "engine/pause.hpp"
#include "engine/telemetry.hpp"
#include "net/format.hpp"

namespace peregrine {

namespace {

app* g_app = nullptr;

// ---- helpers ----

lcore_stats all_lcores() { return stats_sum(g_app->stats, g_app->n_stats); }

using engine::add_named;
using engine::add_u64s;
using engine::new_dict;

// ---- commands ----

void add_totals(rte_tel_data* d, const lcore_stats& s)
{
    add_u64s(d, {{"rx_packets", s.rx_packets},
                 {"rx_bursts", s.rx_bursts},
                 {"tx_packets", s.tx_packets},
                 {"to_exception", s.to_exception},
                 {"to_control", s.to_control},
                 {"kernel_in", s.kernel_in},
                 {"kernel_out", s.kernel_out},
                 {"drops", s.drop_total()},
                 {"busy_cycles", s.busy_cycles},
                 {"idle_polls", s.idle_polls},
                 {"idle_sleep_us", s.idle_sleep_us},
                 {"sleeps", s.sleeps},
                 {"sleeps_woken", s.sleeps_woken},
                 {"doorbells", s.doorbells}});
}

int cmd_stats(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    add_totals(d, all_lcores());
    const engine::pause::counters pc = engine::pause::stats();
    add_u64s(d, {{"mbufs_in_use", rte_mempool_in_use_count(g_app->pool)},
                 {"mbufs_total", g_app->pool->size},
                 {"uptime_s", (rte_rdtsc() - g_app->start_tsc) / rte_get_tsc_hz()},
                 {"intr_pauses", pc.holds},
                 {"intr_pause_timeouts", pc.timeouts},
                 {"intr_pause_max_us", pc.max_wait_ns / 1000}});
    return 0;
}

int cmd_drops(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    add_named(d, drop_name, all_lcores().drops);
    return 0;
}

int cmd_exceptions(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    add_named(d, exc_name, all_lcores().exceptions);
    return 0;
}

int cmd_lcores(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    for (unsigned i = 0; i < g_app->n_stats; ++i) {
        rte_tel_data* c = new_dict();
        if (!c)
            return -ENOMEM;
        add_totals(c, stats_sum(&g_app->stats[i], 1));
        const bool ctl = i + 1 == g_app->n_stats;
        const unsigned lcore = ctl ? rte_get_main_lcore() : g_app->workers[i]->lcore;
        rte_tel_data_add_dict_string(c, "role", ctl ? "control" : "worker");
        const std::string key = "lcore" + std::to_string(lcore);
        rte_tel_data_add_dict_container(d, key.c_str(), c, 0);
    }
    return 0;
}

int cmd_ports(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    for (size_t i = 0; i < g_app->ports.size(); ++i) {
        const uint16_t p = g_app->ports[i];
        rte_tel_data* c = new_dict();
        if (!c)
            return -ENOMEM;
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof(mac), &g_app->ctx.ports[p].mac);
        rte_tel_data_add_dict_string(c, "mac", mac);
        const auto& pa = g_app->ctx.ports[p];
        rte_tel_data_add_dict_string(c, "addr", pa.ip_be ? (net::ipv4_to_string(pa.ip_be) + "/" + std::to_string(pa.prefix_len)).c_str() : "");
        rte_tel_data_add_dict_string(c, "tap", g_app->tap_names[i].c_str());
        rte_eth_link l{};
        rte_eth_link_get_nowait(p, &l);
        rte_tel_data_add_dict_u64(c, "link_up", l.link_status);
        rte_eth_stats es{};
        rte_eth_stats_get(p, &es);
        add_u64s(c, {{"ipackets", es.ipackets},
                     {"opackets", es.opackets},
                     {"imissed", es.imissed},
                     {"rx_nombuf", es.rx_nombuf}});
        rte_tel_data_add_dict_container(d, std::to_string(p).c_str(), c, 0);
    }
    return 0;
}

} // namespace

void telemetry_init(app* a)
{
    g_app = a;
    rte_telemetry_register_cmd("/peregrine/stats", cmd_stats,
                               "Engine totals: packets, exception path, drops, mbufs in use. No parameters");
    rte_telemetry_register_cmd("/peregrine/drops", cmd_drops, "Drops by reason. No parameters");
    rte_telemetry_register_cmd("/peregrine/exceptions", cmd_exceptions,
                               "Packets sent to the kernel by reason. No parameters");
    rte_telemetry_register_cmd("/peregrine/lcores", cmd_lcores, "Per-lcore counters. No parameters");
    rte_telemetry_register_cmd("/peregrine/ports", cmd_ports, "Ports: MAC, address, TAP, link, ethdev stats. No parameters");
}

} // namespace peregrine
