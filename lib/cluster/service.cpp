#include "cluster/service.hpp"

#include <arpa/inet.h>

#include <cstdio>

#include <openssl/rand.h>
#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "router/module.hpp"

namespace peregrine::cluster {

namespace {
engine::telemetry_slot<service> g;

std::string ep_str(uint32_t ip_be, uint16_t port_be)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &ip_be, ip, sizeof(ip));
    return std::string(ip) + ":" + std::to_string(ntohs(port_be));
}

int cmd_cluster(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = g.tel->sum();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const cluster::module& m = g.svc->mod();
    const options& o = g.svc->opts();
    std::lock_guard<std::mutex> lk2(m.mu());
    const member& st = m.state();
    rte_tel_data_add_dict_string(d, "server", ep_str(o.server_ip_be, o.server_port_be).c_str());
    rte_tel_data_add_dict_string(d, "advertise", ep_str(o.advertise_ip_be, o.advertise_port_be).c_str());
    engine::add_u64s(d, {{"cluster_port", m.conf().port},
                         {"group", o.group},
                         {"registered", st.registered_with_server()},
                         {"peers", st.peers().size()},
                         {"queued", st.queued()},
                         {"in_flight", st.in_flight()},
                         {"routers", m.peers().routers()},
                         {"local", m.peers().local()},
                         {"share", m.peers().share()},
                         {"dir_queued", m.peers().queued()},
                         {"dir_in_flight", m.peers().in_flight()},
                         {"asking", m.peers().asking()},
                         {"held", m.held()},
                         {"cache_entries", m.conf().cache_entries}});
    engine::add_named(d, cls_name, s.cluster);
    return 0;
}

// /peregrine/cluster/peers: the other serving nodes, as the Controlling Function listed them.
int cmd_peers(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const cluster::module& m = g.svc->mod();
    std::lock_guard<std::mutex> lk2(m.mu());
    for (uint64_t k : m.state().peers())
        rte_tel_data_add_array_string(d, ep_str(static_cast<uint32_t>(k >> 16), static_cast<uint16_t>(k)).c_str());
    return 0;
}
// /peregrine/cluster/id,<ID>: where the directory puts a Client ID, as this router sees it.
int cmd_id(const char*, const char* params, rte_tel_data* d)
{
    uint32_t id;
    if (!engine::parse_client_id(params, &id))
        return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const cluster::module& m = g.svc->mod();
    std::lock_guard<std::mutex> lk2(m.mu());
    const peering& p = m.peers();
    const lb::endpoint h = p.home(id);
    rte_tel_data_add_dict_u64(d, "client_id", id);
    rte_tel_data_add_dict_string(d, "home", ep_str(h.ip_be, h.port_be).c_str());
    rte_tel_data_add_dict_u64(d, "home_here", p.is_home(id));
    if (const lb::endpoint* o = p.owner_of(id))
        rte_tel_data_add_dict_string(d, "owner", ep_str(o->ip_be, o->port_be).c_str());
    locations::peer c;
    switch (m.cache().find(id, &c)) {
    case locations::hit::peer:
        rte_tel_data_add_dict_string(d, "cached", ep_str(c.ip_be, c.port_be).c_str());
        break;
    case locations::hit::nowhere:
        rte_tel_data_add_dict_string(d, "cached", "nowhere");
        break;
    case locations::hit::none:
        break;
    }
    return 0;
}
} // namespace

service::service(const options& o, const config& c, const member_params& mp, const peering_params& pp)
    : opt_(o), mod_(c, mp, pp)
{
}

service::~service() { g.detach(); }

std::string service::describe() const
{
    return "cluster: serving node of " + ep_str(opt_.server_ip_be, opt_.server_port_be) + " as " +
           ep_str(opt_.advertise_ip_be, opt_.advertise_port_be) + ", from UDP " + std::to_string(opt_.port) +
           ", group " + std::to_string(opt_.group) + ", up to " + std::to_string(opt_.report_rate) + " reports/s";
}

