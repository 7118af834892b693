// /peregrine/... telemetry commands (dpdk-telemetry.py, or any client of the v2 socket).
// Callbacks run on the telemetry thread: they only read counters (relaxed) and, for client
// look-ups, act as an RCU reader of the registry with their own reader id.

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

#include "app.hpp"
#include "lb/state.hpp"
#include "net/format.hpp"

namespace peregrine {

namespace {

app* g_app = nullptr;

// ---- helpers ----

lcore_stats all_lcores() { return stats_sum(g_app->stats, g_app->n_stats); }

void add_u64s(rte_tel_data* d, std::initializer_list<std::pair<const char*, uint64_t>> kv)
{
    for (const auto& [k, v] : kv)
        rte_tel_data_add_dict_u64(d, k, v);
}

// One key per entry of a stats.hpp X-macro list (its counter array): name(i) -> v[i].
template <typename Name, std::size_t N>
void add_named(rte_tel_data* d, Name name, const std::array<uint64_t, N>& v)
{
    for (unsigned i = 0; i < N; ++i)
        rte_tel_data_add_dict_u64(d, std::string(name(i)).c_str(), v[i]);
}

// A dict to nest with rte_tel_data_add_dict_container (null if out of memory).
rte_tel_data* new_dict()
{
    rte_tel_data* c = rte_tel_data_alloc();
    if (c)
        rte_tel_data_start_dict(c);
    return c;
}

uint64_t ms_since(uint64_t now, uint64_t then) { return now > then ? (now - then) * 1000 / rte_get_tsc_hz() : 0; }

void add_endpoint(rte_tel_data* d, uint32_t ip_be, uint16_t udp_port_be, uint16_t port_id)
{
    rte_tel_data_add_dict_string(d, "ip", net::ipv4_to_string(ip_be).c_str());
    rte_tel_data_add_dict_u64(d, "udp_port", ntohs(udp_port_be));
    rte_tel_data_add_dict_u64(d, "port_id", port_id);
}

// The telemetry thread as an RCU reader (its own reader id) while it looks entries up.
class rcu_reader {
public:
    explicit rcu_reader(rte_rcu_qsbr* v) : v_(v), id_(g_app->telemetry_reader)
    {
        rte_rcu_qsbr_thread_register(v_, id_);
        rte_rcu_qsbr_thread_online(v_, id_);
    }
    ~rcu_reader()
    {
        rte_rcu_qsbr_thread_offline(v_, id_);
        rte_rcu_qsbr_thread_unregister(v_, id_);
    }
    rcu_reader(const rcu_reader&) = delete;
    rcu_reader& operator=(const rcu_reader&) = delete;

private:
    rte_rcu_qsbr* v_;
    unsigned id_;
};

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
                 {"idle_sleep_us", s.idle_sleep_us}});
}

int cmd_stats(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    add_totals(d, all_lcores());
    add_u64s(d, {{"mbufs_in_use", rte_mempool_in_use_count(g_app->pool)},
                 {"mbufs_total", g_app->pool->size},
                 {"uptime_s", (rte_rdtsc() - g_app->start_tsc) / rte_get_tsc_hz()}});
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

int cmd_router(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = all_lcores();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    const auto* reg = g_app->registry;
    if (!reg)
        return -ENODEV;
    add_u64s(d, {{"udp_port", g_app->opt.router.port},
                 {"clients", reg->size()},
                 {"capacity", reg->capacity()},
                 {"heartbeat_timeout_s", g_app->opt.router.heartbeat_timeout_s}});
    add_named(d, rtr_name, s.router);
    const router::registry_counters c = reg->counters();
    add_u64s(d, {{"registered", c.added},
                 {"reregistered", c.refreshed},
                 {"moved", c.moved},
                 {"displaced", c.displaced},
                 {"expired", c.expired},
                 {"refused_full", c.full}});
    return 0;
}

// /peregrine/router/client,<id>: where a Client ID is registered.
int cmd_client(const char*, const char* params, rte_tel_data* d)
{
    if (!params || !*params)
        return -EINVAL;
    char* end = nullptr;
    // Decimal or 0x-hexadecimal; never octal ("010" is ten).
    const bool hex = params[0] == '0' && (params[1] == 'x' || params[1] == 'X');
    const unsigned long long id = std::strtoull(params, &end, hex ? 16 : 10);
    if (*end != '\0' || id > UINT32_MAX)
        return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    auto* reg = g_app->registry;
    if (!reg)
        return -ENODEV;
    const rcu_reader rd(reg->rcu());
    const router::entry* e = reg->find_id(static_cast<uint32_t>(id));
    rte_tel_data_add_dict_u64(d, "client_id", id);
    rte_tel_data_add_dict_u64(d, "registered", e != nullptr);
    if (e) {
        add_endpoint(d, e->ip_be, e->udp_port_be, e->port_id);
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof(mac), &e->next_hop);
        rte_tel_data_add_dict_string(d, "next_hop", mac);
        rte_tel_data_add_dict_u64(d, "idle_ms", ms_since(rte_rdtsc(), e->seen()));
    }
    return 0;
}

