#include "router/registry.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace peregrine::router {

namespace {
// Slots beyond capacity so retired-but-not-yet-reclaimed registrations never make a live
// registration fail: one grace period's worth of churn at any realistic rate.
uint32_t slack_for(uint32_t capacity) { return capacity / 8 + 1024; }

// Reclaim in batches: the control lcore must keep its own loop short.
static constexpr uint32_t reclaim_batch = 1024;

std::atomic<unsigned> instance_seq{0};

rte_hash* make_hash(const char* base, const char* what, unsigned seq, uint32_t entries,
                    uint32_t key_len, int socket, rte_rcu_qsbr* v)
{
    char name[RTE_HASH_NAMESIZE];
    std::snprintf(name, sizeof(name), "%.12s_%s%u", base, what, seq);
    rte_hash_parameters hp{};
    hp.name = name;
    hp.entries = entries;
    hp.key_len = key_len;
    hp.hash_func = rte_hash_crc;
    hp.hash_func_init_val = 0;
    hp.socket_id = socket;
    // LF: readers never take a lock; EXT_TABLE: no insert ever fails on a crowded bucket.
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* h = rte_hash_create(&hp);
    if (!h)
        return nullptr;
    rte_hash_rcu_config rc{};
    rc.v = v;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(h, &rc) != 0) {
        rte_hash_free(h);
        return nullptr;
    }
    return h;
}
} // namespace

registry* registry::create(const params& p)
{
    if (p.capacity == 0 || p.max_readers == 0) {
        rte_errno = EINVAL;
        return nullptr;
    }
    auto* r = new registry();
    rte_errno = 0;
    const unsigned seq = instance_seq.fetch_add(1);
    r->capacity_ = p.capacity;
    r->n_slots_ = p.capacity + slack_for(p.capacity);

    const size_t rcu_sz = rte_rcu_qsbr_get_memsize(p.max_readers);
    r->rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc_socket("pg_rcu", rcu_sz, RTE_CACHE_LINE_SIZE, p.socket_id));
    if (!r->rcu_ || rte_rcu_qsbr_init(r->rcu_, p.max_readers) != 0)
        goto fail;

    r->slots_ = static_cast<entry*>(
        rte_zmalloc_socket("pg_rtr_slots", sizeof(entry) * size_t(r->n_slots_), RTE_CACHE_LINE_SIZE, p.socket_id));
    r->live_ = static_cast<uint8_t*>(rte_zmalloc_socket("pg_rtr_live", r->n_slots_, 0, p.socket_id));
    r->free_ = static_cast<uint32_t*>(
        rte_malloc_socket("pg_rtr_free", sizeof(uint32_t) * size_t(r->n_slots_), 0, p.socket_id));
    if (!r->slots_ || !r->live_ || !r->free_)
        goto fail;
    // Hand out low slots first so a small registry stays in few cache lines.
    for (uint32_t i = 0; i < r->n_slots_; ++i)
        r->free_[i] = r->n_slots_ - 1 - i;
    r->n_free_ = r->n_slots_;

    r->by_id_ = make_hash(p.name, "id", seq, r->n_slots_, sizeof(uint32_t), p.socket_id, r->rcu_);
    r->by_ep_ = make_hash(p.name, "ep", seq, r->n_slots_, sizeof(uint64_t), p.socket_id, r->rcu_);
    if (!r->by_id_ || !r->by_ep_)
        goto fail;

    {
        char dqname[RTE_RING_NAMESIZE];
        std::snprintf(dqname, sizeof(dqname), "pg_rdq%u", seq);
        rte_rcu_qsbr_dq_parameters dp{};
        dp.name = dqname;
        dp.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;  // single writer
        dp.size = r->n_slots_;
        dp.esize = sizeof(uint32_t);
        dp.trigger_reclaim_limit = reclaim_batch;
        dp.max_reclaim_size = reclaim_batch;
        dp.free_fn = &registry::free_slots;
        dp.p = r;
        dp.v = r->rcu_;
        r->dq_ = rte_rcu_qsbr_dq_create(&dp);
        if (!r->dq_)
            goto fail;
    }
    return r;

fail:
    // rte_malloc does not set rte_errno; the hash and ring constructors do.
    const int err = (r->slots_ && r->live_ && r->free_ && r->rcu_) ? rte_errno : ENOMEM;
    delete r;
    rte_errno = err;
    return nullptr;
}

registry::~registry()
{
    // Readers are gone (offline) by now, so draining the defer queues cannot block for long.
    if (dq_)
        rte_rcu_qsbr_dq_delete(dq_);
    rte_hash_free(by_id_);
    rte_hash_free(by_ep_);
    rte_free(free_);
    rte_free(live_);
    rte_free(slots_);
    rte_free(rcu_);
}

void registry::free_slots(void* p, void* elems, unsigned n)
{
    auto* r = static_cast<registry*>(p);
    const auto* idx = static_cast<const uint32_t*>(elems);
    for (unsigned i = 0; i < n; ++i)
        r->free_[r->n_free_++] = idx[i];
}

