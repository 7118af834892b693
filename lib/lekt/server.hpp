#pragma once

// The LEKT server: ordinary non-blocking kernel TCP sockets and epoll, driven by the control
// lcore. TCP reaches the kernel through the TAP exception path, so the worker lcores never see
// it. poll() never blocks (epoll_wait with timeout 0) and bounds its work (events per call, bytes
// per connection per call), so the control lcore's other duties are never starved.
//
// Defences: a cap on connections in total and per source IP (refused with a Reject naming the
// reason), a handshake+setup deadline, a deadline for completing a partial packet, the heartbeat
// timeout, a bounded input buffer, and at most one answer buffered per connection: the next
// heartbeat is not read until the previous answer is in the kernel, so a client that does not
// read stops being answered and times out.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lekt/codec.hpp"
#include "lekt/membership.hpp"
#include "lekt/session.hpp"

namespace peregrine::lekt {

struct server_params {
    std::vector<uint32_t> addrs;  // host order; the engine's --addr addresses
    uint16_t port = 7500;
    uint32_t max_clients = 16384;
    uint32_t max_per_ip = 64;
    uint32_t heartbeat_timeout_ms = 15000;
    uint32_t handshake_timeout_ms = 5000;  // also the deadline for finishing a partial packet
    std::size_t max_log = membership::default_max_log;
};

// Counters, written by the control lcore only, read by telemetry (relaxed).
struct server_counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> open{0};          // connections now (not counting ones being closed)
    std::atomic<uint64_t> members{0};
    std::atomic<uint64_t> joined{0};
    std::atomic<uint64_t> left{0};          // members removed for any reason
    std::atomic<uint64_t> disconnects{0};   // peer closed or reset
    std::atomic<uint64_t> heartbeats{0};
    std::atomic<uint64_t> snapshots{0};
    std::atomic<uint64_t> update_packets{0};
    std::atomic<uint64_t> records_added{0};
    std::atomic<uint64_t> records_removed{0};
    std::atomic<uint64_t> bytes_in{0};
    std::atomic<uint64_t> bytes_out{0};
    std::atomic<uint64_t> log_entries{0};
    std::atomic<uint64_t> rejects[reject_count]{};
};

class server {
public:
    explicit server(server_params p);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Opens the listening sockets. False with *err on failure.
    bool start(std::string* err);
    // One bounded round of work; now_ms is a monotonic clock. True when it did anything.
    bool poll(uint64_t now_ms);
    // The epoll set poll() reads: readable while any socket has an event (-1 before start()).
    int wait_fd() const { return ep_; }

    const server_counters& counters() const { return c_; }
    const server_params& params() const { return p_; }
    // The port the listeners are bound to (params().port, or the kernel's pick when that is 0).
    uint16_t bound_port() const;
    // RLIMIT_NOFILE after start() raised it as far as allowed.
    uint64_t fd_limit() const { return fd_limit_; }

    struct member_info {
        uint32_t ip;
        uint16_t tcp_port;
        std::vector<uint32_t> methods;
    };
    // Members in no particular order, from offset, at most limit (telemetry thread).
    std::vector<member_info> members(std::size_t offset, std::size_t limit, std::size_t* total) const;

private:
    // Tunables.
    static constexpr unsigned max_events = 64;              // epoll events per poll
    static constexpr unsigned max_accepts = 32;             // new connections per listener per poll
    static constexpr std::size_t in_buf = 2048;             // > the largest client packet (524 bytes)
    static constexpr std::size_t max_write = 64 * 1024;     // bytes per connection per poll
    // Bytes written per poll over all connections: every byte becomes TCP segments the control
    // lcore itself must carry from the TAP to the wire, so a join storm must not fill the TAP
    // faster than the same loop drains it.
    static constexpr std::size_t max_write_per_poll = 256 * 1024;
    static constexpr uint32_t linger_ms = 1000;             // how long a refused client may still send
    static constexpr uint64_t tick_ms = 100;                // deadline scan period

    struct conn {
        conn(membership& m, int fd_, uint32_t ip, uint16_t port) : fd(fd_), s(m, ip, port) {}
        int fd;
        uint32_t gen = 0;                // in the epoll data with fd: a reused fd number is not mistaken
        session s;
        uint8_t in[in_buf];
        std::size_t in_len = 0;
        std::string out;
        std::size_t out_off = 0;
        uint64_t opened_ms = 0;
        uint64_t last_hb_ms = 0;
        uint64_t partial_since_ms = 0;   // 0: no partial packet buffered
        uint64_t stuck_since_ms = 0;     // 0: nothing unsent
        uint64_t close_at_ms = 0;        // closing: when to give up on the peer
        bool closing = false;            // Reject sent or being sent; only draining now
        bool counted = true;             // counts in open and per-IP
        uint32_t events = 0;             // epoll interest
    };

    void accept_some(int lfd, uint64_t now);
    void refuse(int fd, uint32_t ip, uint16_t port, reject why, uint64_t now);
    void on_readable(conn& c, uint64_t now);
    void process(conn& c, uint64_t now);
    // Writes what is pending; false if the connection was destroyed.
    bool flush(conn& c, uint64_t now);
    void fail(conn& c, reject why, uint64_t now);
    void start_closing(conn& c, uint64_t now);
    void uncount(conn& c);
    void destroy(int fd);
    void set_events(conn& c, uint32_t ev);
    void housekeeping(uint64_t now);
    // Connection generations start at 1 (0 marks a listener) and skip 0 when they wrap.
    uint32_t next_gen() { return ++gen_ ? gen_ : ++gen_; }
    void count_reject(reject why) { inc(c_.rejects[static_cast<unsigned>(why)]); }
    static void inc(std::atomic<uint64_t>& a, uint64_t n = 1) { a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }

    server_params p_;
    server_counters c_;
    membership m_;
    mutable std::mutex mu_;  // membership: control lcore writes, telemetry reads
    int ep_ = -1;
    std::vector<int> listeners_;
    std::unordered_map<int, std::unique_ptr<conn>> conns_;
    std::unordered_map<uint32_t, uint32_t> per_ip_;
    std::size_t closing_ = 0;
    uint64_t next_tick_ = 0;
    uint64_t fd_limit_ = 0;
    std::size_t write_budget_ = 0;  // left in this poll
    uint32_t gen_ = 0;
};

} // namespace peregrine::lekt
