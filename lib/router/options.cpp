#include "router/options.hpp"

namespace peregrine::router {

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "Router (UDP; docs/protocols/router.md):";
    s.options = {
        engine::udp_port("router-port", "router protocol (default 7100)", &o.port),
        engine::integer("heartbeat-timeout", "S", 1, 86400,
                        "a registration expires S seconds after its last Register or\n"
                        "Heartbeat, [1, 86400] (default 90: three missed 30 s heartbeats)",
                        &o.heartbeat_timeout_s),
        engine::integer("max-clients", "N", 1, 100'000'000,
                        "registry capacity, [1, 100000000] (default 1048576; about 150\n"
                        "bytes of hugepage memory each: 10 million need ~1.4 GiB)",
                        &o.max_clients),
        engine::integer("register-rate", "N", 0, 10'000'000,
                        "Register Clients per second from one source address that reach the\n"
                        "control lcore, bursts of 2N (default 10000; 0: unlimited); more are\n"
                        "dropped on the worker, counted router_rate_limited (in a cluster, with\n"
                        "the messages whose ID the directory must be asked for)",
                        &o.register_rate),
        engine::integer("register-global-rate", "N", 0, 100'000'000,
                        "the same for all sources together (default 0: unlimited)",
                        &o.register_global_rate),
    };
    s.udp_ports = {{"router-port", &o.port}};
    return s;
}

} // namespace peregrine::router
