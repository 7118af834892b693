#pragma once

// The session protocol's fast path and its control-lcore half.
//
// Worker, one call per burst of session datagrams: parse every header, verify every digest in
// one multi-buffer SHA-256 (or HMAC) call, look every session up in one bulk lookup, then
// answer in place: PONG, ACK, BAD_ACK, REJECT; deliver DATA payloads to the application; hand
// HELLO and DISCONNECT (the table's writes) to the control lcore; sign all answers in a second
// multi-buffer call. The control lcore opens and closes sessions and answers ACCEPT or REJECT.

#include <cstdint>

#include <rte_config.h>
#include <rte_mbuf.h>

#include "common/compiler.hpp"
#include "common/gcra.hpp"
#include "common/stats.hpp"
#include "engine/inspection.hpp"
#include "engine/module.hpp"
#include "crypto/sha256.hpp"
#include "net/classify.hpp"
#include "session/app.hpp"
#include "session/codec.hpp"
#include "session/table.hpp"

namespace peregrine::session {

struct config {
    uint16_t udp_port = 7300;        // host order
    uint64_t timeout_tsc = 0;        // a session with no accepted packet for this long is over
    uint64_t hello_window_ms = 30000;  // |HELLO timestamp - server clock| allowed
    // Wall clock without a syscall: Unix ms = wall_base_ms + (tsc - tsc_base) / tsc_per_ms.
    uint64_t wall_base_ms = 0;
    uint64_t tsc_base = 0;
    uint64_t tsc_per_ms = 1;
    const crypto::hmac_key* key = nullptr;  // keyed mode (HMAC-SHA-256) when set
    application* app = nullptr;
    // Payload inspection of DATA before the application sees it, or nullptr.
    const engine::inspection_point* inspect = nullptr;
    // HELLO and DISCONNECT handed to the control lcore, per source and in all
    // (--session-control-rate); nullptr: unlimited.
    source_limiter* control_limit = nullptr;
    // One multi-buffer manager per lcore, made before the lcores start; by rte_lcore_id().
    crypto::mb_context* mb[RTE_MAX_LCORE] = {};

    uint64_t wall_ms(uint64_t tsc) const
    {
        return wall_base_ms + static_cast<uint64_t>(static_cast<int64_t>(tsc - tsc_base) / int64_t(tsc_per_ms));
    }
    // The calling lcore's multi-buffer manager, or nullptr.
    crypto::mb_context* lcore_mb() const
    {
        const unsigned id = rte_lcore_id();
        return id < RTE_MAX_LCORE ? mb[id] : nullptr;
    }
};

// tx: answer written in place, sent on the port it came from; control: HELLO or DISCONNECT
// for the control lcore; drop: counted by `why`; consume: delivered, nothing to send (counted
// as ses::consumed).
using engine::action;
using engine::outcome;

// Largest number of packets the application may add to one burst.
static constexpr unsigned max_app_out = burst_size;

// m[i]/v[i]: n <= burst_size session datagrams (single-segment, located by net::classify)
// received on rx_port. Writes out[i] for each, and app[0..*n_app) with the application's
// packets (complete frames, to send on rx_port).
void handle_burst(const config& cfg, const table& tab, lcore_stats& st, const net::port_addr* ports,
                  uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, unsigned n, uint64_t now,
                  outcome* out, rte_mbuf** app, unsigned* n_app);

// Control lcore: applies the HELLOs and DISCONNECTs a worker handed over and rewrites each into
// its answer (ACCEPT or REJECT). Answers are compacted to the front of m; returns their count.
// What is not answered is freed and counted.
unsigned apply_control(const config& cfg, table& tab, lcore_stats& st, const net::port_addr* ports,
                       rte_mbuf** m, unsigned n, uint64_t now);

// Shutdown, with the workers stopped: builds a REJECT for every live proven session into frames from
// pool and passes them to send(port, mbufs, n) in bursts. Returns how many were built.
// *unproven: the sessions left out (their endpoints never echoed the token).
template <typename Send>
unsigned reject_all(const config& cfg, const table& tab, rte_mempool* pool, const net::port_addr* ports,
                    unsigned* unproven, Send&& send);

// One REJECT frame for a session, from scratch (shutdown). nullptr if no mbuf or no crypto.
rte_mbuf* build_reject(const config& cfg, const table& tab, const entry& e, rte_mempool* pool,
                       const net::port_addr* ports);

template <typename Send>
unsigned reject_all(const config& cfg, const table& tab, rte_mempool* pool, const net::port_addr* ports,
                    unsigned* unproven, Send&& send)
{
    unsigned built = 0;
    *unproven = 0;
    rte_mbuf* batch[burst_size];
    unsigned nb = 0;
    uint16_t port = 0;
    tab.for_each([&](const entry& e) {
        // An unproven endpoint has not shown it receives our packets: nothing unasked goes there.
        if (!e.is_proven()) {
            ++*unproven;
            return;
        }
        if (nb && (nb == burst_size || e.port_id != port)) {
            send(port, batch, nb);
            nb = 0;
        }
        rte_mbuf* r = build_reject(cfg, tab, e, pool, ports);
        if (!r)
            return;
        port = e.port_id;
        batch[nb++] = r;
        ++built;
    });
    if (nb)
        send(port, batch, nb);
    return built;
}

} // namespace peregrine::session
