#include "lekt/options.hpp"

namespace peregrine::lekt {

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "LEKT rendezvous (TCP on the engine's --addr addresses, served by the control lcore through\n"
              "the exception path; docs/protocols/lekt.md):";
    s.options = {
        engine::flag("no-lekt", "do not serve LEKT (it is also off with --no-tap)", &o.off),
        {"lekt-port", "N", "LEKT rendezvous, TCP (default 7500)",
         [&o](const char* v, std::string* err) {
             uint64_t x;
             if (!engine::parse_u64(v, 10, 1, 65535, &x))
                 return engine::range_error(err, "lekt-port", v, 1, 65535);
             o.port = static_cast<uint16_t>(x);
             return true;
         }},
        engine::integer("lekt-max-clients", "N", 1, 1'000'000, "connections at once, [1, 1000000] (default 16384)",
                        &o.max_clients),
        engine::integer("lekt-max-per-ip", "N", 1, 1'000'000,
                        "connections from one source IPv4, [1, 1000000] (default 64)", &o.max_per_ip),
        engine::integer("lekt-heartbeat-timeout", "S", 1, 3600,
                        "a member is removed S seconds after its last heartbeat, [1, 3600]\n(default 15)",
                        &o.heartbeat_timeout_s),
        engine::integer("lekt-handshake-timeout", "S", 1, 300,
                        "handshake and setup must finish, and any partial packet must be\n"
                        "completed, within S seconds, [1, 300] (default 5)",
                        &o.handshake_timeout_s),
    };
    return s;
}

} // namespace peregrine::lekt
