#include "modules.hpp"

#include <functional>

#include "lb/service.hpp"
#include "lekt/service.hpp"
#include "router/service.hpp"
#include "session/service.hpp"

namespace peregrine {

std::vector<engine::option_section> module_sections(options* o)
{
    return {
        router::option_section(o->router),
        lb::option_section(o->lb),
        session::option_section(o->session),
        lekt::option_section(o->lekt),
    };
}

bool start_modules(const options& o, const engine::env& e, std::vector<std::unique_ptr<engine::service>>* out,
                   std::vector<std::string>* notes, std::string* err)
{
    using start_fn = std::function<std::unique_ptr<engine::service>(std::string*, std::string*)>;
    const start_fn starts[] = {
        [&](std::string* er, std::string* n) { return router::start(o.router, e, er, n); },
        [&](std::string* er, std::string* n) { return lb::start(o.lb, e, er, n); },
        [&](std::string* er, std::string* n) { return session::start(o.session, e, er, n); },
        [&](std::string* er, std::string* n) { return lekt::start(o.lekt, e, er, n); },
    };
    for (const auto& start : starts) {
        std::string note;
        auto svc = start(err, &note);
        if (!note.empty())
            notes->push_back(note);
        if (!svc && !err->empty())
            return false;
        if (svc)
            out->push_back(std::move(svc));
    }
    return true;
}

void register_module_telemetry(const engine::telemetry_env* t)
{
    router::register_telemetry(t);
    lb::register_telemetry(t);
    session::register_telemetry(t);
    lekt::register_telemetry(t);
}

} // namespace peregrine
