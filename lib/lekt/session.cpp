#include "lekt/session.hpp"

namespace peregrine::lekt {

namespace {

uint32_t read_ip(const uint8_t* d) { return get_u32(d); }

} // namespace

uint32_t session::next_method(uint32_t after) const
{
    for (uint32_t k = after + 1; k <= max_known_method; ++k)
        if (methods_ & (1u << k))
            return k;
    return 0;
}

void session::join()
{
    // Record: u32 size of what follows, u32 IP, then the methods (already appended after 8 bytes).
    const uint32_t size = static_cast<uint32_t>(record_.size() - 4);
    record_[0] = char(size >> 24);
    record_[1] = char(size >> 16);
    record_[2] = char(size >> 8);
    record_[3] = char(size);
    member_ = m_.add(ip_, port_, std::move(record_));
    record_.clear();
    phase_ = phase::heartbeat;
}

void session::leave()
{
    if (member_) {
        m_.remove(member_);
        member_ = 0;
    }
}

void session::fail(reject why, std::string& out)
{
    if (phase_ == phase::closed)
        return;
    encode_reject(out, reject_text(why));
    phase_ = phase::closed;
    leave();
}

session::result session::feed(const uint8_t* d, std::size_t n, std::string& out)
{
    result r;
    if (phase_ == phase::closed || n == 0)
        return r;
    parse_result p{parse_status::need_more};
    switch (phase_) {
    case phase::handshake: {
        handshake h;
        p = parse_handshake(d, n, &h);
        if (p.status != parse_status::ok)
            break;
        methods_ = h.methods;
        encode_accept(out);
        record_.assign(4, '\0');
        put_u32(record_, ip_);
        requested_ = next_method(0);
        encode_request(out, requested_);
        if (requested_ == 0)
            join();
        else
            phase_ = phase::setup;
        break;
    }
    case phase::setup: {
        const uint8_t* info = nullptr;
        p = parse_response(d, n, requested_, &info);
        if (p.status != parse_status::ok)
            break;
        const std::size_t dl = method_data_len(requested_);
        put_u32(record_, requested_);
        const std::size_t at = record_.size();
        record_.append(reinterpret_cast<const char*>(info), dl);
        // An endpoint of 0.0.0.0 is "the address you see me at" (the client behind NAT does not
        // know its public address): fill in the connection's source address.
        if (requested_ != uint32_t(method::router_relay) && read_ip(info) == 0) {
            record_[at] = char(ip_ >> 24);
            record_[at + 1] = char(ip_ >> 16);
            record_[at + 2] = char(ip_ >> 8);
            record_[at + 3] = char(ip_);
        }
        requested_ = next_method(requested_);
        encode_request(out, requested_);
        if (requested_ == 0)
            join();
        break;
    }
    case phase::heartbeat: {
        int64_t stamp;
        p = parse_heartbeat(d, n, &stamp);
        if (p.status != parse_status::ok)
            break;
        m_.answer(&pos_, stamp, out, &r.answer);
        r.heartbeat = true;
        break;
    }
    case phase::closed:
        break;
    }
    if (p.status == parse_status::invalid) {
        fail(p.why, out);
        r.close = true;
        r.why = p.why;
        return r;
    }
    r.consumed = p.status == parse_status::ok ? p.len : 0;
    return r;
}

} // namespace peregrine::lekt
