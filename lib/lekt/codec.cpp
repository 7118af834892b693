#include "lekt/codec.hpp"

#include <cstring>

namespace peregrine::lekt {

namespace {

constexpr char magic[4] = {'L', 'E', 'K', 'T'};

constexpr std::string_view reject_names[] = {
#define PG_X(name, text) #name,
    PG_LEKT_REJECTS(PG_X)
#undef PG_X
};
constexpr std::string_view reject_texts[] = {
#define PG_X(name, text) text,
    PG_LEKT_REJECTS(PG_X)
#undef PG_X
};

parse_result need_more() { return {parse_status::need_more, 0, reject::bad_magic}; }
parse_result invalid(reject r) { return {parse_status::invalid, 0, r}; }
parse_result ok(std::size_t len) { return {parse_status::ok, len, reject::bad_magic}; }

// Checks as much of the 8-byte header as has arrived, so garbage is refused at its first byte
// rather than after a stall.
parse_result check_header(const uint8_t* d, std::size_t n, char type)
{
    const std::size_t m = n < 4 ? n : 4;
    if (std::memcmp(d, magic, m) != 0)
        return invalid(reject::bad_magic);
    if (n > 4 && d[4] != uint8_t(type))
        return invalid(reject::bad_type);
    if (n > 5 && d[5] != version_major)
        return invalid(reject::bad_version);
    if (n < header_len)
        return need_more();
    return ok(header_len);
}

// Method information: an endpoint must name a port; an IPv4 of 0.0.0.0 means "the address the
// server sees" and is allowed; multicast, loopback and broadcast are not reachable peers.
bool endpoint_ok(const uint8_t* d)
{
    const uint32_t ip = get_u32(d);
    const uint16_t port = get_u16(d + 4);
    if (port == 0)
        return false;
    if (ip == 0)
        return true;
    return (ip >> 24) != 127 && (ip >> 28) < 14;
}

} // namespace

std::string_view reject_name(reject r) { return reject_names[static_cast<unsigned>(r)]; }
std::string_view reject_text(reject r) { return reject_texts[static_cast<unsigned>(r)]; }

std::size_t method_data_len(uint32_t index)
{
    switch (index) {
    case uint32_t(method::udp_direct):
        return 6;
    case uint32_t(method::router_relay):
        return 6;
    case uint32_t(method::session):
        return 6 + 16;
    case uint32_t(method::rudp):
        return 6 + 32;
    default:
        return 0;
    }
}

parse_result parse_handshake(const uint8_t* d, std::size_t n, handshake* out)
{
    const parse_result h = check_header(d, n, 'H');
    if (h.status != parse_status::ok)
        return h;
    if (n < header_len + 4)
        return need_more();
    const uint32_t count = get_u32(d + header_len);
    if (count > max_method_count)
        return invalid(reject::too_many_methods);
    const std::size_t words = (std::size_t(count) + 31) / 32;
    const std::size_t len = header_len + 4 + words * 4;
    if (n < len)
        return need_more();
    uint32_t known = 0;
    for (std::size_t w = 0; w < words; ++w) {
        const uint32_t v = get_u32(d + header_len + 4 + w * 4);
        const uint32_t valid_bits = (w + 1) * 32 <= count ? 32 : count - w * 32;
        if (valid_bits < 32 && (v >> valid_bits) != 0)
            return invalid(reject::bad_bitfield);
        if (w == 0)
            for (uint32_t k = 1; k <= max_known_method && k <= count; ++k)
                if (v & (1u << (k - 1)))
                    known |= 1u << k;
    }
    *out = {d[5], d[6], d[7], count, known};
    return ok(len);
}

parse_result parse_response(const uint8_t* d, std::size_t n, uint32_t expected, const uint8_t** data)
{
    const parse_result h = check_header(d, n, 'T');
    if (h.status != parse_status::ok)
        return h;
    if (n < header_len + 4)
        return need_more();
    if (get_u32(d + header_len) != expected)
        return invalid(reject::wrong_method);
    const std::size_t dl = method_data_len(expected);
    const std::size_t len = header_len + 4 + dl;
    if (dl == 0)
        return invalid(reject::wrong_method);
    if (n < len)
        return need_more();
    const uint8_t* p = d + header_len + 4;
    // Router relay: a Client ID (any value) then the router's port; the others start with an endpoint.
    const bool good = expected == uint32_t(method::router_relay) ? get_u16(p + 4) != 0 : endpoint_ok(p);
    if (!good)
        return invalid(reject::bad_method_data);
    *data = p;
    return ok(len);
}

parse_result parse_heartbeat(const uint8_t* d, std::size_t n, int64_t* unix_time)
{
    const parse_result h = check_header(d, n, 'H');
    if (h.status != parse_status::ok)
        return h;
    if (n < heartbeat_len)
        return need_more();
    *unix_time = static_cast<int64_t>(get_u64(d + header_len));
    return ok(heartbeat_len);
}

void put_header(std::string& out, char type)
{
    out.append(magic, 4);
    out.push_back(type);
    out.push_back(char(version_major));
    out.push_back(char(version_minor));
    out.push_back(char(version_extra));
}

void put_u16(std::string& out, uint16_t v)
{
    const char b[2] = {char(v >> 8), char(v)};
    out.append(b, 2);
}

void put_u32(std::string& out, uint32_t v)
{
    const char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    out.append(b, 4);
}

void put_u64(std::string& out, uint64_t v)
{
    put_u32(out, uint32_t(v >> 32));
    put_u32(out, uint32_t(v));
}

void encode_accept(std::string& out) { put_header(out, 'A'); }

void encode_reject(std::string& out, std::string_view reason)
{
    put_header(out, 'R');
    if (reason.size() > max_reason_len)
        reason = reason.substr(0, max_reason_len);
    // The reason is text: a NUL inside would end it early for the reader.
    for (char c : reason)
        out.push_back(c == '\0' ? '?' : c);
    out.push_back('\0');
}

void encode_request(std::string& out, uint32_t index)
{
    put_header(out, 'T');
    put_u32(out, index);
}

void encode_handshake(std::string& out, uint8_t major, uint32_t method_count, const uint32_t* words, std::size_t n_words)
{
    put_header(out, 'H');
    out[out.size() - 3] = char(major);
    put_u32(out, method_count);
    for (std::size_t i = 0; i < n_words; ++i)
        put_u32(out, words[i]);
}

void encode_response(std::string& out, uint32_t index, const uint8_t* data, std::size_t len)
{
    put_header(out, 'T');
    put_u32(out, index);
    out.append(reinterpret_cast<const char*>(data), len);
}

void encode_heartbeat(std::string& out, int64_t unix_time)
{
    put_header(out, 'H');
    put_u64(out, static_cast<uint64_t>(unix_time));
}

parse_result parse_update(const uint8_t* d, std::size_t n, update_view* out)
{
    const parse_result h = check_header(d, n, 'H');
    if (h.status != parse_status::ok)
        return h;
    if (n < update_header_len)
        return need_more();
    const char kind = char(d[16]);
    if (kind != 'A' && kind != 'R')
        return invalid(reject::bad_type);
    const uint32_t count = uint32_t(d[17]) << 16 | uint32_t(d[18]) << 8 | d[19];
    std::size_t off = update_header_len;
    for (uint32_t i = 0; i < count; ++i) {
        if (off > max_update_len)
            return invalid(reject::bad_method_data);
        if (kind == 'R') {
            off += 4;
            continue;
        }
        if (n < off + 4)
            return need_more();
        const uint32_t size = get_u32(d + off);
        if (size < 4 || size > max_update_len)
            return invalid(reject::bad_method_data);
        if (n < off + 4 + size)
            return need_more();
        const uint8_t* r = d + off + 8;
        std::size_t left = size - 4;
        while (left > 0) {
            if (left < 4)
                return invalid(reject::bad_method_data);
            const std::size_t dl = method_data_len(get_u32(r));
            if (dl == 0 || left < 4 + dl)
                return invalid(reject::bad_method_data);
            r += 4 + dl;
            left -= 4 + dl;
        }
        off += 4 + size;
    }
    if (off > max_update_len)
        return invalid(reject::bad_method_data);
    if (n < off)
        return need_more();
    *out = {kind, count, static_cast<int64_t>(get_u64(d + header_len)), d + update_header_len, off - update_header_len};
    return ok(off);
}

} // namespace peregrine::lekt
