#pragma once

// RUDP's fast path and its control-lcore half.
//
// Worker, once per burst of RUDP datagrams: parse every header, look every connection up in
// one bulk lookup, decrypt every ENCRYPTED packet in one AES-GCM burst, inflate, check CRC-32
// and the replay window, then answer in place (ACK, PONG, the application's echo, ERROR), and
// encrypt every answer in a second AES-GCM burst. AUTH and the client's finished go to the
// control lcore (public-key work: handshaker), as does CLIENT DISCONNECT (the table's write).

#include <cstdint>

#include <rte_config.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/app.hpp"
#include "common/gcra.hpp"
#include "common/stats.hpp"
#include "crypto/deflate.hpp"
#include "crypto/mb_context.hpp"
#include "engine/inspection.hpp"
#include "engine/module.hpp"
#include "net/classify.hpp"
#include "rudp/codec.hpp"
#include "rudp/handshake.hpp"
#include "rudp/reassembly.hpp"
#include "rudp/table.hpp"

namespace peregrine::rudp {

// What each lcore that encrypts, compresses or inflates holds (made before the lcores start).
struct lcore_ctx {
    crypto::mb_context* mb = nullptr;
    crypto::deflater* def = nullptr;
    crypto::inflater* inf = nullptr;
    uint8_t* big[2] = {};  // two message buffers of max_message + tag_len bytes (inflate, encode)
};

// A client's ACK as a worker hands it to the control lcore (retransmitter).
struct ack_event {
    uint64_t key;
    uint16_t ack_id;
    uint16_t bits;
    uint32_t pad;
};

struct config {
    uint16_t udp_port = 7400;     // host order
    uint64_t timeout_tsc = 0;     // a connection with no accepted packet for this long is over
    app::application* app = nullptr;  // where DEFAULT messages go (lib/common/app.hpp)
    source_limiter* auth_limit = nullptr;  // AUTH rates, per source and global (workers)
    reassembly* reasm = nullptr;
    // Payload inspection of DEFAULT messages before the application sees them, or nullptr.
    const engine::inspection_point* inspect = nullptr;
    // Reliability of the server's own packets: workers put a clone of every RELIABLE frame they
    // send on sent_ring and every client ACK on ack_ring (16-byte ack_event); the control lcore's
    // retransmitter matches them. Null: the server's answers are never RELIABLE.
    rte_ring* sent_ring = nullptr;
    rte_ring* ack_ring = nullptr;
    lcore_ctx lc[RTE_MAX_LCORE] = {};

    const lcore_ctx* lcore() const
    {
        const unsigned id = rte_lcore_id();
        return id < RTE_MAX_LCORE && lc[id].mb ? &lc[id] : nullptr;
    }
};

// The counter of an ERROR code sent.
inline rdp error_sent(uint8_t code)
{
    switch (code) {
    case err::connection: return rdp::error_1_0;
    case err::no_space: return rdp::error_1_1;
    case err::certificate_invalid: return rdp::error_1_2;
    case err::finish_invalid: return rdp::error_1_3;
    case err::disconnect: return rdp::error_2_0;
    case err::version: return rdp::error_3_1;
    case err::packet_type: return rdp::error_3_2;
    case err::flags: return rdp::error_3_3;
    case err::sequence_id: return rdp::error_3_4;
    case err::fragment_id: return rdp::error_3_5;
    case err::fragment_number: return rdp::error_3_6;
    case err::init_vector: return rdp::error_3_7;
    case err::compression: return rdp::error_3_8;
    case err::checksum: return rdp::error_3_9;
    default: return rdp::error_3_0;
    }
}

using engine::action;
using engine::outcome;

// Frames handle_burst may add beyond the burst's own: an ACK beside each echo and one message
// split into fragments.
static constexpr unsigned max_extra = burst_size + max_fragments;

// m[i]/v[i]: n <= burst_size RUDP datagrams received on rx_port. Writes out[i] for each, and
// extra[0..*n_extra) (at most max_extra) with frames of its own to send on rx_port.
void handle_burst(const config& cfg, const table& tab, lcore_stats& st, const net::port_addr* ports,
                  uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, unsigned n, uint64_t now, outcome* out,
                  rte_mbuf** extra, unsigned* n_extra);

// The control lcore's half: applies what workers handed over. Answers go to send(m) (in order);
// returns nothing; every frame is sent or freed and counted.
template <typename Send>
void apply_control(const config& cfg, table& tab, handshaker& hs, lcore_stats& st, const net::port_addr* ports,
                   rte_mbuf** m, unsigned n, uint64_t now, Send&& send);

// One control frame: the implementation behind apply_control. Returns up to two frames to send.
unsigned control_one(const config& cfg, table& tab, handshaker& hs, lcore_stats& st, const net::port_addr* ports,
                     rte_mbuf* m, uint64_t now, rte_mbuf** out);

template <typename Send>
void apply_control(const config& cfg, table& tab, handshaker& hs, lcore_stats& st, const net::port_addr* ports,
                   rte_mbuf** m, unsigned n, uint64_t now, Send&& send)
{
    for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* o[2];
        const unsigned k = control_one(cfg, tab, hs, st, ports, m[i], now, o);
        for (unsigned j = 0; j < k; ++j)
            send(o[j]);
    }
}

// Writes at d the server's confirmation of a finished handshake: an encrypted ACK of the client's
// finished (sequence ID finished_seq). Returns its length (26 bytes, below the finished's 40).
unsigned confirm_in_place(const lcore_ctx& lc, conn& c, uint8_t* d, uint16_t finished_seq);

// An ERROR (encrypted with the connection's key) to connection c, built from pool on the control
// lcore; nullptr if no mbuf or its counter is spent.
rte_mbuf* error_frame(const config& cfg, const table& tab, conn& c, uint8_t code, rte_mempool* pool,
                      const net::port_addr* ports);

// Shutdown, workers stopped: a SERVER DISCONNECT (ERROR 2/1, encrypted) to every connection,
// built from pool, passed to send(port, mbufs, n) in bursts. Returns how many were built.
unsigned disconnect_all(const config& cfg, const table& tab, rte_mempool* pool, const net::port_addr* ports,
                        const engine::shutdown_tx& send);

} // namespace peregrine::rudp
