#pragma once

// A protocol module: what the engine core knows of a protocol, and all it knows. The core
// (classify, dispatch, the worker and control loops) names no protocol; a protocol lives in
// lib/<protocol>/ and plugs one engine::module into the context (docs/architecture.md,
// "Writing a module"):
//  - the UDP destination ports it serves on the engine's addresses: dispatch is one table
//    lookup on the port (engine::context::udp_module);
//  - its worker half, called once per burst with that burst's datagrams for it (never per
//    packet): an optional stage() that starts memory loads (the router's registry lookups) one
//    burst ahead, and finish(), which decides every packet's fate (engine::outcome) and sorts
//    them into the burst's outputs with engine::emit;
//  - its control-lcore half: the frames its workers handed over (tagged with the module's index
//    in an mbuf dynfield, so the control lcore never classifies them again), a 1 kHz
//    housekeeping tick, a poll on every control iteration (sockets), and last words at shutdown.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "common/compiler.hpp"
#include "common/stats.hpp"
#include "net/classify.hpp"
#include "net/neigh.hpp"

namespace peregrine::engine {

// Modules plugged in at once: the five protocols and room for a few more.
static constexpr unsigned max_modules = 8;
static constexpr uint8_t no_module = UINT8_MAX;
// module::tick() calls per second: short enough that an expiry slice stays tiny, long enough to
// be free.
static constexpr unsigned tick_hz = 1000;
// Per-burst memory a module's stage() may keep for its finish(): the router keeps about 1.2 KiB.
static constexpr std::size_t stage_scratch_bytes = 2048;

// A packet's fate, as its module decides it.
enum class action : uint8_t {
    tx,       // send on `port` (rewritten in place)
    control,  // hand to the control lcore (the module's control half)
    drop,     // free, counted under `why`
    consume,  // free, not a drop: the module has counted what it did with it
};

struct outcome {
    action a;
    uint16_t port;  // for tx: ethdev port to send on
    drop why;       // for drop
};

// Frames a module may add to one burst beyond one per packet it was given: a message split into
// up to 255 datagrams.
static constexpr unsigned max_extra_frames = 256;

struct burst_out {
    // Twice a burst (a session DATA_ACK may yield its ACK and an application packet), and one
    // fragmented message.
    rte_mbuf* tx[max_ports][2 * burst_size + max_extra_frames];
    uint16_t n_tx[max_ports];
    rte_mbuf* exc[burst_size];   // to the kernel through the port's TAP
    uint16_t n_exc;
    rte_mbuf* ctl[burst_size];   // to the control lcore (state writes), each tagged with its module
    uint16_t n_ctl;
    rte_mbuf* drop[burst_size];  // to free; every one already counted by reason
    uint16_t n_drop;
    uint64_t tx_port_mask;       // ports with n_tx > 0

    void reset()
    {
        for (uint64_t mask = tx_port_mask; mask; mask &= mask - 1)
            n_tx[__builtin_ctzll(mask)] = 0;
        tx_port_mask = 0;
        n_exc = n_ctl = n_drop = 0;
    }
};

// Call once before the first reset().
inline void init(burst_out& o)
{
    static_assert(max_ports <= 64, "tx_port_mask has one bit per port");
    for (auto& n : o.n_tx)
        n = 0;
    o.tx_port_mask = 0;
    o.reset();
}

// ---- the module tag of frames handed to the control lcore (an mbuf dynfield) ----

// Registers the dynfield; once, after rte_eal_init (engine::context::add calls it). False if
// the EAL refused (rte_errno says why).
bool register_module_field();
extern int module_field_offset;
inline uint8_t& module_of(rte_mbuf* m) { return *RTE_MBUF_DYNFIELD(m, module_field_offset, uint8_t*); }

// Appends one frame to send on port (a module's extra frames: the session application's).
PG_ALWAYS_INLINE void emit_tx(burst_out& out, uint16_t port, rte_mbuf* m)
{
    out.tx[port][out.n_tx[port]++] = m;
    out.tx_port_mask |= 1ull << port;
}

// Sorts n decided packets of module `mod` (m[k] with fate oc[k]) into out. Answers and
// forwards to the receiving port, the common case, are appended with the count in a register:
// out.n_tx[port]++ in memory makes a store-to-load chain through the whole burst. Frames for
// other ports are collected without a branch on the port (a router's recipients are on random
// ports, so that branch would mispredict) and sorted afterwards.
PG_ALWAYS_INLINE void emit(burst_out& out, lcore_stats& st, uint16_t rx_port, uint8_t mod, rte_mbuf* const* m,
                           const outcome* oc, unsigned n)
{
    rte_mbuf** back = out.tx[rx_port];
    unsigned n_back = out.n_tx[rx_port];
    rte_mbuf* away[burst_size];
    uint16_t away_port[burst_size];
    unsigned n_away = 0;
    for (unsigned k = 0; k < n; ++k) {
        rte_mbuf* x = m[k];
        if (PG_LIKELY(oc[k].a == action::tx)) {
            const uint16_t p = oc[k].port;
            const bool here = p == rx_port;
            back[n_back] = x;
            away[n_away] = x;
            away_port[n_away] = p;
            n_back += here;
            n_away += !here;
            continue;
        }
        if (oc[k].a == action::control) {
            module_of(x) = mod;
            out.ctl[out.n_ctl++] = x;
        } else {
            if (oc[k].a == action::drop)
                st.count(oc[k].why);
            out.drop[out.n_drop++] = x;
        }
    }
    out.n_tx[rx_port] = static_cast<uint16_t>(n_back);
    if (n_back)
        out.tx_port_mask |= 1ull << rx_port;
    for (unsigned k = 0; k < n_away; ++k)
        emit_tx(out, away_port[k], away[k]);
}

// One module's share of a burst: n <= burst_size single-segment datagrams for it, located by
// net::classify, received on rx_port (ports[] is indexed by ethdev port id).
struct burst_in {
    const net::port_addr* ports;
    uint16_t rx_port;
    rte_mbuf** m;
    net::udp_view* v;
    unsigned n;
};

// What a module's control half sends.
class control_io {
public:
    // The engine's ports (indexed by ethdev port id): a frame m was received on ports[m->port].
    const net::port_addr* ports = nullptr;
    // Next hops for frames to addresses that never wrote first (net/neigh.hpp): ARP on the
    // ports, learned from the exception path. The engine's; nullptr in tests that do not need it.
    net::neigh_table* neigh = nullptr;

