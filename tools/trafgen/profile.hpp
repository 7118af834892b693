#pragma once

// A traffic profile: what one protocol's crowd of clients sends and how its answers are
// counted. The driver (main.cpp) owns ports, pacing, timing and reporting; a profile only
// builds frames and accounts received ones, so it runs the same against an ethdev, into a pcap
// file, or in a unit test. To add a protocol: implement this interface in <name>_profile.cpp,
// add its options to options.cpp and a case to make_profile() (docs/perf.md, "Adding a profile").
// Profiles: router (router_profile.hpp), lb (lb_profile.hpp), session (session_profile.hpp),
// rudp (rudp_profile.hpp).
//
// Phases, in order:
//   setup    setup_burst() until it reports done (e.g. the router registers every client and
//            waits for the answers, retrying the lost ones); may return 0 frames while waiting;
//   measure  traffic_burst() at the driver's pace; every frame built is sent (the driver
//            retries the TX queue rather than dropping), so "offered" = built;
//   drain    receive only, for the answers still in flight.
// receive() is called for every frame that arrives, in every phase. All calls come from one
// thread; none may allocate or block (they run in the generator's poll loop).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "histogram.hpp"

namespace peregrine::trafgen {

// A frame to fill: data has room for max_frame bytes; the profile sets len.
struct frame_buf {
    uint8_t* data;
    uint16_t len;
};

// Counters every profile keeps the same way, so reports and ratios compare across profiles.
struct traffic_stats {
    uint64_t offered = 0;        // measure-phase frames built (and sent)
    uint64_t offered_bytes = 0;  // their frame bytes (Ethernet header to payload, no FCS)
    uint64_t answered = 0;       // received frames that are the expected answer to one offered frame
    uint64_t answered_bytes = 0;
    uint64_t rx_other = 0;       // received frames that answer nothing offered (late, foreign, wrong)
    histogram latency;           // TSC cycles from send to answer, for answers that can be timed
};

enum class setup_state { running, done, failed };

class profile {
public:
    virtual ~profile() = default;
    virtual const char* name() const = 0;

    // Setup: fills up to n frames (0 while waiting for answers) and sets *state.
    virtual unsigned setup_burst(frame_buf* f, unsigned n, uint64_t now_tsc, setup_state* state) = 0;
    // One line on how setup went (e.g. "1000000 clients registered in 2.1 s, 3 retries").
    virtual std::string setup_summary() const = 0;

    // Measure: fills exactly n frames.
    virtual void traffic_burst(frame_buf* f, unsigned n, uint64_t now_tsc) = 0;

    // A received frame (whole Ethernet frame).
    virtual void receive(const uint8_t* frame, uint16_t len, uint64_t now_tsc) = 0;
    // A received burst; the driver calls this. Profiles that verify a burst at once (the session
    // profile hashes every answer in one multi-buffer call) override it.
    virtual void receive_burst(const uint8_t* const* frames, const uint16_t* lens, unsigned n, uint64_t now_tsc)
    {
        for (unsigned i = 0; i < n; ++i)
            receive(frames[i], lens[i], now_tsc);
    }

    // Called once between setup and measure: counters start from zero for the measured run.
    virtual void start_measure() = 0;

    virtual const traffic_stats& stats() const = 0;
    // Profile-specific counters, name and value, for the report (e.g. heartbeats answered).
    virtual std::vector<std::pair<std::string, uint64_t>> counters() const = 0;
};

} // namespace peregrine::trafgen
