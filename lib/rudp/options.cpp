#include "rudp/options.hpp"

namespace peregrine::rudp {

namespace {
engine::option path(const char* name, const char* help, std::string* out)
{
    return {name, "FILE", help, [name, out](const char* v, std::string* err) {
                if (!*v) {
                    *err = std::string("--") + name + ": empty path";
                    return false;
                }
                *out = v;
                return true;
            }};
}
} // namespace

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "RUDP (UDP, reliable, checksummed, compressed, encrypted; docs/protocols/rudp.md):";
    s.options = {
        engine::flag("no-rudp", "do not serve RUDP: its port goes to the kernel", &o.off),
        engine::udp_port("rudp-port", "RUDP (default 7400)", &o.port),
        engine::choice("rudp-app", "NAME", {"echo", "discard"},
                       "application RUDP messages go to: echo (default; answers each message\n"
                       "with the flags it came with) or discard",
                       &o.app),
        engine::integer("rudp-max-connections", "N", 1, 16'000'000,
                        "connection table capacity, [1, 16000000] (default 16384; about 2.3 KiB\n"
                        "of hugepage memory each, the two directions' expanded AES-GCM keys: a\n"
                        "million take 2.3 GiB)",
                        &o.max_connections),
        engine::integer("rudp-timeout", "S", 1, 86400,
                        "a connection with no accepted packet for S seconds is closed, [1, 86400]\n"
                        "(default 30: three missed 10 s PINGs)",
                        &o.timeout_s),
        engine::integer("rudp-max-half-open", "N", 1, 1'000'000,
                        "handshakes waiting for the client's finished at once, [1, 1000000]\n"
                        "(default 4096; more get ERROR 1/1)",
                        &o.max_half_open),
        engine::integer("rudp-handshake-timeout", "S", 1, 600,
                        "a handshake not finished within S seconds is forgotten (default 10)",
                        &o.handshake_timeout_s),
        engine::integer("rudp-auth-rate", "N", 0, 1'000'000,
                        "AUTHs per second one source address may start (bursts of twice that);\n"
                        "more are dropped on the worker, counted rudp_rate_limited (default 20,\n"
                        "0: no limit)",
                        &o.auth_rate),
        engine::integer("rudp-auth-global-rate", "N", 0, 10'000'000,
                        "AUTHs per second from all sources (default 2000, 0: no limit): what the\n"
                        "control lcore's public-key work may cost",
                        &o.auth_global_rate),
        engine::integer("rudp-reassembly-mb", "MB", 1, 65536,
                        "memory for fragmented messages being reassembled, [1, 65536] MiB (default\n"
                        "16: 66 messages of up to 251,940 bytes at once; 4 per connection at most)",
                        &o.reassembly_mb),
        engine::integer("rudp-reassembly-timeout", "S", 1, 600,
                        "a fragmented message not complete within S seconds is dropped (default 5)",
                        &o.reassembly_timeout_s),
        engine::integer("rudp-rto", "MS", 1, 60'000,
                        "first retransmission timeout of the server's RELIABLE frames before an RTT\n"
                        "is measured, [1, 60000] ms (default 200; then RFC 6298 from the RTT)",
                        &o.rto_ms),
        engine::integer("rudp-max-tries", "N", 1, 64,
                        "transmissions of a RELIABLE frame before the connection is closed with\n"
                        "ERROR 2/0, [1, 64] (default 6)",
                        &o.max_tries),
        engine::integer("rudp-max-unacked", "N", 0, 1'000'000,
                        "RELIABLE frames kept for retransmission, all connections (default 4096;\n"
                        "each holds an mbuf; 0: the server's echo is never RELIABLE)",
                        &o.max_unacked),
        path("rudp-cert", "the server's certificate (PEM, ECDSA P-256 or Ed25519 key), presented\n"
                          "in its AUTH; needs --rudp-key",
             &o.cert),
        path("rudp-key", "the private key of --rudp-cert (PEM)", &o.key),
        path("rudp-client-ca", "require a client certificate that chains to this CA (PEM); a client\n"
                               "without one, or with one that does not verify, gets ERROR 1/2",
             &o.client_ca),
    };
    s.udp_ports = {{"rudp-port", &o.port}};
    return s;
}

} // namespace peregrine::rudp
