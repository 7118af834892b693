#pragma once

// The session module's drop reasons and counters: X(name, description) lists that
// lib/common/module_counters.hpp composes into the engine's per-lcore counters. Names are
// telemetry keys (/peregrine/drops, /peregrine/session): keep them stable.

#define PG_SESSION_DROP_REASONS(X)                                                          \
    X(session_short, "session datagram shorter than the 64-byte header")                    \
    X(session_bad_len, "session length field disagrees with the datagram length")          \
    X(session_unknown_type, "session packet with an unknown packet ID")                    \
    X(session_reply_type, "session packet of a type only the server sends")                \
    X(session_bad_source, "session datagram from a source no reply may go to")             \
    X(session_bad_digest, "session packet failing SHA-256/HMAC verification (not answered)") \
    X(session_wrong_endpoint, "session packet from an endpoint other than its session's")  \
    X(session_duplicate, "session packet whose order count was already accepted")          \
    X(session_too_old, "session packet whose order count is behind the replay window")     \
    X(session_hello_replayed, "HELLO older than its session's, or the same from elsewhere") \
    X(session_no_crypto, "session packet on an lcore without a crypto context")           \
    X(session_no_room, "session answer longer than the request does not fit its mbuf")     \
    X(session_unproven, "session packet without its ACCEPT's token, on a session not yet proven") \
    X(session_rate_limited, "HELLO or DISCONNECT for the control lcore over --session-control-rate for its source, or the global rate") \
    X(session_inspect_drop, "session DATA a drop rule matched (docs/inspection.md)")

// Outcomes that are not drops. `consumed` packets end their life in the engine without being
// sent (DATA_NOACK and client ACKs, once delivered); `app_sent` and `shutdown_reject` ones
// start it there, so with sessions the engine's identity reads:
// rx_packets + kernel_out + app_sent + shutdown_reject == tx_packets + kernel_in + drops + consumed.
#define PG_SESSION_COUNTERS(X)                                                              \
    X(hello_rx, "HELLO verified and handed to the control lcore")                         \
    X(accepted, "ACCEPT sent (session opened, reopened, or its HELLO repeated)")           \
    X(rejected_stale_hello, "REJECT: HELLO timestamp outside the window")                 \
    X(rejected_bad_hello, "REJECT: HELLO without an 8-byte timestamp")                    \
    X(rejected_full, "REJECT: HELLO with the session table full")                         \
    X(rejected_no_session, "REJECT: packet for a Client ID with no session")              \
    X(rejected_timed_out, "REJECT: packet for a session that missed its pings")           \
    X(rejected_disconnect, "REJECT: answer to a DISCONNECT (session closed)")             \
    X(proven, "sessions whose endpoint echoed its ACCEPT's token (return routability)")   \
    X(pong, "PING answered with PONG")                                                   \
    X(ack, "DATA_ACK answered with ACK")                                                 \
    X(bad_ack, "DATA_ACK failing verification answered with BAD_ACK")                   \
    X(data_noack, "DATA_NOACK accepted")                                                 \
    X(ack_rx, "ACK from a client (of a server DATA_ACK) accepted")                       \
    X(delivered, "payloads delivered to the application")                                \
    X(app_sent, "packets the application sent on a session")                             \
    X(app_send_failed, "application sends refused (no mbuf, too long, burst full)")      \
    X(consumed, "packets freed after delivery, with no answer (not drops)")              \
    X(shutdown_reject, "REJECT built for a session at shutdown (sent, or counted as tx_full)")
