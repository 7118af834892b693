#include "common/rcu.hpp"

#include <cerrno>

#include <rte_errno.h>
#include <rte_malloc.h>

namespace peregrine {

namespace {
// Reclaim in batches: the control lcore must keep its own loop short.
static constexpr uint32_t reclaim_batch = 1024;
} // namespace

rte_rcu_qsbr* rcu_create(uint32_t max_readers, int socket_id)
{
    const size_t sz = rte_rcu_qsbr_get_memsize(max_readers);
    auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc_socket("pg_rcu", sz, RTE_CACHE_LINE_SIZE, socket_id));
    if (!v) {
        rte_errno = ENOMEM;
        return nullptr;
    }
    if (rte_rcu_qsbr_init(v, max_readers) != 0) {
        rte_free(v);
        return nullptr;
    }
    return v;
}

rte_hash* rcu_hash_create(const char* name, uint32_t entries, uint32_t key_len, rte_hash_function fn, int socket_id,
                          rte_rcu_qsbr* v)
{
    rte_hash_parameters hp{};
    hp.name = name;
    hp.entries = entries;
    hp.key_len = key_len;
    hp.hash_func = fn;
    hp.socket_id = socket_id;
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    rte_hash* h = rte_hash_create(&hp);
    if (!h)
        return nullptr;
    rte_hash_rcu_config rc{};
    rc.v = v;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(h, &rc) != 0) {
        const int err = rte_errno;
        rte_hash_free(h);
        rte_errno = err;
        return nullptr;
    }
    return h;
}

bool rcu_defer_queue::init(const params& p)
{
    rte_rcu_qsbr_dq_parameters dp{};
    dp.name = p.name;
    dp.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;  // single writer
    dp.size = p.size;
    dp.esize = p.esize;
    dp.trigger_reclaim_limit = reclaim_batch;
    dp.max_reclaim_size = reclaim_batch;
    dp.free_fn = p.free_fn;
    dp.p = p.p;
    dp.v = p.v;
    dq_ = rte_rcu_qsbr_dq_create(&dp);
    v_ = p.v;
    free_fn_ = p.free_fn;
    p_ = p.p;
    return dq_ != nullptr;
}

void rcu_defer_queue::destroy()
{
    if (dq_)
        rte_rcu_qsbr_dq_delete(dq_);
    dq_ = nullptr;
}

void rcu_defer_queue::retire(void* e)
{
    if (rte_rcu_qsbr_dq_enqueue(dq_, e) != 0) {
        rte_rcu_qsbr_synchronize(v_, RTE_QSBR_THRID_INVALID);
        free_fn_(p_, e, 1);
    }
}

void rcu_defer_queue::reclaim() { rte_rcu_qsbr_dq_reclaim(dq_, reclaim_batch, nullptr, nullptr, nullptr); }

} // namespace peregrine
