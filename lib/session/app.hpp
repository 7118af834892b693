#pragma once

// How an application answers on a session: the session protocol's side of the application
// interface (lib/common/app.hpp). send() takes an mbuf from the received packet's mempool
// (per-lcore cache), never the heap.

#include <cstdint>

#include <rte_mbuf.h>

#include "common/app.hpp"
#include "common/stats.hpp"
#include "net/classify.hpp"

namespace peregrine::session {

struct entry;

// The applications (lib/common/app.hpp): the interface RUDP delivers to as well.
using app::application;
using app::discard_app;
using app::echo_app;
using app::make_app;

// Sends on the session whose packet is being delivered, during on_data only. Packets leave in
// the same burst, towards the endpoint the packet came from, and are signed like every answer.
class sender final : public app::reply {
public:
    // Queues len bytes as a server DATA_NOACK (reliable = false) or DATA_ACK (the client answers
    // with ACK; the engine counts it and does not retransmit). Returns false, counted as
    // app_send_failed, when the payload is too long for one mbuf, no mbuf is free, or this
    // burst's output is full.
    bool send(const uint8_t* data, uint32_t len, bool reliable) override;
    // The session protocol's echo: a DATA_NOACK.
    bool echo(const uint8_t* data, uint32_t len) override { return send(data, len, false); }

    // ---- set by the pipeline ----
    struct slot {
        rte_mbuf* m;
        net::udp_view v;
    };
    rte_mbuf* src = nullptr;          // the packet being delivered (headers are copied from it)
    const net::udp_view* src_v = nullptr;
    entry* session = nullptr;
    slot* out = nullptr;              // where queued packets go
    unsigned* n_out = nullptr;
    unsigned max_out = 0;
    lcore_stats* st = nullptr;
};

} // namespace peregrine::session
