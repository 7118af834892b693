#pragma once

// Retransmission of the server's RELIABLE frames, on the control lcore.
//
// Workers send a RELIABLE frame and put a clone of it (an indirect mbuf: no copy, the data
// stays referenced) on a ring; they put every client ACK on another. Once per tick the
// retransmitter takes both, keeps the unacknowledged frames per connection, and sends a frame
// again when its retransmission timeout passes: RTO from RFC 6298 (smoothed RTT + 4 x its
// variation, from frames acknowledged on their first transmission only, Karn's rule), doubled
// on each try; after max_tries the connection is closed with ERROR 2/0. Frames and bytes in
// flight are bounded (max_pending in all, max_per_conn per connection): past that a frame is
// sent without a copy, counted `untracked`.

#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <unordered_map>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/stats.hpp"
#include "rudp/pipeline.hpp"

namespace peregrine::rudp {

class retransmitter {
public:
    struct params {
        uint64_t initial_rto = 0;  // TSC ticks
        uint64_t min_rto = 0;
        uint64_t max_rto = 0;
        unsigned max_tries = 6;    // transmissions of one frame, the first included
        uint32_t max_pending = 4096;
        uint32_t max_per_conn = 256;
    };
    explicit retransmitter(const params& p) : p_(p) {}
    ~retransmitter();
    retransmitter(const retransmitter&) = delete;
    retransmitter& operator=(const retransmitter&) = delete;

    // generation(key): the live connection's number, or -1 if there is none.
    using generation_fn = std::function<int64_t(uint64_t key)>;
    // Takes what the workers queued, then sends again (send) what is due; a connection out of
    // tries goes to give_up(key) (the module closes it).
    void run(rte_ring* sent, rte_ring* acks, uint64_t now, lcore_stats& st, const generation_fn& generation,
             const std::function<void(rte_mbuf*)>& send, const std::function<void(uint64_t)>& give_up);

    // Frees a connection's frames (it closed).
    void forget(uint64_t key);
    size_t pending() const { return n_pending_; }
    uint64_t rto_of(uint64_t key) const;

private:
    struct item {
        rte_mbuf* m;
        uint64_t first, due;
        uint8_t tries;
    };
    struct per_conn {
        std::map<uint16_t, item> items;  // by sequence ID
        int64_t generation = -1;
        uint64_t srtt = 0, rttvar = 0, rto = 0;
        // The latest ACK, for frames the workers queued after their ACK came (a fast client).
        uint16_t last_ack = 0, last_bits = 0;
        uint64_t last_ack_at = 0;
        bool has_ack = false;
    };
    struct timer {
        uint64_t due;
        uint64_t key;
        uint16_t seq;
        uint8_t tries;
        bool operator>(const timer& o) const { return due > o.due; }
    };

    void take_sent(rte_mbuf* m, uint64_t now, lcore_stats& st, const generation_fn& generation);
    void take_ack(const ack_event& e, uint64_t now, lcore_stats& st);
    bool acked_by(uint16_t seq, uint16_t ack, uint16_t bits) const;
    void drop_item(per_conn& pc, std::map<uint16_t, item>::iterator it);
    void sample(per_conn& pc, uint64_t rtt);

    params p_;
    std::unordered_map<uint64_t, per_conn> conns_;
    std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
    size_t n_pending_ = 0;
};

} // namespace peregrine::rudp
