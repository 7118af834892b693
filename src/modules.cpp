#include "modules.hpp"

#include <functional>

#include "cluster/service.hpp"
#include "inspect/service.hpp"
#include "lb/service.hpp"
#include "lekt/service.hpp"
#include "router/service.hpp"
#include "rudp/service.hpp"
#include "session/service.hpp"

namespace peregrine {

namespace {

// One module as the daemon sees it: its options in the daemon's options, its --help section,
// its start and its telemetry.
struct entry {
    std::function<engine::option_section(options*)> section;
    std::function<std::unique_ptr<engine::service>(const options&, const engine::env&, std::string*, std::string*)>
        start;
    void (*telemetry)(const engine::telemetry_env*);
};

template <typename Opts>
entry module_entry(Opts options::*field, engine::option_section (*section)(Opts&),
                   std::unique_ptr<engine::service> (*start)(const Opts&, const engine::env&, std::string*,
                                                             std::string*),
                   void (*telemetry)(const engine::telemetry_env*))
{
    return {[=](options* o) { return section(o->*field); },
            [=](const options& o, const engine::env& e, std::string* err, std::string* note) {
                return start(o.*field, e, err, note);
            },
            telemetry};
}

// The list of modules, in dispatch order: one line each. Inspection first: the protocols after
// it ask it for their points as they start.
const std::vector<entry>& modules()
{
    static const std::vector<entry> list = {
        module_entry(&options::inspect, inspect::option_section, inspect::start, inspect::register_telemetry),
        module_entry(&options::router, router::option_section, router::start, router::register_telemetry),
        module_entry(&options::lb, lb::option_section, lb::start, lb::register_telemetry),
        module_entry(&options::session, session::option_section, session::start, session::register_telemetry),
        module_entry(&options::rudp, rudp::option_section, rudp::start, rudp::register_telemetry),
        module_entry(&options::lekt, lekt::option_section, lekt::start, lekt::register_telemetry),
        // After the router: it listens to the router's registry.
        module_entry(&options::cluster, cluster::option_section, cluster::start, cluster::register_telemetry),
    };
    return list;
}

} // namespace

std::vector<engine::option_section> module_sections(options* o)
{
    std::vector<engine::option_section> out;
    for (const auto& m : modules())
        out.push_back(m.section(o));
    return out;
}

bool start_modules(const options& o, const engine::env& e, std::vector<std::unique_ptr<engine::service>>* out,
                   std::vector<std::string>* notes, std::string* err)
{
    for (const auto& m : modules()) {
        std::string note;
        auto svc = m.start(o, e, err, &note);
        if (!note.empty())
            notes->push_back(note);
        if (!svc && !err->empty())
            return false;
        if (svc)
            out->push_back(std::move(svc));
    }
    if (e.ctx->inspect) {
        for (const auto& name : e.ctx->inspect->unclaimed()) {
            *err = "--inspect: no running module inspects '" + name + "' (router, session, rudp)";
            return false;
        }
    }
    return true;
}

void register_module_telemetry(const engine::telemetry_env* t)
{
    for (const auto& m : modules())
        m.telemetry(t);
}

} // namespace peregrine
