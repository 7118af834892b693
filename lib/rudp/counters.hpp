#pragma once

// The RUDP module's drop reasons and counters (X(name, description) lists composed by
// lib/common/module_counters.hpp). Names are telemetry keys (/peregrine/drops, /peregrine/rudp).

#define PG_RUDP_DROP_REASONS(X)                                                              \
    X(rudp_malformed, "RUDP datagram too short to answer with an ERROR")                      \
    X(rudp_bad_source, "RUDP datagram from a source no reply may go to")                      \
    X(rudp_no_connection, "RUDP packet from an endpoint with no connection, too short to answer") \
    X(rudp_duplicate, "RUDP packet whose sequence number was already accepted")             \
    X(rudp_rate_limited, "RUDP AUTH over the per-source or global handshake rate")          \
    X(rudp_no_room, "RUDP answer that does not fit its mbuf")                               \
    X(rudp_no_mbuf, "RUDP answer needing a second mbuf when the pool was empty")            \
    X(rudp_no_crypto, "RUDP packet on an lcore without crypto contexts")                    \
    X(rudp_closing, "RUDP packet for a connection being closed")                            \
    X(rudp_other_lcore, "RUDP packet of a connection another worker owns (RSS moved it)") \
    X(rudp_counter_exhausted, "RUDP answer on a connection whose nonce counter is spent")   \
    X(rudp_inspect_drop, "RUDP message a drop rule matched (docs/inspection.md)")

// ERROR codes sent (major/minor) and the other outcomes. With RUDP the engine's identity reads:
// rx_packets + kernel_out + rudp extra + shutdown_error == tx_packets + kernel_in + drops + consumed.
#define PG_RUDP_COUNTERS(X)                                                                   \
    X(auth_rx, "AUTH handed to the control lcore")                                           \
    X(finished_rx, "client finished ACKs handed to the control lcore")                      \
    X(delivered, "messages delivered to the application")                                   \
    X(echoed, "messages the application echoed")                                            \
    X(app_sent, "other messages the application sent")                                      \
    X(acks_sent, "ACKs of RELIABLE packets sent")                                             \
    X(acks_rx, "ACKs from clients accepted")                                                  \
    X(reacked, "duplicates of RELIABLE packets acknowledged again (not delivered)")         \
    X(pings, "PINGs answered with PONG")                                                      \
    X(pongs_rx, "PONGs from clients accepted")                                                \
    X(errors_rx, "ERRORs from clients accepted (other than CLIENT DISCONNECT)")             \
    X(disconnects, "CLIENT DISCONNECT: connections closed by their client")                  \
    X(extra, "frames of the engine's own: an ACK beside an echo, a message's fragments")  \
    X(fragments_rx, "fragments accepted into reassembly")                                    \
    X(reassembled, "fragmented messages completed")                                          \
    X(send_failed, "messages the application could not send (over 255 fragments, burst full)") \
    X(untracked, "RELIABLE frames sent without a retransmission copy (no mbuf, ring full)") \
    X(ack_ring_full, "client ACKs the retransmitter could not be told of (ring full)")      \
    X(retransmitted, "RELIABLE frames sent again for want of an ACK")                         \
    X(acked, "RELIABLE frames of the server acknowledged by their client")                    \
    X(retransmit_closed, "connections closed (ERROR 2/0) after their retransmissions ran out") \
    X(consumed, "packets freed with nothing to send (not drops)")                           \
    X(shutdown_error, "SERVER DISCONNECT built at shutdown (sent, or counted as tx_full)")  \
    X(error_1_0, "ERROR 1/0 CONNECTION sent")                                                \
    X(error_1_1, "ERROR 1/1 NO SPACE sent")                                                  \
    X(error_1_2, "ERROR 1/2 CERTIFICATE INVALID sent")                                       \
    X(error_1_3, "ERROR 1/3 FINISH INVALID sent")                                            \
    X(error_2_0, "ERROR 2/0 DISCONNECT sent")                                                \
    X(error_3_0, "ERROR 3/0 PACKET sent")                                                    \
    X(error_3_1, "ERROR 3/1 VERSION sent")                                                   \
    X(error_3_2, "ERROR 3/2 PACKET TYPE sent")                                               \
    X(error_3_3, "ERROR 3/3 FLAGS sent")                                                     \
    X(error_3_4, "ERROR 3/4 SEQUENCE ID sent")                                               \
    X(error_3_5, "ERROR 3/5 FRAGMENT ID sent")                                               \
    X(error_3_6, "ERROR 3/6 FRAGMENT NUMBER sent")                                           \
    X(error_3_7, "ERROR 3/7 INIT VECTOR (decryption failed) sent")                           \
    X(error_3_8, "ERROR 3/8 COMPRESSION sent")                                               \
    X(error_3_9, "ERROR 3/9 CHECKSUM sent")
