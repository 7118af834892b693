#include "lb/options.hpp"

namespace peregrine::lb {

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "Load balancer (UDP; docs/protocols/lb.md):";
    s.options = {
        engine::flag("no-lb", "do not serve the load-balancer protocol: its port goes to the kernel", &o.off),
        engine::udp_port("lb-port", "load-balancer protocol, Peregrine as the Controlling Function\n(default 7200)",
                         &o.port),
        engine::choice("lb-policy", "P", {"maglev", "least-loaded"},
                       "how Request Serving Node picks a node: maglev (default; consistent\n"
                       "hashing of the client's address, answered by the workers) or\n"
                       "least-loaded (fewest registrations plus recent assignments, decided by\n"
                       "the control lcore)",
                       &o.policy),
        engine::integer("lb-expiry", "S", 1, 86400,
                        "a serving node or call controller registration expires S seconds after\n"
                        "its last Register, [1, 86400] (default 120, as the origin)",
                        &o.expiry_s),
        engine::integer("lb-probe", "S", 0, 3600,
                        "every S seconds, a proven serving node is sent a Serving Nodes that\n"
                        "lists only itself (changes nothing) and taken out if 3 tries, 1 s\n"
                        "apart, go unAcked: a dead router is found in S + 3 s, not at its\n"
                        "expiry (default 10; 0: off, as the origin)",
                        &o.probe_s),
        engine::flag("lb-answer-no-node",
                     "with no serving node live, answer Request Serving Node with 0.0.0.0:0\n"
                     "(default: no answer, as the origin; its clients take any answer as\n"
                     "final and retry only on silence)",
                     &o.answer_no_node),
        engine::flag("lb-answer-unvalidated",
                     "answer every Request Serving Node at once, as the origin does: 9 bytes\n"
                     "for 3 towards any source address (default: only once the source has\n"
                     "sent as many bytes as it is sent, so the origin's client is answered on\n"
                     "its third try; a request padded with zeros to 9 bytes at once)",
                     &o.answer_unvalidated),
        engine::integer("lb-control-rate", "N", 0, 10'000'000,
                        "datagrams per second from one source address that reach the control\n"
                        "lcore (registrations, updates, Acks; least-loaded requests), bursts of\n"
                        "2N (default 10000, the router's: a node reports its clients' registrations\n"
                        "at their rate; 0: unlimited); more are dropped on the worker, counted\n"
                        "lb_rate_limited",
                        &o.control_rate),
        engine::integer("lb-control-global-rate", "N", 0, 100'000'000,
                        "the same for all sources together (default 0: unlimited)",
                        &o.control_global_rate),
    };
    s.udp_ports = {{"lb-port", &o.port}};
    return s;
}

} // namespace peregrine::lb
