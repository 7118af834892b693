#pragma once

// The load-balancer module's drop reasons and counters: X(name, description) lists that
// lib/common/module_counters.hpp composes into the engine's per-lcore counters. Names are
// telemetry keys (/peregrine/drops, /peregrine/lb): keep them stable.

#define PG_LB_DROP_REASONS(X)                                                               \
    X(lb_empty, "load-balancer datagram with no payload")                                  \
    X(lb_unknown_type, "load-balancer datagram with an unknown packet type")               \
    X(lb_bad_len, "load-balancer datagram whose length does not match its type")           \
    X(lb_reply_type, "load-balancer datagram of a type only the Controlling Function sends") \
    X(lb_self_source, "load-balancer datagram whose source is the engine itself")          \
    X(lb_bad_source, "load-balancer datagram from a source no reply may go to")            \
    X(lb_no_room, "load-balancer reply does not fit the received buffer")                  \
    X(lb_not_serving_node, "Registration Update/Removed from a sender that is no live serving node") \
    X(lb_ack_unmatched, "load-balancer Ack matching no message awaiting one")              \
    X(lb_full, "load-balancer registration refused: table full")                         \
    X(lb_no_node, "Request Serving Node not answered: no serving node live (--lb-answer-no-node answers)") \
    X(lb_unvalidated, "Request Serving Node not answered yet: its source has sent fewer bytes than the answer") \
    X(lb_rate_limited, "load-balancer datagram for the control lcore over --lb-control-rate for its source, or the global rate")

// Outcomes that are not drops. Frames the control lcore originates (notifications, Start Call,
// retransmissions) are counted in `originated`: they are sent without a received packet; a
// matched Ack is consumed (`acked`): neither sent nor dropped. So with the load balancer the
// engine-wide balance reads
// rx_packets + kernel_out + lb.originated == tx_packets + kernel_in + drops + lb.acked.
#define PG_LB_COUNTERS(X)                                                                   \
    X(request_answered, "Request Serving Node answered with a live serving node")          \
    X(request_no_node, "Request Serving Node with no serving node live (answered 0.0.0.0:0 only with --lb-answer-no-node)") \
    X(to_control, "datagram handed to the control lcore (state write)")                   \
    X(node_registered, "serving node registered (new)")                                   \
    X(controller_registered, "call controller registered (new)")                          \
    X(refreshed, "serving node or call controller re-registered (refresh)")               \
    X(registration_updated, "Registration Update applied")                                \
    X(registration_removed, "Registration Removed applied")                               \
    X(duplicate, "duplicate (same sender, same Request ID) answered again, not re-applied") \
    X(acked, "Ack matched a message awaiting one")                                         \
    X(originated, "frame built and sent by the control lcore")                            \
    X(retransmitted, "message sent again after 1 s without an Ack")                        \
    X(ack_timeout, "no Ack after every try: peer marked unhealthy")                       \
    X(probes_sent, "liveness probe (Serving Nodes listing only the node) sent to a proven serving node") \
    X(expired, "serving node or call controller registration expired")                    \
    X(alloc_failed, "no mbuf for an outgoing message (retried on the next timer)")        \
    X(proven, "serving node or call controller proven: it Acked one of our messages")     \
    X(withheld, "message to an unproven peer withheld: it has not sent as many bytes (a try)")
