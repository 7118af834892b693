#pragma once

// The cluster module's drop reasons and counters (lib/common/module_counters.hpp composes them).
// Names are telemetry keys (/peregrine/drops, /peregrine/cluster): keep them stable.

#define PG_CLUSTER_DROP_REASONS(X)                                                          \
    X(cluster_not_server, "datagram to the cluster port from an address other than --lb-server") \
    X(cluster_bad_message, "datagram from the Controlling Function that is no message a serving node is sent")

// Counted on the control lcore. Every frame it originates (Registers, reports, Acks, ARP
// requests) is `originated`; every datagram from the Controlling Function is consumed there
// (`received`): so with the cluster the engine-wide balance gains originated on the left and
// received on the right, as the load balancer's does.
#define PG_CLUSTER_COUNTERS(X)                                                              \
    X(received, "datagram from the Controlling Function, consumed")                        \
    X(originated, "frame built and sent by the control lcore (Register, report, Ack, ARP request)") \
    X(registers_sent, "Register Serving Node sent (first, retries and re-registrations)")  \
    X(register_acked, "Register Serving Node Acked")                                       \
    X(updates_sent, "Registration Update sent (first tries)")                              \
    X(removals_sent, "Registration Removed sent (first tries)")                            \
    X(reports_acked, "Registration Update/Removed Acked")                                  \
    X(retransmitted, "message sent again after 1 s without an Ack")                        \
    X(reports_lost, "report given up after every try")                                     \
    X(reports_dropped, "report not queued: the queue was full (--lb-report-queue)")       \
    X(peers_added, "serving node learnt from Serving Nodes")                               \
    X(peers_removed, "serving node removed by Serving Node Removed")                       \
    X(acks_sent, "Ack sent for a Serving Nodes, Serving Node Removed or Start Call")       \
    X(no_next_hop, "message held: the next hop towards the Controlling Function is not resolved yet")
