// libFuzzer target for the RUDP parsers and the server's handshake (DPDK-free). Each input is:
//  (a) one datagram for the header parser and the body parsers, from an exact-size heap copy
//      (ASan catches any over-read): what parses must lie inside the input, carry only the flags
//      its type allows, and write back to the same header bytes;
//  (b) a client AUTH and then a client finished for the handshaker, from the same endpoint:
//      every answer, answers or ERROR, must be no longer than the datagram it answers (no
//      amplification), and a finished made of fuzz bytes must never open a connection;
//  (c) the same bytes as the public key of a well-formed padded AUTH: any 32 bytes are an
//      X25519 key, so it is answered (both answers within the AUTH's size) unless the shared
//      secret comes out zero.
// A failed check aborts.

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_check.hpp"
#include "rudp/codec.hpp"
#include "rudp/handshake.hpp"

using namespace peregrine::rudp;

namespace {

handshaker& hs()
{
    static handshaker h([] {
        handshake_config c;
        c.max_half_open = 64;
        c.half_open_tsc = 1000;
        return c;
    }());
    return h;
}

uint64_t clock_now = 0;

void check_parsers(const uint8_t* d, size_t n)
{
    header h;
    uint8_t why = 0;
    if (!parse_header(d, n, &h, &why)) {
        FUZZ_CHECK(why == err::packet || why == err::version || why == err::packet_type || why == err::flags ||
                   why == err::fragment_id || why == err::fragment_number);
        return;
    }
    FUZZ_CHECK(h.len == header_len(h.flags) && h.len <= n && n - h.len <= max_body);
    FUZZ_CHECK((h.flags & ~allowed_flags(h.t)) == 0);
    if (h.has(flag::frag))
        FUZZ_CHECK(h.frag_count >= 2 && h.frag_id < h.frag_count);
    uint8_t again[max_header];
    header w = h;
    FUZZ_CHECK(write_header(again, &w) == h.len && std::memcmp(again, d, h.len) == 0);
    uint8_t aad[max_header];
    FUZZ_CHECK(message_aad(h, aad) == h.len);
    const uint8_t* body = d + h.len;
    const size_t blen = n - h.len;
    ack_body a;
    if (parse_ack(body, blen, &a))
        FUZZ_CHECK(a.data == body + ack_fields && a.data_len == blen - ack_fields);
    auth_body u;
    if (parse_auth(body, blen, &u)) {
        FUZZ_CHECK(u.key == body + 2 && u.key_len > 0 && size_t(u.key_len) + 2 <= blen);
        FUZZ_CHECK(u.padding <= blen);
        if (u.cert)
            FUZZ_CHECK(u.cert >= body && u.cert + u.cert_len <= body + blen);
    }
}

// The answer's bytes for an AUTH or finished of n bytes from endpoint ep.
void check_handshake(uint64_t ep, const uint8_t* d, size_t n)
{
    header h;
    uint8_t why;
    if (!parse_header(d, n, &h, &why))
        return;
    handshaker::answers a;
    clock_now += 7;
    if (h.t == type::auth) {
        const auto r = hs().on_auth(ep, d, n, h, clock_now, &a);
        if (r == handshaker::result::answer)
            FUZZ_CHECK(a.auth_len + a.ack_len <= n);
        else if (r == handshaker::result::error)
            FUZZ_CHECK(base_header + 1 + a.err_len <= n && a.err_len <= 2);
    } else if (h.t == type::ack) {
        handshake_done done;
        const auto r = hs().on_finished(ep, d, n, h, clock_now, &done, &a);
        // 32 bytes of MAC a fuzzer does not know: never a connection.
        FUZZ_CHECK(r != handshaker::result::answer);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::unique_ptr<uint8_t[]> copy(new uint8_t[size ? size : 1]);
    std::memcpy(copy.get(), data, size);
    check_parsers(copy.get(), size);

    // (b): the input as an AUTH, then the same bytes retyped as a finished, from one endpoint.
    const uint64_t ep = size ? data[0] : 0;
    check_handshake(ep, copy.get(), size);
    if (size >= base_header) {
        std::vector<uint8_t> fin(copy.get(), copy.get() + size);
        fin[0] = static_cast<uint8_t>(type::ack);
        fin[1] &= flag::checksum;
        check_handshake(ep, fin.data(), fin.size());
    }

    // (c): the first 32 bytes (zero-padded) as the key of a well-formed, fully padded AUTH.
    std::vector<uint8_t> auth(base_header + max_body, 0);
    auth[0] = static_cast<uint8_t>(type::auth);
    auth[1] = flag::reliable;
    auth[5] = x25519_key_len;
    std::memcpy(auth.data() + 6, data, size < 32 ? size : 32);
    header h;
    uint8_t why;
    FUZZ_CHECK(parse_header(auth.data(), auth.size(), &h, &why));
    handshaker::answers a;
    const auto r = hs().on_auth(1000 + ep, auth.data(), auth.size(), h, ++clock_now, &a);
    FUZZ_CHECK(r == handshaker::result::answer || (r == handshaker::result::error && a.error == err::connection) ||
               (r == handshaker::result::error && a.error == err::no_space));
    if (r == handshaker::result::answer)
        FUZZ_CHECK(a.auth_len + a.ack_len <= auth.size());
    hs().expire(clock_now);
    return 0;
}
