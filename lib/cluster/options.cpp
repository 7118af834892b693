#include "cluster/options.hpp"

namespace peregrine::cluster {

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "Cluster (the router as a serving node of a Controlling Function; docs/cluster.md):";
    s.options = {
        engine::ipv4_endpoint("lb-server",
                              "register the router with the Controlling Function at A.B.C.D:PORT\n"
                              "(the load-balancer protocol), report its clients' registrations to it\n"
                              "and keep the list of the other serving nodes (default: none)",
                              &o.server_ip_be, &o.server_port_be),
        engine::ipv4_endpoint("lb-advertise",
                              "the router endpoint clients are given (default: the address of the\n"
                              "port that reaches --lb-server and --router-port)",
                              &o.advertise_ip_be, &o.advertise_port_be),
        engine::ipv4("lb-next-hop",
                     "the gateway towards --lb-server when it is not on a port's subnet\n"
                     "(resolved by ARP on that port)",
                     &o.next_hop_be),
        engine::integer("lb-group", "N", 0, 65535,
                        "the Group ID of Registration Update/Removed, [0, 65535] (default 0); the\n"
                        "User ID is the Client ID",
                        &o.group),
        engine::udp_port("cluster-port",
                         "the engine's UDP port for the Controlling Function's messages, and the\n"
                         "source port of its own (default 7201)",
                         &o.port),
        engine::integer("lb-report-rate", "N", 1, 5000,
                        "Registration Update/Removed sent per second at most, [1, 5000] (default\n"
                        "2000: under the Controlling Function's per-source limit, and Request IDs\n"
                        "do not repeat within its 10 s duplicate window); more wait in a queue",
                        &o.report_rate),
        engine::integer("lb-report-queue", "N", 1, 1u << 24,
                        "reports waiting to be sent at most (default 1048576); past it a report\n"
                        "is dropped, counted reports_dropped",
                        &o.report_queue),
        engine::integer("lb-reregister", "S", 1, 3600,
                        "Register Serving Node again every S seconds, [1, 3600] (default 60, as\n"
                        "the origin; keep it under the Controlling Function's --lb-expiry)",
                        &o.reregister_s),
        engine::integer("cluster-cache", "N", 1024, 1u << 26,
                        "entries of the location cache (Client ID -> the router where it is\n"
                        "registered, 8 bytes each), rounded up to a power of two (default 1048576)",
                        &o.cache_entries),
    };
    s.udp_ports = {{"cluster-port", &o.port}};
    return s;
}

} // namespace peregrine::cluster
