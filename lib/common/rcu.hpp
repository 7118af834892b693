#pragma once

// The writer's side of RCU (rte_rcu_qsbr) for the single-writer, lock-free-reader tables
// (router::registry, session::table): the QSBR variable and a defer queue that hands retired
// elements back once every reader has reported a quiescent state.

#include <cstdint>

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

namespace peregrine {

// A QSBR variable for reader thread ids 0..max_readers-1 in socket_id's memory (free it with
// rte_free), or null with rte_errno set.
rte_rcu_qsbr* rcu_create(uint32_t max_readers, int socket_id);

// An rte_hash for one writer and lock-free readers (RW_CONCURRENCY_LF; EXT_TABLE, so no insert
// fails on a crowded bucket) whose deleted keys' slots wait for a grace period on v before the
// hash reuses them (RTE_HASH_QSBR_MODE_DQ). name must be unique in the process. nullptr with
// rte_errno set. Free with rte_hash_free.
// rte_hash_lookup_bulk_data (n <= RTE_HASH_LOOKUP_BULK_MAX) with every miss's data set to nullptr:
// rte_hash leaves it untouched.
inline void hash_lookup_bulk(const rte_hash* h, const void** keys, unsigned n, void** out)
{
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(h, keys, n, &hits, out);
    for (uint64_t miss = ~hits & ((n == 64) ? ~0ull : ((1ull << n) - 1)); miss; miss &= miss - 1)
        out[__builtin_ctzll(miss)] = nullptr;
}

rte_hash* rcu_hash_create(const char* name, uint32_t entries, uint32_t key_len, rte_hash_function fn, int socket_id,
                          rte_rcu_qsbr* v);

// A single-writer rte_rcu_qsbr_dq. Not thread-safe: the writer (control lcore) owns it.
class rcu_defer_queue {
public:
    struct params {
        const char* name = nullptr;  // unique in the process (a ring name)
        rte_rcu_qsbr* v = nullptr;
        uint32_t size = 0;           // elements that may wait for their grace period at once
        uint32_t esize = 0;          // bytes per element
        rte_rcu_qsbr_free_resource_t free_fn = nullptr;  // free_fn(p, elements, n)
        void* p = nullptr;
    };

    rcu_defer_queue() = default;
    rcu_defer_queue(const rcu_defer_queue&) = delete;
    rcu_defer_queue& operator=(const rcu_defer_queue&) = delete;
    ~rcu_defer_queue() { destroy(); }

    // False (rte_errno set) if the queue could not be made.
    bool init(const params& p);
    // rte_rcu_qsbr_dq_delete: reclaims what is past its grace period and deletes the queue
    // (readers are offline by then). Before the QSBR variable goes; idempotent.
    void destroy();

    // e (esize bytes) goes to free_fn once its grace period is over. A full queue cannot
    // happen when sized to every element, but never leaks one: it waits the grace period out
    // and frees e now.
    void retire(void* e);

    // Frees up to one batch of elements past their grace period: the control loop's regular
    // call, kept short.
    void reclaim();

    // Runs attempt() until it returns true: as things are, then after reclaiming everything
    // past its grace period, then after waiting for one grace period (readers report every
    // loop) and reclaiming again. Returns attempt()'s last answer. The writer's way out when
    // it runs short of what readers may still hold.
    template <typename Attempt>
    bool reclaim_until(Attempt&& attempt)
    {
        if (attempt())
            return true;
        rte_rcu_qsbr_dq_reclaim(dq_, UINT32_MAX, nullptr, nullptr, nullptr);
        if (attempt())
            return true;
        rte_rcu_qsbr_synchronize(v_, RTE_QSBR_THRID_INVALID);
        rte_rcu_qsbr_dq_reclaim(dq_, UINT32_MAX, nullptr, nullptr, nullptr);
        return attempt();
    }

private:
    rte_rcu_qsbr* v_ = nullptr;
    rte_rcu_qsbr_dq* dq_ = nullptr;
    rte_rcu_qsbr_free_resource_t free_fn_ = nullptr;
    void* p_ = nullptr;
};

} // namespace peregrine
