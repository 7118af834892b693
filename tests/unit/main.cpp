// Unit test main: GoogleTest plus a test-safe EAL (no hugepages, no PCI, no shared config, a
// per-process file prefix), so the tests run anywhere without root or devices.

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "test_eal.hpp"
#include "test_env.hpp"

namespace pgtest {

namespace {
rte_mempool* g_pool = nullptr;

void no_free(void*, void*) {}
} // namespace

rte_mempool* pool() { return g_pool; }

mbuf_ptr make_mbuf(const bytes& f, uint16_t port)
{
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    if (!m)
        return nullptr;
    char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(f.size()));
    if (!d) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    if (!f.empty())
        std::memcpy(d, f.data(), f.size());
    m->port = port;
    return mbuf_ptr(m);
}

bytes contents(const rte_mbuf* m)
{
    const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
    return bytes(d, d + rte_pktmbuf_data_len(m));
}

registry_ptr make_registry(uint32_t capacity, uint32_t readers)
{
    peregrine::router::registry::params p;
    p.name = "ut";
    p.capacity = capacity;
    p.max_readers = readers;
    p.socket_id = SOCKET_ID_ANY;
    return registry_ptr(peregrine::router::registry::create(p));
}

guarded_frame::guarded_frame(const bytes& f, std::size_t len, uint16_t port)
{
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t data_pages = (len + page - 1) / page + 1;
    map_len_ = (data_pages + 1) * page;
    void* p = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        throw std::runtime_error("mmap failed");
    map_ = static_cast<uint8_t*>(p);
    uint8_t* guard = map_ + data_pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0)
        throw std::runtime_error("mprotect failed");
    uint8_t* buf = guard - len;
    std::memcpy(buf, f.data(), len);

    shinfo_.free_cb = no_free;
    rte_mbuf_ext_refcnt_set(&shinfo_, 1);
    m_ = rte_pktmbuf_alloc(g_pool);
    if (!m_)
        throw std::runtime_error("mbuf pool empty");
    rte_pktmbuf_attach_extbuf(m_, buf, reinterpret_cast<rte_iova_t>(buf), static_cast<uint16_t>(len), &shinfo_);
    m_->data_len = static_cast<uint16_t>(len);
    m_->pkt_len = static_cast<uint32_t>(len);
    m_->port = port;
}

guarded_frame::~guarded_frame()
{
    if (m_)
        rte_pktmbuf_free(m_);
    munmap(map_, map_len_);
}

} // namespace pgtest

int main(int argc, char** argv)
{
    testing::InitGoogleTest(&argc, argv);

    if (!pgtest::init_test_eal(argv[0], "pgunit"))
        return 1;
    // No per-lcore cache: rte_mempool_in_use_count() is then exact, for the leak checks.
    pgtest::g_pool = rte_pktmbuf_pool_create("pgunit_pool", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!pgtest::g_pool) {
        std::fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
        return 1;
    }

    const int rc = RUN_ALL_TESTS();

    rte_mempool_free(pgtest::g_pool);
    pgtest::cleanup_test_eal();
    return rc;
}