int cmd_session(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = all_lcores();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    const auto* tab = g_app->sessions;
    if (!tab)
        return -ENODEV;
    rte_tel_data_add_dict_u64(d, "udp_port", g_app->opt.session.port);
    rte_tel_data_add_dict_string(d, "app", g_app->opt.session.app.c_str());
    add_u64s(d, {{"keyed", g_app->session_cfg.key != nullptr},
                 {"sessions", tab->size()},
                 {"capacity", tab->capacity()},
                 {"timeout_s", g_app->opt.session.timeout_s},
                 {"hello_window_s", g_app->opt.session.hello_window_s}});
    add_named(d, ses_name, s.session);
    const session::table_counters c = tab->counters();
    add_u64s(d, {{"opened", c.opened},
                 {"reopened", c.reopened},
                 {"hello_repeated", c.duplicate},
                 {"hello_replayed", c.replayed},
                 {"closed", c.closed},
                 {"expired", c.expired},
                 {"refused_full", c.full}});
    return 0;
}

// /peregrine/session/id,<32 hex digits>: one session by Client ID.
int cmd_session_id(const char*, const char* params, rte_tel_data* d)
{
    uint8_t id[session::client_id_len];
    if (!params || std::strlen(params) != 2 * sizeof(id))
        return -EINVAL;
    for (size_t i = 0; i < sizeof(id); ++i) {
        const char hex[3] = {params[2 * i], params[2 * i + 1], 0};
        char* end = nullptr;
        if (!std::isxdigit(static_cast<unsigned char>(hex[0])) || !std::isxdigit(static_cast<unsigned char>(hex[1])))
            return -EINVAL;
        id[i] = static_cast<uint8_t>(std::strtoul(hex, &end, 16));
    }
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    auto* tab = g_app->sessions;
    if (!tab)
        return -ENODEV;
    const rcu_reader rd(g_app->ctx.rcu);
    const session::entry* e = tab->find(id);
    const uint64_t now = rte_rdtsc();
    rte_tel_data_add_dict_string(d, "client_id", params);
    rte_tel_data_add_dict_u64(d, "open", e != nullptr && !e->expired(now, g_app->session_cfg.timeout_tsc));
    if (e) {
        add_endpoint(d, e->ip_be, e->udp_port_be, e->port_id);
        add_u64s(d, {{"hello_ts_ms", e->hello_ts},
                     {"highest_order", e->win.top()},
                     {"server_order", std::atomic_ref<const uint64_t>(e->tx_order).load()},
                     {"idle_ms", ms_since(now, e->seen())}});
    }
    return 0;
}

// ---- load balancer ----

std::string ep_string(const lb::endpoint& e)
{
    return net::ipv4_to_string(e.ip_be) + ":" + std::to_string(ntohs(e.port_be));
}

