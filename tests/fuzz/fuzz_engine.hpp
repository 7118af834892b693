#pragma once

// The engine set-up and per-frame plumbing of the fuzz targets that run frames through
// engine::process_burst (fuzz_router, fuzz_lb, fuzz_session).

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

#include <sanitizer/asan_interface.h>

#include <rte_mbuf.h>

#include "engine/dispatch.hpp"
#include "frame.hpp"
#include "fuzz_check.hpp"
#include "test_eal.hpp"

namespace fuzz_engine {

inline void remove_runtime_dir() { rmdir(pgtest::eal_runtime_dir().c_str()); }

// Starts the test EAL (file prefix `prefix`; its runtime directory goes at exit) and returns a
// mempool "<prefix>_pool" of n mbufs (null if that failed).
inline rte_mempool* start(const char* argv0, const char* prefix, unsigned n)
{
    if (!pgtest::init_test_eal(argv0, prefix))
        std::abort();
    std::atexit(remove_runtime_dir);
    return rte_pktmbuf_pool_create((std::string(prefix) + "_pool").c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
}

struct port {
    uint8_t mac_lo;  // pgtest::mac(mac_lo)
    uint32_t ip_be;
};

// An engine context whose ports have these addresses (/24), without TAPs and without modules
// (the target plugs its own in).
inline std::unique_ptr<peregrine::engine::context> make_context(std::initializer_list<port> ports)
{
    auto ctx = std::make_unique<peregrine::engine::context>();
    unsigned i = 0;
    for (const port& p : ports) {
        ctx->ports[i].mac = pgtest::mac(p.mac_lo);
        ctx->ports[i].ip_be = p.ip_be;
        ctx->ports[i].prefix_len = 24;
        ++i;
    }
    return ctx;
}

// A new mbuf received on port 0 holding d[0, *len), *len = n or what fits.
inline rte_mbuf* frame_mbuf(rte_mempool* pool, const uint8_t* d, size_t n, size_t* len)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    FUZZ_CHECK(m != nullptr);
    *len = std::min<size_t>(n, rte_pktmbuf_tailroom(m));
    char* dst = rte_pktmbuf_append(m, static_cast<uint16_t>(*len));
    FUZZ_CHECK(dst != nullptr);
    if (*len)
        std::memcpy(dst, d, *len);
    m->port = 0;
    return m;
}

// The mbuf's buffer outside [data, data + data_len + grow) is off limits (grow: what an answer
// built in place may add), so ASan catches a read or write past it.
inline void poison_outside_data(rte_mbuf* m, uint32_t grow = 0)
{
    auto* buf = static_cast<uint8_t*>(m->buf_addr);
    const uint32_t end = std::min<uint32_t>(m->data_off + m->data_len + grow, m->buf_len);
    ASAN_POISON_MEMORY_REGION(buf, m->data_off);
    ASAN_POISON_MEMORY_REGION(buf + end, m->buf_len - end);
}

inline void unpoison(rte_mbuf* m) { ASAN_UNPOISON_MEMORY_REGION(m->buf_addr, m->buf_len); }

inline uint64_t sum(const auto& arr)
{
    uint64_t s = 0;
    for (auto v : arr)
        s += v;
    return s;
}

// Runs the one mbuf m through the fast path on port 0 and checks that it comes out exactly
// once, counted once: received, and as a drop or an exception if it went there. Returns the
// stats from before.
inline peregrine::lcore_stats process_one(peregrine::engine::context& ctx, peregrine::lcore_stats& st, rte_mbuf* m, uint64_t now, peregrine::engine::burst_out& out)
{
    const peregrine::lcore_stats before = st;
    peregrine::engine::init(out);
    peregrine::engine::process_burst(ctx, st, 0, &m, 1, now, out);
    FUZZ_CHECK(sum(out.n_tx) + out.n_exc + out.n_ctl + out.n_drop == 1);
    FUZZ_CHECK(st.rx_packets - before.rx_packets == 1);
    FUZZ_CHECK(st.drop_total() - before.drop_total() == out.n_drop);
    FUZZ_CHECK(sum(st.exceptions) - sum(before.exceptions) == out.n_exc);
    return before;
}

} // namespace fuzz_engine