namespace {
template <typename Key>
unsigned bulk_lookup(const rte_hash* h, const Key* k, unsigned n, entry** out)
{
    const void* keys[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned i = 0; i < n; ++i)
        keys[i] = &k[i];
    uint64_t hits = 0;
    const int nh = rte_hash_lookup_bulk_data(h, keys, n, &hits, reinterpret_cast<void**>(out));
    // rte_hash leaves the data of a miss untouched: make misses explicit.
    for (uint64_t miss = ~hits & ((n == 64) ? ~0ull : ((1ull << n) - 1)); miss; miss &= miss - 1)
        out[__builtin_ctzll(miss)] = nullptr;
    return nh < 0 ? 0 : static_cast<unsigned>(nh);
}
} // namespace

unsigned registry::lookup_ids(const uint32_t* ids, unsigned n, entry** out) const
{
    return bulk_lookup(by_id_, ids, n, out);
}

unsigned registry::lookup_endpoints(const uint64_t* eps, unsigned n, entry** out) const
{
    return bulk_lookup(by_ep_, eps, n, out);
}

entry* registry::find_id(uint32_t id) const
{
    void* d = nullptr;
    return rte_hash_lookup_data(by_id_, &id, &d) >= 0 ? static_cast<entry*>(d) : nullptr;
}

entry* registry::find_endpoint(uint64_t key) const
{
    void* d = nullptr;
    return rte_hash_lookup_data(by_ep_, &key, &d) >= 0 ? static_cast<entry*>(d) : nullptr;
}

bool registry::alloc_slot(uint32_t* slot)
{
    if (n_free_ == 0)
        rte_rcu_qsbr_dq_reclaim(dq_, UINT32_MAX, nullptr, nullptr, nullptr);
    if (n_free_ == 0) {
        // Every spare slot is still in a grace period: wait it out (workers report every loop).
        rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
        rte_rcu_qsbr_dq_reclaim(dq_, UINT32_MAX, nullptr, nullptr, nullptr);
    }
    if (n_free_ == 0)
        return false;
    *slot = free_[--n_free_];
    return true;
}

void registry::retire_slot(uint32_t slot)
{
    live_[slot] = 0;
    if (rte_rcu_qsbr_dq_enqueue(dq_, &slot) != 0) {
        // Cannot happen with the queue sized to every slot, but never leak a slot if it does.
        rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
        free_[n_free_++] = slot;
    }
}

void registry::unlink(entry* e)
{
    const uint32_t id = e->client_id;
    if (find_id(id) == e)
        rte_hash_del_key(by_id_, &id);
    const uint64_t k = endpoint_key(e->ip_be, e->udp_port_be);
    if (find_endpoint(k) == e)
        rte_hash_del_key(by_ep_, &k);
    retire_slot(static_cast<uint32_t>(e - slots_));
    std::atomic_ref<uint32_t>(size_).store(size_ - 1, std::memory_order_relaxed);
}

upsert_result registry::upsert(uint32_t id, const endpoint& ep, uint64_t now)
{
    const uint64_t key = endpoint_key(ep.ip_be, ep.udp_port_be);
    entry* by_id = find_id(id);
    entry* by_ep = find_endpoint(key);

    if (by_id && by_id == by_ep && by_id->port_id == ep.port_id &&
        rte_is_same_ether_addr(&by_id->next_hop, &ep.next_hop)) {
        by_id->touch(now);
        ++c_.refreshed;
        return upsert_result::refreshed;
    }
    // One endpoint holds one registration (Heartbeats carry no ID, so an endpoint must name a
    // single client): a new ID from a registered endpoint ends the old ID's registration.
    if (by_ep && by_ep != by_id) {
        unlink(by_ep);
        ++c_.displaced;
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
    entry& e = slots_[slot];
    e.client_id = id;
    e.ip_be = ep.ip_be;
    e.udp_port_be = ep.udp_port_be;
    e.port_id = ep.port_id;
    e.next_hop = ep.next_hop;
    e.touch(now);
    live_[slot] = 1;

    // Publish: rte_hash (LF) stores the data pointer with release semantics, so a reader that
    // finds the key sees the filled entry. Endpoint first, so a Heartbeat right after the
    // Register Client Response always finds it.
    if (rte_hash_add_key_data(by_ep_, &key, &e) < 0 || rte_hash_add_key_data(by_id_, &id, &e) < 0) {
        if (find_endpoint(key) == &e)
            rte_hash_del_key(by_ep_, &key);
        retire_slot(slot);
        ++c_.full;
        return upsert_result::full;
    }
    if (by_id) {
        const uint64_t old_key = endpoint_key(by_id->ip_be, by_id->udp_port_be);
        if (old_key != key && find_endpoint(old_key) == by_id)
            rte_hash_del_key(by_ep_, &old_key);
        retire_slot(static_cast<uint32_t>(by_id - slots_));
        ++c_.moved;
        return upsert_result::moved;
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

unsigned registry::expire(uint64_t now, uint64_t max_age, unsigned budget)
{
    unsigned removed = 0;
    for (unsigned i = 0; i < budget; ++i) {
        const uint32_t s = cursor_;
        cursor_ = (cursor_ + 1 == n_slots_) ? 0 : cursor_ + 1;
        if (!live_[s])
            continue;
        // Signed: a worker on another core may have stamped a TSC slightly ahead of ours.
        const int64_t age = static_cast<int64_t>(now - slots_[s].seen());
        if (age > static_cast<int64_t>(max_age)) {
            unlink(&slots_[s]);
            ++removed;
        }
    }
    c_.expired += removed;
    return removed;
}

void registry::reclaim()
{
    rte_rcu_qsbr_dq_reclaim(dq_, reclaim_batch, nullptr, nullptr, nullptr);
}

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
