#pragma once

// The server's side of the RUDP handshake (docs/protocols/rudp.md, "Handshake"), on the control
// lcore: DPDK-free, on datagram bytes, so the unit tests and the fuzz target drive it directly.
//
//   client                                      server
//   AUTH  seq c0, RELIABLE, X25519 key,   --->   (rate limits, size check, certificate check)
//         [certificate], zero padding            fresh X25519 key pair, shared secret, keys
//                                        <---   AUTH seq 0, RELIABLE, its key [, certificate]
//                                        <---   ACK seq 1, ACK ID c0, data: server finished
//                                                 [|| signature when it has a certificate]
//   ACK   seq c1, ACK ID 0, data: client  --->   finished checked: the connection is open
//         finished [|| signature]
//
// No amplification: the two answers together are never longer than the AUTH they answer, so a
// client pads its AUTH (to 1000 bytes, the datagram limit, works with every server); a shorter
// one gets ERROR 1/0 whose 2-byte data is the length it needs. The client's "finished" proves it
// received the server's AUTH: only then does the address count as validated.
// Until then the state is a half-open entry here, bounded in number and in age.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>

#include "rudp/codec.hpp"
#include "rudp/keys.hpp"

namespace peregrine::rudp {

struct handshake_config {
    const identity* id = nullptr;      // the certificate the server presents (optional)
    X509_STORE* client_ca = nullptr;   // when set, clients must present a certificate it verifies
    uint32_t max_half_open = 4096;
    uint64_t half_open_tsc = 0;        // a half-open handshake older than this is forgotten
};

struct handshake_counters {
    uint64_t auth_rx, answered, repeated, short_auth, bad_auth, bad_key, bad_cert, half_open_full, finished,
        bad_finished, no_handshake, expired, too_short;
};

// What a handshake produced for the connection table.
struct handshake_done {
    session_keys keys;
    uint64_t client_top;   // the client's finished ACK's full sequence number
    uint64_t server_next;  // the server's next full sequence number
};

// Bytes of the server's two answers with a certificate of cert_len and signatures of sig_len
// (CHECKSUM on both: the longest case). A server identity must keep it within one 1000-byte
// AUTH, so that every client that pads to the limit gets an answer.
constexpr size_t answer_len(size_t cert_len, size_t sig_len)
{
    return header_len(flag::reliable | flag::checksum) + 2 + x25519_key_len + 2 + cert_len +
           header_len(flag::checksum) + ack_fields + finished_len + sig_len;
}

class handshaker {
public:
    explicit handshaker(const handshake_config& c) : cfg_(c) {}

    enum class result : uint8_t {
        answer,  // auth_out/ack_out hold the two answers
        error,   // *error is the ERROR code to send, err_data/err_len its data
        drop,    // nothing to send: the ERROR would be longer than the datagram (counted too_short)
    };
    struct answers {
        uint8_t auth[max_datagram];
        size_t auth_len;
        uint8_t ack[max_datagram];
        size_t ack_len;
        uint8_t error;
        uint8_t err_data[2];
        size_t err_len;
    };

    // A client AUTH datagram of n bytes (UDP payload, header h already parsed) from endpoint key ep.
    result on_auth(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now, answers* out);

    // An ACK from an endpoint with no connection: the client's finished, if a handshake is
    // half-open there. On success fills *done and forgets the half-open entry.
    result on_finished(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now,
                       handshake_done* done, answers* out);

    // Forgets half-open entries older than the limit (the module's tick, every millisecond).
    void expire(uint64_t now);

    size_t half_open() const { return open_.size(); }
    const handshake_counters& counters() const { return c_; }

private:
    struct half {
        uint64_t created;
        uint16_t client_seq;
        uint8_t client_pub[x25519_key_len];
        uint8_t transcript[32];
        handshake_done done;
        bool client_cert;        // the client presented a certificate (verified at AUTH)
        std::string client_der;  // kept to verify its signature over the transcript
        std::string auth, ack;   // the answers, resent when the same AUTH comes again
    };

    result auth(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now, answers* out);
    result finish(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now, handshake_done* done,
                  answers* out);
    result fits(result r, size_t n, const answers& a);

    handshake_config cfg_;
    std::unordered_map<uint64_t, half> open_;
    std::deque<std::pair<uint64_t, uint64_t>> ages_;  // (created, endpoint), oldest first
    handshake_counters c_{};
};

// The CRC-32 a CHECKSUM datagram's header carries over its body (plaintext, unfragmented).
bool body_crc_ok(const header& h, const uint8_t* body, size_t n);

} // namespace peregrine::rudp
