#include "rudp/reassembly.hpp"

#include <cstring>

namespace peregrine::rudp {

bool reassembly::init(const params& p)
{
    p_ = p;
    n_ = p.contexts;
    ctx_ = std::make_unique<context[]>(n_);
    for (uint32_t i = 0; i < n_; ++i) {
        ctx_[i].buf.reset(new (std::nothrow) uint8_t[buffer_bytes]);
        if (!ctx_[i].buf)
            return false;
    }
    return true;
}

reassembly::status reassembly::add(uint64_t key, uint64_t base, uint8_t id, uint8_t count, const uint8_t* body,
                                   uint32_t len, uint64_t now, unsigned* slot)
{
    // The message's context if there is one; the connection's count; a free one.
    unsigned mine = 0;
    int free_slot = -1;
    for (unsigned i = 0; i < n_; ++i) {
        context& c = ctx_[i];
        const uint8_t s = c.state.load(std::memory_order_acquire);
        if (s == st_free) {
            if (free_slot < 0)
                free_slot = int(i);
            continue;
        }
        if (s != st_active || c.key != key)
            continue;
        ++mine;
        if (c.base != base)
            continue;
        uint8_t want = st_active;
        if (!c.state.compare_exchange_strong(want, st_busy, std::memory_order_acquire))
            continue;
        if (c.key != key || c.base != base) {  // freed and reused meanwhile
            c.state.store(st_active, std::memory_order_release);
            continue;
        }
        const status r = c.count != count ? status::bad_count : store(c, id, body, len);
        if (r == status::complete) {
            *slot = i;  // stays busy until release()
            return r;
        }
        c.state.store(st_active, std::memory_order_release);
        return r;
    }
    if (mine >= p_.per_conn)
        return status::full;
    for (unsigned k = 0; k < n_; ++k) {
        const unsigned i = free_slot >= 0 ? (unsigned(free_slot) + k) % n_ : k;
        context& c = ctx_[i];
        uint8_t want = st_free;
        if (!c.state.compare_exchange_strong(want, st_busy, std::memory_order_acquire))
            continue;
        c.key = key;
        c.base = base;
        c.count = count;
        c.created = now;
        c.n_have = 0;
        c.frag_len = c.last_len = c.total = 0;
        std::memset(c.have, 0, sizeof(c.have));
        const status r = store(c, id, body, len);
        if (r == status::stored) {
            c.state.store(st_active, std::memory_order_release);
        } else {
            c.state.store(st_free, std::memory_order_release);  // a first fragment that does not fit
        }
        return r;
    }
    return status::full;
}

reassembly::status reassembly::store(context& c, uint8_t id, const uint8_t* body, uint32_t len)
{
    if (c.have[id >> 6] & (1ull << (id & 63)))
        return status::duplicate;
    const bool last = id + 1 == c.count;
    if (len == 0 || len > max_body)
        return status::bad_length;
    if (last) {
        if (c.frag_len && len > c.frag_len)
            return status::bad_length;
        c.last_len = len;
        if (c.frag_len)
            std::memcpy(c.buf.get() + size_t(id) * c.frag_len, body, len);
        else
            std::memcpy(c.last, body, len);
    } else {
        if (c.frag_len == 0) {
            if (c.last_len > len)
                return status::bad_length;
            c.frag_len = len;
            if (c.last_len)  // the last one came first: into its place now
                std::memcpy(c.buf.get() + size_t(c.count - 1) * len, c.last, c.last_len);
        } else if (len != c.frag_len) {
            return status::bad_length;
        }
        std::memcpy(c.buf.get() + size_t(id) * c.frag_len, body, len);
    }
    c.have[id >> 6] |= 1ull << (id & 63);
    if (++c.n_have < c.count)
        return status::stored;
    c.total = (uint32_t(c.count) - 1) * c.frag_len + c.last_len;
    return status::complete;
}

void reassembly::release(unsigned slot) { ctx_[slot].state.store(st_free, std::memory_order_release); }

// Frees every active context pred(c) accepts: taken busy first, so that one freed and reused
// between the look and the take is seen for what it is now.
template <typename Pred>
unsigned reassembly::free_if(Pred&& pred)
{
    unsigned n = 0;
    for (unsigned i = 0; i < n_; ++i) {
        context& c = ctx_[i];
        if (c.state.load(std::memory_order_acquire) != st_active || !pred(c))
            continue;
        uint8_t want = st_active;
        if (!c.state.compare_exchange_strong(want, st_busy, std::memory_order_acquire))
            continue;
        const bool go = pred(c);
        c.state.store(go ? st_free : st_active, std::memory_order_release);
        n += go;
    }
    return n;
}

unsigned reassembly::expire(uint64_t now)
{
    const unsigned n = free_if([&](const context& c) {
        return static_cast<int64_t>(now - c.created) > static_cast<int64_t>(p_.timeout_tsc);
    });
    timed_out_.fetch_add(n, std::memory_order_relaxed);
    return n;
}

void reassembly::forget(uint64_t key)
{
    free_if([&](const context& c) { return c.key == key; });
}

uint32_t reassembly::in_use() const
{
    uint32_t n = 0;
    for (unsigned i = 0; i < n_; ++i)
        n += ctx_[i].state.load(std::memory_order_relaxed) != st_free;
    return n;
}

} // namespace peregrine::rudp
