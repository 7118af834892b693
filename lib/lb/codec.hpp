#pragma once

// Load-balancer protocol wire format (../shared/specs/load-balancer-protocol.md, origin facts in
// NOTES.md): type byte, big-endian Request ID, then big-endian fields; an endpoint is 4 bytes of
// IPv4 then a big-endian port. docs/protocols/lb.md has every length decision.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_byteorder.h>

#include "common/stats.hpp"

namespace peregrine::lb {

enum class type : uint8_t {
    register_serving_node = 0,
    register_call_controller = 1,
    start_call = 2,
    ack = 3,
    registration_update = 4,
    registration_removed = 5,
    request_serving_node = 6,
    serving_node_response = 7,
    // 8 is unused in this version (NOTES.md)
    serving_nodes = 9,
    serving_node_removed = 10,
};

static constexpr std::size_t header_len = 3;  // type + Request ID
static constexpr std::size_t endpoint_len = 6;
static constexpr std::size_t register_len = header_len + endpoint_len;               // 9
static constexpr std::size_t start_call_len = header_len + 2 + 2;                    // 7
static constexpr std::size_t ack_len = header_len;                                   // 3
static constexpr std::size_t registration_update_len = header_len + 2 + 4 + endpoint_len;  // 15
static constexpr std::size_t registration_removed_len = header_len + 2 + 4;          // 9
static constexpr std::size_t request_serving_node_len = header_len;                  // 3
static constexpr std::size_t serving_node_response_len = header_len + endpoint_len;  // 9
static constexpr std::size_t serving_node_removed_len = header_len + endpoint_len;   // 9
// The longest datagram Peregrine accepts (Registration Update).
static constexpr std::size_t max_request_len = registration_update_len;
// Register Serving Node / Call Controller and Request Serving Node may be padded with zeros up
// to this many bytes: a peer that pads buys the byte budget its answers need before it has
// shown it receives them (docs/protocols/lb.md, "Amplification").
static constexpr std::size_t max_padded_len = 64;
// Endpoints per Serving Nodes datagram: 3 + 240 * 6 = 1443 payload bytes, which fits a
// 1500-byte MTU with IPv4 and UDP headers and room for one tunnel header.
static constexpr std::size_t max_nodes_per_datagram = 240;

// An endpoint as carried on the wire, kept in network order.
struct endpoint {
    uint32_t ip_be = 0;
    uint16_t port_be = 0;
    bool operator==(const endpoint&) const = default;
};

inline uint64_t key_of(const endpoint& e) { return (uint64_t(e.ip_be) << 16) | e.port_be; }

struct packet {
    type t;
    uint16_t request_id;  // host order
    endpoint ep;          // register_*, registration_update
    uint16_t group_id;    // registration_*
    uint32_t user_id;     // registration_*
};

// Parses a datagram arriving at the Controlling Function. Types only the Controlling Function
// sends (Start Call, Serving Node Response, Serving Nodes, Serving Node Removed) are rejected:
// nobody sends them to it, and answering them would let a spoofed source bounce traffic between
// two load balancers. Returns true and fills *p, or false and sets *why.
bool parse(const uint8_t* d, std::size_t len, packet* p, drop* why);

inline uint16_t rd16(const uint8_t* d)
{
    uint16_t v;
    std::memcpy(&v, d, 2);
    return rte_be_to_cpu_16(v);
}
inline uint32_t rd32(const uint8_t* d)
{
    uint32_t v;
    std::memcpy(&v, d, 4);
    return rte_be_to_cpu_32(v);
}
inline void wr16(uint8_t* d, uint16_t x)
{
    const uint16_t v = rte_cpu_to_be_16(x);
    std::memcpy(d, &v, 2);
}
inline void wr32(uint8_t* d, uint32_t x)
{
    const uint32_t v = rte_cpu_to_be_32(x);
    std::memcpy(d, &v, 4);
}
inline endpoint rd_ep(const uint8_t* d)
{
    endpoint e;
    std::memcpy(&e.ip_be, d, 4);
    std::memcpy(&e.port_be, d + 4, 2);
    return e;
}
inline void wr_ep(uint8_t* d, const endpoint& e)
{
    std::memcpy(d, &e.ip_be, 4);
    std::memcpy(d + 4, &e.port_be, 2);
}

// Encoders write into out (caller guarantees room) and return the datagram length.
std::size_t encode_register(uint8_t* out, type t, uint16_t req, const endpoint& e);
std::size_t encode_start_call(uint8_t* out, uint16_t req, uint16_t call_id, uint16_t group_id);
std::size_t encode_ack(uint8_t* out, uint16_t req);
std::size_t encode_registration_update(uint8_t* out, uint16_t req, uint16_t group, uint32_t user, const endpoint& e);
std::size_t encode_registration_removed(uint8_t* out, uint16_t req, uint16_t group, uint32_t user);
std::size_t encode_request_serving_node(uint8_t* out, uint16_t req);
std::size_t encode_serving_node_response(uint8_t* out, uint16_t req, const endpoint& e);
// n <= max_nodes_per_datagram endpoints.
std::size_t encode_serving_nodes(uint8_t* out, uint16_t req, const endpoint* eps, std::size_t n);
std::size_t encode_serving_node_removed(uint8_t* out, uint16_t req, const endpoint& e);

} // namespace peregrine::lb
