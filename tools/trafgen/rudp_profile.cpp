#include "rudp_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <rte_byteorder.h>

#include "crypto/crc32.hpp"
#include "rudp/codec.hpp"

namespace peregrine::trafgen {

namespace rc = peregrine::rudp;

std::string check_rudp_config(const rudp_config& c)
{
    rudp_config probe = c;
    probe.common.base_id = 0;
    std::string why = check_router_config(probe.common);
    if (!why.empty())
        return why;
    if (c.flags & (rc::flag::reliable | rc::flag::frag | rc::flag::reserved))
        return "--rudp-flags: only checksum, compressed and encrypted are offered (one datagram, no ACKs)";
    const unsigned room = rc::max_body - ((c.flags & rc::flag::encrypted) ? rc::tag_len : 0);
    if (c.common.payload_min < 16 || c.common.payload_max > room)
        return "--payload must be within [16, " + std::to_string(room) + "] bytes for RUDP (the stamp; one datagram)";
    return {};
}

std::unique_ptr<rudp_profile> rudp_profile::create(const rudp_config& c, std::string* err)
{
    auto mb = crypto::mb_context::create();
    if (!mb) {
        *err = "cannot create an IPsec-MB context";
        return nullptr;
    }
    return std::unique_ptr<rudp_profile>(new rudp_profile(c, std::move(mb)));
}

rudp_profile::rudp_profile(const rudp_config& c, std::unique_ptr<crypto::mb_context> mb)
    : cfg_(c), space_{c.common.client_ip, c.common.client_port, c.common.ports_per_ip, c.common.clients},
      mb_(std::move(mb)), cl_(c.common.clients), rng_(c.common.seed + 5)
{
}

// Our datagram (header and body at payload) as a frame from client k.
uint16_t rudp_profile::frame(frame_buf& f, uint32_t k, const uint8_t* payload, uint16_t len)
{
    const router_config& r = cfg_.common;
    udp_addrs a;
    a.src_mac = r.src_mac;
    a.dst_mac = r.dst_mac;
    a.src_ip_be = rte_cpu_to_be_32(space_.ip(k));
    a.dst_ip_be = rte_cpu_to_be_32(r.server_ip);
    a.src_port_be = rte_cpu_to_be_16(space_.port(k));
    a.dst_port_be = rte_cpu_to_be_16(cfg_.server_port);
    f.len = build_udp(f.data, a, payload, len, len, ip_id_++);
    return f.len;
}

unsigned rudp_profile::setup_burst(frame_buf* f, unsigned n, uint64_t now, setup_state* state)
{
    const router_config& r = cfg_.common;
    if (setup_start_ == 0)
        setup_start_ = pass_start_ = now;
    if (n_open_ == r.clients) {
        if (!setup_end_)
            setup_end_ = now;
        *state = setup_state::done;
        return 0;
    }
    *state = setup_state::running;
    unsigned built = 0;
    // Finisheds first: their handshakes are the furthest along.
    while (built < n && !fin_due_.empty()) {
        const uint32_t k = fin_due_.back();
        fin_due_.pop_back();
        client& c = cl_[k];
        uint8_t d[64];
        rc::header h;
        h.t = rc::type::ack;
        h.seq = static_cast<uint16_t>(c.tx_seq++);
        const unsigned hl = rc::write_header(d, &h);
        rc::write_ack(d + hl, 0, 0);
        rc::finished(c.keys.client_finished_key, c.transcript, d + hl + rc::ack_fields);
        frame(f[built++], k, d, static_cast<uint16_t>(hl + rc::ack_fields + rc::finished_len));
        c.state = st_fin_sent;
        ++c_.finished_sent;
    }
    // A pass that has gone quiet: whoever is not open starts again with a new key.
    if (cursor_ == r.clients && now - pass_start_ > r.tsc_hz / 1000 * r.register_timeout_ms) {
        if (passes_ > r.register_retries) {
            *state = setup_state::failed;
            setup_end_ = now;
            return built;
        }
        ++passes_;
        cursor_ = 0;
        in_flight_ = 0;
        pass_start_ = now;
        for (auto& c : cl_)
            if (c.state != st_open && c.state != st_idle) {
                c.state = st_idle;
                ++c_.restarts;
            }
    }
    while (built < n && cursor_ < r.clients && in_flight_ < r.register_window) {
        const uint32_t k = cursor_++;
        client& c = cl_[k];
        if (c.state == st_open)
            continue;
        if (!rc::make_keypair(&c.kp)) {
            ++c_.bad_handshake;
            continue;
        }
        c.auth.assign(rc::base_header + rc::max_body, 0);
        c.auth[0] = static_cast<uint8_t>(rc::type::auth);
        c.auth[1] = rc::flag::reliable;
        c.auth[5] = rc::x25519_key_len;
        std::memcpy(c.auth.data() + 6, c.kp.pub, rc::x25519_key_len);
        c.tx_seq = 1;  // the AUTH is number 0
        c.state = st_auth_sent;
        frame(f[built++], k, c.auth.data(), static_cast<uint16_t>(c.auth.size()));
        ++in_flight_;
        ++c_.auth_sent;
        pass_start_ = now;
    }
    return built;
}

void rudp_profile::handshake_answer(uint32_t k, const uint8_t* d, uint16_t n)
{
    client& c = cl_[k];
    rc::header h;
    uint8_t why;
    if (!rc::parse_header(d, n, &h, &why)) {
        ++c_.bad_handshake;
        return;
    }
    if (c.state == st_auth_sent && h.t == rc::type::auth) {
        rc::auth_body a;
        uint8_t shared[32];
        if (!rc::parse_auth(d + h.len, n - h.len, &a) || a.key_len != rc::x25519_key_len ||
            !rc::shared_secret(c.kp, a.key, shared) || !rc::derive_keys(shared, c.kp.pub, a.key, &c.keys)) {
            ++c_.bad_handshake;
            return;
        }
        rc::sha256(c.auth.data(), c.auth.size(), d, n, c.transcript);
        c.auth.clear();
        c.state = st_fin_due;  // once the server's finished checks out
        c.rx_top = 0;
        return;
    }
    if (c.state == st_fin_due && h.t == rc::type::ack && !h.has(rc::flag::encrypted)) {
        rc::ack_body a;
        uint8_t want[rc::finished_len];
        rc::finished(c.keys.server_finished_key, c.transcript, want);
        if (!rc::parse_ack(d + h.len, n - h.len, &a) || a.data_len < rc::finished_len ||
            std::memcmp(a.data, want, rc::finished_len) != 0) {
            ++c_.bad_handshake;
            return;
        }
        c.rx_top = 1;
        c.tx_key = std::make_unique<crypto::gcm_key>();
        c.rx_key = std::make_unique<crypto::gcm_key>();
        crypto::make_gcm_key(*mb_, c.keys.c2s_key, rc::key_len, c.tx_key.get());
        crypto::make_gcm_key(*mb_, c.keys.s2c_key, rc::key_len, c.rx_key.get());
        fin_due_.push_back(k);
        return;
    }
    if (c.state == st_fin_sent && h.t == rc::type::ack && h.has(rc::flag::encrypted)) {
        // The confirmation: an encrypted ACK of our finished.
        uint8_t buf[64];
        const uint32_t blen = n - h.len;
        if (blen != rc::ack_fields + rc::tag_len)
            return;
        std::memcpy(buf, d + h.len, blen);
        uint8_t nonce[crypto::gcm_iv_len];
        rc::make_nonce(c.keys.s2c_salt, rc::message_counter(h), nonce);
        const crypto::gcm_op op{buf, buf, rc::ack_fields, nonce, d, h.len, buf + rc::ack_fields};
        bool ok = false;
        crypto::aes_gcm_decrypt_burst(*mb_, *c.rx_key, &op, 1, &ok);
        if (!ok)
            return;
        c.state = st_open;
        ++n_open_;
        ++c_.opened;
        if (in_flight_)
            --in_flight_;
    }
}

std::string rudp_profile::setup_summary() const
{
    char b[256];
    std::snprintf(b, sizeof(b), "%u of %u connections open in %.2f s (%lu AUTH sent, %u pass%s, %lu restarted)",
                  n_open_, cfg_.common.clients,
                  setup_end_ > setup_start_ ? double(setup_end_ - setup_start_) / double(cfg_.common.tsc_hz) : 0.0,
                  static_cast<unsigned long>(c_.auth_sent), passes_, passes_ == 1 ? "" : "es",
                  static_cast<unsigned long>(c_.restarts));
    return b;
}

void rudp_profile::start_measure()
{
    st_ = traffic_stats{};
    const uint64_t opened = c_.opened, auth = c_.auth_sent;
    c_ = counters_t{};
    c_.opened = opened;
    c_.auth_sent = auth;
    rx_err_ = rx_errors{};
}

void rudp_profile::traffic_burst(frame_buf* f, unsigned n, uint64_t now)
{
    const uint32_t nc = cfg_.common.clients;
    const bool enc = cfg_.flags & rc::flag::encrypted;
    for (unsigned i = 0; i < n; ++i) {
        uint32_t k = next_;
        next_ = next_ + 1 == nc ? 0 : next_ + 1;
        client& c = cl_[k];
        uint8_t d[rc::max_datagram];
        rc::header h;
        h.t = rc::type::data;
        h.flags = cfg_.flags & static_cast<uint8_t>(~rc::flag::compressed);  // bodies are random: never smaller
        const uint64_t full = c.tx_seq++;
        h.seq = static_cast<uint16_t>(full);
        h.iv = static_cast<uint16_t>(full >> 16);
        const unsigned hl = rc::header_len(h.flags);
        const uint16_t body = rng_.between(cfg_.common.payload_min, cfg_.common.payload_max);
        uint8_t* p = d + hl;
        const uint64_t tsc = rte_cpu_to_le_64(now);
        const uint32_t seq = rte_cpu_to_le_32(seq_++), m = rte_cpu_to_le_32(magic);
        std::memcpy(p, &tsc, 8);
        std::memcpy(p + 8, &seq, 4);
        std::memcpy(p + 12, &m, 4);
        for (unsigned b = 16; b < body; ++b)
            p[b] = static_cast<uint8_t>(rng_.next());
        if (h.has(rc::flag::checksum))
            h.crc = crypto::crc32(p, body);
        rc::write_header(d, &h);
        uint16_t len = static_cast<uint16_t>(hl + body);
        if (enc && c.tx_key) {
            uint8_t nonce[crypto::gcm_iv_len];
            rc::make_nonce(c.keys.c2s_salt, rc::message_counter(h), nonce);
            const crypto::gcm_op op{p, p, body, nonce, d, hl, p + body};
            crypto::aes_gcm_encrypt_burst(*mb_, *c.tx_key, &op, 1);
            len = static_cast<uint16_t>(len + rc::tag_len);
        }
        st_.offered_bytes += frame(f[i], k, d, len);
        ++c_.sent;
    }
    st_.offered += n;
}

void rudp_profile::receive(const uint8_t* fr, uint16_t flen, uint64_t now)
{
    const router_config& r = cfg_.common;
    udp_rx u;
    if (!rx_err_.accept(parse_udp(fr, flen, r.verify_rx, &u), st_))
        return;
    const uint32_t k = space_.index(rte_be_to_cpu_32(u.dst_ip_be), rte_be_to_cpu_16(u.dst_port_be));
    if (u.src_ip_be != rte_cpu_to_be_32(r.server_ip) || u.src_port_be != rte_cpu_to_be_16(cfg_.server_port) ||
        k == UINT32_MAX || u.len > rc::max_datagram) {
        rx_err_.count_foreign(st_);
        return;
    }
    client& c = cl_[k];
    if (c.state != st_open) {
        handshake_answer(k, u.payload, u.len);
        return;
    }
    rc::header h;
    uint8_t why;
    if (!rc::parse_header(u.payload, u.len, &h, &why)) {
        ++c_.bad_echo;
        ++st_.rx_other;
        return;
    }
    if (h.t == rc::type::error) {
        ++c_.errors_rx;
        ++st_.rx_other;
        return;
    }
    if (h.t != rc::type::data) {
        ++c_.other;
        ++st_.rx_other;
        return;
    }
    uint8_t buf[rc::max_datagram];
    uint32_t blen = u.len - h.len;
    std::memcpy(buf, u.payload + h.len, blen);
    if (h.has(rc::flag::encrypted)) {
        if (blen < rc::tag_len) {
            ++c_.bad_echo;
            ++st_.rx_other;
            return;
        }
        blen -= rc::tag_len;
        uint8_t nonce[crypto::gcm_iv_len];
        rc::make_nonce(c.keys.s2c_salt, rc::message_counter(h), nonce);
        const crypto::gcm_op op{buf, buf, blen, nonce, u.payload, h.len, buf + blen};
        bool ok = false;
        crypto::aes_gcm_decrypt_burst(*mb_, *c.rx_key, &op, 1, &ok);
        if (!ok) {
            ++c_.bad_echo;
            ++st_.rx_other;
            return;
        }
    }
    if ((h.has(rc::flag::checksum) && crypto::crc32(buf, blen) != h.crc) || blen < 16 || h.has(rc::flag::compressed)) {
        ++c_.bad_echo;
        ++st_.rx_other;
        return;
    }
    uint64_t tsc;
    uint32_t m;
    std::memcpy(&tsc, buf, 8);
    std::memcpy(&m, buf + 12, 4);
    if (rte_le_to_cpu_32(m) != magic) {
        ++c_.bad_echo;
        ++st_.rx_other;
        return;
    }
    ++c_.echo_rx;
    tsc = rte_le_to_cpu_64(tsc);
    record_answer(st_, flen, tsc, now);
    if (!tsc || now < tsc)
        ++c_.untimed;
}

std::vector<std::pair<std::string, uint64_t>> rudp_profile::counters() const
{
    std::vector<std::pair<std::string, uint64_t>> v{
        {"connections_open", n_open_},  {"auth_sent", c_.auth_sent},     {"finished_sent", c_.finished_sent},
        {"restarts", c_.restarts},      {"bad_handshake", c_.bad_handshake}, {"sent", c_.sent},
        {"echo_rx", c_.echo_rx},        {"bad_echo", c_.bad_echo},       {"errors_rx", c_.errors_rx},
        {"other_rx", c_.other},         {"untimed", c_.untimed},
    };
    rx_err_.append_to(v);
    return v;
}

} // namespace peregrine::trafgen
