#include "router/service.hpp"

#include <cstdio>
#include <cstdlib>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ether.h>

namespace peregrine::router {

namespace {
engine::telemetry_slot<service> g;

int cmd_router(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = g.tel->sum();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const registry& reg = g.svc->reg();
    engine::add_u64s(d, {{"udp_port", g.svc->opts().port},
                         {"clients", reg.size()},
                         {"capacity", reg.capacity()},
                         {"heartbeat_timeout_s", g.svc->opts().heartbeat_timeout_s}});
    engine::add_named(d, rtr_name, s.router);
    const registry_counters c = reg.counters();
    engine::add_u64s(d, {{"registered", c.added},
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
    uint32_t id;
    if (!engine::parse_client_id(params, &id))
        return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const engine::rcu_reader rd(*g.tel);
    const entry* e = g.svc->reg().find_id(id);
    rte_tel_data_add_dict_u64(d, "client_id", id);
    rte_tel_data_add_dict_u64(d, "registered", e != nullptr);
    if (e) {
        engine::add_endpoint(d, e->ip_be, e->udp_port_be, e->port_id);
        char mac[RTE_ETHER_ADDR_FMT_SIZE];
        rte_ether_format_addr(mac, sizeof(mac), &e->next_hop);
        rte_tel_data_add_dict_string(d, "next_hop", mac);
        rte_tel_data_add_dict_u64(d, "idle_ms", engine::ms_since(rte_rdtsc(), e->seen()));
    }
    return 0;
}
} // namespace

service::service(const options& o, registry* reg, uint64_t tsc_hz)
    : opt_(o), reg_(reg), cfg_{o.port, uint64_t(o.heartbeat_timeout_s) * tsc_hz}, mod_(cfg_, *reg_)
{
    if (o.register_rate || o.register_global_rate) {
        register_limit_.init(o.register_rate, 2 * uint64_t(o.register_rate), o.register_global_rate,
                             2 * uint64_t(o.register_global_rate), tsc_hz);
        cfg_.register_limit = &register_limit_;
    }
}

service::~service()
{
    g.detach();
}

std::string service::describe() const
{
    return "router on UDP " + std::to_string(opt_.port) + ", heartbeat timeout " +
           std::to_string(opt_.heartbeat_timeout_s) + " s, up to " + std::to_string(opt_.max_clients) +
           " clients, " + (opt_.register_rate ? std::to_string(opt_.register_rate) : std::string("unlimited")) +
           " Register Client/s per source";
}

std::string service::status(const lcore_stats& s) const
{
    const auto& r = s.router;
    char buf[160];
    std::snprintf(buf, sizeof(buf), "hb %lu fwd %lu unknown %lu reg %lu | clients %u", r[unsigned(rtr::heartbeat_answered)],
                  r[unsigned(rtr::message_forwarded)], r[unsigned(rtr::unknown_recipient)], r[unsigned(rtr::register_rx)],
                  reg_->size());
    return buf;
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/router", cmd_router, "Router protocol counters and registry. No parameters");
    rte_telemetry_register_cmd("/peregrine/router/client", cmd_client,
                               "Registration of a Client ID. Parameters: client ID, decimal or 0x-hex");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    registry::params rp;
    rp.capacity = o.max_clients;
    rp.rcu = e.ctx->rcu;
    rp.socket_id = e.socket;
    registry* reg = registry::create(rp);
    if (!reg) {
        *err = "cannot create a registry for " + std::to_string(o.max_clients) + " clients: " + rte_strerror(rte_errno) +
               " (more hugepages, or a smaller --max-clients)";
        return nullptr;
    }
    auto svc = std::make_unique<service>(o, reg, rte_get_tsc_hz());
    if (e.ctx->inspect)
        svc->set_inspection(e.ctx->inspect->point("router"));
    engine::module& mod = svc->mod();
    return engine::plug(std::move(svc), mod, e, g, err);
}

} // namespace peregrine::router
