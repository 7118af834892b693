#include "lb_profile.hpp"

#include <algorithm>
#include <cstdio>

#include <rte_byteorder.h>

#include "lb/codec.hpp"

namespace peregrine::trafgen {

namespace lc = peregrine::lb;

std::string check_lb_config(const lb_config& c)
{
    lb_config probe = c;
    // The router checks cover addressing, clients, payload and timing; the ID range is not used.
    probe.common.base_id = 0;
    std::string why = check_router_config(probe.common);
    if (!why.empty())
        return why;
    if (c.nodes == 0 || c.nodes > 65535)
        return "--lb-nodes must be in [1, 65535]";
    if (uint32_t(c.node_port) + c.nodes - 1 > 65535)
        return "--lb-node-port + --lb-nodes exceeds UDP port 65535";
    // Node j sends from client_ip: its ports must not be a client's on that address.
    const uint32_t first = c.common.client_port;
    const uint32_t last = first + std::min<uint32_t>(c.common.clients, c.common.ports_per_ip) - 1;
    if (c.node_port <= last && uint32_t(c.node_port) + c.nodes - 1 >= first)
        return "the serving nodes' ports (--lb-node-port ..) overlap the clients' on --client-ip";
    if (c.update_pct > 100)
        return "--lb-update-pct must be in [0, 100]";
    return {};
}

lb_profile::lb_profile(const lb_config& c)
    : cfg_(c), space_{c.common.client_ip, c.common.client_port, c.common.ports_per_ip, c.common.clients},
      pacer_(c.common.register_window, c.common.register_retries, c.common.tsc_hz / 1000 * c.common.register_timeout_ms),
      node_registered_(c.nodes, 0), node_req_(c.nodes, 0), node_sent_(size_t(c.nodes) * node_ring, 0),
      client_req_(c.common.clients, 0), client_sent_(c.common.clients, 0), client_node_(c.common.clients, 0),
      acks_(ack_queue), rng_(c.common.seed + 2)
{
}

uint16_t lb_profile::frame_from(uint8_t* f, uint32_t ip, uint16_t port, const uint8_t* payload, uint16_t len)
{
    udp_addrs a;
    a.src_mac = cfg_.common.src_mac;
    a.dst_mac = cfg_.common.dst_mac;
    a.src_ip_be = rte_cpu_to_be_32(ip);
    a.dst_ip_be = rte_cpu_to_be_32(cfg_.common.server_ip);
    a.src_port_be = rte_cpu_to_be_16(port);
    a.dst_port_be = rte_cpu_to_be_16(cfg_.server_port);
    return build_udp(f, a, payload, len, len, ip_id_++);
}

uint32_t lb_profile::node_of(uint32_t ip, uint16_t port) const
{
    if (ip != cfg_.common.client_ip || port < cfg_.node_port || uint32_t(port - cfg_.node_port) >= cfg_.nodes)
        return UINT32_MAX;
    return port - cfg_.node_port;
}

// Notification Acks first, ahead of new traffic: a node that is not Acked in time is dropped.
unsigned lb_profile::flush_acks(frame_buf* f, unsigned n)
{
    unsigned built = 0;
    while (built < n && n_acks_) {
        const pending_ack& a = acks_[ack_head_];
        uint8_t p[lc::ack_len];
        lc::encode_ack(p, a.req);
        f[built].len = frame_from(f[built].data, cfg_.common.client_ip, node_port(a.node), p, lc::ack_len);
        ++built;
        ack_head_ = (ack_head_ + 1) % ack_queue;
        --n_acks_;
        ++c_.notify_acked;
    }
    return built;
}

unsigned lb_profile::setup_burst(frame_buf* f, unsigned n, uint64_t now, setup_state* state)
{
    const router_config& r = cfg_.common;
    unsigned built = flush_acks(f, n);
    if (n_registered_ == cfg_.nodes) {
        // Every node is in; done once the notifications have stopped and been Acked.
        *state = setup_state::running;
        if (pacer_.quiet(now) && n_acks_ == 0 && built == 0) {
            pacer_.finish(now);
            *state = setup_state::done;
        }
        return built;
    }
    if (!pacer_.may_send(now, cfg_.nodes, n_registered_, state))
        return built;
    const unsigned before = built;
    while (built < n && pacer_.more(cfg_.nodes)) {
        const uint32_t j = pacer_.take();
        if (node_registered_[j])
            continue;
        lc::endpoint self;
        self.ip_be = rte_cpu_to_be_32(r.client_ip);
        self.port_be = rte_cpu_to_be_16(node_port(j));
        uint8_t p[lc::register_len];
        // Request ID 1 for every pass: a resent Register is the same request (answered again).
        lc::encode_register(p, lc::type::register_serving_node, 1, self);
        f[built].len = frame_from(f[built].data, r.client_ip, node_port(j), p, lc::register_len);
        ++built;
        pacer_.building();
    }
    pacer_.built(built - before, now);
    return built;
}

std::string lb_profile::setup_summary() const
{
    char b[256];
    std::snprintf(b, sizeof(b),
                  "%u of %u serving nodes registered in %.2f s (%lu Register sent, %lu pass%s, %lu notifications Acked)",
                  n_registered_, cfg_.nodes, pacer_.seconds(cfg_.common.tsc_hz),
                  static_cast<unsigned long>(pacer_.sent_total()), static_cast<unsigned long>(pacer_.passes()),
                  pacer_.passes() == 1 ? "" : "es",
                  static_cast<unsigned long>(setup_notified_ ? setup_notified_ : c_.notify_acked));
    return b;
}

void lb_profile::start_measure()
{
    st_ = traffic_stats{};
    setup_notified_ = c_.notify_acked;
    const counters_t keep = c_;
    c_ = counters_t{};
    c_.reg_acked = keep.reg_acked;
    rx_err_ = rx_errors{};
    std::fill(client_sent_.begin(), client_sent_.end(), 0);
    std::fill(node_sent_.begin(), node_sent_.end(), 0);
}

void lb_profile::traffic_burst(frame_buf* f, unsigned n, uint64_t now)
{
    const router_config& r = cfg_.common;
    // Acks owed to the engine go first but are not offered traffic: the driver sends every
    // frame it gets, so they take the place of requests only in this call.
    const unsigned skip = flush_acks(f, n);
    for (unsigned i = skip; i < n; ++i) {
        const bool update = rng_.percent(cfg_.update_pct);
        if (update) {
            const uint32_t j = next_node_;
            next_node_ = next_node_ + 1 == cfg_.nodes ? 0 : next_node_ + 1;
            const uint16_t req = ++node_req_[j];
            const uint32_t k = static_cast<uint32_t>(rng_.next() % r.clients);
            lc::endpoint ep;
            ep.ip_be = rte_cpu_to_be_32(client_ip(k));
            ep.port_be = rte_cpu_to_be_16(client_port(k));
            uint8_t p[lc::registration_update_len];
            // (group, user) from a bounded set, so the engine's table stays the same size.
            lc::encode_registration_update(p, req, static_cast<uint16_t>(j), k & 0xffff, ep);
            f[i].len = frame_from(f[i].data, r.client_ip, node_port(j), p, lc::registration_update_len);
            uint64_t& slot = node_sent_[size_t(j) * node_ring + req % node_ring];
            if (slot)
                ++c_.stamp_overwritten;
            slot = now;
            ++c_.update_sent;
        } else {
            const uint32_t k = next_client_;
            next_client_ = next_client_ + 1 == r.clients ? 0 : next_client_ + 1;
            const uint16_t req = ++client_req_[k];
            // Padded with zeros to its answer's size: answered at once, never amplifying
            // (docs/protocols/lb.md, "Amplification").
            uint8_t p[lc::serving_node_response_len] = {};
            lc::encode_request_serving_node(p, req);
            f[i].len = frame_from(f[i].data, client_ip(k), client_port(k), p, lc::serving_node_response_len);
            if (client_sent_[k])
                ++c_.stamp_overwritten;
            client_sent_[k] = now;
            ++c_.request_sent;
        }
        st_.offered_bytes += f[i].len;
    }
    st_.offered += n - skip;
}

void lb_profile::receive(const uint8_t* frame, uint16_t len, uint64_t now)
{
    const router_config& r = cfg_.common;
    udp_rx u;
    if (!rx_err_.accept(parse_udp(frame, len, r.verify_rx, &u), st_))
        return;
    if (u.src_ip_be != rte_cpu_to_be_32(r.server_ip) || u.src_port_be != rte_cpu_to_be_16(cfg_.server_port) ||
        u.len < lc::header_len) {
        rx_err_.count_foreign(st_);
        return;
    }
    const uint32_t ip = rte_be_to_cpu_32(u.dst_ip_be);
    const uint16_t port = rte_be_to_cpu_16(u.dst_port_be);
    const auto t = static_cast<lc::type>(u.payload[0]);
    const uint16_t req = lc::rd16(u.payload + 1);

    if (const uint32_t j = node_of(ip, port); j != UINT32_MAX) {
        if (t == lc::type::ack && u.len == lc::ack_len) {
            if (!node_registered_[j] && req == 1) {
                node_registered_[j] = 1;
                ++n_registered_;
                ++c_.reg_acked;
                pacer_.answered(now);
                return;
            }
            uint64_t& slot = node_sent_[size_t(j) * node_ring + req % node_ring];
            if (slot) {
                ++c_.update_acked;
                record_answer(st_, len, slot, now);
                slot = 0;
            } else {
                ++c_.late_register;  // a repeated Register's Ack, or an Update's after the measure reset
                ++st_.rx_other;
            }
            return;
        }
        if ((t == lc::type::serving_nodes && u.len >= lc::header_len) ||
            (t == lc::type::serving_node_removed && u.len == lc::serving_node_removed_len)) {
            ++c_.notified;
            pacer_.touch(now);
            if (n_acks_ == ack_queue) {
                ++c_.ack_queue_full;  // the engine will resend it
                return;
            }
            acks_[(ack_head_ + n_acks_) % ack_queue] = {j, req};
            ++n_acks_;
            return;
        }
    } else if (const uint32_t k = space_.index(ip, port); k != UINT32_MAX) {
        if (t == lc::type::serving_node_response && u.len == lc::serving_node_response_len) {
            if (req != client_req_[k] || !client_sent_[k]) {
                ++c_.stale_answer;  // an answer to an earlier request of this client
                ++st_.rx_other;
                return;
            }
            ++c_.request_answered;
            const lc::endpoint e = lc::rd_ep(u.payload + lc::header_len);
            if (e.ip_be == 0 && e.port_be == 0) {
                ++c_.no_node;
            } else {
                const uint64_t key = lc::key_of(e) | (1ull << 63);  // non-zero even for 0.0.0.0:p
                if (client_node_[k] == 0)
                    client_node_[k] = key;
                else if (client_node_[k] != key)
                    ++c_.moved;
            }
            record_answer(st_, len, client_sent_[k], now);
            client_sent_[k] = 0;
            return;
        }
    }
    rx_err_.count_unexpected(st_);
}

std::vector<std::pair<std::string, uint64_t>> lb_profile::counters() const
{
    std::vector<std::pair<std::string, uint64_t>> v{
        {"nodes_registered", n_registered_},
        {"register_sent", pacer_.sent_total()},
        {"register_acked", c_.reg_acked},
        {"register_passes", pacer_.passes()},
        {"notifications", c_.notified},
        {"notifications_acked", c_.notify_acked},
        {"ack_queue_full", c_.ack_queue_full},
        {"request_sent", c_.request_sent},
        {"request_answered", c_.request_answered},
        {"no_node", c_.no_node},
        {"moved", c_.moved},
        {"update_sent", c_.update_sent},
        {"update_acked", c_.update_acked},
        {"stamp_overwritten", c_.stamp_overwritten},
        {"stale_answer", c_.stale_answer},
        {"late_ack", c_.late_register},
    };
    rx_err_.append_to(v);
    return v;
}

} // namespace peregrine::trafgen
