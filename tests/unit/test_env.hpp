#pragma once

// What every unit test shares: the EAL (initialised once in main.cpp), a small mbuf pool, and
// helpers to put frames into mbufs.

#include <cstdint>
#include <memory>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "frame.hpp"
#include "router/registry.hpp"

namespace pgtest {

// The process-wide test pool (created in main.cpp after rte_eal_init).
rte_mempool* pool();

struct mbuf_free {
    void operator()(rte_mbuf* m) const { rte_pktmbuf_free(m); }
};
using mbuf_ptr = std::unique_ptr<rte_mbuf, mbuf_free>;

// A fresh single-segment mbuf holding a copy of f, as if received on port.
mbuf_ptr make_mbuf(const bytes& f, uint16_t port = 0);

// The first segment's data.
bytes contents(const rte_mbuf* m);

// A frame whose last byte is the last readable byte before a PROT_NONE page, attached to an
// mbuf as an external buffer: code that reads (or writes) past data_len faults instead of
// silently reading the next bytes of the data room.
class guarded_frame {
public:
    guarded_frame(const bytes& f, std::size_t len, uint16_t port = 0);
    ~guarded_frame();
    guarded_frame(const guarded_frame&) = delete;
    guarded_frame& operator=(const guarded_frame&) = delete;

    rte_mbuf* mbuf() const { return m_; }
    // Hands the mbuf over (for code that frees it); the mapping stays until destruction.
    rte_mbuf* release()
    {
        rte_mbuf* m = m_;
        m_ = nullptr;
        return m;
    }

private:
    uint8_t* map_ = nullptr;
    std::size_t map_len_ = 0;
    rte_mbuf_ext_shared_info shinfo_{};
    rte_mbuf* m_ = nullptr;
};

struct registry_delete {
    void operator()(peregrine::router::registry* r) const { delete r; }
};
using registry_ptr = std::unique_ptr<peregrine::router::registry, registry_delete>;

// A small registry (unique hash names per instance) with room for `readers` RCU reader ids.
registry_ptr make_registry(uint32_t capacity, uint32_t readers = 4);

} // namespace pgtest
