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

// Parses a datagram arriving at the router. Packets only the router sends (responses, Unknown
// Recipient) are rejected too: a client never sends them, and accepting them would let a spoofed
// source bounce them between routers. Returns true and fills *p, or false and sets *why.
// (Inline, as are the encoders: they run per packet on the fast path.)
inline bool parse(const uint8_t* d, std::size_t len, packet* p, drop* why)
{
    if (len == 0) {
        *why = drop::router_empty;
        return false;
    }
    const auto t = static_cast<type>(d[0]);
    switch (t) {
    case type::register_client:
        if (len != register_len)
            break;
        p->t = t;
        p->client_id = read_id(d + 1);
        return true;
    case type::message:
        if (len < message_header_len)
            break;
        if (len > max_message_len) {
            *why = drop::router_too_long;
            return false;
        }
        p->t = t;
        p->client_id = read_id(d + 1);
        return true;
    case type::heartbeat:
        if (len != heartbeat_len)
            break;
        p->t = t;
        p->client_id = 0;
        return true;
    case type::register_response:
    case type::unknown_recipient:
    case type::heartbeat_response:
        *why = drop::router_reply_type;
        return false;
    default:
        *why = drop::router_unknown_type;
        return false;
    }
    *why = drop::router_bad_len;
    return false;
}

namespace detail {
inline std::size_t encode_type_id(uint8_t* out, type t, uint32_t id)
{
    out[0] = static_cast<uint8_t>(t);
    write_id(out + 1, id);
    return 1 + id_len;
}
} // namespace detail

// Encoders write into out (caller guarantees room) and return the datagram length.
inline std::size_t encode_register(uint8_t* out, uint32_t id) { return detail::encode_type_id(out, type::register_client, id); }

inline std::size_t encode_register_response(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::register_response);
    return response_len;
}

inline std::size_t encode_message(uint8_t* out, uint32_t id, const uint8_t* payload, std::size_t n)
{
    detail::encode_type_id(out, type::message, id);
    if (n)
        std::memcpy(out + message_header_len, payload, n);
    return message_header_len + n;
}

inline std::size_t encode_unknown_recipient(uint8_t* out, uint32_t id)
{
    return detail::encode_type_id(out, type::unknown_recipient, id);
}

inline std::size_t encode_heartbeat(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::heartbeat);
    return heartbeat_len;
}

inline std::size_t encode_heartbeat_response(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::heartbeat_response);
    return response_len;
}

} // namespace peregrine::router
