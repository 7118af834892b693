#include "rudp/codec.hpp"

#include <cstring>

namespace peregrine::rudp {

namespace {
inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void put16(uint8_t* p, uint16_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v)
{
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}
} // namespace

bool parse_header(const uint8_t* p, size_t n, header* h, uint8_t* why)
{
    if (n < base_header) {
        *why = err::packet;
        return false;
    }
    if ((p[0] >> 4) != version) {
        *why = err::version;
        return false;
    }
    const uint8_t t = p[0] & 0x0f;
    if (t > max_type) {
        *why = err::packet_type;
        return false;
    }
    h->t = static_cast<type>(t);
    h->flags = p[1];
    if ((h->flags & flag::reserved) || (h->flags & ~allowed_flags(h->t))) {
        *why = err::flags;
        return false;
    }
    h->seq = be16(p + 2);
    h->len = static_cast<uint8_t>(header_len(h->flags));
    if (n < h->len) {
        *why = err::packet;
        return false;
    }
    if (n - h->len > max_body) {
        *why = err::packet;
        return false;
    }
    unsigned off = base_header;
    h->frag_id = h->frag_count = 0;
    if (h->has(flag::frag)) {
        h->frag_id = p[off];
        h->frag_count = p[off + 1];
        off += 2;
        // A message of one fragment is not fragmented; the ID is a position below the count.
        if (h->frag_count < 2) {
            *why = err::fragment_number;
            return false;
        }
        if (h->frag_id >= h->frag_count) {
            *why = err::fragment_id;
            return false;
        }
    }
    h->iv = 0;
    if (h->has(flag::encrypted)) {
        h->iv = be16(p + off);
        off += 2;
    }
    h->crc = 0;
    if (h->has(flag::checksum))
        h->crc = uint32_t(be16(p + off)) << 16 | be16(p + off + 2);
    return true;
}

unsigned write_header(uint8_t* p, header* h)
{
    h->len = static_cast<uint8_t>(header_len(h->flags));
    p[0] = static_cast<uint8_t>(version << 4 | static_cast<uint8_t>(h->t));
    p[1] = h->flags;
    put16(p + 2, h->seq);
    unsigned off = base_header;
    if (h->has(flag::frag)) {
        p[off] = h->frag_id;
        p[off + 1] = h->frag_count;
        off += 2;
    }
    if (h->has(flag::encrypted)) {
        put16(p + off, h->iv);
        off += 2;
    }
    if (h->has(flag::checksum))
        put32(p + off, h->crc);
    return h->len;
}

unsigned message_aad(const header& h, uint8_t* out)
{
    header first = h;
    first.seq = base_seq(h);
    first.frag_id = 0;
    return write_header(out, &first);
}

void make_nonce(const uint8_t salt[4], uint32_t counter, uint8_t out[12])
{
    std::memcpy(out, salt, 4);
    std::memset(out + 4, 0, 4);
    put32(out + 8, counter);
}

uint64_t extend_seq(uint64_t top, uint16_t seq)
{
    static constexpr uint64_t win = 1u << 16, half = win / 2;
    const uint64_t expected = top + 1;
    uint64_t c = (expected & ~(win - 1)) | seq;
    if (c + half <= expected)
        c += win;
    else if (c > expected + half && c >= win)
        c -= win;
    return c;
}

bool parse_ack(const uint8_t* p, size_t n, ack_body* out)
{
    if (n < ack_fields)
        return false;
    out->ack_id = be16(p);
    out->bits = be16(p + 2);
    out->data = p + ack_fields;
    out->data_len = n - ack_fields;
    return true;
}

void write_ack(uint8_t* p, uint16_t ack_id, uint16_t bits)
{
    put16(p, ack_id);
    put16(p + 2, bits);
}

bool parse_auth(const uint8_t* p, size_t n, auth_body* out)
{
    if (n < 2 || p[0] != 0)
        return false;
    out->key_len = p[1];
    if (out->key_len == 0 || n - 2 < out->key_len)
        return false;
    out->key = p + 2;
    size_t off = 2 + size_t(out->key_len);
    out->cert = nullptr;
    out->cert_len = 0;
    if (n - off >= 2) {
        out->cert_len = be16(p + off);
        off += 2;
        if (n - off < out->cert_len)
            return false;
        if (out->cert_len)
            out->cert = p + off;
        off += out->cert_len;
    } else if (n != off) {
        return false;  // one stray byte: neither a certificate size nor nothing
    }
    out->padding = n - off;
    for (size_t i = off; i < n; ++i)
        if (p[i] != 0)
            return false;
    return true;
}

size_t write_auth(uint8_t* p, const uint8_t* key, uint8_t key_len, const uint8_t* cert, uint16_t cert_len)
{
    p[0] = 0;
    p[1] = key_len;
    std::memcpy(p + 2, key, key_len);
    size_t off = 2 + size_t(key_len);
    put16(p + off, cert_len);
    off += 2;
    if (cert_len)
        std::memcpy(p + off, cert, cert_len);
    return off + cert_len;
}

} // namespace peregrine::rudp
