#include "router/codec.hpp"

namespace peregrine::router {

bool parse(const uint8_t* d, std::size_t len, packet* p, drop* why)
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

namespace {
std::size_t encode_type_id(uint8_t* out, type t, uint32_t id)
{
    out[0] = static_cast<uint8_t>(t);
    write_id(out + 1, id);
    return 1 + id_len;
}
} // namespace

std::size_t encode_register(uint8_t* out, uint32_t id) { return encode_type_id(out, type::register_client, id); }

std::size_t encode_register_response(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::register_response);
    return response_len;
}

std::size_t encode_message(uint8_t* out, uint32_t id, const uint8_t* payload, std::size_t n)
{
    encode_type_id(out, type::message, id);
    if (n)
        std::memcpy(out + message_header_len, payload, n);
    return message_header_len + n;
}

std::size_t encode_unknown_recipient(uint8_t* out, uint32_t id)
{
    return encode_type_id(out, type::unknown_recipient, id);
}

std::size_t encode_heartbeat(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::heartbeat);
    return heartbeat_len;
}

std::size_t encode_heartbeat_response(uint8_t* out)
{
    out[0] = static_cast<uint8_t>(type::heartbeat_response);
    return response_len;
}

} // namespace peregrine::router
