#pragma once

// Session profile (docs/protocols/session.md): one session per simulated client, client k at the
// router profile's endpoint for k, Client ID "PGTGSESS" + k (big-endian).
//
// Setup opens every session: HELLO (the current Unix time in ms, order count 0), resent after
// register_timeout_ms to the sessions not yet ACCEPTed, up to register_retries passes.
//
// Measure: clients in turn send DATA_ACK, or DATA_NOACK for noack_pct of the frames, with an
// order count that increases by one per packet of that session and a body of payload_min ..
// payload_max bytes; bodies of 16 bytes or more start with a stamp (TSC, sequence, a magic that
// also says DATA_ACK or DATA_NOACK). Every packet is hashed, a burst at a time, with lib/crypto's
// multi-buffer SHA-256 (or HMAC-SHA-256 with a key, the server's keyed mode).
//
// What counts as the answer to an offered packet:
//   DATA_ACK    the server's ACK with the same order count (its body must be the digest we sent:
//               else `ack_mismatch`); timed from the client's last send TSC, as the router
//               profile's Heartbeats (exact while a client has one packet in flight). An ACK for
//               one of the session's previous 63 packets (several in flight) is counted as an
//               answer too, untimed and without the body check (`older_ack`);
//   DATA_NOACK  its echo (a DATA_NOACK with our stamp, from the echo application, the server's
//               default); timed from the stamp. With --session-app discard nothing comes back:
//               use noack_pct 0 there.
// The echo of a DATA_ACK counts as `echo_rx`, not as an answer (the ACK already was).
// Everything received is verified: a wrong digest counts as `bad_digest` and is not an answer.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/mb_context.hpp"
#include "crypto/sha256.hpp"
#include "frame.hpp"
#include "profile.hpp"
#include "profile_util.hpp"
#include "router_profile.hpp"

namespace peregrine::trafgen {

struct session_config {
    router_config common;          // addressing, clients, payload, timing, retries, seed
    uint16_t server_port = 7300;
    unsigned noack_pct = 0;
    std::vector<uint8_t> key;      // keyed mode when not empty
};

std::string check_session_config(const session_config& c);

class session_profile final : public profile {
public:
    // Stamp magics (the last 4 bytes of the 16-byte body stamp).
    static constexpr uint32_t magic_ack = 0x47544741;    // "AGTG" little-endian: sent as DATA_ACK
    static constexpr uint32_t magic_noack = 0x4754474e;  // "NGTG": sent as DATA_NOACK

    // nullptr with *err set if the IPsec-MB context cannot be made.
    static std::unique_ptr<session_profile> create(const session_config& c, std::string* err);

    const char* name() const override { return "session"; }
    unsigned setup_burst(frame_buf* f, unsigned n, uint64_t now_tsc, setup_state* state) override;
    std::string setup_summary() const override;
    void traffic_burst(frame_buf* f, unsigned n, uint64_t now_tsc) override;
    void receive(const uint8_t* frame, uint16_t len, uint64_t now_tsc) override;
    void receive_burst(const uint8_t* const* frames, const uint16_t* lens, unsigned n, uint64_t now_tsc) override;
    void start_measure() override;
    const traffic_stats& stats() const override { return st_; }
    std::vector<std::pair<std::string, uint64_t>> counters() const override;

    // For tests.
    uint32_t open_sessions() const { return n_open_; }
    void client_id(uint32_t k, uint8_t* out16) const;
    uint32_t client_ip(uint32_t k) const { return space_.ip(k); }
    uint16_t client_port(uint32_t k) const { return space_.port(k); }

private:
    static constexpr unsigned max_burst = 64;  // frames per call the scratch holds
    static constexpr uint16_t max_body = 1400;
    // An ACK for one of a session's last this-many packets (not the latest) is an answer, untimed.
    static constexpr uint64_t older_ack_window = 64;

    struct counters_t {
        uint64_t accepted = 0, late_accept = 0;
        uint64_t data_ack_sent = 0, data_noack_sent = 0, ack_rx = 0, echo_rx = 0, echo_answer = 0;
        uint64_t ack_mismatch = 0, bad_digest = 0, rejected = 0, bad_ack = 0, stale_ack = 0, older_ack = 0;
        uint64_t untimed = 0, stamp_overwritten = 0;
    };
    struct rx_item {
        const uint8_t* frame;
        uint16_t len;
        udp_rx u;
    };

    session_profile(const session_config& c, std::unique_ptr<crypto::mb_context> mb);
    uint64_t wall_ms(uint64_t now_tsc) const;
    // Fills scratch slot s with a session packet of client k (digest left zero); returns its length.
    uint16_t compose(unsigned s, uint32_t k, uint8_t type, uint64_t order, uint16_t body, uint32_t magic,
                     uint64_t now_tsc, const uint8_t* hello_ts);
    // Signs scratch slots 0..n-1 and builds frame i from slot i.
    void sign_and_frame(frame_buf* f, const uint32_t* who, const uint16_t* plen, unsigned n);
    void handle(const rx_item& r, bool digest_ok, uint64_t now);
    void answered(uint16_t len, uint64_t sent_tsc, uint64_t now);

    session_config cfg_;
    client_space space_;
    setup_pacer pacer_;
    rx_errors rx_err_;
    std::unique_ptr<crypto::mb_context> mb_;
    crypto::hmac_key key_{};
    bool keyed_;
    traffic_stats st_;
    counters_t c_;
    std::vector<uint8_t> open_;          // per client: 1 once ACCEPTed
    std::vector<uint32_t> token_;        // per client: its ACCEPT's token, echoed in every packet
    std::vector<uint64_t> order_;        // per client: order count of its last packet
    std::vector<uint64_t> sent_tsc_;     // per client: TSC of its last DATA_ACK, 0 if none in flight
    std::vector<uint8_t> last_digest_;   // per client: digest of its last DATA_ACK (32 bytes)
    std::vector<uint8_t> scratch_;       // max_burst packets of up to 64 + max_body bytes, zeroed
    uint32_t n_open_ = 0;
    uint64_t base_tsc_ = 0, base_ms_ = 0;
    // measure
    uint32_t next_ = 0, seq_ = 0;
    uint16_t ip_id_ = 0;
    xorshift64 rng_;
};

} // namespace peregrine::trafgen
