#include "lb/state.hpp"

#include "net/frame.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_random.h>
#include <rte_udp.h>

#include <openssl/rand.h>

#include "net/checksum.hpp"
#include "net/frame.hpp"
#include "net/rewrite.hpp"

namespace peregrine::lb {

namespace {
// Expiry sweep period: expiry is late by at most this much.
static constexpr uint64_t sweep_hz = 10;

uint64_t pkey(uint64_t peer_key, uint16_t req) { return (peer_key << 16) | req; }
} // namespace

state::state(config& cfg, const net::port_addr* ports, const state_params& p) : cfg_(cfg), ports_(ports), p_(p)
{
    expiry_tsc_ = p_.expiry_s * p_.tsc_hz;
    ack_tsc_ = p_.ack_timeout_ms * p_.tsc_hz / 1000;
    dup_tsc_ = dup_window_s * p_.tsc_hz;
    assign_tsc_ = assign_window_s * p_.tsc_hz;
    publish();
}

state::~state()
{
    for (rte_mbuf* m : outbox_)
        rte_pktmbuf_free(m);
    // The workers are stopped (or never ran) by now: nobody reads the tables.
    cfg_.current.store(nullptr, std::memory_order_release);
    for (auto& [t, tok] : retired_)
        rte_free(t);
    rte_free(current_);
}

void state::publish()
{
    if (!dirty_)
        return;
    auto* t = static_cast<table*>(rte_malloc("pg_lb_table", sizeof(table), RTE_CACHE_LINE_SIZE));
    if (!t)
        return;  // stays dirty: retried on the next tick
    std::vector<endpoint> eps;
    eps.reserve(nodes_.size());
    for (const auto& [k, n] : nodes_)
        eps.push_back(n.advertised);
    build(t, eps.data(), static_cast<uint32_t>(eps.size()));
    cfg_.current.store(t, std::memory_order_release);
    if (current_)
        retired_.push_back({current_, p_.rcu ? rte_rcu_qsbr_start(p_.rcu) : 0});
    current_ = t;
    dirty_ = false;
    ++generation_;
}

void state::reclaim()
{
    auto it = retired_.begin();
    while (it != retired_.end()) {
        if (!p_.rcu || rte_rcu_qsbr_check(p_.rcu, it->second, false) == 1) {
            rte_free(it->first);
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
}

uint16_t state::next_request()
{
    // Random, not a counter: an Ack of one of our messages is what proves a peer receives
    // them, so a blind spoofer must not be able to predict its Request ID.
    if (rand_at_ + 2 > sizeof(rand_)) {
        if (RAND_bytes(rand_, sizeof(rand_)) != 1)
            for (auto& b : rand_)
                b = static_cast<uint8_t>(rte_rand());
        rand_at_ = 0;
    }
    const auto r = static_cast<uint16_t>(rand_[rand_at_] << 8 | rand_[rand_at_ + 1]);
    rand_at_ += 2;
    return r;
}

state::tx state::transmit(peer& to, const uint8_t* payload, std::size_t len, lcore_stats& st)
{
    if (!to.proven && to.credit < len) {
        st.count(lbc::withheld);
        return tx::withheld;
    }
    const net::udp_to dst{to.next_hop, to.sender.ip_be, rte_cpu_to_be_16(cfg_.udp_port), to.sender.port_be, to.port_id};
    uint8_t* p = nullptr;
    rte_mbuf* m = net::new_udp_frame(p_.pool, ports_[to.port_id], dst, static_cast<uint16_t>(len), &p);
    if (!m) {
        st.count(lbc::alloc_failed);
        return tx::no_mbuf;
    }
    std::memcpy(p, payload, len);
    net::finish_udp_frame(m);
    outbox_.push_back(m);
    st.count(lbc::originated);
    if (!to.proven)
        to.credit -= static_cast<uint32_t>(len);
    return tx::sent;
}

void state::send_new(peer& to, peer_kind kind, const uint8_t* payload, std::size_t len, uint64_t now,
                     lcore_stats& st, uint16_t group)
{
    pending pd;
    pd.dest = key_of(to.sender);
    pd.kind = kind;
    pd.t = static_cast<type>(payload[0]);
    pd.group = group;
    pd.payload.assign(payload, payload + len);
    // A failed allocation is retried at the next due time like a lost datagram; a message
    // withheld for an unproven peer's budget counts as a try (tries run out: the peer goes).
    pd.sent = transmit(to, payload, len, st) == tx::no_mbuf ? 0 : 1;
    pd.due = now + ack_tsc_;
    pending_[pkey(pd.dest, rd16(payload + 1))] = std::move(pd);
}

std::vector<endpoint> state::others_of(uint64_t key) const
{
    std::vector<endpoint> eps;
    eps.reserve(nodes_.size());
    for (const auto& [k, n] : nodes_)
        if (k != key)
            eps.push_back(n.advertised);
    return eps;
}

void state::proven(peer& e, uint64_t key, peer_kind k, uint64_t now, lcore_stats& st)
{
    e.proven = true;
    e.credit = 0;
    st.count(lbc::proven);
    // What it was not told while unproven: every other node, at once.
    if (k == peer_kind::serving_node)
        if (const auto others = others_of(key); !others.empty())
            notify_nodes(others, e, now, st);
}

void state::notify_nodes(const std::vector<endpoint>& eps, peer& to, uint64_t now, lcore_stats& st)
{
    uint8_t buf[header_len + max_nodes_per_datagram * endpoint_len];
    for (std::size_t at = 0; at < eps.size(); at += max_nodes_per_datagram) {
        const std::size_t n = std::min<std::size_t>(max_nodes_per_datagram, eps.size() - at);
        const std::size_t len = encode_serving_nodes(buf, next_request(), eps.data() + at, n);
        send_new(to, peer_kind::serving_node, buf, len, now, st);
    }
}

void state::handle(rte_mbuf* m, uint64_t now, lcore_stats& st)
{
    std::lock_guard<std::mutex> lk(mu_);
    net::udp_view v;
    const uint16_t port = m->port;
    const net::port_addr& pa = ports_[port];
    // The worker validated this frame; classifying again only relocates the headers.
    net::classify(m, pa, &v);
    packet p;
    drop why;
    if (!parse(v.data, v.len, &p, &why)) {  // cannot happen for a frame a worker handed over
        st.count(why);
        rte_pktmbuf_free(m);
        return;
    }
    const endpoint sender{v.ip->src_addr, v.udp->src_port};
    const uint64_t skey = key_of(sender);

    // An unproven peer's budget grows by what it sends, less the Ack that answers it (an Ack
    // is not answered; Request Serving Node is a client's, budgeted by lb::config::credit).
    if (p.t != type::request_serving_node) {
        const uint32_t in = static_cast<uint32_t>(v.len - (p.t == type::ack ? 0 : ack_len));
        for (auto* tbl : {&nodes_, &controllers_})
            if (auto it = tbl->find(skey); it != tbl->end() && !it->second.proven)
                it->second.credit = std::min(max_credit, it->second.credit + in);
    }

    if (p.t == type::ack) {
        auto it = pending_.find(pkey(skey, p.request_id));
        if (it == pending_.end()) {
            st.count(drop::lb_ack_unmatched);
            for (auto* tbl : {&nodes_, &controllers_})
                if (auto pe = tbl->find(skey); pe != tbl->end() && !pe->second.proven && pe->second.misses < max_ack_misses)
                    ++pe->second.misses;
        } else {
            const peer_kind k = it->second.kind;
            pending_.erase(it);
            st.count(lbc::acked);
            auto& tbl = k == peer_kind::serving_node ? nodes_ : controllers_;
            if (auto pe = tbl.find(skey); pe != tbl.end() && !pe->second.proven && pe->second.misses < max_ack_misses)
                proven(pe->second, skey, k, now, st);
        }
        rte_pktmbuf_free(m);
        publish();
        return;
    }

    // Same sender incarnation, same Request ID, same bytes, seen recently: answer again,
    // apply nothing. A Register from a sender that is not registered now is never one (a
    // remembered Register holds the incarnation it made, never 0): the origin restarts at
    // Request ID 0 from the same port (docs/protocols/lb.md).
    const uint64_t dkey = pkey(skey, p.request_id);
    const uint64_t inc = incarnation_of(p.t, skey);
    if (auto it = answered_.find(dkey); it != answered_.end() && it->second.expires > now &&
                                        it->second.incarnation == inc && it->second.len == v.len &&
                                        std::memcmp(it->second.bytes, v.data, std::min<std::size_t>(v.len, max_request_len)) == 0) {
        st.count(lbc::duplicate);
        const bool rsn = p.t == type::request_serving_node;
        const uint16_t len = rsn ? serving_node_response_len : ack_len;
        if (rsn && !cfg_.may_answer(sender.ip_be, v.len)) {
            st.count(drop::lb_unvalidated);
            rte_pktmbuf_free(m);
            return;
        }
        uint8_t* d = reply_room(m, v, len);
        if (!d) {
            st.count(drop::lb_no_room);
            rte_pktmbuf_free(m);
            return;
        }
        if (rsn)
            encode_serving_node_response(d, p.request_id, it->second.answer);
        else
            encode_ack(d, p.request_id);
        finish_reply(m, v, len, pa.mac);
        outbox_.push_back(m);
        return;
    }

    bool ack = true;
    endpoint answer{};
    const std::size_t mark = outbox_.size();
    switch (p.t) {
    case type::register_serving_node:
        on_register(peer_kind::serving_node, p, sender, v, port, now, st, &ack);
        break;
    case type::register_call_controller:
        on_register(peer_kind::call_controller, p, sender, v, port, now, st, &ack);
        break;
    case type::registration_update:
    case type::registration_removed:
        if (!nodes_.count(skey)) {
            // Only a serving node reports its clients' registrations: from anyone else this
            // would let any client rewrite the (group, user) table.
            st.count(drop::lb_not_serving_node);
            ack = false;
            break;
        }
        ack = on_registration(p, skey, now, st);
        break;
    case type::request_serving_node: {
        // Least-loaded policy (the Maglev policy is answered by the workers).
        const peer* n = least_loaded(requester_hash(sender.ip_be, sender.port_be));
        // The same budget as the workers' (lb::config::credit), before the choice counts.
        if ((n || cfg_.answer_no_node) && !cfg_.may_answer(sender.ip_be, v.len)) {
            st.count(drop::lb_unvalidated);
            ack = false;
            break;
        }
        if (!n && !cfg_.answer_no_node)
            cfg_.unanswered(sender.ip_be, v.len);
        if (n) {
            answer = n->advertised;
            ++nodes_[key_of(n->sender)].recent;
            assigned_fifo_.push_back({now + assign_tsc_, key_of(n->sender)});
            st.count(lbc::request_answered);
        } else {
            st.count(lbc::request_no_node);
            if (!cfg_.answer_no_node) {
                // Silence, as on the workers; nothing remembered, so the retry is asked anew.
                st.count(drop::lb_no_node);
                ack = false;
            }
        }
        break;
    }
    default:
        ack = false;
        break;
    }
    if (!ack) {
        rte_pktmbuf_free(m);
        publish();
        return;
    }
    if (answered_.size() < max_answered || answered_.count(dkey)) {
        dup& e = answered_[dkey];
        // The sender's incarnation after applying: a new Register has just made one.
        e = {now + dup_tsc_, incarnation_of(p.t, skey), answer, static_cast<uint8_t>(v.len), {}};
        std::memcpy(e.bytes, v.data, std::min<std::size_t>(v.len, max_request_len));
        answered_fifo_.push_back({now + dup_tsc_, dkey});
    }

    const bool rsn = p.t == type::request_serving_node;
    const uint16_t len = rsn ? serving_node_response_len : ack_len;
    uint8_t* d = reply_room(m, v, len);
    if (!d) {
        st.count(drop::lb_no_room);
        rte_pktmbuf_free(m);
    } else {
        if (rsn)
            encode_serving_node_response(d, p.request_id, answer);
        else
            encode_ack(d, p.request_id);
        finish_reply(m, v, len, pa.mac);
        // The reply goes first: a new node gets its Ack before its Serving Nodes list.
        outbox_.insert(outbox_.begin() + static_cast<std::ptrdiff_t>(mark), m);
    }
    publish();
}

void state::on_register(peer_kind k, const packet& p, const endpoint& sender, const net::udp_view& v, uint16_t port,
                        uint64_t now, lcore_stats& st, bool* ack)
{
    auto& table_of = k == peer_kind::serving_node ? nodes_ : controllers_;
    const uint64_t key = key_of(sender);
    auto it = table_of.find(key);
    if (it != table_of.end()) {
        peer& e = it->second;
        const endpoint old = e.advertised;
        e.registered = now;
        e.last_request = p.request_id;
        e.port_id = port;
        e.next_hop = v.eth->src_addr;
        st.count(lbc::refreshed);
        if (k == peer_kind::serving_node && !(old == p.ep)) {
            // Same node, new public endpoint: the others drop the old one and learn the new.
            e.advertised = p.ep;
            dirty_ = true;
            uint8_t buf[serving_node_removed_len];
            for (auto& [ok, o] : nodes_) {
                if (ok == key || !o.proven)
                    continue;
                send_new(o, peer_kind::serving_node, buf, encode_serving_node_removed(buf, next_request(), old), now, st);
                notify_nodes({p.ep}, o, now, st);
            }
        } else {
            e.advertised = p.ep;
        }
        return;
    }
    if (table_of.size() >= (k == peer_kind::serving_node ? max_nodes : max_controllers)) {
        st.count(drop::lb_full);  // no Ack: the peer retries, and may find room later
        *ack = false;
        return;
    }
    peer e;
    e.sender = sender;
    e.advertised = p.ep;
    e.port_id = port;
    e.next_hop = v.eth->src_addr;
    e.registered = now;
    e.last_request = p.request_id;
    e.incarnation = next_incarnation_++;
    e.credit = std::min(max_credit, static_cast<uint32_t>(v.len - ack_len));  // its Ack reserved
    if (k == peer_kind::call_controller) {
        controllers_[key] = e;
        st.count(lbc::controller_registered);
        assign_orphans(now, st);
        return;
    }
    // The new node is probed: an empty Serving Nodes (3 bytes, within the budget its Register
    // gave) whose Ack proves it receives our messages; then it learns every other node
    // (state::proven). Every proven node learns the new one.
    peer& added = nodes_[key] = e;
    st.count(lbc::node_registered);
    dirty_ = true;
    uint8_t probe[header_len];
    send_new(added, peer_kind::serving_node, probe, encode_serving_nodes(probe, next_request(), nullptr, 0), now, st);
    for (auto& [ok, o] : nodes_)
        if (ok != key && o.proven)
            notify_nodes({added.advertised}, o, now, st);
}

bool state::on_registration(const packet& p, uint64_t sender, uint64_t now, lcore_stats& st)
{
    const uint64_t rk = reg_key(p.group_id, p.user_id);
    auto it = regs_.find(rk);
    if (p.t == type::registration_removed) {
        if (it != regs_.end())
            drop_registration(it);
        st.count(lbc::registration_removed);  // Acked either way: the end state is what was asked
        return true;
    }
    if (it != regs_.end()) {
        st.count(lbc::registration_updated);
        if (it->second.reporter != sender) {
            if (auto n = nodes_.find(it->second.reporter); n != nodes_.end() && n->second.registrations)
                --n->second.registrations;
            ++nodes_[sender].registrations;
        }
        it->second = {p.ep, sender, now};
        return true;
    }
    if (regs_.size() >= p_.max_registrations) {
        st.count(drop::lb_full);  // no Ack: the node retries, and may find room later
        return false;
    }
    regs_[rk] = {p.ep, sender, now};
    st.count(lbc::registration_updated);
    ++nodes_[sender].registrations;
    call& c = calls_[p.group_id];
    if (c.members++ == 0)
        start_call(p.group_id, now, st);
    return true;
}

void state::drop_registration(std::map<uint64_t, registration>::iterator it)
{
    if (auto n = nodes_.find(it->second.reporter); n != nodes_.end() && n->second.registrations)
        --n->second.registrations;
    const uint16_t group = static_cast<uint16_t>(it->first >> 32);
    regs_.erase(it);
    auto c = calls_.find(group);
    if (c != calls_.end() && --c->second.members == 0) {
        // The group's last member left: the call is over (the protocol has no message for it).
        if (auto cc = controllers_.find(c->second.controller); cc != controllers_.end() && cc->second.calls)
            --cc->second.calls;
        calls_.erase(c);
    }
}

uint64_t state::incarnation_of(type t, uint64_t sender_key) const
{
    const auto& tbl = t == type::register_call_controller ? controllers_ : nodes_;
    if (t == type::request_serving_node)
        return 0;  // a client: no registration to tell its restarts apart
    auto it = tbl.find(sender_key);
    return it == tbl.end() ? 0 : it->second.incarnation;
}

const peer* state::least_loaded(uint32_t h) const
{
    const peer* best = nullptr;
    uint64_t best_load = UINT64_MAX;
    uint32_t best_tie = 0;
    for (const auto& [k, n] : nodes_) {
        const uint64_t load = uint64_t(n.registrations) + n.recent;
        // Ties go to a requester-dependent node, so equal nodes share new clients.
        const uint32_t tie = rte_hash_crc_8byte(k, h);
        if (load < best_load || (load == best_load && tie < best_tie)) {
            best = &n;
            best_load = load;
            best_tie = tie;
        }
    }
    return best;
}

void state::start_call(uint16_t group, uint64_t now, lcore_stats& st)
{
    call& c = calls_[group];
    c.controller = 0;
    // The healthy controller with the fewest calls (lowest key on a tie: deterministic).
    peer* best = nullptr;
    uint64_t best_key = 0;
    for (auto& [k, cc] : controllers_)
        if (!best || cc.calls < best->calls) {
            best = &cc;
            best_key = k;
        }
    if (!best)
        return;  // started when a controller registers (assign_orphans)
    c.call_id = next_call_++;
    c.controller = best_key;
    ++best->calls;
    uint8_t buf[start_call_len];
    send_new(*best, peer_kind::call_controller, buf, encode_start_call(buf, next_request(), c.call_id, group), now, st,
             group);
}

void state::assign_orphans(uint64_t now, lcore_stats& st)
{
    std::vector<uint16_t> orphans;
    for (const auto& [g, c] : calls_)
        if (!c.controller && c.members)
            orphans.push_back(g);
    for (uint16_t g : orphans)
        start_call(g, now, st);
}

void state::remove_node(uint64_t key, uint64_t now, lcore_stats& st)
{
    auto it = nodes_.find(key);
    if (it == nodes_.end())
        return;
    const endpoint gone = it->second.advertised;
    nodes_.erase(it);
    dirty_ = true;
    // Its clients' registrations go with it: they register again through another node.
    for (auto r = regs_.begin(); r != regs_.end();) {
        auto cur = r++;
        if (cur->second.reporter == key)
            drop_registration(cur);
    }
    // Nothing more is sent to it.
    for (auto p = pending_.begin(); p != pending_.end();)
        p = p->second.dest == key && p->second.kind == peer_kind::serving_node ? pending_.erase(p) : std::next(p);
    uint8_t buf[serving_node_removed_len];
    for (auto& [k, n] : nodes_)
        if (n.proven)  // an unproven node learns the list as it is when it is proven
            send_new(n, peer_kind::serving_node, buf, encode_serving_node_removed(buf, next_request(), gone), now, st);
}

void state::remove_controller(uint64_t key)
{
    controllers_.erase(key);
    for (auto p = pending_.begin(); p != pending_.end();)
        p = p->second.dest == key && p->second.kind == peer_kind::call_controller ? pending_.erase(p) : std::next(p);
    for (auto& [g, c] : calls_)
        if (c.controller == key)
            c.controller = 0;  // orphaned: assign_orphans starts it elsewhere
}

void state::tick(uint64_t now, lcore_stats& st)
{
    std::lock_guard<std::mutex> lk(mu_);
    while (!answered_fifo_.empty() && answered_fifo_.front().first <= now) {
        auto it = answered_.find(answered_fifo_.front().second);
        if (it != answered_.end() && it->second.expires <= now)
            answered_.erase(it);
        answered_fifo_.pop_front();
    }
    while (!assigned_fifo_.empty() && assigned_fifo_.front().first <= now) {
        if (auto n = nodes_.find(assigned_fifo_.front().second); n != nodes_.end() && n->second.recent)
            --n->second.recent;
        assigned_fifo_.pop_front();
    }

    // Retransmissions; a peer that never Acked is out of service.
    std::vector<std::pair<uint64_t, peer_kind>> failed;
    for (auto& [k, pd] : pending_) {
        if (pd.due > now)
            continue;
        if (pd.sent >= p_.tries) {
            failed.push_back({pd.dest, pd.kind});
            continue;
        }
        auto& tbl = pd.kind == peer_kind::serving_node ? nodes_ : controllers_;
        auto peer_it = tbl.find(pd.dest);
        if (peer_it == tbl.end())
            continue;  // erased below
        const tx r = transmit(peer_it->second, pd.payload.data(), pd.payload.size(), st);
        if (r != tx::no_mbuf)
            ++pd.sent;
        if (r == tx::sent)
            st.count(lbc::retransmitted);
        pd.due = now + ack_tsc_;
    }
    bool orphaned = false;
    std::sort(failed.begin(), failed.end());
    failed.erase(std::unique(failed.begin(), failed.end()), failed.end());
    for (const auto& [key, kind] : failed) {
        st.count(lbc::ack_timeout);
        if (kind == peer_kind::serving_node) {
            remove_node(key, now, st);
        } else {
            remove_controller(key);
            orphaned = true;
        }
    }
    for (auto p = pending_.begin(); p != pending_.end();) {
        // Entries to peers that are gone (e.g. failed above under another kind).
        auto& tbl = p->second.kind == peer_kind::serving_node ? nodes_ : controllers_;
        p = tbl.count(p->second.dest) ? std::next(p) : pending_.erase(p);
    }

    if (now >= next_sweep_) {
        next_sweep_ = now + p_.tsc_hz / sweep_hz;
        // Liveness: a node that Acks nothing for 3 tries is taken out above (ack_timeout), in
        // probe_s + 3 s instead of its expiry. The probe lists only the node itself, which a
        // serving node skips: no change, one Ack.
        if (p_.probe_s) {
            for (auto& [k, n] : nodes_) {
                if (!n.proven || now - std::max(n.probed, n.registered) < p_.probe_s * p_.tsc_hz)
                    continue;
                n.probed = now;
                uint8_t b[header_len + endpoint_len];
                send_new(n, peer_kind::serving_node, b, encode_serving_nodes(b, next_request(), &n.advertised, 1),
                         now, st);
                st.count(lbc::probes_sent);
            }
        }
        std::vector<uint64_t> old_nodes, old_ctl;
        for (const auto& [k, n] : nodes_)
            if (static_cast<int64_t>(now - n.registered) > static_cast<int64_t>(expiry_tsc_))
                old_nodes.push_back(k);
        for (const auto& [k, c] : controllers_)
            if (static_cast<int64_t>(now - c.registered) > static_cast<int64_t>(expiry_tsc_))
                old_ctl.push_back(k);
        for (uint64_t k : old_nodes) {
            st.count(lbc::expired);
            remove_node(k, now, st);
        }
        for (uint64_t k : old_ctl) {
            st.count(lbc::expired);
            remove_controller(k);
            orphaned = true;
        }
    }
    if (orphaned)
        assign_orphans(now, st);
    publish();
    reclaim();
}

} // namespace peregrine::lb
