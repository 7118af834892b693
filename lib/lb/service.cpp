#include "lb/service.hpp"

#include <cstdlib>

#include <arpa/inet.h>

#include <rte_cycles.h>

#include "net/format.hpp"

namespace peregrine::lb {

namespace {
engine::telemetry_slot<service> g;

const char* policy_name(unsigned p)
{
    return static_cast<policy>(p) == policy::least_loaded ? "least-loaded" : "maglev";
}

std::string ep_string(const endpoint& e)
{
    return net::ipv4_to_string(e.ip_be) + ":" + std::to_string(ntohs(e.port_be));
}

int cmd_lb(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = g.tel->sum();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const state* st = &g.svc->lb_state();
    rte_tel_data_add_dict_u64(d, "udp_port", g.svc->opts().port);
    rte_tel_data_add_dict_string(d, "policy", policy_name(g.svc->opts().policy));
    rte_tel_data_add_dict_u64(d, "expiry_s", g.svc->opts().expiry_s);
    rte_tel_data_add_dict_u64(d, "probe_s", g.svc->opts().probe_s);
    rte_tel_data_add_dict_u64(d, "answer_no_node", g.svc->opts().answer_no_node);
    rte_tel_data_add_dict_u64(d, "answer_unvalidated", g.svc->opts().answer_unvalidated);
    engine::add_named(d, lbc_name, s.lb);
    std::lock_guard<std::mutex> lk2(st->mu());
    engine::add_u64s(d, {{"serving_nodes", st->serving_nodes().size()},
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
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const state* st = &g.svc->lb_state();
    std::lock_guard<std::mutex> lk2(st->mu());
    const uint64_t now = rte_rdtsc();
    unsigned n = 0;
    auto add = [&](const char* kind, const char* prefix, const std::map<uint64_t, peer>& peers) {
        unsigned i = 0;
        for (const auto& [k, p] : peers) {
            if (n++ == RTE_TEL_MAX_DICT_ENTRIES)
                break;
            rte_tel_data* c = engine::new_dict();
            if (!c)
                return -ENOMEM;
            rte_tel_data_add_dict_string(c, "kind", kind);
            rte_tel_data_add_dict_string(c, "endpoint", ep_string(p.advertised).c_str());
            rte_tel_data_add_dict_string(c, "sender", ep_string(p.sender).c_str());
            engine::add_u64s(c, {{"port_id", p.port_id},
                         {"age_ms", engine::ms_since(now, p.registered)},
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
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const state* st = &g.svc->lb_state();
    std::lock_guard<std::mutex> lk2(st->mu());
    const auto& regs = st->registrations();
    auto it = group < 0 ? regs.begin() : regs.lower_bound(state::reg_key(uint16_t(group), 0));
    for (unsigned n = 0; it != regs.end() && n < 256; ++it, ++n) {
        const uint16_t g = static_cast<uint16_t>(it->first >> 32);
        if (group >= 0 && g != group)
            break;
        const std::string key = std::to_string(g) + "/" + std::to_string(uint32_t(it->first));
        rte_tel_data_add_dict_string(d, key.c_str(), ep_string(it->second.ep).c_str());
    }
    return 0;
}

} // namespace

// Sources with a balance at once (8 bytes each, 512 KiB): more than a host's active
// requesters within their retry interval; past it an address restarts from 0.
static constexpr uint32_t credit_entries = 1u << 16;

service::service(const options& o, const engine::env& e) : opt_(o)
{
    cfg_.udp_port = o.port;
    cfg_.pol = static_cast<policy>(o.policy);
    cfg_.answer_no_node = o.answer_no_node;
    if (!o.answer_unvalidated)
        cfg_.credit.init(credit_entries);
    if (o.control_rate || o.control_global_rate) {
        const uint64_t hz = rte_get_tsc_hz();
        control_limit_.init(o.control_rate, 2 * uint64_t(o.control_rate), o.control_global_rate,
                            2 * uint64_t(o.control_global_rate), hz);
        cfg_.control_limit = &control_limit_;
    }
    state_params lp;
    lp.pool = e.pool;
    lp.rcu = e.ctx->rcu;
    lp.tsc_hz = rte_get_tsc_hz();
    lp.expiry_s = o.expiry_s;
    lp.probe_s = o.probe_s;
    state_ = std::make_unique<state>(cfg_, e.ctx->ports, lp);
    mod_ = std::make_unique<lb::module>(cfg_, *state_);
}

service::~service()
{
    g.detach();
}

std::string service::describe() const
{
    return "load balancer on UDP " + std::to_string(opt_.port) + ", policy " +
           policy_name(opt_.policy) + ", expiry " + std::to_string(opt_.expiry_s) + " s, probe " +
           std::to_string(opt_.probe_s) + " s";
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/lb", cmd_lb,
                               "Load-balancer counters, node and registration counts. No parameters");
    rte_telemetry_register_cmd("/peregrine/lb/nodes", cmd_lb_nodes,
                               "Serving nodes and call controllers by sender endpoint. No parameters");
    rte_telemetry_register_cmd("/peregrine/lb/registrations", cmd_lb_regs,
                               "(group, user) registrations, at most 256. Parameters: group ID (optional)");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    if (o.off)
        return nullptr;
    auto svc = std::make_unique<service>(o, e);
    engine::module& mod = svc->mod();
    return engine::plug(std::move(svc), mod, e, g, err);
}

} // namespace peregrine::lb
