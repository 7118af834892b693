#pragma once

// RUDP profile (docs/protocols/rudp.md): one connection per simulated client, client k at the
// router profile's endpoint for k.
//
// Setup runs every handshake as a client does: AUTH (a fresh X25519 key, padded to 992 bytes),
// the server's AUTH and finished checked, our finished, the server's confirmation. Up to
// register_window handshakes in flight; a client not open after register_timeout_ms starts
// again with a new key, up to register_retries passes. The public-key work (X25519 through
// OpenSSL, about 50 us) is the generator's: setup of 10,000 clients takes about a second.
//
// Measure: clients in turn send DEFAULT messages with the configured flags (default CHECKSUM |
// ENCRYPTED; RELIABLE and FRAG are not offered: one datagram, no acknowledgements) and a body of
// payload_min .. payload_max bytes (at least 16, within 972 with ENCRYPTED) starting with a stamp
// (TSC, sequence, magic). AES-128-GCM through lib/crypto, CRC-32 through ISA-L.
// The answer to an offered message is its echo (the engine's default application), decrypted,
// CRC-checked and carrying our stamp; timed from the stamp. Anything that fails a check counts
// as `bad_echo`, an ERROR from the engine as `errors_rx`.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crypto/aes_gcm.hpp"
#include "crypto/mb_context.hpp"
#include "frame.hpp"
#include "profile.hpp"
#include "profile_util.hpp"
#include "router_profile.hpp"
#include "rudp/keys.hpp"

namespace peregrine::trafgen {

struct rudp_config {
    router_config common;    // addressing, clients, payload, timing, retries, seed
    uint16_t server_port = 7400;
    uint8_t flags = 0x40 | 0x10;  // CHECKSUM | ENCRYPTED
};

std::string check_rudp_config(const rudp_config& c);

class rudp_profile final : public profile {
public:
    static constexpr uint32_t magic = 0x47545452;  // "RTTG" little-endian

    static std::unique_ptr<rudp_profile> create(const rudp_config& c, std::string* err);

    const char* name() const override { return "rudp"; }
    unsigned setup_burst(frame_buf* f, unsigned n, uint64_t now_tsc, setup_state* state) override;
    std::string setup_summary() const override;
    void traffic_burst(frame_buf* f, unsigned n, uint64_t now_tsc) override;
    void receive(const uint8_t* frame, uint16_t len, uint64_t now_tsc) override;
    void start_measure() override;
    const traffic_stats& stats() const override { return st_; }
    std::vector<std::pair<std::string, uint64_t>> counters() const override;

    uint32_t open_connections() const { return n_open_; }

private:
    enum : uint8_t { st_idle, st_auth_sent, st_fin_due, st_fin_sent, st_open };
    struct client {
        uint8_t state = st_idle;
        uint64_t tx_seq = 0;         // our next full sequence number
        uint64_t rx_top = 0;         // the server's highest full number seen
        rudp::keypair kp;
        std::vector<uint8_t> auth;   // our AUTH datagram, then the server's (for the transcript)
        uint8_t transcript[32];
        rudp::session_keys keys;
        std::unique_ptr<crypto::gcm_key> tx_key, rx_key;
    };
    struct counters_t {
        uint64_t auth_sent = 0, finished_sent = 0, opened = 0, restarts = 0, bad_handshake = 0;
        uint64_t sent = 0, echo_rx = 0, bad_echo = 0, errors_rx = 0, untimed = 0, other = 0;
    };

    rudp_profile(const rudp_config& c, std::unique_ptr<crypto::mb_context> mb);
    uint16_t frame(frame_buf& f, uint32_t k, const uint8_t* payload, uint16_t len);
    void handshake_answer(uint32_t k, const uint8_t* d, uint16_t n);

    rudp_config cfg_;
    client_space space_;
    std::unique_ptr<crypto::mb_context> mb_;
    std::vector<client> cl_;
    rx_errors rx_err_;
    traffic_stats st_;
    counters_t c_;
    uint32_t n_open_ = 0, cursor_ = 0, in_flight_ = 0;
    unsigned passes_ = 1;
    uint64_t setup_start_ = 0, setup_end_ = 0, pass_start_ = 0;
    std::vector<uint32_t> fin_due_;
    uint32_t next_ = 0, seq_ = 0;
    uint16_t ip_id_ = 0;
    xorshift64 rng_;
};

} // namespace peregrine::trafgen
