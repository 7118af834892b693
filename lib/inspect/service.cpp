#include "inspect/service.hpp"

#include <csignal>
#include <cstdlib>

#include <rte_log.h>
#include <rte_telemetry.h>

#include "engine/telemetry.hpp"

namespace peregrine::inspect {

namespace {

engine::telemetry_slot<service> g;
// SIGHUP's handler posts it (sem_post is async-signal-safe); the reload thread waits on it.
sem_t* hup_sem = nullptr;

void on_hup(int) { sem_post(hup_sem); }

// Telemetry strings hold RTE_TEL_MAX_STRING_LEN bytes with the NUL.
std::string fit(std::string s)
{
    if (s.size() >= RTE_TEL_MAX_STRING_LEN)
        s.resize(RTE_TEL_MAX_STRING_LEN - 1);
    return s;
}

void add_status(rte_tel_data* d, const inspector& in)
{
    const inspector::status s = in.state();
    rte_tel_data_add_dict_string(d, "file", fit(s.path).c_str());
    engine::add_u64s(d, {{"rules", s.rules},
                         {"generation", s.generation},
                         {"database_bytes", s.db_bytes},
                         {"reloads", s.reloads},
                         {"reload_failures", s.failures},
                         {"last_reload_ok", s.last_ok},
                         {"last_reload_at", s.last_at}});
    rte_tel_data_add_dict_string(d, "last_reload_error", fit(s.last_error).c_str());
}

int cmd_inspect(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return 0;
    const inspector& in = *g.svc->insp_;
    add_status(d, in);
    for (const auto& p : in.points()) {
        rte_tel_data* pd = engine::new_dict();
        if (!pd)
            continue;
        const point_counters c = p->sum();
        engine::add_u64s(pd, {{"scanned", c.scanned},
                              {"bytes", c.bytes},
                              {"matched", c.matched},
                              {"dropped", c.dropped},
                              {"errors", c.errors}});
        rte_tel_data_add_dict_container(d, p->name().c_str(), pd, 0);
    }
    return 0;
}

// Rule matches by ID, from ID FROM (the parameter; default 0), at most a page: "next" is the
// ID to ask from for the rest.
int cmd_rules(const char*, const char* params, rte_tel_data* d)
{
    static constexpr unsigned page = 200;  // under the telemetry socket's 16 KiB answer
    uint64_t from = 0;
    if (params && *params && !engine::parse_u64(params, 10, 0, UINT32_MAX, &from))
        return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return 0;
    rte_tel_data* m = engine::new_dict();
    rte_tel_data* a = engine::new_dict();
    if (!m || !a) {
        rte_tel_data_free(m);
        rte_tel_data_free(a);
        return -ENOMEM;
    }
    unsigned n = 0;
    for (const auto& r : g.svc->insp_->matches()) {
        if (r.id < from)
            continue;
        if (n == page) {
            rte_tel_data_add_dict_u64(d, "next", r.id);
            break;
        }
        const std::string id = std::to_string(r.id);
        rte_tel_data_add_dict_u64(m, id.c_str(), r.matches);
        rte_tel_data_add_dict_string(a, id.c_str(), r.loaded ? action_name(r.action) : "removed");
        ++n;
    }
    rte_tel_data_add_dict_container(d, "matches", m, 0);
    rte_tel_data_add_dict_container(d, "action", a, 0);
    return 0;
}

int cmd_reload(const char*, const char*, rte_tel_data* d)
{
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return 0;
    std::string err;
    const bool ok = const_cast<service*>(g.svc)->reload(&err);
    rte_tel_data_add_dict_u64(d, "ok", ok);
    add_status(d, *g.svc->insp_);
    return 0;
}

} // namespace

service::~service()
{
    if (hup_ready_) {
        std::signal(SIGHUP, SIG_DFL);
        quit_.store(true);
        sem_post(&hup_);
        hup_thread_.join();
        hup_sem = nullptr;
        sem_destroy(&hup_);
    }
    g.detach();
    if (ctx_)
        ctx_->inspect = nullptr;
}

std::string service::describe() const
{
    const inspector::status s = insp_->state();
    std::string mods;
    for (const auto& p : insp_->points())
        mods += (mods.empty() ? "" : ", ") + p->name();
    return "inspection: " + std::to_string(s.rules) + " rule(s) from " + s.path + " (" +
           std::to_string(s.db_bytes) + " bytes compiled) on " + (mods.empty() ? "no module" : mods) +
           "; SIGHUP reloads";
}

bool service::reload(std::string* err)
{
    if (!insp_->load(err)) {
        RTE_LOG(ERR, USER1, "peregrine: inspection reload failed, the rules in force stay: %s\n", err->c_str());
        return false;
    }
    const inspector::status s = insp_->state();
    RTE_LOG(INFO, USER1, "peregrine: inspection reloaded: %lu rule(s), generation %lu\n",
            static_cast<unsigned long>(s.rules), static_cast<unsigned long>(s.generation));
    return true;
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/inspect", cmd_inspect,
                               "Payload inspection: rules, reloads, per-module counters. No parameters");
    rte_telemetry_register_cmd("/peregrine/inspect/rules", cmd_rules,
                               "Matches per rule ID since start, 200 at most. Parameter: the first ID (default 0)");
    rte_telemetry_register_cmd("/peregrine/inspect/reload", cmd_reload,
                               "Reloads --inspect-rules; a file that fails leaves the rules in force. No parameters");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    if (o.rules.empty())
        return nullptr;
    auto svc = std::make_unique<service>(o);
    inspector::config c;
    c.path = o.rules;
    c.all = o.all;
    c.only = o.only;
    c.lcores = e.lcores;
    c.rcu = e.ctx->rcu;
    svc->insp_ = std::make_unique<inspector>(c);
    if (!svc->insp_->load(err)) {
        *err = "--inspect-rules: " + *err;
        return nullptr;
    }
    svc->ctx_ = e.ctx;
    e.ctx->inspect = svc->insp_.get();
    if (sem_init(&svc->hup_, 0, 0) != 0) {
        *err = "inspection: cannot make the SIGHUP semaphore";
        return nullptr;
    }
    svc->hup_ready_ = true;
    hup_sem = &svc->hup_;
    service* s = svc.get();
    svc->hup_thread_ = std::thread([s] {
        while (true) {
            while (sem_wait(&s->hup_) != 0) {
            }
            if (s->quit_.load())
                return;
            std::string why;
            s->reload(&why);
        }
    });
    std::signal(SIGHUP, on_hup);
    g.svc = svc.get();
    return svc;
}

} // namespace peregrine::inspect
