#pragma once

// LEKT wire format (../shared/specs/lekt-protocol.md; every decision in docs/protocols/lekt.md).
// Every packet starts with the 8-byte header 'L' 'E' 'K' 'T', a type byte and the sender's
// version (major, minor, extra). Multi-byte integers are big-endian (network order). TCP carries
// no packet boundaries, so each parser takes the bytes buffered so far and answers "need more",
// "one packet of n bytes" or "invalid, for this reason".

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace peregrine::lekt {

static constexpr uint8_t version_major = 1;
static constexpr uint8_t version_minor = 0;
static constexpr uint8_t version_extra = 0;

static constexpr std::size_t header_len = 8;
// A client claiming more methods than this is refusing to be parsed: 4096 bits is 512 bytes of
// bitfield, far beyond the 4 methods defined, and keeps the handshake inside the input buffer.
static constexpr uint32_t max_method_count = 4096;
static constexpr std::size_t max_handshake_len = header_len + 4 + max_method_count / 8;
static constexpr std::size_t heartbeat_len = header_len + 8;
// Update packets are cut at this size: small enough that a client reads one with a modest buffer,
// large enough that a full snapshot of 10,000 members is ~70 packets.
static constexpr std::size_t max_update_len = 4096;
static constexpr std::size_t update_header_len = header_len + 8 + 4;
static constexpr uint32_t max_update_count = 0xFFFFFF;  // 24-bit count field
static constexpr std::size_t max_reason_len = 200;

// Connection methods (docs/protocols/lekt.md). Index 0 is not a method: the 'T' request with
// index 0 ends the setup phase.
enum class method : uint32_t {
    udp_direct = 1,    // IPv4 + UDP port
    router_relay = 2,  // router Client ID + router UDP port
    session = 3,       // IPv4 + UDP port + 16-byte session Client ID
    rudp = 4,          // IPv4 + UDP port + 32-byte public key
};
static constexpr uint32_t max_known_method = 4;
// Information bytes of each method's response (index 1..max_known_method); 0 for unknown.
std::size_t method_data_len(uint32_t index);
static constexpr std::size_t max_method_data_len = 38;

// Why a connection was refused or closed. X(name, text a person reads in the Reject packet).
#define PG_LEKT_REJECTS(X)                                                                        \
    X(bad_magic, "not a LEKT packet (magic is not 'LEKT')")                                       \
    X(bad_type, "unexpected packet type for this phase")                                          \
    X(bad_version, "unsupported major version (this server speaks 1)")                           \
    X(too_many_methods, "method count over 4096")                                                 \
    X(bad_bitfield, "bitfield sets bits beyond the method count")                                 \
    X(wrong_method, "response for a method that was not requested")                              \
    X(bad_method_data, "invalid connection method information")                                  \
    X(server_full, "server full")                                                                 \
    X(ip_full, "too many connections from this address")                                         \
    X(handshake_timeout, "handshake and setup not finished in time")                              \
    X(stalled, "partial packet not completed in time")                                            \
    X(heartbeat_timeout, "no heartbeat in time")                                                  \
    X(slow_reader, "updates not read in time")

enum class reject : uint8_t {
#define PG_X(name, text) name,
    PG_LEKT_REJECTS(PG_X)
#undef PG_X
        count_
};
static constexpr unsigned reject_count = static_cast<unsigned>(reject::count_);
std::string_view reject_name(reject r);
std::string_view reject_text(reject r);

enum class parse_status : uint8_t { need_more, ok, invalid };

struct parse_result {
    parse_status status;
    std::size_t len = 0;             // bytes of the packet when ok
    reject why = reject::bad_magic;  // when invalid
};

struct handshake {
    uint8_t major, minor, extra;
    uint32_t method_count;
    uint32_t methods;  // bit k set: the client supports known method k (1..max_known_method)
};

// Client handshake: header ('H'), u32 method count N, ceil(N/32) u32 words; bit (k-1) of the
// array (word (k-1)/32, bit (k-1)%32 from the least significant) is method k. A major version
// other than ours is invalid (bad_version) once the header is complete.
parse_result parse_handshake(const uint8_t* d, std::size_t n, handshake* out);

// Client response to request `expected`: header ('T'), u32 index, method_data_len(index) bytes.
// The information is checked (e.g. port 0 is invalid). *data points into d.
parse_result parse_response(const uint8_t* d, std::size_t n, uint32_t expected, const uint8_t** data);

// Client heartbeat: header ('H'), i64 Unix time.
parse_result parse_heartbeat(const uint8_t* d, std::size_t n, int64_t* unix_time);

// Encoders append to out.
void put_header(std::string& out, char type);
void put_u16(std::string& out, uint16_t v);
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
void encode_accept(std::string& out);
void encode_reject(std::string& out, std::string_view reason);
void encode_request(std::string& out, uint32_t index);
// Client side (tests, fuzz seeds).
void encode_handshake(std::string& out, uint8_t major, uint32_t method_count, const uint32_t* words, std::size_t n_words);
void encode_response(std::string& out, uint32_t index, const uint8_t* data, std::size_t len);
void encode_heartbeat(std::string& out, int64_t unix_time);

inline uint16_t get_u16(const uint8_t* d) { return uint16_t(d[0] << 8 | d[1]); }
inline uint32_t get_u32(const uint8_t* d) { return uint32_t(d[0]) << 24 | uint32_t(d[1]) << 16 | uint32_t(d[2]) << 8 | d[3]; }
inline uint64_t get_u64(const uint8_t* d) { return uint64_t(get_u32(d)) << 32 | get_u32(d + 4); }

// Update packets (server -> client). Header ('H'), the i64 echoed from the heartbeat, then 'A' or
// 'R' and a 24-bit count. An 'A' record is u32 size (bytes after the size field), u32 IP, then per
// method u32 index + its information; an 'R' record is a u32 IP.
struct update_view {
    char kind;        // 'A' or 'R'
    uint32_t count;
    int64_t stamp;
    const uint8_t* body;
    std::size_t body_len;
};
// Parses one update packet (client side: the tool, tests, fuzzing). The records must fill the
// packet exactly as their sizes say; an 'A' record's methods must fill its size exactly.
parse_result parse_update(const uint8_t* d, std::size_t n, update_view* out);

} // namespace peregrine::lekt
