#include "lb/codec.hpp"

namespace peregrine::lb {

bool parse(const uint8_t* d, std::size_t len, packet* p, drop* why)
{
    if (len == 0) {
        *why = drop::lb_empty;
        return false;
    }
    const auto t = static_cast<type>(d[0]);
    std::size_t want;
    switch (t) {
    case type::register_serving_node:
    case type::register_call_controller:
        want = register_len;
        break;
    case type::ack:
        want = ack_len;
        break;
    case type::registration_update:
        want = registration_update_len;
        break;
    case type::registration_removed:
        want = registration_removed_len;
        break;
    case type::request_serving_node:
        want = request_serving_node_len;
        break;
    case type::start_call:
    case type::serving_node_response:
    case type::serving_nodes:
    case type::serving_node_removed:
        *why = drop::lb_reply_type;
        return false;
    default:
        *why = drop::lb_unknown_type;
        return false;
    }
    // Exact lengths: the origin writes fixed-size packets, and trailing bytes would mean a
    // different (future) format we must not half-understand. One exception: a Register or a
    // Request Serving Node padded with zeros (up to max_padded_len), which buys the sender the
    // byte budget of its answers (docs/protocols/lb.md, "Amplification").
    const bool paddable = t == type::request_serving_node || t == type::register_serving_node ||
                          t == type::register_call_controller;
    if (paddable && len > want && len <= max_padded_len) {
        for (std::size_t i = want; i < len; ++i)
            if (d[i] != 0) {
                *why = drop::lb_bad_len;
                return false;
            }
        want = len;
    }
    if (len != want) {
        *why = drop::lb_bad_len;
        return false;
    }
    p->t = t;
    p->request_id = rd16(d + 1);
    p->ep = {};
    p->group_id = 0;
    p->user_id = 0;
    switch (t) {
    case type::register_serving_node:
    case type::register_call_controller:
        p->ep = rd_ep(d + 3);
        break;
    case type::registration_update:
        p->group_id = rd16(d + 3);
        p->user_id = rd32(d + 5);
        p->ep = rd_ep(d + 9);
        break;
    case type::registration_removed:
        p->group_id = rd16(d + 3);
        p->user_id = rd32(d + 5);
        break;
    default:
        break;
    }
    return true;
}

namespace {
std::size_t hdr(uint8_t* out, type t, uint16_t req)
{
    out[0] = static_cast<uint8_t>(t);
    wr16(out + 1, req);
    return header_len;
}
} // namespace

std::size_t encode_register(uint8_t* out, type t, uint16_t req, const endpoint& e)
{
    hdr(out, t, req);
    wr_ep(out + 3, e);
    return register_len;
}

std::size_t encode_start_call(uint8_t* out, uint16_t req, uint16_t call_id, uint16_t group_id)
{
    hdr(out, type::start_call, req);
    wr16(out + 3, call_id);
    wr16(out + 5, group_id);
    return start_call_len;
}

std::size_t encode_ack(uint8_t* out, uint16_t req) { return hdr(out, type::ack, req); }

std::size_t encode_registration_update(uint8_t* out, uint16_t req, uint16_t group, uint32_t user, const endpoint& e)
{
    hdr(out, type::registration_update, req);
    wr16(out + 3, group);
    wr32(out + 5, user);
    wr_ep(out + 9, e);
    return registration_update_len;
}

std::size_t encode_registration_removed(uint8_t* out, uint16_t req, uint16_t group, uint32_t user)
{
    hdr(out, type::registration_removed, req);
    wr16(out + 3, group);
    wr32(out + 5, user);
    return registration_removed_len;
}

std::size_t encode_request_serving_node(uint8_t* out, uint16_t req)
{
    return hdr(out, type::request_serving_node, req);
}

std::size_t encode_serving_node_response(uint8_t* out, uint16_t req, const endpoint& e)
{
    hdr(out, type::serving_node_response, req);
    wr_ep(out + 3, e);
    return serving_node_response_len;
}

std::size_t encode_serving_nodes(uint8_t* out, uint16_t req, const endpoint* eps, std::size_t n)
{
    hdr(out, type::serving_nodes, req);
    for (std::size_t i = 0; i < n; ++i)
        wr_ep(out + header_len + i * endpoint_len, eps[i]);
    return header_len + n * endpoint_len;
}

std::size_t encode_serving_node_removed(uint8_t* out, uint16_t req, const endpoint& e)
{
    hdr(out, type::serving_node_removed, req);
    wr_ep(out + 3, e);
    return serving_node_removed_len;
}

} // namespace peregrine::lb
