#include "session/options.hpp"

namespace peregrine::session {

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "Session protocol (UDP, SHA-256 per packet; docs/protocols/session.md):";
    s.options = {
        engine::flag("no-session",
                     "do not serve the session protocol: its port goes to the kernel and\n"
                     "the fast path does not look at it",
                     &o.off),
        engine::udp_port("session-port", "session protocol (default 7300)", &o.port),
        {"session-app", "NAME",
         "application DATA payloads go to: echo (default; answers each payload\n"
         "with a DATA_NOACK carrying it) or discard",
         [&o](const char* v, std::string* err) {
             if (std::string(v) != "echo" && std::string(v) != "discard") {
                 *err = std::string("--session-app: '") + v + "' is not one of: echo, discard";
                 return false;
             }
             o.app = v;
             return true;
         }},
        {"session-key-file", "F",
         "keyed mode: every packet's digest is HMAC-SHA-256 with the key in F (its\n"
         "bytes exactly, 16 to 1024 of them); default off (plain SHA-256: integrity,\n"
         "not authenticity)",
         [&o](const char* v, std::string* err) {
             if (!*v) {
                 *err = "--session-key-file: empty path";
                 return false;
             }
             o.key_file = v;
             return true;
         }},
        engine::integer("max-sessions", "N", 1, 100'000'000,
                        "session table capacity, [1, 100000000] (default 1048576; about 200 bytes\n"
                        "of hugepage memory each)",
                        &o.max_sessions),
        engine::integer("session-timeout", "S", 1, 86400,
                        "a session with no accepted packet (PING or data) for S seconds is over,\n"
                        "[1, 86400] (default 30: three missed 10 s pings)",
                        &o.timeout_s),
        engine::integer("session-hello-window", "S", 1, 3600,
                        "a HELLO timestamp may differ from our clock by S seconds, [1, 3600]\n"
                        "(default 30)",
                        &o.hello_window_s),
        engine::integer("session-control-rate", "N", 0, 10'000'000,
                        "verified HELLOs and DISCONNECTs per second from one source address that\n"
                        "reach the control lcore, bursts of 2N (default 10000; 0: unlimited); more\n"
                        "are dropped on the worker, counted session_rate_limited",
                        &o.control_rate),
        engine::integer("session-control-global-rate", "N", 0, 100'000'000,
                        "the same for all sources together (default 0: unlimited)",
                        &o.control_global_rate),
    };
    s.udp_ports = {{"session-port", &o.port}};
    return s;
}

} // namespace peregrine::session
