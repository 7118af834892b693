// libFuzzer target for the LEKT parser and connection state machine. Each input is used as:
//  (a) one packet for every parser (handshake, response to each method index, heartbeat,
//      update) from an exact-size heap copy, so ASan catches any over-read; a parsed length must
//      lie inside the input and match the wire format;
//  (b) a TCP byte stream from a client, delivered in chunks (sizes derived from the input) to a
//      session whose membership holds other members, exactly as the server feeds it: at most one
//      packet per feed, unconsumed bytes kept. Everything the server writes must decode as valid
//      server packets (updates within max_update_len), a refused session must say why and stop
//      reading, and when the session ends the membership is back to the other members.
// A failed check aborts.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_check.hpp"
#include "lekt/codec.hpp"
#include "lekt/membership.hpp"
#include "lekt/session.hpp"

using namespace peregrine::lekt;

namespace {

void check_parsers(const uint8_t* d, std::size_t n)
{
    handshake h{};
    parse_result r = parse_handshake(d, n, &h);
    if (r.status == parse_status::ok) {
        FUZZ_CHECK(r.len <= n && r.len <= max_handshake_len);
        FUZZ_CHECK(r.len == header_len + 4 + (std::size_t(h.method_count) + 31) / 32 * 4);
        FUZZ_CHECK(h.major == version_major && (h.methods & ~0x1Eu) == 0);
    }
    for (uint32_t k = 0; k <= max_known_method + 1; ++k) {
        const uint8_t* info = nullptr;
        r = parse_response(d, n, k, &info);
        if (r.status == parse_status::ok) {
            FUZZ_CHECK(k >= 1 && k <= max_known_method);
            FUZZ_CHECK(r.len == header_len + 4 + method_data_len(k) && r.len <= n);
            FUZZ_CHECK(info == d + header_len + 4);
        }
    }
    int64_t t;
    r = parse_heartbeat(d, n, &t);
    if (r.status == parse_status::ok)
        FUZZ_CHECK(r.len == heartbeat_len && n >= heartbeat_len);
    update_view u{};
    r = parse_update(d, n, &u);
    if (r.status == parse_status::ok) {
        FUZZ_CHECK(r.len <= n && r.len <= max_update_len);
        FUZZ_CHECK(u.body == d + update_header_len && update_header_len + u.body_len == r.len);
    }
}

// Decodes what the server wrote; returns the number of Reject packets.
unsigned check_output(const std::string& s)
{
    const auto* d = reinterpret_cast<const uint8_t*>(s.data());
    std::size_t off = 0;
    unsigned rejects = 0;
    while (off < s.size()) {
        const std::size_t n = s.size() - off;
        FUZZ_CHECK(n >= header_len && std::memcmp(d + off, "LEKT", 4) == 0);
        FUZZ_CHECK(d[off + 5] == version_major);
        switch (d[off + 4]) {
        case 'A':
            off += header_len;
            break;
        case 'T':
            FUZZ_CHECK(n >= header_len + 4 && get_u32(d + off + header_len) <= max_known_method);
            off += header_len + 4;
            break;
        case 'R': {
            const void* z = std::memchr(d + off + header_len, 0, n - header_len);
            FUZZ_CHECK(z != nullptr);
            const std::size_t len = static_cast<const uint8_t*>(z) - (d + off) + 1;
            FUZZ_CHECK(len <= header_len + max_reason_len + 1);
            off += len;
            ++rejects;
            break;
        }
        case 'H': {
            update_view u{};
            const parse_result r = parse_update(d + off, n, &u);
            FUZZ_CHECK(r.status == parse_status::ok);
            off += r.len;
            break;
        }
        default:
            FUZZ_CHECK(false);
        }
    }
    return rejects;
}

std::string record(uint32_t ip)
{
    std::string r;
    put_u32(r, 4 + 4 + 6);
    put_u32(r, ip);
    put_u32(r, 1);
    put_u32(r, ip);
    put_u16(r, 5000);
    return r;
}

void check_stream(const uint8_t* d, std::size_t n)
{
    membership m(16);
    m.add(0xC6120010, 1, record(0xC6120010));
    m.add(0xC6120002, 2, record(0xC6120002));  // shares the fuzzed peer's IP
    {
        session s(m, 0xC6120002, 40000);
        std::string out;
        uint8_t buf[2048];
        std::size_t have = 0;
        std::size_t off = 0;
        unsigned step = 0;
        bool closed = false;
        while (off < n || have > 0) {
            // Chunk sizes from the data itself: deterministic, and the fuzzer can steer them.
            const std::size_t chunk = 1 + (off < n ? d[off] % 23 : 0);
            const std::size_t take = std::min({chunk, n - off, sizeof(buf) - have});
            std::memcpy(buf + have, d + off, take);
            have += take;
            off += take;
            for (;;) {
                const auto r = s.feed(buf, have, out);
                if (r.close) {
                    FUZZ_CHECK(s.state() == session::phase::closed && r.consumed == 0);
                    closed = true;
                    break;
                }
                if (r.consumed == 0)
                    break;
                FUZZ_CHECK(r.consumed <= have);
                std::memmove(buf, buf + r.consumed, have - r.consumed);
                have -= r.consumed;
                // Churn between packets so answers carry changes, removals and re-announcements.
                if (++step % 3 == 0) {
                    const uint64_t id = m.add(0xC6120000 + step % 5, uint16_t(step), record(0xC6120000 + step % 5));
                    if (step % 2)
                        m.remove(id);
                }
                m.compact(s.position());
            }
            // The input buffer never holds more than the largest client packet unparsed.
            FUZZ_CHECK(closed || have < max_handshake_len);
            if (closed || take == 0)
                break;
        }
        const unsigned rejects = check_output(out);
        FUZZ_CHECK(rejects == (closed ? 1u : 0u));
        if (closed) {
            FUZZ_CHECK(s.member_id() == 0);
            std::string more;
            FUZZ_CHECK(s.feed(buf, have, more).consumed == 0 && more.empty());
        }
    }
    // The session left: only the members added by the churn above (and the two) remain, none of
    // them the fuzzed one.
    m.for_each([](const membership::member& x) { FUZZ_CHECK(x.tcp_port != 40000 || x.ip != 0xC6120002); });
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size)
{
    // Exact-size copy: ASan flags any read past the end.
    auto copy = std::make_unique<uint8_t[]>(size ? size : 1);
    if (size)
        std::memcpy(copy.get(), data, size);
    check_parsers(copy.get(), size);
    check_stream(copy.get(), size);
    return 0;
}
