#pragma once

// The router module's drop reasons and counters: X(name, description) lists that
// lib/common/module_counters.hpp composes into the engine's per-lcore counters. Names are
// telemetry keys (/peregrine/drops, /peregrine/router): keep them stable.

#define PG_ROUTER_DROP_REASONS(X)                                                   \
    X(router_empty, "router datagram with no payload")                                     \
    X(router_unknown_type, "router datagram with an unknown packet identifier")            \
    X(router_bad_len, "router datagram whose length does not match its type")              \
    X(router_too_long, "router Individual Message over the maximum datagram size")         \
    X(router_reply_type, "router datagram of a type only the router sends")                \
    X(router_hb_unregistered, "router Heartbeat from an endpoint with no registration")    \
    X(router_self_source, "router datagram whose source is the engine itself")             \
    X(router_bad_source, "router datagram from a source no reply may go to")               \
    X(registry_full, "Register Client refused: registry at --max-clients")                 \
    X(router_inspect_drop, "router Individual Message a drop rule matched (docs/inspection.md)") \
    X(router_rate_limited, "Register Client (or, in a cluster, a message whose ID the directory must be asked for) over --register-rate (its source) or --register-global-rate")

#define PG_ROUTER_COUNTERS(X)                                                               \
    X(register_rx, "Register Client received (handed to the control lcore)")               \
    X(heartbeat_answered, "Heartbeat answered and registration refreshed")                \
    X(message_forwarded, "Individual Message forwarded to the registered recipient")       \
    X(unknown_recipient, "Individual Message answered with Unknown Recipient")                \
    X(message_remote, "Individual Message forwarded to the router of the cluster where its recipient is") \
    X(message_asked, "Individual Message for an ID of no known router, handed to the control lcore (cluster)") \
    X(peer_unknown_rx, "Unknown Recipient from a peer router, handed to the control lcore (cluster)")
