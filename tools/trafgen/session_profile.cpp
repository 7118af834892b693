#include "session_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <rte_byteorder.h>

#include "session/codec.hpp"

namespace peregrine::trafgen {

namespace sc = peregrine::session;

namespace {
constexpr size_t slot_stride = 1472;  // 64-byte header + 1400-byte body, rounded up
constexpr uint8_t id_magic[8] = {'P', 'G', 'T', 'G', 'S', 'E', 'S', 'S'};
} // namespace

std::string check_session_config(const session_config& c)
{
    session_config probe = c;
    probe.common.base_id = 0;
    std::string why = check_router_config(probe.common);
    if (!why.empty())
        return why;
    if (c.noack_pct > 100)
        return "--session-noack-pct must be in [0, 100]";
    // 64-byte header + body within a 1500-byte MTU.
    if (c.common.payload_max > 1400)
        return "--payload must stay within 1400 body bytes";
    return {};
}

std::unique_ptr<session_profile> session_profile::create(const session_config& c, std::string* err)
{
    auto mb = crypto::mb_context::create();
    if (!mb) {
        *err = "cannot create an IPsec-MB context (out of memory, or the CPU lacks SSE4.2)";
        return nullptr;
    }
    return std::unique_ptr<session_profile>(new session_profile(c, std::move(mb)));
}

session_profile::session_profile(const session_config& c, std::unique_ptr<crypto::mb_context> mb)
    : cfg_(c), space_{c.common.client_ip, c.common.client_port, c.common.ports_per_ip, c.common.clients},
      pacer_(c.common.register_window, c.common.register_retries, c.common.tsc_hz / 1000 * c.common.register_timeout_ms),
      mb_(std::move(mb)), keyed_(!c.key.empty()), open_(c.common.clients, 0),
      token_(c.common.clients, 0), order_(c.common.clients, 0),
      sent_tsc_(c.common.clients, 0), last_digest_(size_t(c.common.clients) * crypto::sha256_len, 0),
      scratch_(max_burst * slot_stride, 0), rng_(c.common.seed + 4)
{
    if (keyed_)
        key_ = crypto::make_hmac_key(*mb_, cfg_.key.data(), cfg_.key.size());
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    base_ms_ = uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

uint64_t session_profile::wall_ms(uint64_t now) const
{
    if (base_tsc_ == 0 || now < base_tsc_)
        return base_ms_;
    return base_ms_ + (now - base_tsc_) * 1000 / cfg_.common.tsc_hz;
}

void session_profile::client_id(uint32_t k, uint8_t* out) const
{
    std::memcpy(out, id_magic, 8);
    const uint64_t be = rte_cpu_to_be_64(k);
    std::memcpy(out + 8, &be, 8);
}

uint16_t session_profile::compose(unsigned s, uint32_t k, uint8_t t, uint64_t order, uint16_t body, uint32_t magic,
                                  uint64_t now, const uint8_t* hello_ts)
{
    uint8_t* p = scratch_.data() + size_t(s) * slot_stride;
    uint8_t id[sc::client_id_len];
    client_id(k, id);
    std::memset(p, 0, sc::digest_len);
    sc::write_header(p, id, static_cast<sc::type>(t), body, static_cast<uint16_t>(k), order, token_[k]);
    uint8_t* b = p + sc::header_len;
    if (hello_ts) {
        std::memcpy(b, hello_ts, sc::timestamp_len);
    } else if (body >= sizeof(body_stamp)) {
        const uint64_t tsc = rte_cpu_to_le_64(now);
        const uint32_t seq = rte_cpu_to_le_32(seq_++), m = rte_cpu_to_le_32(magic);
        std::memcpy(b, &tsc, 8);
        std::memcpy(b + 8, &seq, 4);
        std::memcpy(b + 12, &m, 4);
    } else {
        std::memset(b, 0, sizeof(body_stamp));  // no stale stamp under a short body
    }
    return static_cast<uint16_t>(sc::header_len + body);
}

void session_profile::sign_and_frame(frame_buf* f, const uint32_t* who, const uint16_t* plen, unsigned n)
{
    const uint8_t* data[max_burst];
    uint32_t len[max_burst];
    uint8_t dig[max_burst][crypto::sha256_len];
    for (unsigned i = 0; i < n; ++i) {
        data[i] = scratch_.data() + size_t(i) * slot_stride + sc::off_client;
        len[i] = plen[i] - sc::off_client;
    }
    if (keyed_)
        crypto::hmac_sha256_burst(*mb_, key_, data, len, n, dig);
    else
        crypto::sha256_burst(*mb_, data, len, n, dig);
    const router_config& r = cfg_.common;
    for (unsigned i = 0; i < n; ++i) {
        uint8_t* p = scratch_.data() + size_t(i) * slot_stride;
        std::memcpy(p, dig[i], crypto::sha256_len);
        const uint32_t k = who[i];
        if (p[sc::off_type] == uint8_t(sc::type::data_ack))
            std::memcpy(&last_digest_[size_t(k) * crypto::sha256_len], dig[i], crypto::sha256_len);
        udp_addrs a;
        a.src_mac = r.src_mac;
        a.dst_mac = r.dst_mac;
        a.src_ip_be = rte_cpu_to_be_32(client_ip(k));
        a.dst_ip_be = rte_cpu_to_be_32(r.server_ip);
        a.src_port_be = rte_cpu_to_be_16(client_port(k));
        a.dst_port_be = rte_cpu_to_be_16(cfg_.server_port);
        // Bytes past the stamp are zero in the slot, as build_udp writes them.
        const uint16_t head = static_cast<uint16_t>(std::min<unsigned>(plen[i], sc::header_len + sizeof(body_stamp)));
        f[i].len = build_udp(f[i].data, a, p, head, plen[i], ip_id_++);
    }
}

unsigned session_profile::setup_burst(frame_buf* f, unsigned n, uint64_t now, setup_state* state)
{
    const router_config& r = cfg_.common;
    if (base_tsc_ == 0)
        base_tsc_ = now;  // Unix time from here on is base_ms_ plus TSC time (no clock call per packet)
    if (!pacer_.may_send(now, r.clients, n_open_, state))
        return 0;
    n = std::min(n, max_burst);
    uint32_t who[max_burst];
    uint16_t plen[max_burst];
    uint8_t ts[sc::timestamp_len];
    const uint64_t ts_be = rte_cpu_to_be_64(wall_ms(now));
    std::memcpy(ts, &ts_be, sizeof(ts));
    unsigned built = 0;
    while (built < n && pacer_.more(r.clients)) {
        const uint32_t k = pacer_.take();
        if (open_[k])
            continue;
        who[built] = k;
        plen[built] = compose(built, k, uint8_t(sc::type::hello), 0, sc::timestamp_len, 0, now, ts);
        ++built;
        pacer_.building();
    }
    if (built)
        sign_and_frame(f, who, plen, built);
    pacer_.built(built, now);
    return built;
}

std::string session_profile::setup_summary() const
{
    char b[256];
    std::snprintf(b, sizeof(b), "%u of %u sessions open in %.2f s (%lu HELLO sent, %lu pass%s, %s)", n_open_,
                  cfg_.common.clients, pacer_.seconds(cfg_.common.tsc_hz),
                  static_cast<unsigned long>(pacer_.sent_total()), static_cast<unsigned long>(pacer_.passes()),
                  pacer_.passes() == 1 ? "" : "es", keyed_ ? "HMAC-SHA-256" : "SHA-256");
    return b;
}

void session_profile::start_measure()
{
    st_ = traffic_stats{};
    const counters_t keep = c_;
    c_ = counters_t{};
    c_.accepted = keep.accepted;
    rx_err_ = rx_errors{};
    std::fill(sent_tsc_.begin(), sent_tsc_.end(), 0);
}

void session_profile::traffic_burst(frame_buf* f, unsigned n, uint64_t now)
{
    const uint32_t nc = cfg_.common.clients;
    for (unsigned done = 0; done < n;) {
        const unsigned m = std::min(n - done, max_burst);
        uint32_t who[max_burst];
        uint16_t plen[max_burst];
        for (unsigned i = 0; i < m; ++i) {
            const uint32_t k = next_;
            next_ = next_ + 1 == nc ? 0 : next_ + 1;
            const bool noack = rng_.percent(cfg_.noack_pct);
            who[i] = k;
            plen[i] = compose(i, k, uint8_t(noack ? sc::type::data_noack : sc::type::data_ack), ++order_[k], rng_.between(cfg_.common.payload_min, cfg_.common.payload_max),
                              noack ? magic_noack : magic_ack, now, nullptr);
            if (noack) {
                ++c_.data_noack_sent;
            } else {
                ++c_.data_ack_sent;
                if (sent_tsc_[k])
                    ++c_.stamp_overwritten;
                sent_tsc_[k] = now;
            }
        }
        sign_and_frame(f + done, who, plen, m);
        for (unsigned i = 0; i < m; ++i)
            st_.offered_bytes += f[done + i].len;
        done += m;
    }
    st_.offered += n;
}

void session_profile::answered(uint16_t len, uint64_t sent_tsc, uint64_t now)
{
    record_answer(st_, len, sent_tsc, now);
    if (!sent_tsc || now < sent_tsc)
        ++c_.untimed;
}

void session_profile::receive(const uint8_t* frame, uint16_t len, uint64_t now)
{
    receive_burst(&frame, &len, 1, now);
}

void session_profile::receive_burst(const uint8_t* const* frames, const uint16_t* lens, unsigned n, uint64_t now)
{
    const router_config& r = cfg_.common;
    while (n) {
        const unsigned m = std::min(n, max_burst);
        rx_item it[max_burst];
        const uint8_t* data[max_burst];
        uint32_t len[max_burst];
        uint8_t dig[max_burst][crypto::sha256_len];
        unsigned k = 0;
        for (unsigned i = 0; i < m; ++i) {
            rx_item& x = it[k];
            x.frame = frames[i];
            x.len = lens[i];
            if (!rx_err_.accept(parse_udp(frames[i], lens[i], r.verify_rx, &x.u), st_))
                continue;
            if (x.u.src_ip_be != rte_cpu_to_be_32(r.server_ip) ||
                x.u.src_port_be != rte_cpu_to_be_16(cfg_.server_port) || x.u.len < sc::header_len ||
                x.u.len > sc::header_len + max_body) {
                rx_err_.count_foreign(st_);
                continue;
            }
            data[k] = x.u.payload + sc::off_client;
            len[k] = x.u.len - sc::off_client;
            ++k;
        }
        // The server signs every answer: one multi-buffer call verifies the whole burst.
        if (keyed_)
            crypto::hmac_sha256_burst(*mb_, key_, data, len, k, dig);
        else
            crypto::sha256_burst(*mb_, data, len, k, dig);
        for (unsigned i = 0; i < k; ++i)
            handle(it[i], crypto::digest_equal(dig[i], it[i].u.payload), now);
        frames += m;
        lens += m;
        n -= m;
    }
}

void session_profile::handle(const rx_item& x, bool digest_ok, uint64_t now)
{
    if (!digest_ok) {
        ++c_.bad_digest;
        ++st_.rx_other;
        return;
    }
    const uint8_t* p = x.u.payload;
    const uint32_t ip = rte_be_to_cpu_32(x.u.dst_ip_be);
    const uint16_t port = rte_be_to_cpu_16(x.u.dst_port_be);
    const uint32_t k = space_.index(ip, port);
    uint8_t id[sc::client_id_len];
    if (k != UINT32_MAX)
        client_id(k, id);
    const uint16_t body = sc::load_be16(p + sc::off_length);
    if (k == UINT32_MAX || std::memcmp(p + sc::off_client, id, sc::client_id_len) != 0 ||
        body != x.u.len - sc::header_len) {
        rx_err_.count_foreign(st_);
        return;
    }
    const uint64_t order = sc::load_be64(p + sc::off_order);
    switch (static_cast<sc::type>(p[sc::off_type])) {
    case sc::type::accept:
        if (!open_[k]) {
            open_[k] = 1;
            token_[k] = uint32_t(p[sc::off_token]) << 16 | uint32_t(p[sc::off_token + 1]) << 8 | p[sc::off_token + 2];
            ++n_open_;
            ++c_.accepted;
            pacer_.answered(now);
        } else {
            ++c_.late_accept;
            ++st_.rx_other;
        }
        return;
    case sc::type::ack:
        ++c_.ack_rx;
        if (order != order_[k] || !sent_tsc_[k]) {
            // For an earlier packet of this session: several were in flight, and only the last
            // one's stamp and digest are kept. Still its answer (untimed), if recent enough.
            if (order < order_[k] && order_[k] - order < older_ack_window) {
                ++c_.older_ack;
                answered(x.len, 0, now);
            } else {
                ++c_.stale_ack;
                ++st_.rx_other;
            }
            return;
        }
        if (body != crypto::sha256_len ||
            !crypto::digest_equal(p + sc::header_len, &last_digest_[size_t(k) * crypto::sha256_len])) {
            ++c_.ack_mismatch;
            ++st_.rx_other;
            return;
        }
        answered(x.len, sent_tsc_[k], now);
        sent_tsc_[k] = 0;
        return;
    case sc::type::data_noack: {
        ++c_.echo_rx;
        uint64_t tsc = 0;
        uint32_t magic = 0;
        if (body >= sizeof(body_stamp)) {
            std::memcpy(&tsc, p + sc::header_len, 8);
            std::memcpy(&magic, p + sc::header_len + 12, 4);
            magic = rte_le_to_cpu_32(magic);
        }
        if (magic == magic_noack) {
            ++c_.echo_answer;
            answered(x.len, rte_le_to_cpu_64(tsc), now);
        }
        // Echo of a DATA_ACK (already answered by its ACK) or of a short body: counted only.
        return;
    }
    case sc::type::reject:
        ++c_.rejected;
        ++st_.rx_other;
        return;
    case sc::type::bad_ack:
        ++c_.bad_ack;
        ++st_.rx_other;
        return;
    default:
        rx_err_.count_unexpected(st_);
        return;
    }
}

std::vector<std::pair<std::string, uint64_t>> session_profile::counters() const
{
    std::vector<std::pair<std::string, uint64_t>> v{
        {"sessions_open", n_open_},
        {"hello_sent", pacer_.sent_total()},
        {"accepted", c_.accepted},
        {"hello_passes", pacer_.passes()},
        {"data_ack_sent", c_.data_ack_sent},
        {"data_noack_sent", c_.data_noack_sent},
        {"ack_rx", c_.ack_rx},
        {"echo_rx", c_.echo_rx},
        {"echo_answer", c_.echo_answer},
        {"ack_mismatch", c_.ack_mismatch},
        {"older_ack", c_.older_ack},
        {"stale_ack", c_.stale_ack},
        {"bad_digest", c_.bad_digest},
        {"rejected", c_.rejected},
        {"bad_ack", c_.bad_ack},
        {"untimed", c_.untimed},
        {"stamp_overwritten", c_.stamp_overwritten},
        {"late_accept", c_.late_accept},
    };
    rx_err_.append_to(v);
    return v;
}

} // namespace peregrine::trafgen
