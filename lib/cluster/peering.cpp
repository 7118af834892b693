#include "cluster/peering.hpp"

#include <algorithm>
#include <vector>

#include <rte_hash_crc.h>

namespace peregrine::cluster {

namespace {
// The Client ID's hash for the directory: not the CF's requester hash (that one spreads client
// addresses over routers; this one spreads IDs, independently of where their clients are).
inline uint32_t id_hash(uint32_t id) { return rte_hash_crc_4byte(id, 0x51ed27a3u); }

std::size_t encode_locate(uint8_t* out, peer_type t, uint16_t req, uint16_t group, uint32_t id, const lb::endpoint& e)
{
    const std::size_t n = lb::encode_registration_update(out, req, group, id, e);
    out[0] = static_cast<uint8_t>(t);
    return n;
}
} // namespace

peering::peering(const peering_params& p, send_fn send, resolved_fn resolved)
    : p_(p), send_(std::move(send)), resolved_(std::move(resolved)), ack_tsc_(p.tsc_hz * p.ack_timeout_ms / 1000),
      locate_tsc_(p.tsc_hz * p.locate_timeout_ms / 1000), req_(p.first_request_id)
{
    live_.insert(lb::key_of(p_.self));
}

lb::endpoint peering::home(uint32_t id) const
{
    return table_ ? lb::pick(table_.get(), id_hash(id)) : p_.self;  // alone: every ID's home
}

const lb::endpoint* peering::owner_of(uint32_t id) const
{
    auto it = share_.find(id);
    return it == share_.end() ? nullptr : &it->second;
}

bool peering::out(const lb::endpoint& to, const uint8_t* d, std::size_t len, lcore_stats& st)
{
    if (!send_(to, d, len))
        return false;
    st.count(cls::originated);
    return true;
}

void peering::set_peers(const std::set<uint64_t>& peers, lcore_stats& st)
{
    (void)st;
    std::vector<lb::endpoint> nodes{p_.self};
    for (uint64_t k : peers) {
        const lb::endpoint e{static_cast<uint32_t>(k >> 16), static_cast<uint16_t>(k)};
        if (!(e == p_.self) && nodes.size() < lb::max_nodes)
            nodes.push_back(e);
    }
    std::unique_ptr<lb::table> next;
    if (nodes.size() > 1) {
        // A spare table when there is one: a 130 KB allocation right after many small frees
        // costs glibc's consolidation of them (tens of ms after a mass expiry).
        next = spare_ ? std::move(spare_) : std::make_unique<lb::table>();
        lb::build(next.get(), nodes.data(), static_cast<uint32_t>(nodes.size()));
    }
    // The walk compares each ID's home before the first change it has not finished with and
    // after the last: a change in the middle of a walk starts it again from there.
    if (!walking_)
        from_ = std::move(table_);
    else if (table_)
        spare_ = std::move(table_);
    table_ = std::move(next);
    live_.clear();
    for (const lb::endpoint& e : nodes)
        live_.insert(lb::key_of(e));
    walking_ = true;
    local_bucket_ = share_bucket_ = 0;
    local_buckets_ = local_.bucket_count();
    share_buckets_ = share_.bucket_count();
    // Announcements to a router that left are void; the walk queues their IDs again.
    for (auto it = flights_.begin(); it != flights_.end();) {
        if (!live_.count(lb::key_of(it->second.to))) {
            flight_of_.erase(it->second.id);
            it = flights_.erase(it);
        } else {
            ++it;
        }
    }
}

void peering::walk(lcore_stats& st)
{
    if (!walking_)
        return;
    unsigned budget = walk_per_tick;
    // Our clients whose home moved: the new home hears of them (about 1/N of them).
    while (budget && local_bucket_ < local_.bucket_count()) {
        if (local_.bucket_count() != local_buckets_) {  // rehashed since: again (a repeat is harmless)
            local_bucket_ = 0;
            local_buckets_ = local_.bucket_count();
        }
        for (auto it = local_.begin(local_bucket_); it != local_.end(local_bucket_); ++it, budget -= budget > 0) {
            const uint32_t id = it->first;
            const lb::endpoint before = from_ ? lb::pick(from_.get(), id_hash(id)) : p_.self;
            if (!(before == home(id)) && out_set_.insert(id).second)
                out_.push_back(id);
        }
        ++local_bucket_;
    }
    // The share keeps what is still homed here and owned by a live router.
    std::vector<uint32_t> gone;
    while (budget && share_bucket_ < share_.bucket_count()) {
        if (share_.bucket_count() != share_buckets_) {
            share_bucket_ = 0;
            share_buckets_ = share_.bucket_count();
        }
        for (auto it = share_.begin(share_bucket_); it != share_.end(share_bucket_); ++it, budget -= budget > 0)
            if (!is_home(it->first) || !live_.count(lb::key_of(it->second)))
                gone.push_back(it->first);
        ++share_bucket_;
        for (uint32_t id : gone) {
            share_.erase(id);
            st.count(cls::dir_purged);
        }
        gone.clear();
    }
    if (local_bucket_ >= local_.bucket_count() && share_bucket_ >= share_.bucket_count()) {
        walking_ = false;
        if (from_)
            spare_ = std::move(from_);
    }
}

void peering::registered(uint32_t id, const lb::endpoint& client, lcore_stats& st)
{
    (void)st;
    local_[id] = client;
    if (out_set_.insert(id).second)
        out_.push_back(id);
}

void peering::unregistered(uint32_t id, lcore_stats& st)
{
    (void)st;
    local_.erase(id);
    if (out_set_.insert(id).second)
        out_.push_back(id);
}

void peering::send_flight(flight& f, uint64_t now, lcore_stats& st)
{
    ++f.sent;
    f.due = now + ack_tsc_;
    out(f.to, f.payload, f.len, st);
}

void peering::send_announcements(uint64_t now, lcore_stats& st)
{
    if (!last_fill_)
        last_fill_ = now;
    tokens_ = std::min<double>(p_.rate, tokens_ + double(now - last_fill_) * p_.rate / double(p_.tsc_hz));
    last_fill_ = now;
    while (!out_.empty() && tokens_ >= 1 && flights_.size() < max_in_flight) {
        const uint32_t id = out_.front();
        out_.pop_front();
        out_set_.erase(id);
        const bool here = local_.count(id) != 0;
        const lb::endpoint to = home(id);
        if (to == p_.self) {
            // Our own share: no message.
            auto it = share_.find(id);
            if (here && it == share_.end() && share_.size() >= p_.max_share)
                st.count(drop::cluster_share_full);  // as a peer's Update would be
            else if (here)
                share_[id] = p_.self;
            else if (it != share_.end() && it->second == p_.self)
                share_.erase(it);
            continue;
        }
        // The latest word on an ID replaces one still awaiting its Ack.
        if (auto old = flight_of_.find(id); old != flight_of_.end()) {
            flights_.erase(old->second);
            flight_of_.erase(old);
        }
        const uint16_t req = req_++;
        flight f{};
        f.to = to;
        f.id = id;
        f.len = static_cast<uint8_t>(here ? lb::encode_registration_update(f.payload, req, p_.group, id, p_.self)
                                          : lb::encode_registration_removed(f.payload, req, p_.group, id));
        send_flight(f, now, st);
        st.count(here ? cls::dir_updates_sent : cls::dir_removals_sent);
        flights_[req] = f;
        flight_of_[id] = req;
        due_.emplace(f.due, req);
        tokens_ -= 1;
    }
}

void peering::reply_ack(const lb::endpoint& to, uint16_t req, lcore_stats& st)
{
    uint8_t b[lb::ack_len];
    if (out(to, b, lb::encode_ack(b, req), st))
        st.count(cls::acks_sent);
}

void peering::answer_locate(const lb::endpoint& from, uint16_t req, uint32_t id, lcore_stats& st)
{
    const lb::endpoint* o = owner_of(id);
    uint8_t b[location_len];
    const std::size_t n = encode_locate(b, peer_type::location, req, p_.group, id, o ? *o : lb::endpoint{});
    if (out(from, b, n, st))
        st.count(cls::locates_answered);
}

void peering::on_datagram(const lb::endpoint& from, const uint8_t* d, std::size_t len, uint64_t now, lcore_stats& st)
{
    (void)now;
    st.count(cls::received);
    if (len < lb::header_len) {
        st.count(drop::cluster_bad_peer_message);
        return;
    }
    const uint16_t req = lb::rd16(d + 1);
    const uint8_t t = d[0];
    if (t == static_cast<uint8_t>(lb::type::ack)) {
        auto it = flights_.find(req);
        if (it != flights_.end() && it->second.to == from) {
            flight_of_.erase(it->second.id);
            flights_.erase(it);
            st.count(cls::dir_acked);
        }
        return;
    }
    // The rest carry a Group ID and a User ID (the Client ID), at the same offsets.
    const bool with_ep = t != static_cast<uint8_t>(lb::type::registration_removed);
    if (len < (with_ep ? lb::registration_update_len : lb::registration_removed_len) ||
        lb::rd16(d + lb::header_len) != p_.group) {
        st.count(drop::cluster_bad_peer_message);
        return;
    }
    const uint32_t id = lb::rd32(d + lb::header_len + 2);
    const lb::endpoint ep = with_ep ? lb::rd_ep(d + lb::header_len + 6) : lb::endpoint{};
    switch (t) {
    case static_cast<uint8_t>(lb::type::registration_update):
        // A router speaks for its own clients only.
        if (!(ep == from)) {
            st.count(drop::cluster_not_owner);
            return;
        }
        // Kept even if our table does not make us home yet: the sender's may be the newer
        // one; set_peers drops what the new table does not home here.
        if (share_.size() >= p_.max_share && !share_.count(id)) {
            st.count(drop::cluster_share_full);
            return;  // no Ack: the sender gives up after its tries
        }
        share_[id] = from;
        st.count(cls::dir_applied);
        reply_ack(from, req, st);
        return;
    case static_cast<uint8_t>(lb::type::registration_removed): {
        auto it = share_.find(id);
        if (it != share_.end() && it->second == from) {
            share_.erase(it);
            st.count(cls::dir_applied);
        }
        reply_ack(from, req, st);  // also for an ID already moved on: the sender may stop
        return;
    }
    case static_cast<uint8_t>(peer_type::locate):
        answer_locate(from, req, id, st);
        return;
    case static_cast<uint8_t>(peer_type::location): {
        auto it = asking_.find(id);
        if (it == asking_.end() || it->second.req != req || !(it->second.to == from))
            return;  // late, duplicate, or not from the router asked
        asking_.erase(it);
        st.count(cls::located);
        if (ep.ip_be)
            resolved_(id, answer::owner, ep);
        else
            resolved_(id, answer::nowhere, ep);
        return;
    }
    default:
        st.count(drop::cluster_bad_peer_message);
        return;
    }
}

void peering::send_locate(uint32_t id, ask& a, uint64_t now, lcore_stats& st)
{
    a.req = req_++;  // each try its own Request ID: a late answer to an old one is ignored
    ++a.sent;
    a.due = now + locate_tsc_;
    uint8_t b[locate_len];
    out(a.to, b, encode_locate(b, peer_type::locate, a.req, p_.group, id, lb::endpoint{}), st);
    st.count(cls::locates_sent);
}

peering::answer peering::locate(uint32_t id, lb::endpoint* owner, uint64_t now, lcore_stats& st)
{
    const lb::endpoint h = home(id);
    if (h == p_.self) {
        const lb::endpoint* o = owner_of(id);
        if (!o || *o == p_.self)
            return answer::nowhere;  // ours and not in the registry: registered nowhere
        *owner = *o;
        return answer::owner;
    }
    if (asking_.count(id))
        return answer::asked;
    if (asking_.size() >= max_asking)
        return answer::lost;
    ask& a = asking_[id];
    a.to = h;
    a.sent = 0;
    send_locate(id, a, now, st);
    return answer::asked;
}

void peering::tick(uint64_t now, lcore_stats& st)
{
    while (!due_.empty() && due_.begin()->first <= now) {
        const auto [due, req] = *due_.begin();
        due_.erase(due_.begin());
        auto it = flights_.find(req);
        if (it == flights_.end() || it->second.due != due)
            continue;  // Acked or replaced
        flight& f = it->second;
        if (f.sent >= p_.tries) {
            flight_of_.erase(f.id);
            flights_.erase(it);
            st.count(cls::dir_lost);
            continue;
        }
        send_flight(f, now, st);
        st.count(cls::dir_retransmitted);
        due_.emplace(f.due, req);
    }
    std::vector<uint32_t> gave_up;  // told after the walk: resolved_ may ask again
    for (auto it = asking_.begin(); it != asking_.end();) {
        if (it->second.due > now) {
            ++it;
        } else if (it->second.sent < p_.tries) {
            send_locate(it->first, it->second, now, st);
            ++it;
        } else {
            gave_up.push_back(it->first);
            it = asking_.erase(it);
        }
    }
    for (uint32_t id : gave_up)
        resolved_(id, answer::lost, lb::endpoint{});
    walk(st);
    send_announcements(now, st);
}

} // namespace peregrine::cluster
