#pragma once

// Reassembly of fragmented RUDP messages, shared by every worker lcore (DPDK-free).
//
// A fixed set of contexts, each with room for one whole message (255 fragments of up to 988
// bytes), is the global memory bound; at most `per_conn` of them per connection is the
// per-connection one; a context unfinished after the timeout is freed by expire() (the control
// lcore's tick), so fragments that never complete cost a context for a few seconds and nothing
// more. Fragments of one message share the base sequence number (sequence ID - fragment ID) and
// every fragment but the last carries the same number of bytes, so each lands at
// fragment ID x that length; the last one, if it comes first, waits beside the buffer.
//
// Lock-free: a context is free, active (waiting for fragments) or busy (one thread copying a
// fragment into it); threads move it between states with compare-and-swap.

#include <atomic>
#include <cstdint>
#include <memory>

#include "rudp/codec.hpp"

namespace peregrine::rudp {

class reassembly {
public:
    struct params {
        uint32_t contexts = 64;      // messages in reassembly at once, all connections
        uint32_t per_conn = 4;       // messages in reassembly at once, one connection (several in flight on a lossy link)
        uint64_t timeout_tsc = 0;    // an unfinished message older than this is dropped
    };
    bool init(const params& p);

    enum class status : uint8_t {
        stored,        // kept; more fragments to come
        complete,      // the message is whole: data(slot), length(slot); release(slot) after use
        duplicate,     // this fragment is already here
        bad_count,     // fragment number differs from the message's first fragment's (ERROR 3/6)
        bad_length,    // a fragment's length does not fit the message's layout (ERROR 3/5)
        full,          // no context free, or the connection has per_conn already (ERROR 1/1)
    };

    // A fragment (id of count, len bytes) of the message starting at full sequence number base
    // on connection key.
    status add(uint64_t key, uint64_t base, uint8_t id, uint8_t count, const uint8_t* body, uint32_t len,
               uint64_t now, unsigned* slot);

    uint8_t* data(unsigned slot) const { return ctx_[slot].buf.get(); }
    uint32_t length(unsigned slot) const { return ctx_[slot].total; }
    void release(unsigned slot);

    // Frees contexts older than the timeout (any thread). Returns how many.
    unsigned expire(uint64_t now);
    // Frees the contexts of a connection (it closed).
    void forget(uint64_t key);

    uint32_t in_use() const;
    uint32_t contexts() const { return n_; }
    uint64_t timed_out() const { return timed_out_.load(std::memory_order_relaxed); }

    static constexpr uint32_t buffer_bytes = max_message;

private:
    enum : uint8_t { st_free = 0, st_busy = 1, st_active = 2 };
    struct context {
        std::atomic<uint8_t> state{st_free};
        uint64_t key = 0, base = 0, created = 0;
        uint8_t count = 0;
        uint16_t n_have = 0;
        uint32_t frag_len = 0;       // length of every fragment but the last (0: none seen yet)
        uint32_t last_len = 0;       // length of the last fragment (0: not seen yet)
        uint32_t total = 0;
        uint64_t have[4] = {};       // bit per fragment ID
        uint8_t last[max_body];      // the last fragment while frag_len is unknown
        std::unique_ptr<uint8_t[]> buf;
    };
    status store(context& c, uint8_t id, const uint8_t* body, uint32_t len);
    template <typename Pred>
    unsigned free_if(Pred&& pred);

    std::unique_ptr<context[]> ctx_;
    uint32_t n_ = 0;
    params p_;
    std::atomic<uint64_t> timed_out_{0};
};

} // namespace peregrine::rudp
