#pragma once

// Router protocol profile (docs/protocols/router.md): N simulated clients, client k at
// endpoint (client_ip + k / ports_per_ip, client_port + k % ports_per_ip) with Client ID
// base_id + k. Setup registers every client and waits for each Register Client Response
// (the engine answers only after the control lcore has published the registration), resending
// the unanswered ones after register_timeout_ms, up to register_retries passes. Measure sends,
// client after client (round robin), a Heartbeat (heartbeat_pct of frames) or an Individual
// Message to a random registered client or, for unknown_pct of messages, to an ID that was
// never registered (base_id + N + r).
//
// Latency:
//  - Individual Message: the body starts with a 16-byte stamp (TSC at send, sequence, magic),
//    read back from the forwarded copy; bodies under 16 bytes are counted but not timed.
//  - Heartbeat and Unknown Recipient: the answer carries nothing of ours, but it goes to the
//    sender's endpoint, which names the client; each client keeps the TSC of its last
//    timed request (one u64 per client, a flat array). Exact while a client has at most one
//    such request in flight, which holds when N is well above rate x round-trip (1000
//    clients at 10 Mpps and 100 us); below that the stamp is overwritten and the figure is
//    the time since the latest send (an underestimate), counted as `stamp_overwritten`.
//
// With `reflector` (dpdk-testpmd 5tswap and other mirrors), a request that comes back to its
// sender unchanged counts as its answer: Register Client as registered, Heartbeat as answered,
// an Individual Message as delivered.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_ether.h>

#include "frame.hpp"
#include "profile.hpp"
#include "profile_util.hpp"

namespace peregrine::trafgen {

struct router_config {
    uint32_t clients = 1000;
    uint32_t base_id = 1;
    uint32_t client_ip = 0xc6130001;   // 198.19.0.1, host order
    uint16_t client_port = 10000;
    uint32_t ports_per_ip = 50000;     // client_port .. client_port + ports_per_ip - 1
    rte_ether_addr src_mac{};          // the generator's port
    rte_ether_addr dst_mac{};          // the engine's port (it drops frames for other MACs)
    uint32_t server_ip = 0;            // host order
    uint16_t server_port = 7100;
    unsigned heartbeat_pct = 100;
    unsigned unknown_pct = 0;
    uint16_t payload_min = 16;         // Individual Message body bytes after type and ID
    uint16_t payload_max = 16;
    bool reflector = false;
    bool verify_rx = true;             // check IPv4/UDP checksums of what comes back
    unsigned register_window = 512;    // Register Clients in flight (the engine's control ring is 1024)
    uint32_t register_timeout_ms = 200;
    unsigned register_retries = 20;
    uint64_t seed = 1;
    uint64_t tsc_hz = 0;
};

// Returns an empty string when c is usable, else what is wrong.
std::string check_router_config(const router_config& c);

// Message body stamp, little-endian on the wire.
struct body_stamp {
    uint64_t tsc;
    uint32_t seq;
    uint32_t magic;
    static constexpr uint32_t magic_value = 0x47544750;  // "PGTG"
};
static_assert(sizeof(body_stamp) == 16);

class router_profile final : public profile {
public:
    explicit router_profile(const router_config& c);

    const char* name() const override { return "router"; }
    unsigned setup_burst(frame_buf* f, unsigned n, uint64_t now_tsc, setup_state* state) override;
    std::string setup_summary() const override;
    void traffic_burst(frame_buf* f, unsigned n, uint64_t now_tsc) override;
    void receive(const uint8_t* frame, uint16_t len, uint64_t now_tsc) override;
    void start_measure() override;
    const traffic_stats& stats() const override { return st_; }
    std::vector<std::pair<std::string, uint64_t>> counters() const override;

    // Helpers also used by the unit tests.
    uint32_t client_id(uint32_t k) const { return cfg_.base_id + k; }
    uint32_t client_ip(uint32_t k) const { return space_.ip(k); }
    uint16_t client_port(uint32_t k) const { return space_.port(k); }
    // Client index from a destination endpoint (host order), or UINT32_MAX if none.
    uint32_t client_of(uint32_t ip, uint16_t port) const { return space_.index(ip, port); }
    bool registered(uint32_t k) const { return registered_[k] != 0; }
    uint32_t registered_count() const { return n_registered_; }
    // Builds one frame of the given kind from client k (for tests and pcap): kind 0 Register,
    // 1 Heartbeat, 2 Individual Message to `to_id` with `body_len` body bytes.
    uint16_t build(uint8_t* f, unsigned kind, uint32_t k, uint32_t to_id, uint16_t body_len, uint64_t now_tsc);

private:
    struct counters_t {
        uint64_t reg_acked = 0;
        uint64_t hb_sent = 0, msg_sent = 0, unknown_sent = 0;
        uint64_t hb_answered = 0, msg_delivered = 0, unknown_answered = 0;
        uint64_t msg_untimed = 0, stamp_overwritten = 0, late_register = 0;
    };

    router_config cfg_;
    client_space space_;
    setup_pacer pacer_;
    traffic_stats st_;
    counters_t c_;
    rx_errors rx_err_;
    std::vector<uint8_t> registered_;   // per client: 1 once its Register Client was answered
    std::vector<uint64_t> sent_tsc_;    // per client: TSC of its last timed request, 0 if none pending
    uint32_t n_registered_ = 0;
    // measure
    uint32_t next_ = 0;                 // next sender (round robin)
    uint32_t seq_ = 0;
    uint16_t ip_id_ = 0;
    xorshift64 rng_;
};

} // namespace peregrine::trafgen