int cmd_lb(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = all_lcores();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    const lb::state* st = g_app->lb_state;
    if (!st)
        return -ENODEV;
    rte_tel_data_add_dict_u64(d, "udp_port", g_app->opt.lb.port);
    rte_tel_data_add_dict_string(d, "policy", (g_app->opt.lb.policy == 1) ? "least-loaded" : "maglev");
    rte_tel_data_add_dict_u64(d, "expiry_s", g_app->opt.lb.expiry_s);
    rte_tel_data_add_dict_u64(d, "answer_no_node", g_app->opt.lb.answer_no_node);
    add_named(d, lbc_name, s.lb);
    std::lock_guard<std::mutex> lk2(st->mu());
    add_u64s(d, {{"serving_nodes", st->serving_nodes().size()},
                 {"call_controllers", st->call_controllers().size()},
                 {"registrations", st->registrations().size()},
                 {"calls", st->calls().size()},
                 {"awaiting_ack", st->awaiting_ack()},
                 {"table_generation", st->table_generation()}});
    return 0;
}

// /peregrine/lb/nodes: serving nodes and call controllers as "node<i>" / "controller<i>"
// (telemetry keys allow no '.' or ':'), at most 256 entries in all.
int cmd_lb_nodes(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    const lb::state* st = g_app->lb_state;
    if (!st)
        return -ENODEV;
    std::lock_guard<std::mutex> lk2(st->mu());
    const uint64_t now = rte_rdtsc();
    unsigned n = 0;
    auto add = [&](const char* kind, const char* prefix, const std::map<uint64_t, lb::peer>& peers) {
        unsigned i = 0;
        for (const auto& [k, p] : peers) {
            if (n++ == RTE_TEL_MAX_DICT_ENTRIES)
                break;
            rte_tel_data* c = new_dict();
            if (!c)
                return -ENOMEM;
            rte_tel_data_add_dict_string(c, "kind", kind);
            rte_tel_data_add_dict_string(c, "endpoint", ep_string(p.advertised).c_str());
            rte_tel_data_add_dict_string(c, "sender", ep_string(p.sender).c_str());
            add_u64s(c, {{"port_id", p.port_id},
                         {"age_ms", ms_since(now, p.registered)},
                         {"registrations", p.registrations},
                         {"calls", p.calls}});
            rte_tel_data_add_dict_container(d, (prefix + std::to_string(i++)).c_str(), c, 0);
        }
        return 0;
    };
    const int r = add("serving_node", "node", st->serving_nodes());
    return r ? r : add("call_controller", "controller", st->call_controllers());
}

