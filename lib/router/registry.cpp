#include "router/registry.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_random.h>

namespace peregrine::router {

namespace {
// Slots beyond capacity so retired-but-not-yet-reclaimed registrations never make a live
// registration fail: one grace period's worth of churn at any realistic rate.
uint32_t slack_for(uint32_t capacity) { return capacity / 8 + 1024; }

// Keys per bulk-lookup pass: the deferred-overflow lists live on the stack.
static constexpr unsigned bulk_chunk = 64;

std::atomic<unsigned> instance_seq{0};
} // namespace

registry* registry::create(const params& p)
{
    if (p.capacity == 0 || (!p.rcu && p.max_readers == 0) || uint64_t(p.capacity) + slack_for(p.capacity) > id_index::max_slots) {
        rte_errno = EINVAL;
        return nullptr;
    }
    auto* r = new registry();
    rte_errno = 0;
    const unsigned seq = instance_seq.fetch_add(1);
    r->capacity_ = p.capacity;
    const uint32_t n_slots = p.capacity + slack_for(p.capacity);
    // Keyed hashing: a fresh seed per registry (and per run) so bucket collisions cannot be
    // planned from outside.
    const uint64_t seed = rte_rand();

    r->rcu_ = p.rcu;
    if (!r->rcu_) {
        r->rcu_ = rcu_create(p.max_readers, p.socket_id);
        r->own_rcu_ = r->rcu_ != nullptr;
        if (!r->rcu_)
            goto fail;
    }

    if (!r->pool_.init("pg_rtr_slots", n_slots, p.socket_id))
        goto fail;

    // Every slot, retired ones included, may hold an id and an endpoint way.
    if (!r->ids_.init(p.index_buckets ? p.index_buckets : id_index::buckets_for(n_slots), seed, p.socket_id) ||
        !r->eps_.init(p.index_buckets ? p.index_buckets : endpoint_index::buckets_for(n_slots),
                      detail::mix(seed + 1), p.socket_id))
        goto fail;

    {
        char dqname[RTE_RING_NAMESIZE];
        std::snprintf(dqname, sizeof(dqname), "pg_rdq%u", seq);
        rcu_defer_queue::params dp;
        dp.name = dqname;
        dp.v = r->rcu_;
        dp.size = n_slots;
        dp.esize = sizeof(retired);
        dp.free_fn = &registry::free_retired;
        dp.p = r;
        if (!r->dq_.init(dp))
            goto fail;
    }
    return r;

fail:
    // rte_malloc does not set rte_errno; the RCU and ring constructors do.
    const int err = rte_errno != 0 ? rte_errno : ENOMEM;
    delete r;
    rte_errno = err;
    return nullptr;
}

registry::~registry()
{
    // Readers are gone (offline) by now, so draining the defer queue cannot block for long.
    dq_.destroy();
    if (own_rcu_)
        rte_free(rcu_);
}

void registry::free_retired(void* p, void* elems, unsigned n)
{
    auto* r = static_cast<registry*>(p);
    const auto* x = static_cast<const retired*>(elems);
    for (unsigned i = 0; i < n; ++i) {
        if (x[i].slot != endpoint_index::none)
            r->pool_.push(x[i].slot);
        if (x[i].way != endpoint_index::none)
            r->eps_.release(x[i].way);
    }
}

namespace {
// Both stages over n <= bulk_chunk keys: start all, then find each; keys whose bucket
// overflowed are retried after the others, while their next bucket is on its way.
template <typename Key, typename Start, typename Find>
void two_stage(const Key* keys, unsigned n, Start start, Find find)
{
    probe p[bulk_chunk];
    for (unsigned i = 0; i < n; ++i)
        p[i] = start(keys[i]);
    uint8_t again[bulk_chunk];
    unsigned n_again = 0;
    for (unsigned i = 0; i < n; ++i)
        if (find(i, keys[i], p[i]) == step::again)
            again[n_again++] = static_cast<uint8_t>(i);
    while (n_again) {
        unsigned k = 0;
        for (unsigned j = 0; j < n_again; ++j) {
            const unsigned i = again[j];
            if (find(i, keys[i], p[i]) == step::again)
                again[k++] = static_cast<uint8_t>(i);
        }
        n_again = k;
    }
}
} // namespace

unsigned registry::lookup_ids(const uint32_t* ids, unsigned n, entry** out) const
{
    unsigned hits = 0;
    for (unsigned base = 0; base < n; base += bulk_chunk) {
        const unsigned m = n - base < bulk_chunk ? n - base : bulk_chunk;
        entry** o = out + base;
        two_stage(
            ids + base, m, [&](uint32_t id) { return start_id(id); },
            [&](unsigned i, uint32_t id, probe& p) {
                const step s = find_id(id, p, &o[i]);
                if (s == step::miss)
                    o[i] = nullptr;
                hits += s == step::hit;
                return s;
            });
    }
    return hits;
}

unsigned registry::lookup_endpoints(const uint64_t* keys, unsigned n, entry** out) const
{
    unsigned hits = 0;
    for (unsigned base = 0; base < n; base += bulk_chunk) {
        const unsigned m = n - base < bulk_chunk ? n - base : bulk_chunk;
        entry** o = out + base;
        two_stage(
            keys + base, m, [&](uint64_t k) { return eps_.start(k); },
            [&](unsigned i, uint64_t k, probe& p) {
                uint32_t w;
                const step s = eps_.find(k, p, &w);
                if (s == step::hit) {
                    o[i] = &pool_[eps_.slot(w)];
                    ++hits;
                } else if (s == step::miss) {
                    o[i] = nullptr;
                }
                return s;
            });
    }
    return hits;
}

unsigned registry::refresh_endpoints(const uint64_t* keys, unsigned n, uint64_t now, bool* hit) const
{
    unsigned hits = 0;
    for (unsigned base = 0; base < n; base += bulk_chunk) {
        const unsigned m = n - base < bulk_chunk ? n - base : bulk_chunk;
        bool* h = hit + base;
        two_stage(
            keys + base, m, [&](uint64_t k) { return start_endpoint(k); },
            [&](unsigned i, uint64_t k, probe& p) {
                stamp* st;
                const step s = find_endpoint(k, p, &st);
                if (s == step::hit)
                    st->store(now);
                if (s != step::again) {
                    h[i] = s == step::hit;
                    hits += s == step::hit;
                }
                return s;
            });
    }
    return hits;
}

entry* registry::find_id(uint32_t id) const
{
    uint32_t s;
    return ids_.lookup(id, &s) ? &pool_[s] : nullptr;
}

entry* registry::find_endpoint(uint64_t key) const
{
    uint32_t w;
    return eps_.lookup(key, &w) ? &pool_[eps_.slot(w)] : nullptr;
}

bool registry::alloc_slot(uint32_t* slot)
{
    // Every spare slot may still be in a grace period.
    if (!dq_.reclaim_until([this] { return pool_.n_free() != 0; }))
        return false;
    *slot = pool_.pop();
    return true;
}

uint32_t registry::reserve_way(uint64_t key)
{
    // The key's window may be taken partly by ways still in a grace period.
    uint32_t w = endpoint_index::none;
    dq_.reclaim_until([&] {
        w = eps_.reserve(key);
        return w != endpoint_index::none || eps_.dead_ways() == 0;
    });
    return w;
}

void registry::retire(uint32_t slot, uint32_t way)
{
    if (slot != endpoint_index::none)
        pool_.set_live(slot, false);
    retired x{slot, way};
    dq_.retire(&x);  // the queue holds every slot: never full
}

// e's endpoint way, if it still maps to e.
uint32_t registry::way_of(const entry* e) const
{
    uint32_t w;
    const bool found = eps_.lookup(endpoint_key(e->ip_be, e->udp_port_be), &w);
    return found && &pool_[eps_.slot(w)] == e ? w : endpoint_index::none;
}

void registry::unlink(entry* e)
{
    const uint32_t slot = pool_.index(e);
    uint32_t where;
    if (ids_.locate(e->client_id, &where) && ids_.slot_at(where) == slot)
        ids_.erase(where);
    const uint32_t w = way_of(e);
    if (w != endpoint_index::none)
        eps_.kill(w);
    retire(slot, w);
    std::atomic_ref<uint32_t>(size_).store(size_ - 1, std::memory_order_relaxed);
}

upsert_result registry::upsert(uint32_t id, const endpoint& ep, uint64_t now, std::optional<uint32_t>* displaced)
{
    const uint64_t key = endpoint_key(ep.ip_be, ep.udp_port_be);
    uint32_t id_where = 0;
    entry* by_id = nullptr;
    if (ids_.locate(id, &id_where))
        by_id = &pool_[ids_.slot_at(id_where)];
    uint32_t ep_way = endpoint_index::none;
    entry* by_ep = nullptr;
    if (eps_.lookup(key, &ep_way))
        by_ep = &pool_[eps_.slot(ep_way)];

    if (by_id && by_id == by_ep && by_id->port_id == ep.port_id &&
        rte_is_same_ether_addr(&by_id->next_hop, &ep.next_hop)) {
        eps_.seen(ep_way)->store(now);
        ++c_.refreshed;
        return upsert_result::refreshed;
    }
    // One endpoint holds one registration (Heartbeats carry no ID, so an endpoint must name a
    // single client): a new ID from a registered endpoint ends the old ID's registration.
    if (by_ep && by_ep != by_id) {
        if (displaced)
            *displaced = by_ep->client_id;
        unlink(by_ep);
        ++c_.displaced;
        by_ep = nullptr;
        ep_way = endpoint_index::none;
    }
    if (!by_id && size_ >= capacity_) {
        ++c_.full;
        return upsert_result::full;
    }
    uint32_t slot;
    if (!alloc_slot(&slot)) {
        ++c_.full;
        return upsert_result::full;
    }
    // Same ID, same endpoint, new next hop or port: the endpoint keeps its way and stamp, and
    // both indexes are re-pointed to the new slot in place (one atomic store each).
    const bool same_endpoint = by_ep != nullptr;
    const uint32_t way = same_endpoint ? ep_way : reserve_way(key);
    if (way == endpoint_index::none) {
        pool_.push(slot);  // never published
        ++c_.full;
        return upsert_result::full;
    }
    entry& e = pool_[slot];
    e.client_id = id;
    e.ip_be = ep.ip_be;
    e.udp_port_be = ep.udp_port_be;
    e.port_id = ep.port_id;
    e.next_hop = ep.next_hop;
    e.seen_at = eps_.seen(way);
    pool_.set_live(slot, true);

    // Publish (release stores: a reader that finds the key sees the filled entry). Endpoint
    // first, so a Heartbeat right after the Register Client Response always finds it.
    if (same_endpoint) {
        e.touch(now);
        eps_.set_slot(way, slot);
    } else {
        eps_.publish(way, key, slot, now);
    }
    if (by_id) {
        ids_.set_slot(id_where, slot);
        const uint32_t old_way = same_endpoint ? endpoint_index::none : way_of(by_id);
        if (old_way != endpoint_index::none)
            eps_.kill(old_way);
        retire(pool_.index(by_id), old_way);
        ++c_.moved;
        return upsert_result::moved;
    }
    if (!ids_.insert(id, slot)) {
        // Readers may have seen the endpoint already: take it back through a grace period.
        eps_.kill(way);
        retire(slot, way);
        ++c_.full;
        return upsert_result::full;
    }
    std::atomic_ref<uint32_t>(size_).store(size_ + 1, std::memory_order_relaxed);
    ++c_.added;
    return upsert_result::added;
}

bool registry::remove(uint32_t id)
{
    entry* e = find_id(id);
    if (!e)
        return false;
    unlink(e);
    ++c_.removed;
    return true;
}

unsigned registry::expire(uint64_t now, uint64_t max_age, unsigned budget,
                          const std::function<void(uint32_t id)>& on_expired)
{
    const unsigned removed = pool_.sweep(
        budget,
        // Signed: a worker on another core may have stamped a TSC slightly ahead of ours.
        [&](const entry& e) { return static_cast<int64_t>(now - e.seen()) > static_cast<int64_t>(max_age); },
        [&](uint32_t s) {
            if (on_expired)
                on_expired(pool_[s].client_id);
            unlink(&pool_[s]);
        });
    c_.expired += removed;
    return removed;
}

void registry::reclaim() { dq_.reclaim(); }

registry_counters registry::counters() const
{
    registry_counters r;
    auto ld = [](const uint64_t& v) { return std::atomic_ref<const uint64_t>(v).load(std::memory_order_relaxed); };
    r.added = ld(c_.added);
    r.refreshed = ld(c_.refreshed);
    r.moved = ld(c_.moved);
    r.displaced = ld(c_.displaced);
    r.removed = ld(c_.removed);
    r.expired = ld(c_.expired);
    r.full = ld(c_.full);
    return r;
}

} // namespace peregrine::router
