#pragma once

// One LEKT connection's protocol state, without sockets (the server owns those):
//   handshake -> ('A', then 'T' k for each method k the client supports and we know, one at a
//   time, each answered by the client's 'T' k + information) -> 'T' 0 -> heartbeat phase, where
//   each heartbeat is answered from the membership's change log.
// feed() handles at most one packet per call, so the server can stop reading a connection whose
// previous answer is still unsent (a client that does not read cannot make us buffer more).

#include <cstddef>
#include <cstdint>
#include <string>

#include "lekt/codec.hpp"
#include "lekt/membership.hpp"

namespace peregrine::lekt {

class session {
public:
    enum class phase : uint8_t { handshake, setup, heartbeat, closed };

    struct result {
        std::size_t consumed = 0;    // bytes of input used (0: need more, or closed)
        bool close = false;          // send out (it holds a Reject) then close
        reject why = reject::bad_magic;
        bool heartbeat = false;      // a heartbeat was answered
        membership::answer_stats answer;
    };

    // ip, port: the peer, host order.
    session(membership& m, uint32_t ip, uint16_t port) : m_(m), ip_(ip), port_(port) {}
    ~session() { leave(); }
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // Consumes at most one packet from d[0..n), appending what to send to out.
    result feed(const uint8_t* d, std::size_t n, std::string& out);

    // Refuses the connection with a reason (appended to out) and leaves the membership.
    void fail(reject why, std::string& out);
    // Leaves the membership (disconnect, timeout). Idempotent.
    void leave();

    phase state() const { return phase_; }
    uint64_t position() const { return pos_; }
    uint64_t member_id() const { return member_; }
    uint32_t methods() const { return methods_; }
    uint32_t ip() const { return ip_; }
    uint16_t port() const { return port_; }

private:
    // Next method to request after `after`, or 0 when none is left.
    uint32_t next_method(uint32_t after) const;
    void join();

    membership& m_;
    uint32_t ip_;
    uint16_t port_;
    phase phase_ = phase::handshake;
    uint32_t methods_ = 0;    // bit k: method k requested
    uint32_t requested_ = 0;  // method index awaiting its response
    std::string record_;      // 'A' record being built during setup
    uint64_t member_ = 0;
    uint64_t pos_ = 0;
};

} // namespace peregrine::lekt
