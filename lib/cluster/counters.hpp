#pragma once

// The cluster module's drop reasons and counters (lib/common/module_counters.hpp composes them).
// Names are telemetry keys (/peregrine/drops, /peregrine/cluster): keep them stable.

#define PG_CLUSTER_DROP_REASONS(X)                                                          \
    X(cluster_not_server, "datagram to the cluster port from neither --lb-server nor a peer router") \
    X(cluster_bad_message, "datagram from the Controlling Function that is no message a serving node is sent") \
    X(cluster_bad_peer_message, "datagram from a peer router that is no directory message, or of another group") \
    X(cluster_not_owner, "directory Registration Update from a peer naming another router as the owner") \
    X(cluster_share_full, "directory Registration Update not kept: this router's share is full") \
    X(cluster_held_full, "message to a remote Client ID not held: too many wait for their directory answer") \
    X(cluster_locate_lost, "message to a remote Client ID dropped: its directory router never answered") \
    X(cluster_peer_unresolved, "message to a remote Client ID dropped: the owner router's MAC is not resolved")

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
    X(no_next_hop, "message held: the next hop towards the Controlling Function is not resolved yet") \
    X(dir_updates_sent, "directory Registration Update sent to a Client ID's home router (first tries)") \
    X(dir_removals_sent, "directory Registration Removed sent to a Client ID's home router (first tries)") \
    X(dir_acked, "directory Registration Update/Removed Acked by the home router") \
    X(dir_retransmitted, "directory message sent again after 1 s without an Ack") \
    X(dir_lost, "directory message given up after every try") \
    X(dir_applied, "directory Registration Update/Removed from a peer applied to this router's share") \
    X(dir_purged, "directory entry dropped: no longer homed here, or its owner left the cluster") \
    X(locates_sent, "Locate sent to a Client ID's home router (first tries and retries)") \
    X(locates_answered, "Locate from a peer answered with the owner or nowhere") \
    X(located, "Location answer taken from the home router") \
    X(remote_forwarded, "message for a remote Client ID forwarded by the control lcore (after a directory answer)") \
    X(remote_nowhere, "message for a Client ID registered on no router: answered Unknown Recipient") \
    X(cache_invalidated, "location cache entry dropped: the owner answered Unknown Recipient") \
    X(resyncs, "every registration reported again: the Controlling Function registered the router anew")