// /peregrine/lb/registrations[,group]: "group/user" -> endpoint (telemetry replies are capped
// at 16 KiB: ask per group for large tables).
int cmd_lb_regs(const char*, const char* params, rte_tel_data* d)
{
    long group = -1;
    if (params && *params) {
        char* end = nullptr;
        const unsigned long g = std::strtoul(params, &end, 10);
        if (*end != '\0' || g > UINT16_MAX || params[0] == '-')
            return -EINVAL;
        group = static_cast<long>(g);
    }
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    const lb::state* st = g_app->lb_state;
    if (!st)
        return -ENODEV;
    std::lock_guard<std::mutex> lk2(st->mu());
    const auto& regs = st->registrations();
    auto it = group < 0 ? regs.begin() : regs.lower_bound(lb::state::reg_key(uint16_t(group), 0));
    for (unsigned n = 0; it != regs.end() && n < 256; ++it, ++n) {
        const uint16_t g = static_cast<uint16_t>(it->first >> 32);
        if (group >= 0 && g != group)
            break;
        const std::string key = std::to_string(g) + "/" + std::to_string(uint32_t(it->first));
        rte_tel_data_add_dict_string(d, key.c_str(), ep_string(it->second.ep).c_str());
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

// /peregrine/lekt: LEKT server counters and rejects by reason.
int cmd_lekt(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    rte_tel_data_add_dict_u64(d, "enabled", g_app->lekt != nullptr);
    if (!g_app->lekt)
        return 0;
    const auto& c = g_app->lekt->counters();
    const auto rd = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    add_u64s(d, {{"tcp_port", g_app->lekt->params().port},
                 {"connections", rd(c.open)},
                 {"members", rd(c.members)},
                 {"accepted", rd(c.accepted)},
                 {"joined", rd(c.joined)},
                 {"left", rd(c.left)},
                 {"disconnects", rd(c.disconnects)},
                 {"heartbeats", rd(c.heartbeats)},
                 {"snapshots", rd(c.snapshots)},
                 {"update_packets", rd(c.update_packets)},
                 {"records_added", rd(c.records_added)},
                 {"records_removed", rd(c.records_removed)},
                 {"bytes_in", rd(c.bytes_in)},
                 {"bytes_out", rd(c.bytes_out)},
                 {"log_entries", rd(c.log_entries)}});
    rte_tel_data* r = new_dict();
    if (!r)
        return -ENOMEM;
    uint64_t total = 0;
    for (unsigned i = 0; i < lekt::reject_count; ++i) {
        const uint64_t v = rd(c.rejects[i]);
        total += v;
        rte_tel_data_add_dict_u64(r, std::string(lekt::reject_name(lekt::reject(i))).c_str(), v);
    }
    rte_tel_data_add_dict_u64(d, "rejects_total", total);
    rte_tel_data_add_dict_container(d, "rejects", r, 0);
    return 0;
}

// /peregrine/lekt/members[,offset]: up to 64 members from offset, each "ip:tcp_port methods 1,2".
int cmd_lekt_members(const char*, const char* params, rte_tel_data* d)
{
    static constexpr std::size_t page = 64;  // keeps the reply inside the telemetry buffer
    std::size_t offset = 0;
    if (params && *params) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(params, &end, 10);
        if (*end != '\0' || params[0] == '-')
            return -EINVAL;
        offset = v;
    }
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(g_app->telemetry_mu);
    if (!g_app->lekt)
        return -ENODEV;
    std::size_t total = 0;
    const auto ms = g_app->lekt->members(offset, page, &total);
    rte_tel_data_add_dict_u64(d, "total", total);
    rte_tel_data_add_dict_u64(d, "offset", offset);
    rte_tel_data* list = rte_tel_data_alloc();
    if (!list)
        return -ENOMEM;
    // An array of strings: telemetry dict keys may not contain '.' or ':'.
    rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
    for (const auto& m : ms) {
        std::string methods;
        for (uint32_t k : m.methods) {
            if (!methods.empty())
                methods.push_back(',');
            methods.append(std::to_string(k));
        }
        const std::string v = net::ipv4_to_string(htonl(m.ip)) + ":" + std::to_string(m.tcp_port) + " methods " +
                              (methods.empty() ? "none" : methods);
        rte_tel_data_add_array_string(list, v.c_str());
    }
    rte_tel_data_add_dict_container(d, "members", list, 0);
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
    rte_telemetry_register_cmd("/peregrine/router", cmd_router, "Router protocol counters and registry. No parameters");
    rte_telemetry_register_cmd("/peregrine/router/client", cmd_client,
                               "Registration of a Client ID. Parameters: client ID, decimal or 0x-hex");
    rte_telemetry_register_cmd("/peregrine/session", cmd_session, "Session protocol counters and table. No parameters");
    rte_telemetry_register_cmd("/peregrine/session/id", cmd_session_id,
                               "One session. Parameters: Client ID, 32 hex digits");
    rte_telemetry_register_cmd("/peregrine/lb", cmd_lb,
                               "Load-balancer counters, node and registration counts. No parameters");
    rte_telemetry_register_cmd("/peregrine/lb/nodes", cmd_lb_nodes,
                               "Serving nodes and call controllers by sender endpoint. No parameters");
    rte_telemetry_register_cmd("/peregrine/lb/registrations", cmd_lb_regs,
                               "(group, user) registrations, at most 256. Parameters: group ID (optional)");
    rte_telemetry_register_cmd("/peregrine/lekt", cmd_lekt,
                               "LEKT rendezvous: connections, members, heartbeats, bytes, rejects by reason. No parameters");
    rte_telemetry_register_cmd("/peregrine/lekt/members", cmd_lekt_members,
                               "LEKT members (64 per page), each 'ip:tcp_port methods K,...'. Parameters: offset (optional)");
}

} // namespace peregrine
