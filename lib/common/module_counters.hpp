#pragma once

// The modules' drop reasons and counters, composed into the engine's (lib/common/stats.hpp):
// one line per module in each list. Each module declares its own in lib/<module>/counters.hpp.

#include "cluster/counters.hpp"
#include "lb/counters.hpp"
#include "router/counters.hpp"
#include "rudp/counters.hpp"
#include "session/counters.hpp"

// Drop reasons, after the core's: /peregrine/drops.
#define PG_MODULE_DROP_REASONS(X)                                                           \
    PG_ROUTER_DROP_REASONS(X)                                                              \
    PG_SESSION_DROP_REASONS(X)                                                             \
    PG_LB_DROP_REASONS(X)                                                                  \
    PG_RUDP_DROP_REASONS(X)                                                                \
    PG_CLUSTER_DROP_REASONS(X)

// B(lcore_stats field, enum type, list): one counter array per module (/peregrine/<module>).
#define PG_MODULE_COUNTERS(B)                                                               \
    B(router, rtr, PG_ROUTER_COUNTERS)                                                     \
    B(session, ses, PG_SESSION_COUNTERS)                                                   \
    B(lb, lbc, PG_LB_COUNTERS)                                                             \
    B(rudp, rdp, PG_RUDP_COUNTERS)                                                         \
    B(cluster, cls, PG_CLUSTER_COUNTERS)
