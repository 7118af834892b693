#include "lekt/service.hpp"

#include <cstdlib>

#include <arpa/inet.h>

#include <rte_byteorder.h>

#include "net/format.hpp"

namespace peregrine::lekt {

namespace {
engine::telemetry_slot<service> g;

// /peregrine/lekt: LEKT server counters and rejects by reason.
int cmd_lekt(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    rte_tel_data_add_dict_u64(d, "enabled", g.svc != nullptr);
    if (!g.svc)
        return 0;
    const auto& c = g.svc->srv().counters();
    const auto rd = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    engine::add_u64s(d, {{"tcp_port", g.svc->srv().params().port},
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
    rte_tel_data* r = engine::new_dict();
    if (!r)
        return -ENOMEM;
    uint64_t total = 0;
    for (unsigned i = 0; i < reject_count; ++i) {
        const uint64_t v = rd(c.rejects[i]);
        total += v;
        rte_tel_data_add_dict_u64(r, std::string(reject_name(reject(i))).c_str(), v);
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
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    std::size_t total = 0;
    const auto ms = g.svc->srv().members(offset, page, &total);
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

service::~service()
{
    g.detach();
}

std::string service::describe() const
{
    return "LEKT on TCP " + std::to_string(opt_.port) + ": up to " + std::to_string(opt_.max_clients) +
           " connections, " + std::to_string(opt_.max_per_ip) + " per IP, heartbeat timeout " +
           std::to_string(opt_.heartbeat_timeout_s) + " s";
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/lekt", cmd_lekt,
                               "LEKT rendezvous: connections, members, heartbeats, bytes, rejects by reason. No parameters");
    rte_telemetry_register_cmd("/peregrine/lekt/members", cmd_lekt_members,
                               "LEKT members (64 per page), each 'ip:tcp_port methods K,...'. Parameters: offset (optional)");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    if (o.off)
        return nullptr;
    // LEKT listens on the engine's addresses, which live on the TAPs.
    if (!e.exception_path || e.addrs_be.empty()) {
        *note = "LEKT off: it needs the exception path (no --no-tap) and an --addr";
        return nullptr;
    }
    server_params p;
    for (uint32_t a : e.addrs_be)
        p.addrs.push_back(rte_be_to_cpu_32(a));
    p.port = o.port;
    p.max_clients = o.max_clients;
    p.max_per_ip = o.max_per_ip;
    p.heartbeat_timeout_ms = o.heartbeat_timeout_s * 1000;
    p.handshake_timeout_ms = o.handshake_timeout_s * 1000;
    auto svc = std::make_unique<service>(o, std::move(p));
    if (!svc->srv().start(err))
        return nullptr;
    if (svc->srv().fd_limit() < uint64_t(o.max_clients) + 1024)
        *note = "LEKT: only " + std::to_string(svc->srv().fd_limit()) +
                " file descriptors (RLIMIT_NOFILE hard limit): fewer than --lekt-max-clients " +
                std::to_string(o.max_clients) + " connections will be accepted";
    engine::module& mod = svc->mod();
    return engine::plug(std::move(svc), mod, e, g, err);
}

} // namespace peregrine::lekt
