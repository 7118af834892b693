#pragma once

// The load-balancer protocol's fast path: one call per burst of load-balancer datagrams on a
// worker lcore. Workers only read: a Request Serving Node is answered in place from the current
// Maglev table (an RCU-published pointer). Everything that writes state (registrations, updates,
// Acks, and Request Serving Node under the least-loaded policy, which must count assignments)
// is handed to the control lcore, the single writer (lb::state).

#include <atomic>
#include <cstdint>

#include <rte_mbuf.h>

#include "common/byte_credit.hpp"
#include "common/compiler.hpp"
#include "common/gcra.hpp"
#include "common/stats.hpp"
#include "engine/module.hpp"
#include "lb/codec.hpp"
#include "lb/maglev.hpp"
#include "net/classify.hpp"

namespace peregrine::lb {

enum class policy : uint8_t { maglev, least_loaded };

struct config {
    uint16_t udp_port = 7200;           // host order
    policy pol = policy::maglev;
    // No serving node live: answer Request Serving Node with 0.0.0.0:0 (true) or not at all
    // (false, the default: the origin's client takes any answer as final and retries only on
    // silence; docs/protocols/lb.md).
    bool answer_no_node = false;
    // Request Serving Node draws 9 bytes for 3: answered only when the source has sent as many
    // bytes as it is sent (docs/protocols/lb.md, "Amplification"); not enabled with
    // --lb-answer-unvalidated (every request answered at once, as the origin does).
    byte_credit credit;

    // Whether a Request Serving Node of len bytes from src may be answered now (its 9 bytes
    // within the source's budget; a request padded to that size pays for itself and touches no
    // table). Any thread.
    bool may_answer(uint32_t src, std::size_t len)
    {
        return !credit.enabled() || len >= serving_node_response_len ||
               credit.exchange(src, static_cast<uint32_t>(len), serving_node_response_len);
    }
    // A request left unanswered still counts towards its source's budget.
    void unanswered(uint32_t src, std::size_t len)
    {
        if (credit.enabled())
            credit.exchange(src, static_cast<uint32_t>(len), 0);
    }
    // What workers hand the control lcore, per source and in all (--lb-control-rate): a
    // flood from a few sources must not fill the control ring for everyone else. nullptr: none.
    source_limiter* control_limit = nullptr;
    // The current Maglev table, published by the control lcore (release), read by workers
    // (acquire) inside their RCU read-side section; nullptr until the first serving node.
    std::atomic<const table*> current{nullptr};
};

using engine::action;
using engine::outcome;  // tx: the reply goes back out of rx_port

// m[i]/v[i]: n <= burst_size load-balancer datagrams (single-segment, located by net::classify)
// received on rx_port. Writes out[i] for each.
void handle_burst(config& cfg, lcore_stats& st, const net::port_addr* ports, uint16_t rx_port,
                  rte_mbuf* const* m, net::udp_view* v, unsigned n, outcome* out);

// Whether a reply may go to this datagram's source (unicast host address, non-zero port,
// unicast MAC) and does not come from the engine itself; sets *why when not.
bool source_ok(const net::udp_view& v, uint32_t our_ip, drop* why);

// Rewrites the received datagram in m into a reply of len payload bytes, which the caller
// writes through the returned pointer before calling finish_reply. Returns nullptr when the
// mbuf's buffer has no room (a reply may be longer than the request: Serving Node Response is
// 9 bytes for a 3-byte request, still a minimum-size Ethernet frame).
uint8_t* reply_room(rte_mbuf* m, const net::udp_view& v, uint16_t len);
void finish_reply(rte_mbuf* m, net::udp_view& v, uint16_t len, const rte_ether_addr& our_mac);

} // namespace peregrine::lb
