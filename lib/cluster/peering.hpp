#pragma once

// The routers among themselves (docs/cluster.md, "Where a remote Client ID lives"): each Client
// ID has one directory router, home(id), a Maglev lookup of the ID over the live routers (this
// one and the peers the Controlling Function listed), so every router computes the same home
// without asking. Pure logic on the control lcore: datagrams in, payloads out through send,
// time as TSC.
//
//  - Each router tells home(id) about its own clients: Registration Update (owner = the
//    router's own endpoint) when one registers, Registration Removed when it ends; paced, Acked,
//    retransmitted. The home keeps id -> owner for the IDs it is home to (the share).
//  - A router that holds a message for an ID registered neither here nor in its location cache
//    asks home(id) (Locate), which answers with the owner or "nowhere" (Location).
//  - When the router set changes, every router re-announces its clients whose home moved, and
//    drops the share entries that are no longer its own or whose owner left.
//
// Loops and spoofing: only peers are heard (the module checks the source); an Update or
// Removed may only speak of the sender's own clients (the owner it carries is its sender), and a
// Location is taken only from the home it was asked of.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/stats.hpp"
#include "lb/codec.hpp"
#include "lb/maglev.hpp"

namespace peregrine::cluster {

// Peregrine's own router-to-router messages, in the load-balancer framing (type, Request ID,
// Group ID, User ID, endpoint: Registration Update's 15 bytes). Locate carries a zero endpoint,
// so the answer is never larger than the question.
enum class peer_type : uint8_t {
    locate = 0x40,
    location = 0x41,
};
static constexpr std::size_t locate_len = lb::registration_update_len;
static constexpr std::size_t location_len = lb::registration_update_len;

struct peering_params {
    lb::endpoint self;             // this router's advertised endpoint (the Maglev key)
    uint16_t group = 0;
    uint64_t tsc_hz = 0;
    uint64_t ack_timeout_ms = 1000;  // Registration Update/Removed: NOTES.md, 1 s and 3 tries
    unsigned tries = 3;
    uint64_t locate_timeout_ms = 200;  // a held message waits at most tries x this
    uint32_t rate = 2000;          // Updates/Removed sent per second at most
    uint32_t max_share = 1u << 22; // directory entries held (this router's share)
    uint16_t first_request_id = 0;
};

class peering {
public:
    // Sends a payload to the router whose advertised endpoint is `to`; false when it cannot now.
    using send_fn = std::function<bool(const lb::endpoint& to, const uint8_t* d, std::size_t len)>;
    // owner: registered there; nowhere: on no router; asked: the home is asked, resolved_fn
    // tells later; lost: no answer (or no room to ask).
    enum class answer : uint8_t { owner, nowhere, asked, lost };
    // Where a Locate ended: owner (its endpoint in owner), nowhere or lost.
    using resolved_fn = std::function<void(uint32_t id, answer a, const lb::endpoint& owner)>;

    // Questions outstanding at once, and announcements awaiting an Ack: bound the state.
    static constexpr std::size_t max_asking = 4096;
    static constexpr std::size_t max_in_flight = 8192;
    // IDs visited per tick after a change of the router set: ~0.3 ms of the control lcore
    // (perf/bench_cluster), so 2M IDs take ~0.5 s and no registration waits behind the walk.
    static constexpr unsigned walk_per_tick = 4096;

    peering(const peering_params& p, send_fn send, resolved_fn resolved);

    // The peer set (lb::key_of of each advertised endpoint) after a change. The new homes hold
    // at once; the ticks that follow walk this router's IDs (re-announcing those whose home
    // moved) and its share (dropping what is no longer homed here or whose owner left).
    void set_peers(const std::set<uint64_t>& peers, lcore_stats& st);
    bool walking() const { return walking_; }
    // The directory router of id (this router's own endpoint when it is home).
    lb::endpoint home(uint32_t id) const;
    bool is_home(uint32_t id) const { return home(id) == p_.self; }

    // This router's registry changed (client: the client's endpoint, kept for for_each_local).
    void registered(uint32_t id, const lb::endpoint& client, lcore_stats& st);
    void unregistered(uint32_t id, lcore_stats& st);

    // A datagram from the peer whose advertised endpoint is `from`.
    void on_datagram(const lb::endpoint& from, const uint8_t* d, std::size_t len, uint64_t now, lcore_stats& st);

    // Where id lives, for a message to it: owner (*owner set) or nowhere when this router is its
    // home; otherwise asks the home (once per ID outstanding) and returns asked (resolved_fn
    // tells later), or lost when max_asking questions are outstanding.
    answer locate(uint32_t id, lb::endpoint* owner, uint64_t now, lcore_stats& st);

    // Pacing, retransmission and question timeouts; cheap when nothing is due.
    void tick(uint64_t now, lcore_stats& st);

    // ---- reads (telemetry, tests) ----
    std::size_t routers() const { return live_.size(); }
    std::size_t share() const { return share_.size(); }
    std::size_t local() const { return local_.size(); }
    std::size_t in_flight() const { return flights_.size(); }
    std::size_t asking() const { return asking_.size(); }
    std::size_t queued() const { return out_.size(); }
    const lb::endpoint* owner_of(uint32_t id) const;
    template <class F> void for_each_local(F&& f) const
    {
        for (const auto& [id, client] : local_)
            f(id, client);
    }

private:
    struct flight {
        lb::endpoint to;
        uint32_t id;
        uint8_t payload[lb::registration_update_len];
        uint8_t len;
        unsigned sent;
        uint64_t due;
    };
    struct ask {
        lb::endpoint to;
        uint16_t req;
        unsigned sent;
        uint64_t due;
    };

    void walk(lcore_stats& st);
    void send_announcements(uint64_t now, lcore_stats& st);
    void send_flight(flight& f, uint64_t now, lcore_stats& st);
    void send_locate(uint32_t id, ask& a, uint64_t now, lcore_stats& st);
    void answer_locate(const lb::endpoint& from, uint16_t req, uint32_t id, lcore_stats& st);
    void reply_ack(const lb::endpoint& to, uint16_t req, lcore_stats& st);
    bool out(const lb::endpoint& to, const uint8_t* d, std::size_t len, lcore_stats& st);

    peering_params p_;
    send_fn send_;
    resolved_fn resolved_;
    uint64_t ack_tsc_, locate_tsc_;
    uint16_t req_;
    std::unique_ptr<lb::table> table_;  // Maglev over this router and its peers; none when alone
    // The walk after a change: the table before it (none: alone), where it is in each map.
    std::unique_ptr<lb::table> from_;
    std::unique_ptr<lb::table> spare_;  // the last one retired, for the next change
    bool walking_ = false;
    std::set<uint64_t> live_;  // this router and its peers
    std::size_t local_bucket_ = 0, local_buckets_ = 0, share_bucket_ = 0, share_buckets_ = 0;
    std::unordered_map<uint32_t, lb::endpoint> local_;    // this router's registered IDs, their clients
    std::unordered_map<uint32_t, lb::endpoint> share_;    // id -> owner, for IDs homed here
    std::deque<uint32_t> out_;                            // IDs whose home is to hear (again)
    std::unordered_set<uint32_t> out_set_;
    std::map<uint16_t, flight> flights_;                  // by Request ID
    std::unordered_map<uint32_t, uint16_t> flight_of_;    // id -> its flight: the latest word wins
    std::multimap<uint64_t, uint16_t> due_;               // retransmission times
    std::unordered_map<uint32_t, ask> asking_;            // Locates outstanding, by ID
    double tokens_ = 0;
    uint64_t last_fill_ = 0;
};

} // namespace peregrine::cluster
