#include "session/table.hpp"

#include <cstdio>
#include <cstring>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include <openssl/rand.h>

namespace peregrine::session {

namespace {
// Slots beyond capacity so sessions in a grace period never make an open fail.
uint32_t slack_for(uint32_t capacity) { return capacity / 8 + 1024; }

std::atomic<unsigned> instance_seq{0};

// Client IDs sit at offset 74 of a frame: rte_hash_crc reads keys 8 bytes at a time, so hand it
// an aligned copy (no unaligned access, also on strict-alignment CPUs).
struct alignas(16) key {
    uint8_t b[client_id_len];
    explicit key(const uint8_t* id) { std::memcpy(b, id, client_id_len); }
    key() = default;
};
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
        rte_zmalloc_socket("pg_sess_hops", sizeof(rte_ether_addr) * size_t(n_slots), 0, p.socket_id));
    t->tokens_ = static_cast<uint32_t*>(
        rte_zmalloc_socket("pg_sess_tokens", sizeof(uint32_t) * size_t(n_slots), 0, p.socket_id));
    if (!t->pool_.init("pg_sess_slots", n_slots, p.socket_id) || !t->hops_ || !t->tokens_)
        goto fail;

    {
        char name[RTE_HASH_NAMESIZE];
        std::snprintf(name, sizeof(name), "%.12s_%u", p.name, seq);
        t->hash_ = rcu_hash_create(name, n_slots, client_id_len, rte_hash_crc, p.socket_id, p.rcu);
        if (!t->hash_) {
            err = rte_errno;
            goto fail;
        }
    }
    {
        char dqname[RTE_RING_NAMESIZE];
        std::snprintf(dqname, sizeof(dqname), "pg_sdq%u", seq);
        rcu_defer_queue::params dp;
        dp.name = dqname;
        dp.v = p.rcu;
        // Only slots in a grace period wait here, at most the slack's worth before alloc_slot
        // reclaims; a full queue falls back to a synchronous grace period (retire_slot).
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
    rte_free(tokens_);
}

void table::free_slots(void* p, void* elems, unsigned n)
{
    auto* t = static_cast<table*>(p);
    const auto* idx = static_cast<const uint32_t*>(elems);
    for (unsigned i = 0; i < n; ++i)
        t->pool_.push(idx[i]);
}

void table::lookup(const uint8_t* const* ids, unsigned n, entry** out) const
{
    key k[RTE_HASH_LOOKUP_BULK_MAX];
    const void* kp[RTE_HASH_LOOKUP_BULK_MAX];
    for (unsigned i = 0; i < n; ++i) {
        std::memcpy(k[i].b, ids[i], client_id_len);
        kp[i] = &k[i];
    }
    hash_lookup_bulk(hash_, kp, n, reinterpret_cast<void**>(out));
}

entry* table::find(const uint8_t* id) const
{
    const key k(id);
    void* d = nullptr;
    return rte_hash_lookup_data(hash_, &k, &d) >= 0 ? static_cast<entry*>(d) : nullptr;
}

proof table::prove(entry& e, uint32_t echoed) const
{
    if (e.is_proven())
        return proof::proven;
    std::atomic_ref<uint32_t> t(tokens_[pool_.index(&e)]);
    const uint32_t v = t.load(std::memory_order_relaxed);
    if ((v >> 24) >= max_token_misses)
        return proof::locked;
    if ((v & token_mask) == (echoed & token_mask)) {
        std::atomic_ref<uint8_t>(e.proven).store(1, std::memory_order_relaxed);
        return proof::now;
    }
    t.fetch_add(1u << 24, std::memory_order_relaxed);
    return proof::wrong;
}

namespace {
// A token nobody off the path can predict (rte_rand is not: its state follows from its
// outputs). Never 0, so a client that echoes nothing never matches.
uint32_t fresh_token()
{
    uint32_t v = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof(v)) != 1)
        v = static_cast<uint32_t>(rte_rand());
    v &= token_mask;
    return v ? v : 1;
}
} // namespace

bool table::alloc_slot(uint32_t* slot)
{
    // Every spare slot may be in a grace period.
    if (!dq_.reclaim_until([this] { return pool_.n_free() != 0; }))
        return false;
    *slot = pool_.pop();
    return true;
}

void table::retire_slot(uint32_t slot)
{
    pool_.set_live(slot, false);
    // Queue full (more than the slack retired within one grace period): waits the grace period out.
    dq_.retire(&slot);
}

open_result table::open(const uint8_t* id, const endpoint& ep, uint64_t hello_ts, uint64_t order, uint64_t now,
                        uint64_t max_age)
{
    entry* old = find(id);
    if (old && !old->expired(now, max_age)) {
        if (hello_ts < old->hello_ts || (hello_ts == old->hello_ts && !old->from(ep.ip_be, ep.udp_port_be))) {
            ++c_.replayed;
            return open_result::replayed;
        }
        if (hello_ts == old->hello_ts) {
            ++c_.duplicate;
            return open_result::duplicate;
        }
    }
    if (!old && size_ >= capacity_) {
        ++c_.full;
        return open_result::full;
    }
    uint32_t slot;
    if (!alloc_slot(&slot)) {
        ++c_.full;
        return open_result::full;
    }
    entry& e = pool_[slot];
    e.win.reset(order);
    std::memcpy(e.client_id, id, client_id_len);
    e.hello_ts = hello_ts;
    e.ip_be = ep.ip_be;
    e.udp_port_be = ep.udp_port_be;
    e.port_id = static_cast<uint8_t>(ep.port_id);
    e.proven = 0;
    e.tx_order = 0;
    hops_[slot] = ep.next_hop;
    tokens_[slot] = fresh_token();
    e.touch(now);
    pool_.set_live(slot, true);
    // Publish (release store of the data pointer: a reader that finds the key sees the filled
    // slot). For an existing key this swaps the pointer in place.
    const key k(id);
    if (rte_hash_add_key_data(hash_, &k, &e) < 0) {
        retire_slot(slot);
        ++c_.full;
        return open_result::full;
    }
    if (old) {
        retire_slot(pool_.index(old));
        ++c_.reopened;
        return open_result::reopened;
    }
    std::atomic_ref<uint32_t>(size_).store(size_ + 1, std::memory_order_relaxed);
    ++c_.opened;
    return open_result::opened;
}

bool table::close(const uint8_t* id)
{
    entry* e = find(id);
    if (!e)
        return false;
    const key k(id);
    rte_hash_del_key(hash_, &k);
    retire_slot(pool_.index(e));
    std::atomic_ref<uint32_t>(size_).store(size_ - 1, std::memory_order_relaxed);
    ++c_.closed;
    return true;
}

unsigned table::expire(uint64_t now, uint64_t max_age, unsigned budget)
{
    const unsigned removed = pool_.sweep(
        budget, [&](const entry& e) { return e.expired(now, max_age); },
        [&](uint32_t slot) {
            const key k(pool_[slot].client_id);
            rte_hash_del_key(hash_, &k);
            retire_slot(slot);
            std::atomic_ref<uint32_t>(size_).store(size_ - 1, std::memory_order_relaxed);
        });
    c_.expired += removed;
    return removed;
}

void table::reclaim() { dq_.reclaim(); }

table_counters table::counters() const
{
    auto ld = [](const uint64_t& v) { return std::atomic_ref<const uint64_t>(v).load(std::memory_order_relaxed); };
    return {ld(c_.opened), ld(c_.reopened), ld(c_.duplicate), ld(c_.replayed), ld(c_.closed), ld(c_.expired),
            ld(c_.full)};
}

} // namespace peregrine::session
