#pragma once

// The RUDP wire format (../shared/specs/rudp-protocol.tsv; every decision and its reason in
// docs/protocols/rudp.md). Pure functions over bytes: no DPDK, no crypto, no allocation.
//
// A datagram is a header of 4 to 12 bytes and a body of at most 988 bytes:
//   [0] version (high nibble, 0) | type (low nibble)
//   [1] flags: RELIABLE 0x80, CHECKSUM 0x40, COMPRESSED 0x20, ENCRYPTED 0x10, FRAG 0x08
//   [2..3] sequence ID, big-endian
//   then, only when their flag is set and in this order: fragment ID (1) and fragment number
//   (1) when FRAG, init vector (2) when ENCRYPTED, CRC-32 (4) when CHECKSUM.
// The body is a message (DEFAULT data; ACK, HEARTBEAT, ERROR and AUTH with their fields
// first), or, with FRAG, a slice of one. Flags are applied to the whole message in flag order:
// the CRC-32 of the plaintext, then deflate, then AES-128-GCM (the 16-byte tag at its end),
// then fragmentation; a receiver undoes them in reverse.

#include <cstddef>
#include <cstdint>

namespace peregrine::rudp {

static constexpr uint8_t version = 0;

enum class type : uint8_t { data = 0, ack = 1, auth = 2, heartbeat = 3, error = 4 };
static constexpr uint8_t max_type = 4;  // 5..15 are reserved: refused with ERROR 3/2

namespace flag {
static constexpr uint8_t reliable = 0x80;
static constexpr uint8_t checksum = 0x40;
static constexpr uint8_t compressed = 0x20;
static constexpr uint8_t encrypted = 0x10;
static constexpr uint8_t frag = 0x08;
static constexpr uint8_t reserved = 0x07;  // must be 0: ERROR 3/3
} // namespace flag

static constexpr unsigned base_header = 4;
static constexpr unsigned max_header = 12;
static constexpr unsigned max_body = 988;                     // the spec's data limit
static constexpr unsigned max_datagram = max_header + max_body;  // 1000 bytes of UDP payload
static constexpr unsigned tag_len = 16;                       // full GCM tags
static constexpr unsigned max_fragments = 255;                // the fragment number is one byte
static constexpr unsigned max_message = max_fragments * max_body;  // 251,940 bytes
static constexpr unsigned x25519_key_len = 32;
static constexpr unsigned finished_len = 32;                  // HMAC-SHA-256
static constexpr unsigned ack_fields = 4;                     // ACK ID, ACK bits
static constexpr unsigned ack_bits = 16;                      // ACK ID-1 .. ACK ID-16

// ERROR codes as one byte: major << 4 | minor (the wire's layout).
namespace err {
static constexpr uint8_t connection = 0x10, no_space = 0x11, certificate_invalid = 0x12, finish_invalid = 0x13;
static constexpr uint8_t disconnect = 0x20, server_disconnect = 0x21, client_disconnect = 0x22;
static constexpr uint8_t packet = 0x30, version = 0x31, packet_type = 0x32, flags = 0x33, sequence_id = 0x34,
                         fragment_id = 0x35, fragment_number = 0x36, init_vector = 0x37, compression = 0x38,
                         checksum = 0x39;
} // namespace err

struct header {
    type t = type::data;
    uint8_t flags = 0;
    uint16_t seq = 0;
    uint8_t frag_id = 0;
    uint8_t frag_count = 0;
    uint16_t iv = 0;
    uint32_t crc = 0;
    uint8_t len = base_header;  // bytes of header on the wire

    bool has(uint8_t f) const { return (flags & f) != 0; }
};

// Header length the flags give.
constexpr unsigned header_len(uint8_t flags)
{
    return base_header + ((flags & flag::frag) ? 2 : 0) + ((flags & flag::encrypted) ? 2 : 0) +
           ((flags & flag::checksum) ? 4 : 0);
}

// The flags each type may carry. AUTH: the handshake travels in clear, in one datagram;
// ACK, HEARTBEAT and ERROR are answers, never acknowledged themselves; only DEFAULT data is
// fragmented.
constexpr uint8_t allowed_flags(type t)
{
    switch (t) {
    case type::data:
        return flag::reliable | flag::checksum | flag::compressed | flag::encrypted | flag::frag;
    case type::auth:
        return flag::reliable | flag::checksum;
    default:
        return flag::checksum | flag::compressed | flag::encrypted;
    }
}

// Parses the header of a datagram of n bytes. On failure returns false and *why is the ERROR
// code that names the fault (err::packet for a datagram too short or too long).
bool parse_header(const uint8_t* p, size_t n, header* h, uint8_t* why);

// Writes h's header (h.len is set from its flags) and returns its length.
unsigned write_header(uint8_t* p, header* h);

// The associated data of an encrypted message: its header as the first fragment carries it
// (sequence ID of fragment 0, fragment ID 0), so every fragment of one message names the same
// bytes. For an unfragmented datagram it is exactly its header. Returns its length.
unsigned message_aad(const header& h, uint8_t* out);

// The sequence ID of a message's first fragment (its own when unfragmented).
inline uint16_t base_seq(const header& h) { return static_cast<uint16_t>(h.seq - h.frag_id); }

// GCM nonce: the direction's 4-byte salt from the key schedule, 4 zero bytes, then the 32-bit
// message counter: init vector (high 16 bits) and the base sequence ID (low 16 bits).
void make_nonce(const uint8_t salt[4], uint32_t counter, uint8_t out[12]);
inline uint32_t message_counter(const header& h) { return uint32_t(h.iv) << 16 | base_seq(h); }

// The full sequence number a 16-bit sequence ID stands for: the one nearest above `top`,
// the highest full number accepted so far (RFC 9000 A.3's packet number decoding with a
// 16-bit window).
uint64_t extend_seq(uint64_t top, uint16_t seq);

// ---- message bodies (plaintext, after reassembly, decryption and inflation) ----

struct ack_body {
    uint16_t ack_id;
    uint16_t bits;  // bit i: ACK ID - 1 - i was received
    const uint8_t* data;
    size_t data_len;
};
bool parse_ack(const uint8_t* p, size_t n, ack_body* out);
void write_ack(uint8_t* p, uint16_t ack_id, uint16_t bits);  // ack_fields bytes

struct auth_body {
    const uint8_t* key;
    uint8_t key_len;
    const uint8_t* cert;  // DER, or nullptr
    uint16_t cert_len;
    size_t padding;       // bytes after the certificate (or the key), which must be zero
};
// False when the fields do not fit n, the reserved byte is not 0 or the padding is not zero.
bool parse_auth(const uint8_t* p, size_t n, auth_body* out);
// Writes reserved, key size, key, certificate size and certificate; returns the length.
size_t write_auth(uint8_t* p, const uint8_t* key, uint8_t key_len, const uint8_t* cert, uint16_t cert_len);

// HEARTBEAT: 0 is PING, 1 is PONG.
static constexpr uint8_t ping = 0, pong = 1;

} // namespace peregrine::rudp
