#include "router/index.hpp"

#include <algorithm>
#include <cmath>

#include <rte_malloc.h>

namespace peregrine::router {

namespace detail {

template <class B, uint64_t pass_bit>
bool probing<B, pass_bit>::allocate(uint32_t n_buckets, uint64_t seed, int socket, const char* what)
{
    release_memory();
    if (n_buckets == 0)
        return false;
    buckets_ = static_cast<B*>(rte_zmalloc_socket(what, sizeof(B) * size_t(n_buckets), RTE_CACHE_LINE_SIZE, socket));
    pass_ = static_cast<uint8_t*>(rte_zmalloc_socket(what, n_buckets, 0, socket));
    if (!buckets_ || !pass_) {
        release_memory();
        return false;
    }
    n_buckets_ = n_buckets;
    window_ = std::min(max_probe, n_buckets);
    seed_ = seed;
    return true;
}

template <class B, uint64_t pass_bit>
void probing<B, pass_bit>::release_memory()
{
    rte_free(buckets_);
    rte_free(pass_);
    buckets_ = nullptr;
    pass_ = nullptr;
    n_buckets_ = 0;
}

static_assert((probing<id_bucket, id_index::pass>::max_probe - 1) * id_index::ways <= UINT8_MAX,
              "pass counts are bytes");

template <class B, uint64_t pass_bit>
void probing<B, pass_bit>::add_pass(uint32_t home, uint32_t at)
{
    for (uint32_t b = home; b != at; b = next(b)) {
        // At most (max_probe - 1) * ways keys can pass one bucket: 248 fits a byte.
        if (pass_[b]++ == 0) {
            uint64_t& w0 = reinterpret_cast<uint64_t*>(&buckets_[b])[0];
            store_release(w0, w0 | pass_bit);
        }
    }
}

template <class B, uint64_t pass_bit>
void probing<B, pass_bit>::drop_pass(uint32_t home, uint32_t at)
{
    for (uint32_t b = home; b != at; b = next(b)) {
        if (--pass_[b] == 0) {
            uint64_t& w0 = reinterpret_cast<uint64_t*>(&buckets_[b])[0];
            store_release(w0, w0 & ~pass_bit);
        }
    }
}

template <class B, uint64_t pass_bit>
uint32_t probing<B, pass_bit>::passed_buckets() const
{
    uint32_t n = 0;
    for (uint32_t b = 0; b < n_buckets_; ++b)
        n += (load_acquire(reinterpret_cast<const uint64_t*>(&buckets_[b])[0]) & pass_bit) != 0;
    return n;
}

template class probing<id_bucket, id_index::pass>;
template class probing<endpoint_bucket, endpoint_index::pass>;

uint32_t buckets_for(uint32_t n_keys, unsigned ways, double load)
{
    const double b = std::ceil(double(n_keys) / (ways * load));
    return static_cast<uint32_t>(std::clamp(b, 1.0, double(UINT32_MAX / ways)));
}

} // namespace detail

// ---- id_index ----------------------------------------------------------------------------

uint32_t id_index::buckets_for(uint32_t n_keys) { return detail::buckets_for(n_keys, ways, load); }

bool id_index::init(uint32_t n_buckets, uint64_t seed, int socket)
{
    return allocate(n_buckets, seed, socket, "pg_rtr_ids");
}

bool id_index::lookup(uint32_t id, uint32_t* slot) const
{
    probe p = start(id);
    step s;
    while ((s = find(id, p, slot)) == step::again) {
    }
    return s == step::hit;
}

bool id_index::locate(uint32_t id, uint32_t* where) const
{
    probe p = start(id);
    do {
        const id_bucket& b = buckets_[p.bucket];
        for (unsigned i = 0; i < ways; ++i) {
            const uint64_t w = b.w[i];
            if ((w & occupied) && static_cast<uint32_t>(w >> 32) == id) {
                *where = p.bucket * ways + i;
                return true;
            }
        }
    } while (go_on(p, buckets_[p.bucket].w[0]) == step::again);
    return false;
}

bool id_index::insert(uint32_t id, uint32_t slot)
{
    const uint32_t h = home(id);
    uint32_t b = h;
    for (uint32_t d = 0; d < window_; ++d, b = next(b)) {
        for (unsigned i = 0; i < ways; ++i) {
            uint64_t& w = buckets_[b].w[i];
            if (w & occupied)
                continue;
            add_pass(h, b);
            detail::store_release(w, (w & pass) | (static_cast<uint64_t>(id) << 32) | occupied | slot);
            return true;
        }
    }
    return false;
}

void id_index::set_slot(uint32_t where, uint32_t slot)
{
    uint64_t& w = buckets_[where / ways].w[where % ways];
    detail::store_release(w, (w & ~uint64_t(slot_mask)) | slot);
}

void id_index::erase(uint32_t where)
{
    const uint32_t b = where / ways;
    uint64_t& w = buckets_[b].w[where % ways];
    const uint32_t id = static_cast<uint32_t>(w >> 32);
    detail::store_release(w, w & pass);
    drop_pass(home(id), b);
}

// ---- endpoint_index ----------------------------------------------------------------------

uint32_t endpoint_index::buckets_for(uint32_t n_keys) { return detail::buckets_for(n_keys, ways, load); }

endpoint_index::~endpoint_index() { rte_free(slots_); }

bool endpoint_index::init(uint32_t n_buckets, uint64_t seed, int socket)
{
    rte_free(slots_);
    slots_ = nullptr;
    n_dead_ = 0;
    if (!allocate(n_buckets, seed, socket, "pg_rtr_eps"))
        return false;
    slots_ = static_cast<uint32_t*>(rte_zmalloc_socket("pg_rtr_ep_slots", sizeof(uint32_t) * size_t(n_buckets) * ways, 0, socket));
    if (!slots_) {
        release_memory();
        return false;
    }
    return true;
}

bool endpoint_index::lookup(uint64_t key, uint32_t* where) const
{
    probe p = start(key);
    step s;
    while ((s = find(key, p, where)) == step::again) {
    }
    return s == step::hit;
}

uint32_t endpoint_index::reserve(uint64_t key) const
{
    uint32_t b = home(key);
    for (uint32_t d = 0; d < window_; ++d, b = next(b))
        for (unsigned i = 0; i < ways; ++i)
            if (!(buckets_[b].key[i] & (occupied | dead)))
                return b * ways + i;
    return none;
}

void endpoint_index::publish(uint32_t where, uint64_t key, uint32_t slot, uint64_t now)
{
    const uint32_t b = where / ways;
    endpoint_bucket& bk = buckets_[b];
    std::atomic_ref<uint32_t>(slots_[where]).store(slot, std::memory_order_relaxed);
    bk.seen[where % ways].store(now);
    add_pass(home(key), b);
    uint64_t& w = bk.key[where % ways];
    detail::store_release(w, (w & pass) | occupied | (key & key_mask));
}

void endpoint_index::set_slot(uint32_t where, uint32_t slot)
{
    std::atomic_ref<uint32_t>(slots_[where]).store(slot, std::memory_order_release);
}

void endpoint_index::kill(uint32_t where)
{
    const uint32_t b = where / ways;
    uint64_t& w = buckets_[b].key[where % ways];
    const uint64_t key = w & key_mask;
    detail::store_release(w, (w & ~occupied) | dead);
    drop_pass(home(key), b);
    ++n_dead_;
}

void endpoint_index::release(uint32_t where)
{
    uint64_t& w = buckets_[where / ways].key[where % ways];
    detail::store_release(w, w & pass);
    --n_dead_;
}

} // namespace peregrine::router
