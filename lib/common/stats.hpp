#pragma once

// Per-lcore counters. Each lcore (workers and the control lcore) owns one cache-line-aligned
// block and is its only writer (plain increments, no atomics); telemetry sums all blocks with
// relaxed loads. Every packet a worker receives is counted once in rx_packets and ends in one
// of: tx, to_exception, to_control or a drop reason. Frames the control lcore hands a worker
// to send (kernel output, registration replies) are counted in that worker's tx_packets too,
// so over the whole engine: rx_packets + kernel_out == tx_packets + kernel_in + drops, once
// the rings are empty.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/compiler.hpp"

namespace peregrine {

// Session protocol drops (lib/session, docs/protocols/session.md).
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
    X(session_no_room, "session answer longer than the request does not fit its mbuf")
// Load-balancer protocol drops (lib/lb), kept in a block of their own.
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
    X(lb_no_node, "Request Serving Node not answered: no serving node live (--lb-answer-no-node answers)")

// X(name, description). Names are the telemetry keys: keep them stable.
#define PG_DROP_REASONS(X)                                                                  \
    X(eth_short, "frame shorter than an Ethernet header")                                  \
    X(l2_other_host, "unicast frame for another MAC address")                              \
    X(ipv4_short, "frame too short for the IPv4 header")                                   \
    X(ipv4_bad_version, "IPv4 ethertype with IP version other than 4")                    \
    X(ipv4_bad_len, "IPv4 total length inconsistent with the header or the frame")        \
    X(ipv4_bad_cksum, "IPv4 header checksum wrong")                                        \
    X(ipv4_ttl_zero, "IPv4 TTL of 0")                                                      \
    X(udp_short, "IPv4 payload too short for a UDP header")                                \
    X(udp_bad_len, "UDP length inconsistent with the IPv4 total length")                   \
    X(udp_bad_cksum, "UDP checksum wrong")                                                 \
    X(multi_seg, "protocol packet split over several mbufs")                               \
    X(router_empty, "router datagram with no payload")                                     \
    X(router_unknown_type, "router datagram with an unknown packet identifier")            \
    X(router_bad_len, "router datagram whose length does not match its type")              \
    X(router_too_long, "router Individual Message over the maximum datagram size")         \
    X(router_reply_type, "router datagram of a type only the router sends")                \
    X(router_hb_unregistered, "router Heartbeat from an endpoint with no registration")    \
    X(router_self_source, "router datagram whose source is the engine itself")             \
    X(router_bad_source, "router datagram from a source no reply may go to")               \
    PG_SESSION_DROP_REASONS(X)                                                             \
    X(control_ring_full, "registration could not be handed to the control lcore")          \
    X(exception_ring_full, "exception packet could not be handed to the control lcore")    \
    X(registry_full, "Register Client refused: registry at --max-clients")                 \
    X(exception_no_tap, "exception packet for a port without a TAP")                       \
    X(tx_full, "TX queue full")                                                            \
    X(tap_full, "TAP (kernel) refused an exception packet")                                \
    X(tx_ring_full, "frame from the control lcore could not be handed to a worker")        \
    PG_LB_DROP_REASONS(X)

enum class drop : uint16_t {
#define PG_X(name, desc) name,
    PG_DROP_REASONS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned drop_count = static_cast<unsigned>(drop::count_);

// Exception-path reasons: not drops, the kernel gets these.
#define PG_EXCEPTION_REASONS(X)                                                             \
    X(arp, "ARP")                                                                          \
    X(ipv6, "IPv6")                                                                        \
    X(other_ethertype, "other ethertype (VLAN, LLDP, ...)")                                \
    X(l2_multicast, "IPv4 to a broadcast or multicast MAC")                                \
    X(not_our_ip, "IPv4 to an address the fast path does not own")                       \
    X(ipv4_options, "IPv4 with options")                                                   \
    X(ipv4_fragment, "IPv4 fragment")                                                      \
    X(icmp, "ICMP")                                                                        \
    X(tcp, "TCP")                                                                          \
    X(udp_other_port, "UDP to a port no fast-path protocol owns")                         \
    X(other_ip_proto, "other IP protocol")

enum class exc : uint16_t {
#define PG_X(name, desc) name,
    PG_EXCEPTION_REASONS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned exc_count = static_cast<unsigned>(exc::count_);

// Router protocol outcomes that are not drops.
#define PG_ROUTER_COUNTERS(X)                                                               \
    X(register_rx, "Register Client received (handed to the control lcore)")               \
    X(heartbeat_answered, "Heartbeat answered and registration refreshed")                \
    X(message_forwarded, "Individual Message forwarded to the registered recipient")       \
    X(unknown_recipient, "Individual Message answered with Unknown Recipient")

enum class rtr : uint16_t {
#define PG_X(name, desc) name,
    PG_ROUTER_COUNTERS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned rtr_count = static_cast<unsigned>(rtr::count_);

// Session protocol outcomes that are not drops. `consumed` packets end their life in the
// engine without being sent (DATA_NOACK and client ACKs, once delivered); `app_sent` and
// `shutdown_reject` ones start it there, so with sessions the identity above reads:
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

enum class ses : uint16_t {
#define PG_X(name, desc) name,
    PG_SESSION_COUNTERS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned ses_count = static_cast<unsigned>(ses::count_);
// Load-balancer protocol outcomes that are not drops. Frames the control lcore originates
// (notifications, Start Call, retransmissions) are counted in `originated`: they are sent
// without a received packet; a matched Ack is consumed (`acked`): neither sent nor dropped. So
// with the load balancer the engine-wide balance reads
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
    X(expired, "serving node or call controller registration expired")                    \
    X(alloc_failed, "no mbuf for an outgoing message (retried on the next timer)")

enum class lbc : uint16_t {
#define PG_X(name, desc) name,
    PG_LB_COUNTERS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned lbc_count = static_cast<unsigned>(lbc::count_);

struct alignas(cache_line) lcore_stats {
    uint64_t rx_packets;
    uint64_t rx_bursts;
    uint64_t tx_packets;
    uint64_t to_exception;
    uint64_t to_control;
    uint64_t busy_cycles;  // cycles spent in bursts that carried packets
    uint64_t idle_polls;
    uint64_t idle_sleep_us;  // microseconds slept by --idle-sleep
    uint64_t kernel_in;    // control lcore: frames written to a TAP (to the kernel)
    uint64_t kernel_out;   // control lcore: frames the kernel wrote to a TAP, sent on the wire
    std::array<uint64_t, drop_count> drops;
    std::array<uint64_t, exc_count> exceptions;
    std::array<uint64_t, rtr_count> router;
    std::array<uint64_t, ses_count> session;
    std::array<uint64_t, lbc_count> lb;

    void count(drop d) { ++drops[static_cast<unsigned>(d)]; }
    void count(exc e) { ++exceptions[static_cast<unsigned>(e)]; }
    void count(rtr r, uint64_t n = 1) { router[static_cast<unsigned>(r)] += n; }
    void count(ses x, uint64_t n = 1) { session[static_cast<unsigned>(x)] += n; }
    void count(lbc c) { ++lb[static_cast<unsigned>(c)]; }
    uint64_t drop_total() const;
};

// A snapshot summed over several lcores; reads are relaxed (counters may be mid-update).
lcore_stats stats_sum(const lcore_stats* blocks, unsigned n);

std::string_view drop_name(unsigned i);
std::string_view drop_desc(unsigned i);
std::string_view exc_name(unsigned i);
std::string_view rtr_name(unsigned i);
std::string_view ses_name(unsigned i);
std::string_view lbc_name(unsigned i);

} // namespace peregrine
