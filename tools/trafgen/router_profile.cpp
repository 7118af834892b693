#include "router_profile.hpp"

#include <cstdio>
#include <cstring>

#include <rte_byteorder.h>

#include "router/codec.hpp"

namespace peregrine::trafgen {

namespace rc = peregrine::router;

std::string check_router_config(const router_config& c)
{
    if (c.clients == 0)
        return "--clients must be at least 1";
    if (c.ports_per_ip == 0 || uint32_t(c.client_port) + c.ports_per_ip - 1 > 65535)
        return "--client-port + --ports-per-ip exceeds UDP port 65535";
    const uint64_t last_ip = uint64_t(c.client_ip) + (c.clients - 1) / c.ports_per_ip;
    if (last_ip > 0xdfffffffu || (c.client_ip >> 24) == 0 || (c.client_ip >> 24) == 127)
        return "client addresses (--client-ip + clients / --ports-per-ip) must stay unicast";
    if (c.server_ip >= c.client_ip && c.server_ip <= last_ip)
        return "the engine's address is inside the client address range";
    // IDs base..base+N-1 are registered; base+N..base+2N-1 are the unknown ones.
    if (uint64_t(c.base_id) + 2ull * c.clients > 0x100000000ull)
        return "--base-id + 2 x --clients must fit in 32 bits (the unknown IDs follow the registered ones)";
    if (c.heartbeat_pct > 100 || c.unknown_pct > 100)
        return "percentages must be in [0, 100]";
    if (c.payload_min > c.payload_max || c.payload_max > rc::max_payload)
        return "--payload must be MIN[-MAX] with MIN <= MAX <= 1400";
    if (c.register_window == 0)
        return "--register-window must be at least 1";
    if (c.tsc_hz == 0)
        return "TSC frequency unknown";
    return {};
}

router_profile::router_profile(const router_config& c)
    : cfg_(c), space_{c.client_ip, c.client_port, c.ports_per_ip, c.clients},
      pacer_(c.register_window, c.register_retries, c.tsc_hz / 1000 * c.register_timeout_ms),
      registered_(c.clients, 0), sent_tsc_(c.clients, 0), rng_(c.seed)
{
}

uint16_t router_profile::build(uint8_t* f, unsigned kind, uint32_t k, uint32_t to_id, uint16_t blen, uint64_t now_tsc)
{
    udp_addrs a;
    a.src_mac = cfg_.src_mac;
    a.dst_mac = cfg_.dst_mac;
    a.src_ip_be = rte_cpu_to_be_32(client_ip(k));
    a.dst_ip_be = rte_cpu_to_be_32(cfg_.server_ip);
    a.src_port_be = rte_cpu_to_be_16(client_port(k));
    a.dst_port_be = rte_cpu_to_be_16(cfg_.server_port);
    uint8_t head[rc::message_header_len + sizeof(body_stamp)];
    uint16_t head_len, plen;
    switch (kind) {
    case 0:
        head_len = plen = static_cast<uint16_t>(rc::encode_register(head, client_id(k)));
        break;
    case 1:
        head_len = plen = static_cast<uint16_t>(rc::encode_heartbeat(head));
        break;
    default: {
        head_len = static_cast<uint16_t>(rc::encode_message(head, to_id, nullptr, 0));
        if (blen >= sizeof(body_stamp)) {
            const uint64_t tsc = rte_cpu_to_le_64(now_tsc);
            const uint32_t seq = rte_cpu_to_le_32(seq_++), magic = rte_cpu_to_le_32(body_stamp::magic_value);
            std::memcpy(head + head_len, &tsc, 8);
            std::memcpy(head + head_len + 8, &seq, 4);
            std::memcpy(head + head_len + 12, &magic, 4);
            head_len = static_cast<uint16_t>(head_len + sizeof(body_stamp));
        }
        plen = static_cast<uint16_t>(rc::message_header_len + blen);
        break;
    }
    }
    return build_udp(f, a, head, head_len, plen, ip_id_++);
}

unsigned router_profile::setup_burst(frame_buf* f, unsigned n, uint64_t now, setup_state* state)
{
    if (!pacer_.may_send(now, cfg_.clients, n_registered_, state))
        return 0;
    unsigned built = 0;
    while (built < n && pacer_.more(cfg_.clients)) {
        const uint32_t k = pacer_.take();
        if (registered_[k])
            continue;
        f[built].len = build(f[built].data, 0, k, 0, 0, now);
        ++built;
        pacer_.building();
    }
    pacer_.built(built, now);
    return built;
}

std::string router_profile::setup_summary() const
{
    char b[256];
    std::snprintf(b, sizeof(b), "%u of %u clients registered in %.2f s (%lu Register Client sent, %lu pass%s)",
                  n_registered_, cfg_.clients, pacer_.seconds(cfg_.tsc_hz),
                  static_cast<unsigned long>(pacer_.sent_total()), static_cast<unsigned long>(pacer_.passes()),
                  pacer_.passes() == 1 ? "" : "es");
    return b;
}

void router_profile::start_measure()
{
    st_ = traffic_stats{};
    const counters_t keep = c_;
    c_ = counters_t{};
    c_.reg_acked = keep.reg_acked;
    rx_err_ = rx_errors{};
    std::fill(sent_tsc_.begin(), sent_tsc_.end(), 0);
}

void router_profile::traffic_burst(frame_buf* f, unsigned n, uint64_t now)
{
    const uint32_t nc = cfg_.clients;
    for (unsigned i = 0; i < n; ++i) {
        const uint32_t k = next_;
        next_ = next_ + 1 == nc ? 0 : next_ + 1;
        const bool hb = rng_.percent(cfg_.heartbeat_pct);
        bool timed_by_sender = hb;  // Heartbeat and Unknown Recipient answers carry no stamp of ours
        if (hb) {
            f[i].len = build(f[i].data, 1, k, 0, 0, now);
            ++c_.hb_sent;
        } else {
            const bool unknown = rng_.percent(cfg_.unknown_pct);
            const uint32_t r = static_cast<uint32_t>(rng_.next() % nc);
            const uint32_t to = unknown ? cfg_.base_id + nc + r : client_id(r);
            f[i].len = build(f[i].data, 2, k, to, rng_.between(cfg_.payload_min, cfg_.payload_max), now);
            ++(unknown ? c_.unknown_sent : c_.msg_sent);
            timed_by_sender = unknown;
        }
        if (timed_by_sender) {
            if (sent_tsc_[k])
                ++c_.stamp_overwritten;
            sent_tsc_[k] = now;
        }
        st_.offered_bytes += f[i].len;
    }
    st_.offered += n;
}

void router_profile::receive(const uint8_t* frame, uint16_t len, uint64_t now)
{
    udp_rx u;
    if (!rx_err_.accept(parse_udp(frame, len, cfg_.verify_rx, &u), st_))
        return;
    const uint32_t k = u.src_ip_be == rte_cpu_to_be_32(cfg_.server_ip) && u.src_port_be == rte_cpu_to_be_16(cfg_.server_port)
                           ? client_of(rte_be_to_cpu_32(u.dst_ip_be), rte_be_to_cpu_16(u.dst_port_be))
                           : UINT32_MAX;
    if (k == UINT32_MAX || u.len == 0) {
        rx_err_.count_foreign(st_);
        return;
    }
    const uint8_t t = u.payload[0];
    const bool refl = cfg_.reflector;
    if ((t == uint8_t(rc::type::register_response) && u.len == rc::response_len) ||
        (refl && t == uint8_t(rc::type::register_client) && u.len == rc::register_len &&
         rc::read_id(u.payload + 1) == client_id(k))) {
        if (!registered_[k]) {
            registered_[k] = 1;
            ++n_registered_;
            ++c_.reg_acked;
            pacer_.answered(now);
        } else {
            ++c_.late_register;
            ++st_.rx_other;
        }
        return;
    }
    if ((t == uint8_t(rc::type::heartbeat_response) && u.len == rc::response_len) ||
        (refl && t == uint8_t(rc::type::heartbeat) && u.len == rc::heartbeat_len)) {
        ++c_.hb_answered;
        record_answer(st_, len, sent_tsc_[k], now);
        sent_tsc_[k] = 0;
        return;
    }
    if (t == uint8_t(rc::type::unknown_recipient) && u.len == rc::unknown_recipient_len) {
        const uint32_t id = rc::read_id(u.payload + 1);
        if (id - cfg_.base_id - cfg_.clients < cfg_.clients) {  // one of the never-registered IDs
            ++c_.unknown_answered;
            record_answer(st_, len, sent_tsc_[k], now);
            sent_tsc_[k] = 0;
            return;
        }
    } else if (t == uint8_t(rc::type::message) && u.len >= rc::message_header_len) {
        const uint32_t id = rc::read_id(u.payload + 1);
        // Forwarded to its recipient (the engine), or mirrored back to its sender (reflector).
        if (id == client_id(k) || (refl && id - cfg_.base_id < 2ull * cfg_.clients)) {
            ++c_.msg_delivered;
            uint64_t sent = 0;
            if (u.len >= rc::message_header_len + sizeof(body_stamp)) {
                uint64_t tsc;
                uint32_t magic;
                std::memcpy(&tsc, u.payload + rc::message_header_len, 8);
                std::memcpy(&magic, u.payload + rc::message_header_len + 12, 4);
                if (rte_le_to_cpu_32(magic) == body_stamp::magic_value)
                    sent = rte_le_to_cpu_64(tsc);
            }
            if (!sent)
                ++c_.msg_untimed;
            record_answer(st_, len, sent, now);
            return;
        }
    }
    rx_err_.count_unexpected(st_);
}

std::vector<std::pair<std::string, uint64_t>> router_profile::counters() const
{
    std::vector<std::pair<std::string, uint64_t>> v{
        {"clients_registered", n_registered_},
        {"register_sent", pacer_.sent_total()},
        {"register_acked", c_.reg_acked},
        {"register_passes", pacer_.passes()},
        {"heartbeat_sent", c_.hb_sent},
        {"heartbeat_answered", c_.hb_answered},
        {"message_sent", c_.msg_sent},
        {"message_delivered", c_.msg_delivered},
        {"message_untimed", c_.msg_untimed},
        {"unknown_sent", c_.unknown_sent},
        {"unknown_answered", c_.unknown_answered},
        {"stamp_overwritten", c_.stamp_overwritten},
        {"late_register_response", c_.late_register},
    };
    rx_err_.append_to(v);
    return v;
}

} // namespace peregrine::trafgen
