#pragma once

// The slots of a single-writer, lock-free-reader table (the router's registry, the session
// table): an array of entries in hugepage memory that readers index directly, a writer-only
// free stack and live flags, and the expiry sweep that visits a slice of the slots per call so
// that expiry costs the control lcore a bounded amount per tick. Freeing a slot readers may
// still see is the owner's job (an RCU defer queue hands it back with push()).

#include <cstdint>

#include <rte_malloc.h>

namespace peregrine {

template <typename Entry>
class slot_pool {
public:
    slot_pool() = default;
    slot_pool(const slot_pool&) = delete;
    slot_pool& operator=(const slot_pool&) = delete;
    ~slot_pool()
    {
        rte_free(free_);
        rte_free(live_);
        rte_free(slots_);
    }

    // n zeroed slots on socket, all free (low indices handed out first, so a small table stays
    // in few cache lines). False when out of memory.
    bool init(const char* name, uint32_t n, int socket)
    {
        slots_ = static_cast<Entry*>(rte_zmalloc_socket(name, sizeof(Entry) * size_t(n), RTE_CACHE_LINE_SIZE, socket));
        live_ = static_cast<uint8_t*>(rte_zmalloc_socket(name, n, 0, socket));
        free_ = static_cast<uint32_t*>(rte_malloc_socket(name, sizeof(uint32_t) * size_t(n), 0, socket));
        if (!slots_ || !live_ || !free_)
            return false;
        for (uint32_t i = 0; i < n; ++i)
            free_[i] = n - 1 - i;
        n_ = n_free_ = n;
        return true;
    }

    // ---- readers and the writer ----
    Entry* data() const { return slots_; }
    Entry& operator[](uint32_t s) const { return slots_[s]; }
    uint32_t index(const Entry* e) const { return static_cast<uint32_t>(e - slots_); }
    uint32_t size() const { return n_; }

    // ---- the writer only ----
    uint32_t n_free() const { return n_free_; }
    uint32_t pop() { return free_[--n_free_]; }  // n_free() > 0
    void push(uint32_t s) { free_[n_free_++] = s; }
    bool live(uint32_t s) const { return live_[s] != 0; }
    void set_live(uint32_t s, bool v) { live_[s] = v; }

    template <typename Fn>
    void for_each_live(Fn&& fn) const
    {
        for (uint32_t s = 0; s < n_; ++s)
            if (live_[s])
                fn(static_cast<const Entry&>(slots_[s]));
    }

    // Visits the next `budget` slots (wrapping round) and calls reap(slot) for each live one
    // expired(entry) says is over. Returns how many were reaped.
    template <typename Expired, typename Reap>
    unsigned sweep(unsigned budget, Expired&& expired, Reap&& reap)
    {
        unsigned reaped = 0;
        for (unsigned i = 0; i < budget && n_; ++i) {
            const uint32_t s = cursor_;
            cursor_ = (cursor_ + 1 == n_) ? 0 : cursor_ + 1;
            if (live_[s] && expired(static_cast<const Entry&>(slots_[s]))) {
                reap(s);
                ++reaped;
            }
        }
        return reaped;
    }

private:
    Entry* slots_ = nullptr;
    uint8_t* live_ = nullptr;   // slot holds a published entry
    uint32_t* free_ = nullptr;  // stack of free slot indices
    uint32_t n_free_ = 0;
    uint32_t n_ = 0;
    uint32_t cursor_ = 0;       // where the next sweep starts
};

} // namespace peregrine