    // Back through the worker whose ring the frames came from: the same TX queue, so one
    // client's answers stay in order. At most one per frame handed over.
    void reply(rte_mbuf* m) { replies_[n_replies_++] = m; }
    // A frame the module originates (or answers out of order), to send on m->port; frames for
    // one port go out in the order given.
    void send(rte_mbuf* m) { sent_.push_back(m); }

    // The engine's side.
    rte_mbuf** replies() { return replies_; }
    unsigned n_replies() const { return n_replies_; }
    std::vector<rte_mbuf*>& sent() { return sent_; }
    void clear_replies() { n_replies_ = 0; }

private:
    rte_mbuf* replies_[burst_size];
    unsigned n_replies_ = 0;
    std::vector<rte_mbuf*> sent_;
};

// Transmits n frames on port at shutdown (the workers have stopped), frees and counts what it
// cannot send; returns how many were sent.
using shutdown_tx = std::function<unsigned(uint16_t port, rte_mbuf** m, unsigned n)>;

class module {
public:
    virtual ~module() = default;
    // Its name: telemetry under /peregrine/<name>, its options --<name>-..., its tests <name>_*.
    virtual const char* name() const = 0;
    // The UDP destination ports it serves on the engine's addresses, host order. None: a module
    // served through the exception path (LEKT, over the kernel's TCP).
    virtual std::vector<uint16_t> udp_ports() const { return {}; }

    // ---- worker half: const, one object shared by every worker ----
    // Whether stage() does anything: it is then called one burst before finish(), on the same
    // burst_in and scratch, so that the loads it starts overlap another burst's work. Between
    // the two the worker may report an RCU quiescent state: scratch holds no pointer into
    // RCU-protected memory.
    virtual bool has_stage() const { return false; }
    virtual void stage(const burst_in& b, lcore_stats& st, void* scratch) const
    {
        (void)b, (void)st, (void)scratch;
    }
    // Decides every packet of b and sorts them into out (engine::emit, with index()). A module
    // that claims no UDP port is never called; the default treats the datagrams as those of a
    // port nobody owns: they go to the kernel.
    virtual void finish(const burst_in& b, lcore_stats& st, uint64_t now, void* scratch, burst_out& out) const
    {
        (void)now, (void)scratch;
        for (unsigned i = 0; i < b.n; ++i) {
            st.count(exc::udp_other_port);
            out.exc[out.n_exc++] = b.m[i];
        }
    }

    // ---- control half: the control lcore, its only caller ----
    // Frames its workers handed over (action::control), in the order they arrived from one
    // worker; each is consumed: replied, sent, or freed and counted.
    // The default is for modules that hand nothing over.
    virtual void control(rte_mbuf** m, unsigned n, uint64_t now, lcore_stats& st, control_io& io)
    {
        (void)now, (void)st, (void)io;
        rte_pktmbuf_free_bulk(m, n);
    }
    // Housekeeping at about 1 kHz: expiry, retransmission, reclaim. ticks: the 1 ms periods
    // since the last call (more than 1 when the control lcore was descheduled).
    virtual void tick(uint64_t now, unsigned ticks, lcore_stats& st, control_io& io)
    {
        (void)now, (void)ticks, (void)st, (void)io;
    }
    // Every control iteration (a module with sockets of its own). True when it did any work.
    virtual bool poll(uint64_t now) { return (void)now, false; }
    // A file descriptor that becomes readable whenever poll() has work (its sockets' epoll
    // set): the idle control lcore sleeps on it (engine/wake.hpp). -1: poll() has no work of
    // its own to wait for, or only timed work, which the housekeeping tick paces.
    virtual int wait_fd() const { return -1; }
    // Shutdown: the workers have stopped, the ports are still up; tx sends directly.
    virtual void stop(const net::port_addr* ports, lcore_stats& st, const shutdown_tx& tx)
    {
        (void)ports, (void)st, (void)tx;
    }

    uint8_t index() const { return index_; }

private:
    friend struct context;
    uint8_t index_ = no_module;
};

} // namespace peregrine::engine
