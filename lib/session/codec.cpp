#include "session/codec.hpp"

namespace peregrine::session {

bool parse(const uint8_t* d, std::size_t len, header* h, drop* why)
{
    if (PG_UNLIKELY(len < header_len)) {
        *why = drop::session_short;
        return false;
    }
    const uint16_t plen = load_be16(d + off_length);
    // The length field must describe exactly what arrived: a datagram longer or shorter than
    // it says is truncated or padded by something we cannot trust.
    if (PG_UNLIKELY(len - header_len != plen)) {
        *why = drop::session_bad_len;
        return false;
    }
    const auto t = static_cast<type>(d[off_type]);
    if (PG_UNLIKELY(d[off_type] == 0 || d[off_type] > static_cast<uint8_t>(type::disconnect))) {
        *why = drop::session_unknown_type;
        return false;
    }
    if (PG_UNLIKELY(!client_type(t))) {
        *why = drop::session_reply_type;
        return false;
    }
    // An ACK from the client acknowledges a server DATA_ACK: its payload is that packet's digest.
    if (PG_UNLIKELY(t == type::ack && plen != digest_len)) {
        *why = drop::session_bad_len;
        return false;
    }
    h->client_id = d + off_client;
    h->t = t;
    h->length = plen;
    h->custom = load_be16(d + off_custom);
    h->order = load_be64(d + off_order);
    h->token = uint32_t(d[off_token]) << 16 | uint32_t(d[off_token + 1]) << 8 | d[off_token + 2];
    return true;
}

void write_header(uint8_t* out, const uint8_t* client_id, type t, uint16_t length, uint16_t custom, uint64_t order,
                  uint32_t token)
{
    if (out + off_client != client_id)
        std::memmove(out + off_client, client_id, client_id_len);
    out[off_type] = static_cast<uint8_t>(t);
    out[off_token] = static_cast<uint8_t>(token >> 16);
    out[off_token + 1] = static_cast<uint8_t>(token >> 8);
    out[off_token + 2] = static_cast<uint8_t>(token);
    store_be16(out + off_length, length);
    store_be16(out + off_custom, custom);
    store_be64(out + off_order, order);
}

} // namespace peregrine::session
