#pragma once

// Session protocol wire format (../shared/specs/session-protocol.md; every decision in
// docs/protocols/session.md). A 64-byte header, all multi-byte fields big-endian:
//
//   [0, 32)   SHA-256 (or, keyed mode, HMAC-SHA-256) of bytes [32, end): "the rest of the packet"
//   [32, 48)  Client ID, 16 opaque bytes
//   [48]      packet ID (type)
//   [49, 52)  token: ACCEPT's return-routability token, echoed by the client in every later
//             packet (docs/protocols/session.md, "Amplification"); zero in the server's others
//   [52, 54)  length: payload bytes after the header; must equal datagram length - 64
//   [54, 56)  custom ID: the client's, echoed in the server's answer
//   [56, 64)  packet order count
//   [64, ...) payload, at most 65,443 bytes

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include "common/stats.hpp"

namespace peregrine::session {

enum class type : uint8_t {
    hello = 0x01,
    accept = 0x02,
    reject = 0x03,
    ping = 0x04,
    pong = 0x05,
    data_ack = 0x06,
    data_noack = 0x07,
    ack = 0x08,
    bad_ack = 0x09,
    disconnect = 0x0a,
};

static constexpr std::size_t digest_len = 32;
static constexpr std::size_t client_id_len = 16;
static constexpr std::size_t header_len = 64;
static constexpr std::size_t max_payload = 65443;  // 64 + 65,443 = 65,507, the largest IPv4 UDP payload
static constexpr std::size_t timestamp_len = 8;     // HELLO and ACCEPT: Unix time in milliseconds

static constexpr std::size_t off_digest = 0;
static constexpr std::size_t off_client = 32;
static constexpr std::size_t off_type = 48;
static constexpr std::size_t off_token = 49;  // 3 bytes, big-endian
static constexpr std::size_t off_length = 52;
static constexpr std::size_t off_custom = 54;
static constexpr std::size_t off_order = 56;

struct header {
    const uint8_t* client_id;  // points into the packet
    type t;
    uint16_t length;   // payload length
    uint16_t custom;   // host order
    uint64_t order;    // host order
    uint32_t token;    // 24 bits
};

inline uint16_t load_be16(const uint8_t* p)
{
    uint16_t v;
    std::memcpy(&v, p, sizeof(v));
    return rte_be_to_cpu_16(v);
}
inline uint64_t load_be64(const uint8_t* p)
{
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    return rte_be_to_cpu_64(v);
}
inline void store_be16(uint8_t* p, uint16_t v)
{
    v = rte_cpu_to_be_16(v);
    std::memcpy(p, &v, sizeof(v));
}
inline void store_be64(uint8_t* p, uint64_t v)
{
    v = rte_cpu_to_be_64(v);
    std::memcpy(p, &v, sizeof(v));
}

// Whether a client may send this type to the server. ACCEPT, REJECT, PONG and BAD_ACK are the
// server's only; accepting them would let a spoofed source bounce them between two servers.
inline bool client_type(type t)
{
    switch (t) {
    case type::hello:
    case type::ping:
    case type::data_ack:
    case type::data_noack:
    case type::ack:
    case type::disconnect:
        return true;
    default:
        return false;
    }
}

// Parses the header of a datagram arriving at the server: the length rules only (the digest is
// checked in batches later). Returns true and fills *h, or false and sets *why.
bool parse(const uint8_t* d, std::size_t len, header* h, drop* why);

// Writes a complete header except the digest; the payload (length bytes) follows at out + 64.
void write_header(uint8_t* out, const uint8_t* client_id, type t, uint16_t length, uint16_t custom,
                  uint64_t order, uint32_t token = 0);

} // namespace peregrine::session
