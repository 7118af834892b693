#include "session/service.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>

namespace peregrine::session {

namespace {
engine::telemetry_slot<service> g;

int cmd_session(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = g.tel->sum();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const table* tab = &g.svc->sessions();
    rte_tel_data_add_dict_u64(d, "udp_port", g.svc->opts().port);
    rte_tel_data_add_dict_string(d, "app", g.svc->opts().app.c_str());
    engine::add_u64s(d, {{"keyed", g.svc->cfg().key != nullptr},
                 {"sessions", tab->size()},
                 {"capacity", tab->capacity()},
                 {"timeout_s", g.svc->opts().timeout_s},
                 {"hello_window_s", g.svc->opts().hello_window_s}});
    engine::add_named(d, ses_name, s.session);
    const table_counters c = tab->counters();
    engine::add_u64s(d, {{"opened", c.opened},
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
    uint8_t id[client_id_len];
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
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const table* tab = &g.svc->sessions();
    const engine::rcu_reader rd(*g.tel);
    const entry* e = tab->find(id);
    const uint64_t now = rte_rdtsc();
    rte_tel_data_add_dict_string(d, "client_id", params);
    rte_tel_data_add_dict_u64(d, "open", e != nullptr && !e->expired(now, g.svc->cfg().timeout_tsc));
    if (e) {
        engine::add_endpoint(d, e->ip_be, e->udp_port_be, e->port_id);
        engine::add_u64s(d, {{"hello_ts_ms", e->hello_ts},
                     {"highest_order", e->win.top()},
                     {"server_order", std::atomic_ref<const uint64_t>(e->tx_order).load()},
                     {"proven", e->is_proven()},
                     {"idle_ms", engine::ms_since(now, e->seen())}});
    }
    return 0;
}


// The keyed mode's pre-shared key: the file's bytes, exactly.
bool read_key_file(const std::string& path, std::vector<uint8_t>* key, std::string* err)
{
    // Short keys are guessable; long ones gain nothing (HMAC hashes keys over 64 bytes first).
    static constexpr size_t min_key = 16, max_key = 1024;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
        *err = "--session-key-file: cannot open " + path + ": " + std::strerror(errno);
        return false;
    }
    key->resize(max_key + 1);
    const size_t n = std::fread(key->data(), 1, key->size(), f);
    const bool bad = std::ferror(f);
    std::fclose(f);
    if (bad) {
        *err = "--session-key-file: cannot read " + path;
        return false;
    }
    if (n < min_key || n > max_key) {
        *err = "--session-key-file: " + path + " holds " + (n > max_key ? "more than 1024" : std::to_string(n)) +
               " bytes; a key is 16 to 1024 bytes";
        return false;
    }
    key->resize(n);
    return true;
}
} // namespace

service::~service()
{
    g.detach();
}

std::string service::describe() const
{
    return "session protocol on UDP " + std::to_string(opt_.port) + ": app " + opt_.app + ", " +
           (cfg_.key ? "keyed (HMAC-SHA-256)" : "plain SHA-256") + ", timeout " + std::to_string(opt_.timeout_s) +
           " s, up to " + std::to_string(opt_.max_sessions) + " sessions";
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/session", cmd_session, "Session protocol counters and table. No parameters");
    rte_telemetry_register_cmd("/peregrine/session/id", cmd_session_id,
                               "One session. Parameters: Client ID, 32 hex digits");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    if (o.off)
        return nullptr;
    auto svc = std::make_unique<service>(o);
    table::params sp;
    sp.capacity = o.max_sessions;
    sp.rcu = e.ctx->rcu;
    sp.socket_id = e.socket;
    svc->tab_.reset(table::create(sp));
    if (!svc->tab_) {
        *err = "cannot create a session table for " + std::to_string(o.max_sessions) + " sessions: " +
               rte_strerror(rte_errno) + " (more hugepages, or a smaller --max-sessions)";
        return nullptr;
    }
    config& c = svc->cfg_;
    // One multi-buffer manager per lcore that verifies or signs: the workers and the control lcore.
    for (unsigned l : e.lcores) {
        auto mb = crypto::mb_context::create();
        if (!mb) {
            *err = "cannot create an IPsec-MB manager for lcore " + std::to_string(l);
            return nullptr;
        }
        c.mb[l] = mb.get();
        svc->mb_.push_back(std::move(mb));
    }
    svc->app_ = make_app(o.app);
    if (!svc->app_) {
        *err = "--session-app: unknown application " + o.app;
        return nullptr;
    }
    c.app = svc->app_.get();
    if (e.ctx->inspect)
        c.inspect = e.ctx->inspect->point("session");
    if (!o.key_file.empty()) {
        std::vector<uint8_t> key;
        if (!read_key_file(o.key_file, &key, err))
            return nullptr;
        svc->key_ = crypto::make_hmac_key(*svc->mb_[0], key.data(), key.size());
        std::fill(key.begin(), key.end(), 0);
        c.key = &svc->key_;
    }
    const uint64_t hz = rte_get_tsc_hz();
    c.udp_port = o.port;
    c.timeout_tsc = uint64_t(o.timeout_s) * hz;
    c.hello_window_ms = uint64_t(o.hello_window_s) * 1000;
    if (o.control_rate || o.control_global_rate) {
        svc->control_limit_.init(o.control_rate, 2 * uint64_t(o.control_rate), o.control_global_rate,
                                 2 * uint64_t(o.control_global_rate), hz);
        c.control_limit = &svc->control_limit_;
    }
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    c.tsc_base = rte_rdtsc();
    c.wall_base_ms = uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
    c.tsc_per_ms = std::max<uint64_t>(hz / 1000, 1);
    svc->mod_ = std::make_unique<session::module>(c, *svc->tab_, e.pool);
    engine::module& mod = *svc->mod_;
    return engine::plug(std::move(svc), mod, e, g, err);
}

} // namespace peregrine::session
