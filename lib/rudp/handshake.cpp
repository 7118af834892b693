#include "rudp/handshake.hpp"

#include <cstring>

#include <openssl/crypto.h>

#include "crypto/crc32.hpp"

namespace peregrine::rudp {

bool body_crc_ok(const header& h, const uint8_t* body, size_t n)
{
    return !h.has(flag::checksum) || crypto::crc32(body, n) == h.crc;
}

namespace {
// A datagram of the handshake: header with the flags given (CRC-32 filled when CHECKSUM), body.
size_t build(uint8_t* out, type t, uint8_t flags, uint16_t seq, const uint8_t* body, size_t blen)
{
    header h;
    h.t = t;
    h.flags = flags;
    h.seq = seq;
    if (flags & flag::checksum)
        h.crc = crypto::crc32(body, blen);
    const unsigned hl = write_header(out, &h);
    std::memmove(out + hl, body, blen);
    return hl + blen;
}
} // namespace

handshaker::result handshaker::fits(result r, size_t n, const answers& a)
{
    // An ERROR is never longer than the datagram it answers (a 4-byte AUTH gets none).
    if (r == result::error && base_header + 1 + a.err_len > n) {
        ++c_.too_short;
        return result::drop;
    }
    return r;
}

handshaker::result handshaker::on_auth(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now,
                                       answers* out)
{
    return fits(auth(ep, d, n, h, now, out), n, *out);
}

handshaker::result handshaker::on_finished(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now,
                                           handshake_done* done, answers* out)
{
    return fits(finish(ep, d, n, h, now, done, out), n, *out);
}

handshaker::result handshaker::auth(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now,
                                    answers* out)
{
    ++c_.auth_rx;
    const uint8_t* body = d + h.len;
    const size_t blen = n - h.len;
    auth_body a;
    if (!body_crc_ok(h, body, blen)) {
        ++c_.bad_auth;
        out->error = err::checksum;
        out->err_len = 0;
        return result::error;
    }
    if (!parse_auth(body, blen, &a)) {
        ++c_.bad_auth;
        out->error = err::packet;
        out->err_len = 0;
        return result::error;
    }
    if (a.key_len != x25519_key_len) {
        ++c_.bad_key;
        out->error = err::connection;
        out->err_len = 0;
        return result::error;
    }
    // The same AUTH again (our answer was lost): the same answer, as long as it still fits.
    auto it = open_.find(ep);
    if (it != open_.end() && std::memcmp(it->second.client_pub, a.key, x25519_key_len) == 0 &&
        it->second.client_seq == h.seq) {
        if (it->second.auth.size() + it->second.ack.size() > n) {
            ++c_.short_auth;
            out->error = err::connection;
            out->err_len = 2;
            const size_t need = it->second.auth.size() + it->second.ack.size();
            out->err_data[0] = static_cast<uint8_t>(need >> 8);
            out->err_data[1] = static_cast<uint8_t>(need);
            return result::error;
        }
        ++c_.repeated;
        std::memcpy(out->auth, it->second.auth.data(), it->second.auth.size());
        out->auth_len = it->second.auth.size();
        std::memcpy(out->ack, it->second.ack.data(), it->second.ack.size());
        out->ack_len = it->second.ack.size();
        return result::answer;
    }
    // Both answers, sized before any public-key work, so that a short AUTH costs nothing.
    const uint8_t fl = h.flags & flag::checksum;  // the client's choice of CRC, echoed
    static constexpr size_t max_sig = 80;         // ECDSA P-256 (DER) or Ed25519
    const size_t cert_len = cfg_.id ? cfg_.id->der.size() : 0;
    const size_t need = header_len(flag::reliable | fl) + 2 + x25519_key_len + 2 + cert_len + header_len(fl) +
                        ack_fields + finished_len + (cfg_.id ? max_sig : 0);
    if (need > n) {
        ++c_.short_auth;
        out->error = err::connection;
        out->err_len = 2;
        out->err_data[0] = static_cast<uint8_t>(need >> 8);
        out->err_data[1] = static_cast<uint8_t>(need);
        return result::error;
    }
    if (cfg_.client_ca && !a.cert) {
        ++c_.bad_cert;
        out->error = err::certificate_invalid;
        out->err_len = 0;
        return result::error;
    }
    if (it == open_.end() && open_.size() >= cfg_.max_half_open) {
        ++c_.half_open_full;
        out->error = err::no_space;
        out->err_len = 0;
        return result::error;
    }

    half hs{};
    hs.created = now;
    hs.client_seq = h.seq;
    std::memcpy(hs.client_pub, a.key, x25519_key_len);
    keypair kp;
    uint8_t shared[32];
    if (!make_keypair(&kp) || !shared_secret(kp, a.key, shared) ||
        !derive_keys(shared, a.key, kp.pub, &hs.done.keys)) {
        OPENSSL_cleanse(shared, sizeof(shared));
        ++c_.bad_key;
        out->error = err::connection;
        out->err_len = 0;
        return result::error;
    }
    OPENSSL_cleanse(shared, sizeof(shared));

    // Server AUTH, seq 0, RELIABLE: the client's finished acknowledges it.
    uint8_t sbody[max_datagram];
    const size_t sblen = write_auth(sbody, kp.pub, x25519_key_len,
                                    cfg_.id ? reinterpret_cast<const uint8_t*>(cfg_.id->der.data()) : nullptr,
                                    static_cast<uint16_t>(cert_len));
    out->auth_len = build(out->auth, type::auth, flag::reliable | fl, 0, sbody, sblen);
    sha256(d, n, out->auth, out->auth_len, hs.transcript);

    // A client certificate is checked now, its signature over the transcript with its finished.
    if (a.cert && cfg_.client_ca) {
        hs.client_cert = true;
        hs.client_der.assign(reinterpret_cast<const char*>(a.cert), a.cert_len);
    }

    // Server finished: ACK seq 1 of the client's AUTH, HMAC of the transcript [|| signature].
    uint8_t abody[ack_fields + finished_len + max_sig];
    write_ack(abody, h.seq, 0);
    finished(hs.done.keys.server_finished_key, hs.transcript, abody + ack_fields);
    size_t alen = ack_fields + finished_len;
    if (cfg_.id) {
        const size_t sl = sign_transcript(*cfg_.id, hs.transcript, abody + alen, max_sig);
        if (!sl) {
            ++c_.bad_key;
            out->error = err::connection;
            out->err_len = 0;
            return result::error;
        }
        alen += sl;
    }
    out->ack_len = build(out->ack, type::ack, fl, 1, abody, alen);
    hs.done.server_next = 2;
    hs.auth.assign(reinterpret_cast<const char*>(out->auth), out->auth_len);
    hs.ack.assign(reinterpret_cast<const char*>(out->ack), out->ack_len);
    open_[ep] = std::move(hs);
    ages_.emplace_back(now, ep);
    ++c_.answered;
    return result::answer;
}

handshaker::result handshaker::finish(uint64_t ep, const uint8_t* d, size_t n, const header& h, uint64_t now,
                                      handshake_done* done, answers* out)
{
    (void)now;
    auto it = open_.find(ep);
    if (it == open_.end()) {
        ++c_.no_handshake;
        out->error = err::connection;
        out->err_len = 0;
        return result::error;
    }
    half& hs = it->second;
    const uint8_t* body = d + h.len;
    const size_t blen = n - h.len;
    ack_body a;
    if (!body_crc_ok(h, body, blen) || !parse_ack(body, blen, &a) || a.ack_id != 0 || a.data_len < finished_len) {
        ++c_.bad_finished;
        out->error = err::finish_invalid;
        out->err_len = 0;
        return result::error;
    }
    uint8_t want[finished_len];
    finished(hs.done.keys.client_finished_key, hs.transcript, want);
    if (CRYPTO_memcmp(want, a.data, finished_len) != 0) {
        // A tampered handshake: the half-open entry goes, the client starts again.
        ++c_.bad_finished;
        open_.erase(it);
        out->error = err::finish_invalid;
        out->err_len = 0;
        return result::error;
    }
    if (hs.client_cert) {
        const bool ok = cfg_.client_ca &&
                        verify_peer(cfg_.client_ca, reinterpret_cast<const uint8_t*>(hs.client_der.data()),
                                    hs.client_der.size(), hs.transcript, a.data + finished_len,
                                    a.data_len - finished_len);
        if (!ok) {
            ++c_.bad_cert;
            open_.erase(it);
            out->error = err::certificate_invalid;
            out->err_len = 0;
            return result::error;
        }
    } else if (a.data_len != finished_len) {
        ++c_.bad_finished;
        out->error = err::finish_invalid;
        out->err_len = 0;
        return result::error;
    }
    *done = hs.done;
    done->client_top = h.seq;
    OPENSSL_cleanse(&hs.done, sizeof(hs.done));
    open_.erase(it);
    ++c_.finished;
    return result::answer;
}

void handshaker::expire(uint64_t now)
{
    while (!ages_.empty() && static_cast<int64_t>(now - ages_.front().first) > static_cast<int64_t>(cfg_.half_open_tsc)) {
        auto it = open_.find(ages_.front().second);
        // Only the entry this age was recorded for (a newer AUTH from the endpoint replaced it).
        if (it != open_.end() && it->second.created == ages_.front().first) {
            OPENSSL_cleanse(&it->second.done, sizeof(it->second.done));
            open_.erase(it);
            ++c_.expired;
        }
        ages_.pop_front();
    }
}

} // namespace peregrine::rudp
