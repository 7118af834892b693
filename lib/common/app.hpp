#pragma once

// The application interface every protocol that carries data delivers to (the session
// protocol's DATA, RUDP's DEFAULT messages): one verified, replay-checked message at a time, and a
// way to answer on the session or connection it came on. Applications run on the worker lcore
// that received the message, inside its burst: on_data must not allocate, lock, make a syscall
// or log; a protocol's reply takes mbufs from the received packet's mempool.

#include <cstdint>
#include <memory>
#include <string_view>

namespace peregrine::app {

struct message {
    const uint8_t* data;       // valid during on_data only
    uint32_t len;
    bool reliable;             // the sender asked for an acknowledgement (the protocol sends it)
    const uint8_t* peer_id;    // the session protocol's Client ID (16 bytes); RUDP: nullptr
    uint16_t custom;           // the session protocol's custom ID; RUDP: 0
    uint64_t order;            // the session protocol's order count; RUDP: the sequence number
};

// Answers on the message's session or connection, during on_data only.
class reply {
public:
    // A message of len bytes; reliable asks the client to acknowledge it (session: DATA_ACK,
    // which the engine does not retransmit; RUDP: RELIABLE, retransmitted until acknowledged).
    // False, counted by the protocol, when it cannot be sent (no mbuf, too long, burst full).
    virtual bool send(const uint8_t* data, uint32_t len, bool reliable) = 0;
    // The protocol's echo of the message being delivered, with these bytes: the session
    // protocol answers with a DATA_NOACK; RUDP with the flags the message came with.
    virtual bool echo(const uint8_t* data, uint32_t len) = 0;

protected:
    ~reply() = default;
};

class application {
public:
    virtual ~application() = default;
    virtual std::string_view name() const = 0;
    virtual void on_data(const message& m, reply& out) = 0;
};

// Sends every message back (the default application).
class echo_app final : public application {
public:
    std::string_view name() const override { return "echo"; }
    void on_data(const message& m, reply& out) override { out.echo(m.data, m.len); }
};

// Accepts and forgets (counted as delivered).
class discard_app final : public application {
public:
    std::string_view name() const override { return "discard"; }
    void on_data(const message&, reply&) override {}
};

// "echo" or "discard"; nullptr for any other name.
inline std::unique_ptr<application> make_app(std::string_view name)
{
    if (name == "echo")
        return std::make_unique<echo_app>();
    if (name == "discard")
        return std::make_unique<discard_app>();
    return nullptr;
}

} // namespace peregrine::app
