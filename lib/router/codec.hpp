#pragma once

// Router protocol wire format (../shared/specs/router-protocol.md, origin facts in NOTES.md):
// one type byte, then for some types a Client ID as a little-endian uint32 (the origin wrote
// it in x86 host order). See docs/protocols/router.md for every length decision.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include "common/stats.hpp"

namespace peregrine::router {

enum class type : uint8_t {
    register_client = 0x00,
    register_response = 0x01,
    message = 0x02,
    unknown_recipient = 0x03,
    heartbeat = 0x04,
    heartbeat_response = 0x05,
};

static constexpr std::size_t id_len = 4;
static constexpr std::size_t register_len = 1 + id_len;
static constexpr std::size_t unknown_recipient_len = 1 + id_len;
static constexpr std::size_t message_header_len = 1 + id_len;
static constexpr std::size_t heartbeat_len = 1;
static constexpr std::size_t response_len = 1;
// Largest Individual Message payload: 1400 bytes keeps the forwarded datagram (1405 + 28) inside
// a 1500-byte MTU with room for one tunnel header on the recipient's path.
static constexpr std::size_t max_payload = 1400;
static constexpr std::size_t max_message_len = message_header_len + max_payload;

struct packet {
    type t;
    uint32_t client_id;  // host order; valid for register_client, message, unknown_recipient
};

// Parses a datagram arriving at the router. Packets only the router sends (responses, Unknown
// Recipient) are rejected too: a client never sends them, and accepting them would let a spoofed
// source bounce them between routers. Returns true and fills *p, or false and sets *why.
bool parse(const uint8_t* d, std::size_t len, packet* p, drop* why);

inline uint32_t read_id(const uint8_t* d)
{
    uint32_t v;
    std::memcpy(&v, d, sizeof(v));
    return rte_le_to_cpu_32(v);
}

inline void write_id(uint8_t* d, uint32_t id)
{
    const uint32_t v = rte_cpu_to_le_32(id);
    std::memcpy(d, &v, sizeof(v));
}

// Encoders write into out (caller guarantees room) and return the datagram length.
std::size_t encode_register(uint8_t* out, uint32_t id);
std::size_t encode_register_response(uint8_t* out);
std::size_t encode_message(uint8_t* out, uint32_t id, const uint8_t* payload, std::size_t n);
std::size_t encode_unknown_recipient(uint8_t* out, uint32_t id);
std::size_t encode_heartbeat(uint8_t* out);
std::size_t encode_heartbeat_response(uint8_t* out);

} // namespace peregrine::router
