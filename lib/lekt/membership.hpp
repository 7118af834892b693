#pragma once

// LEKT membership and its change log. Every join and leave is an entry with a sequence number;
// each connection remembers the last sequence number it was told about (its position), so the
// answer to a heartbeat walks only the entries after that position: its cost is proportional to
// the changes, not to the membership. The first answer, and the answer to a connection whose
// position fell off the compacted log, is a full snapshot instead.
//
// Identity: a member is its LEKT connection (source IP and TCP port), but the wire lists removed
// members by IPv4 only ('R'). So an 'R' for an IP means "forget every member at this IP", and the
// same answer re-announces ('A') the members still at that IP. Two clients behind one NAT
// address therefore never lose each other; the re-announcement costs at most --lekt-max-per-ip
// records per removal.
//
// Single-threaded (the control lcore); telemetry reads through for_each under the server's lock.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace peregrine::lekt {

class membership {
public:
    // A log longer than this is cut even if a connection still needs the old entries; that
    // connection gets a snapshot instead (bounded memory whatever the slowest reader does).
    static constexpr std::size_t default_max_log = 65536;

    struct member {
        uint32_t ip;          // host order
        uint16_t tcp_port;    // host order, of its LEKT connection
        uint64_t add_seq;     // also its id
        std::string record;   // the encoded 'A' record (size, IP, methods)
    };

    struct answer_stats {
        uint64_t packets = 0;
        uint64_t added = 0;    // 'A' records
        uint64_t removed = 0;  // 'R' records
        bool snapshot = false;
    };

    explicit membership(std::size_t max_log = default_max_log) : max_log_(max_log) {}

    // Adds a member; returns its id (its add sequence number, never 0).
    uint64_t add(uint32_t ip, uint16_t tcp_port, std::string record);
    // Removes a member by id (no-op if unknown).
    void remove(uint64_t id);

    // Appends the update packets that bring a connection at *pos up to date (stamped with the
    // heartbeat's time) to out, and moves *pos to head(). Always ends with an empty 'A' packet,
    // which tells the client the answer is complete. *pos == 0 means "never told anything".
    void answer(uint64_t* pos, int64_t stamp, std::string& out, answer_stats* st) const;

    // Drops the entries every connection has seen (seq <= min_pos), then the oldest beyond the
    // bound.
    void compact(uint64_t min_pos);

    std::size_t size() const { return members_.size(); }
    std::size_t log_size() const { return log_.size(); }
    uint64_t head() const { return head_; }
    uint64_t base() const { return base_; }
    const member* find(uint64_t id) const;
    template <typename F>
    void for_each(F&& f) const
    {
        for (const auto& [id, m] : members_)
            f(m);
    }

private:
    struct entry {
        bool add;
        uint32_t ip;
        uint64_t member;  // its add sequence number
    };

    void emit_snapshot(int64_t stamp, std::string& out, answer_stats* st) const;

    std::size_t max_log_;
    uint64_t head_ = 0;  // sequence number of the newest entry
    uint64_t base_ = 0;  // entries base_+1 .. head_ are in log_
    std::deque<entry> log_;
    std::unordered_map<uint64_t, member> members_;
    std::unordered_map<uint32_t, std::vector<uint64_t>> by_ip_;
};

} // namespace peregrine::lekt
