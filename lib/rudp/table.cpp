#include "rudp/table.hpp"

#include <cstdio>
#include <cstring>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace peregrine::rudp {

namespace {
// Slots beyond capacity so connections in a grace period never make an open fail.
uint32_t slack_for(uint32_t capacity) { return capacity / 8 + 1024; }
std::atomic<unsigned> instance_seq{0};

uint32_t hash_key(const void* k, uint32_t, uint32_t init)
{
    uint64_t v;
    std::memcpy(&v, k, sizeof(v));
    return rte_hash_crc_8byte(v, init);
}
} // namespace

table* table::create(const params& p)
{
    if (p.capacity == 0 || !p.rcu) {
        rte_errno = EINVAL;
        return nullptr;
    }
    auto* t = new table();
    const unsigned seq = instance_seq.fetch_add(1);
    t->capacity_ = p.capacity;
    const uint32_t n_slots = p.capacity + slack_for(p.capacity);
    int err = ENOMEM;
    t->hops_ = static_cast<rte_ether_addr*>(
        rte_zmalloc_socket("pg_rudp_hops", sizeof(rte_ether_addr) * size_t(n_slots), 0, p.socket_id));
    if (!t->pool_.init("pg_rudp_slots", n_slots, p.socket_id) || !t->hops_)
        goto fail;
    {
        char name[RTE_HASH_NAMESIZE];
        std::snprintf(name, sizeof(name), "%.12s_%u", p.name, seq);
        t->hash_ = rcu_hash_create(name, n_slots, sizeof(uint64_t), hash_key, p.socket_id, p.rcu);
        if (!t->hash_) {
            err = rte_errno;
            goto fail;
        }
    }
    {
        char dqname[RTE_RING_NAMESIZE];
        std::snprintf(dqname, sizeof(dqname), "pg_udq%u", seq);
        rcu_defer_queue::params dp;
        dp.name = dqname;
        dp.v = p.rcu;
        dp.size = slack_for(p.capacity);
        dp.esize = sizeof(uint32_t);
        dp.free_fn = &table::free_slots;
        dp.p = t;
        if (!t->dq_.init(dp)) {
            err = rte_errno;
            goto fail;
        }
    }
    return t;
fail:
    delete t;
    rte_errno = err;
    return nullptr;
}

table::~table()
{
    dq_.destroy();
    rte_hash_free(hash_);
    rte_free(hops_);
}

void table::free_slots(void* p, void* elems, unsigned n)
{
    auto* t = static_cast<table*>(p);
    const auto* idx = static_cast<const uint32_t*>(elems);
    for (unsigned i = 0; i < n; ++i) {
        // The keys go with the slot: nothing of a closed connection stays in memory.
        conn& c = t->pool_[idx[i]];
        std::memset(static_cast<void*>(&c.rx_key), 0, sizeof(c.rx_key) + sizeof(c.tx_key));
        t->pool_.push(idx[i]);
    }
}

void table::lookup(const uint64_t* keys, unsigned n, conn** out) const
{
    const void* kp[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned i = 0; i < n; ++i)
        kp[i] = &keys[i];
    hash_lookup_bulk(hash_, kp, n, reinterpret_cast<void**>(out));
}

conn* table::find(uint64_t key) const
{
    void* d = nullptr;
    return rte_hash_lookup_data(hash_, &key, &d) >= 0 ? static_cast<conn*>(d) : nullptr;
}

void table::retire_slot(uint32_t slot)
{
    pool_.set_live(slot, false);
    dq_.retire(&slot);
}

conn* table::open(const opening& o, crypto::mb_context& mb, uint64_t now)
{
    const uint64_t key = endpoint_key(o.ip_be, o.port_be);
    conn* old = find(key);
    if (!old && size_ >= capacity_) {
        ++c_.full;
        return nullptr;
    }
    if (!dq_.reclaim_until([this] { return pool_.n_free() != 0; })) {
        ++c_.full;
        return nullptr;
    }
    const uint32_t slot = pool_.pop();
    conn& c = pool_[slot];
    c.rx.reset(o.client_top);
    c.owner = conn::no_owner;
    c.tx_seq = o.server_next;
    c.key = key;
    c.ip_be = o.ip_be;
    c.port_be = o.port_be;
    c.port_id = o.port_id;
    std::memcpy(c.rx_salt, o.keys->c2s_salt, salt_len);
    std::memcpy(c.tx_salt, o.keys->s2c_salt, salt_len);
    c.number = opened_total_;
    c.closing = 0;
    if (!crypto::make_gcm_key(mb, o.keys->c2s_key, key_len, &c.rx_key) ||
        !crypto::make_gcm_key(mb, o.keys->s2c_key, key_len, &c.tx_key)) {
        pool_.push(slot);
        ++c_.full;
        return nullptr;
    }
    hops_[slot] = o.next_hop;
    c.touch(now);
    pool_.set_live(slot, true);
    if (rte_hash_add_key_data(hash_, &key, &c) < 0) {
        retire_slot(slot);
        ++c_.full;
        return nullptr;
    }
    ++opened_total_;
    if (old) {
        retire_slot(pool_.index(old));
        ++c_.replaced;
        return &c;
    }
    std::atomic_ref<uint32_t>(size_).store(size_ + 1, std::memory_order_relaxed);
    ++c_.opened;
    return &c;
}

void table::remove(uint32_t slot)
{
    const uint64_t key = pool_[slot].key;
    rte_hash_del_key(hash_, &key);
    retire_slot(slot);
    std::atomic_ref<uint32_t>(size_).store(size_ - 1, std::memory_order_relaxed);
}

bool table::close(uint64_t key)
{
    conn* c = find(key);
    if (!c)
        return false;
    remove(pool_.index(c));
    ++c_.closed;
    return true;
}

void table::reclaim() { dq_.reclaim(); }

table_counters table::counters() const
{
    auto ld = [](const uint64_t& v) { return std::atomic_ref<const uint64_t>(v).load(std::memory_order_relaxed); };
    return {ld(c_.opened), ld(c_.replaced), ld(c_.closed), ld(c_.expired), ld(c_.full)};
}

} // namespace peregrine::rudp
