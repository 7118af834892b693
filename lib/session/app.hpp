#pragma once

// The application interface: what the session protocol delivers its DATA payloads to, and how
// an application answers on a session. Applications run on the worker lcore that received the
// packet, inside the burst, so on_data must not allocate, lock, make a syscall or log; send()
// takes an mbuf from the received packet's mempool (per-lcore cache), never the heap.

#include <cstdint>
#include <memory>
#include <string_view>

#include <rte_mbuf.h>

#include "common/stats.hpp"
#include "net/classify.hpp"

namespace peregrine::session {

struct entry;

// One verified, replay-checked DATA packet.
struct delivery {
    const uint8_t* client_id;  // 16 bytes
    const uint8_t* data;       // payload; valid during on_data only
    uint16_t len;
    uint16_t custom;           // the packet's custom ID
    uint64_t order;            // its order count
    bool ack;                  // DATA_ACK (the engine sends the ACK itself) or DATA_NOACK
};

// Sends on the session whose packet is being delivered, during on_data only. Packets leave in
// the same burst, towards the endpoint the packet came from, and are signed like every answer.
class sender {
public:
    // Queues len bytes as a server DATA_NOACK (ack = false) or DATA_ACK (the client answers with
    // ACK; the engine counts it and does not retransmit). Returns false, counted as
    // app_send_failed, when the payload is too long for one mbuf, no mbuf is free, or this
    // burst's output is full.
    bool send(const uint8_t* data, uint16_t len, bool ack = false);

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

class application {
public:
    virtual ~application() = default;
    virtual std::string_view name() const = 0;
    virtual void on_data(const delivery& d, sender& out) = 0;
};

// Sends every payload back on its session as a DATA_NOACK (the default application).
class echo_app final : public application {
public:
    std::string_view name() const override { return "echo"; }
    void on_data(const delivery& d, sender& out) override { out.send(d.data, d.len, false); }
};

// Accepts and forgets (counted as delivered).
class discard_app final : public application {
public:
    std::string_view name() const override { return "discard"; }
    void on_data(const delivery&, sender&) override {}
};

// "echo" or "discard"; nullptr for any other name.
std::unique_ptr<application> make_app(std::string_view name);

} // namespace peregrine::session