std::string service::status(const lcore_stats& s) const
{
    const auto& c = s.cluster;
    char buf[128];
    std::snprintf(buf, sizeof(buf), "cluster %s upd %lu rem %lu lost %lu", mod_.state().registered_with_server() ? "up" : "down",
                  c[unsigned(cls::updates_sent)], c[unsigned(cls::removals_sent)], c[unsigned(cls::reports_lost)]);
    return buf;
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/cluster", cmd_cluster,
                               "Cluster membership: the Controlling Function, registration, reports. No parameters");
    rte_telemetry_register_cmd("/peregrine/cluster/peers", cmd_peers, "The other serving nodes. No parameters");
    rte_telemetry_register_cmd("/peregrine/cluster/id", cmd_id,
                               "A Client ID's home router, owner (when homed here) and cache entry. Parameters: "
                               "client ID, decimal or 0x-hex");
}

std::unique_ptr<engine::service> start(const options& o0, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    if (!o0.server_ip_be)
        return nullptr;
    options o = o0;
    auto* rt = dynamic_cast<router::module*>(e.ctx->find("router"));
    if (!rt) {
        *err = "--lb-server: the router module is not running (it is what registers with the server)";
        return nullptr;
    }
    // The port that reaches the server: on its subnet, or on --lb-next-hop's.
    const uint32_t hop = o.next_hop_be ? o.next_hop_be : o.server_ip_be;
    int out = -1;
    for (uint16_t p = 0; p < RTE_MAX_ETHPORTS && out < 0; ++p)
        if (e.ctx->ports[p].ip_be && net::on_link(e.ctx->ports[p], hop))
            out = p;
    if (out < 0) {
        *err = "--lb-server " + ep_str(o.server_ip_be, o.server_port_be) +
               ": on no port's subnet; name the gateway with --lb-next-hop";
        return nullptr;
    }
    if (!o.advertise_ip_be) {
        o.advertise_ip_be = e.ctx->ports[out].ip_be;
        o.advertise_port_be = htons(rt->udp_ports().front());
    }
    config c;
    c.server_ip_be = o.server_ip_be;
    c.server_port_be = o.server_port_be;
    c.port = o.port;
    c.out_port = static_cast<uint16_t>(out);
    c.next_hop_be = hop;
    c.gateway_be = o.next_hop_be;
    c.cache_entries = static_cast<uint32_t>(rte_align32pow2(o.cache_entries));
    c.pool = e.pool;
    member_params mp;
    mp.advertise = {o.advertise_ip_be, o.advertise_port_be};
    mp.group = static_cast<uint16_t>(o.group);
    mp.tsc_hz = rte_get_tsc_hz();
    mp.reregister_s = o.reregister_s;
    mp.report_rate = o.report_rate;
    mp.report_queue = o.report_queue;
    // Request IDs from a random start: a restarted router's are not its last life's duplicates.
    uint8_t r[2] = {};
    if (RAND_bytes(r, sizeof(r)) != 1) {
        *err = "--lb-server: no random bytes for Request IDs";
        return nullptr;
    }
    mp.first_request_id = static_cast<uint16_t>(r[0] << 8 | r[1]);
    peering_params pp;
    pp.self = mp.advertise;
    pp.group = mp.group;
    pp.tsc_hz = mp.tsc_hz;
    pp.rate = o.report_rate;
    // Another random start: the peers' duplicate windows do not see the CF's numbering.
    pp.first_request_id = static_cast<uint16_t>(mp.first_request_id ^ 0x8000);
    auto svc = std::make_unique<service>(o, c, mp, pp);
    rt->set_listener(&svc->mod());
    rt->set_remote(&svc->mod());
    engine::module& mod = svc->mod();
    auto plugged = engine::plug(std::move(svc), mod, e, g, err);
    if (!plugged) {
        rt->set_listener(nullptr);
        rt->set_remote(nullptr);
    }
    return plugged;
}

} // namespace peregrine::cluster
