#include "cluster/member.hpp"

#include <algorithm>
#include <vector>

namespace peregrine::cluster {

member::member(const member_params& p, send_fn send)
    : p_(p), send_(std::move(send)), ack_tsc_(p.tsc_hz * p.ack_timeout_ms / 1000), req_(p.first_request_id)
{
}

bool member::transmit(const uint8_t* d, std::size_t len, lcore_stats& st)
{
    if (!send_(d, len))
        return false;
    st.count(cls::originated);
    return true;
}

void member::ack(uint16_t req, lcore_stats& st)
{
    uint8_t b[lb::ack_len];
    const std::size_t n = lb::encode_ack(b, req);
    if (transmit(b, n, st))
        st.count(cls::acks_sent);
}

void member::send_register(uint64_t now, lcore_stats& st)
{
    reg_req_ = next_id();
    reg_waiting_ = true;
    ++reg_tries_;
    uint8_t b[lb::register_len];
    const std::size_t n = lb::encode_register(b, lb::type::register_serving_node, reg_req_, p_.advertise);
    transmit(b, n, st);
    st.count(cls::registers_sent);
    reg_due_ = now + (reg_tries_ < p_.tries ? ack_tsc_ : unreachable_retry_s * p_.tsc_hz);
}

void member::on_datagram(const uint8_t* d, std::size_t len, uint64_t now, lcore_stats& st)
{
    st.count(cls::received);
    if (len < lb::header_len) {
        st.count(drop::cluster_bad_message);
        return;
    }
    const uint16_t req = lb::rd16(d + 1);
    switch (static_cast<lb::type>(d[0])) {
    case lb::type::ack:
        if (reg_waiting_ && req == reg_req_) {
            reg_waiting_ = false;
            reg_tries_ = 0;
            acked_ = true;
            reg_due_ = now + p_.reregister_s * p_.tsc_hz;
            st.count(cls::register_acked);
        } else if (in_flight_.erase(req)) {
            st.count(cls::reports_acked);
        }
        return;  // an Ack for nothing of ours is the CF's duplicate: nothing to do
    case lb::type::serving_nodes: {
        if ((len - lb::header_len) % lb::endpoint_len) {
            st.count(drop::cluster_bad_message);
            return;
        }
        if (len == lb::header_len)
            ++probes_;
        for (std::size_t o = lb::header_len; o < len; o += lb::endpoint_len) {
            const lb::endpoint e = lb::rd_ep(d + o);
            if (e == p_.advertise || !e.ip_be)
                continue;
            if (peers_.insert(lb::key_of(e)).second)
                st.count(cls::peers_added);
        }
        ack(req, st);
        return;
    }
    case lb::type::serving_node_removed:
        if (len < lb::serving_node_removed_len) {
            st.count(drop::cluster_bad_message);
            return;
        }
        if (peers_.erase(lb::key_of(lb::rd_ep(d + lb::header_len))))
            st.count(cls::peers_removed);
        ack(req, st);
        return;
    case lb::type::start_call:
        if (len < lb::start_call_len) {
            st.count(drop::cluster_bad_message);
            return;
        }
        ack(req, st);
        return;
    default:
        st.count(drop::cluster_bad_message);
        return;
    }
}

void member::queue(uint32_t id, bool update, const lb::endpoint& client, lcore_stats& st)
{
    auto it = latest_.find(id);
    if (it == latest_.end()) {
        if (latest_.size() >= p_.report_queue) {
            st.count(cls::reports_dropped);
            return;
        }
        it = latest_.emplace(id, report{}).first;
    }
    // The latest word on an ID replaces what still waits; its place in the queue moves back.
    it->second = {update, client, ++seq_};
    order_.emplace_back(id, seq_);
    if (order_.size() > 2 * std::size_t(p_.report_queue))
        compact();
}

void member::compact()
{
    // An ID that flaps leaves superseded entries behind: keep one per waiting ID, in order.
    std::vector<std::pair<uint64_t, uint32_t>> live;
    live.reserve(latest_.size());
    for (const auto& [id, r] : latest_)
        live.emplace_back(r.seq, id);
    std::sort(live.begin(), live.end());
    order_.clear();
    for (const auto& [seq, id] : live)
        order_.emplace_back(id, seq);
}

void member::registered(uint32_t id, const lb::endpoint& client, uint64_t now, lcore_stats& st)
{
    (void)now;
    queue(id, true, client, st);
}

void member::unregistered(uint32_t id, uint64_t now, lcore_stats& st)
{
    (void)now;
    queue(id, false, {}, st);
}

void member::send_reports(uint64_t now, lcore_stats& st)
{
    if (!last_fill_)
        last_fill_ = now;
    // Token bucket, one second's worth at most.
    tokens_ = std::min<double>(p_.report_rate,
                               tokens_ + double(now - last_fill_) * p_.report_rate / double(p_.tsc_hz));
    last_fill_ = now;
    while (tokens_ >= 1 && !order_.empty() && in_flight_.size() < max_in_flight) {
        const auto [id, seq] = order_.front();
        order_.pop_front();
        auto it = latest_.find(id);
        if (it == latest_.end() || it->second.seq != seq)
            continue;  // superseded by a later entry
        const report r = it->second;
        latest_.erase(it);
        flight f{};
        const uint16_t req = next_id();
        f.len = static_cast<uint8_t>(r.update ? lb::encode_registration_update(f.payload, req, p_.group, id, r.client)
                                              : lb::encode_registration_removed(f.payload, req, p_.group, id));
        f.sent = 1;
        f.due = now + ack_tsc_;
        transmit(f.payload, f.len, st);
        st.count(r.update ? cls::updates_sent : cls::removals_sent);
        in_flight_[req] = f;
        timers_.emplace_back(f.due, req);
        tokens_ -= 1;
    }
}

void member::retransmit(uint64_t now, lcore_stats& st)
{
    while (!timers_.empty() && timers_.front().first <= now) {
        const auto [due, req] = timers_.front();
        timers_.pop_front();
        auto it = in_flight_.find(req);
        if (it == in_flight_.end() || it->second.due != due)
            continue;  // Acked, or a later timer holds it
        flight& f = it->second;
        if (f.sent >= p_.tries) {
            in_flight_.erase(it);
            st.count(cls::reports_lost);
            continue;
        }
        ++f.sent;
        f.due = now + ack_tsc_;
        transmit(f.payload, f.len, st);
        st.count(cls::retransmitted);
        timers_.emplace_back(f.due, req);
    }
}

void member::tick(uint64_t now, lcore_stats& st)
{
    if (now >= reg_due_) {
        if (reg_waiting_ && reg_tries_ >= p_.tries && acked_) {
            // The CF stopped answering: it may have lost us, so its Acks say nothing until a
            // Register is Acked again.
            acked_ = false;
        }
        send_register(now, st);
    }
    retransmit(now, st);
    if (acked_)
        send_reports(now, st);
    else
        last_fill_ = now;  // no credit piles up while unregistered
}

} // namespace peregrine::cluster
