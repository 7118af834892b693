#pragma once

// Pieces every traffic profile shares: the client address space, a cheap random source, the
// resend-until-answered pacing of the setup phases, and the accounting of received frames and
// answers. Header-only: each is a few lines on the generator's hot loop.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "frame.hpp"
#include "profile.hpp"

namespace peregrine::trafgen {

// Client k at (client_ip + k / ports_per_ip, client_port + k % ports_per_ip), k < clients.
struct client_space {
    uint32_t first_ip;
    uint16_t first_port;
    uint32_t ports_per_ip;
    uint32_t clients;

    uint32_t ip(uint32_t k) const { return first_ip + k / ports_per_ip; }
    uint16_t port(uint32_t k) const { return static_cast<uint16_t>(first_port + k % ports_per_ip); }
    // Client index of an endpoint (host order), or UINT32_MAX if it is none of ours.
    uint32_t index(uint32_t a, uint16_t p) const
    {
        if (a < first_ip || p < first_port || uint32_t(p - first_port) >= ports_per_ip)
            return UINT32_MAX;
        const uint64_t k = uint64_t(a - first_ip) * ports_per_ip + (p - first_port);
        return k < clients ? static_cast<uint32_t>(k) : UINT32_MAX;
    }
};

// xorshift64*: fast, and plenty for choosing recipients and sizes.
struct xorshift64 {
    uint64_t s;
    explicit xorshift64(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
    uint64_t next()
    {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545f4914f6cdd1dull;
    }
    // Uniform in [lo, hi].
    uint16_t between(uint16_t lo, uint16_t hi) { return lo == hi ? lo : static_cast<uint16_t>(lo + next() % (hi - lo + 1u)); }
    // True with probability pct / 100.
    bool percent(unsigned pct) { return pct && (pct >= 100 || next() % 100 < pct); }
};

// Setup pacing: one request per party (registration, HELLO), at most `window` unanswered at a
// time; after `timeout_ms` of silence the unanswered ones are sent again in a new pass, up to
// `retries` more passes. The profile keeps who has been answered; this keeps the rest.
class setup_pacer {
public:
    setup_pacer(unsigned window, unsigned retries, uint64_t timeout_tsc)
        : window_(window), retries_(retries), timeout_(timeout_tsc)
    {
    }
    // Start of a setup_burst call. False when nothing may be sent now: waiting for answers,
    // given up (*state failed), or everyone answered (*state done).
    bool may_send(uint64_t now, uint32_t total, uint32_t answered, setup_state* state)
    {
        if (start_ == 0) {
            start_ = last_ = now;
            passes_ = 1;
        }
        *state = setup_state::running;
        if (failed_) {
            *state = setup_state::failed;
            return false;
        }
        if (answered == total) {
            if (end_ == 0)
                end_ = now;
            *state = setup_state::done;
            return false;
        }
        const bool silent = quiet(now);
        if (cursor_ == total) {
            // End of a pass: wait for the answers in flight, then go round again for the rest.
            if (inflight_ && !silent)
                return false;
            if (passes_ > retries_) {
                failed_ = true;
                end_ = now;
                *state = setup_state::failed;
                return false;
            }
            ++passes_;
            cursor_ = 0;
            inflight_ = 0;
        } else if (inflight_ >= window_) {
            if (!silent)
                return false;
            inflight_ = 0;  // nothing came back for a while: those are lost, the next pass resends them
        }
        return true;
    }
    // Whether another party may be sent in this call, and which.
    bool more(uint32_t total) const { return cursor_ < total && inflight_ < window_; }
    uint32_t take() { return cursor_++; }
    // A request built for the party take() gave.
    void building()
    {
        ++inflight_;
        ++sent_;
    }
    // End of a setup_burst call that built n requests.
    void built(unsigned n, uint64_t now)
    {
        if (n)
            last_ = now;
    }
    void answered(uint64_t now)
    {
        if (inflight_)
            --inflight_;
        last_ = now;
    }
    void touch(uint64_t now) { last_ = now; }
    bool quiet(uint64_t now) const { return now - last_ > timeout_; }
    void finish(uint64_t now)
    {
        if (end_ == 0)
            end_ = now;
    }
    double seconds(uint64_t tsc_hz) const { return end_ > start_ ? double(end_ - start_) / double(tsc_hz) : 0.0; }
    uint64_t passes() const { return passes_; }
    uint64_t sent_total() const { return sent_; }

private:
    unsigned window_, retries_;
    uint64_t timeout_;
    uint32_t cursor_ = 0;
    unsigned inflight_ = 0;
    uint64_t last_ = 0, start_ = 0, end_ = 0, passes_ = 0, sent_ = 0;
    bool failed_ = false;
};

// Received frames that answer nothing offered, counted the same way by every profile: not UDP
// for us, from someone other than the engine (foreign), or not an answer the profile expects.
struct rx_errors {
    uint64_t not_udp = 0, malformed = 0, bad_cksum = 0, foreign = 0, unexpected = 0;

    void count_foreign(traffic_stats& st)
    {
        ++foreign;
        ++st.rx_other;
    }
    void count_unexpected(traffic_stats& st)
    {
        ++unexpected;
        ++st.rx_other;
    }
    // The report's names for these counters, after the profile's own.
    void append_to(std::vector<std::pair<std::string, uint64_t>>& out) const
    {
        out.insert(out.end(), {{"rx_not_udp", not_udp},
                               {"rx_malformed", malformed},
                               {"rx_bad_cksum", bad_cksum},
                               {"rx_foreign", foreign},
                               {"rx_unexpected", unexpected}});
    }

    // True when v is ok; otherwise counts it (and in st.rx_other).
    bool accept(rx_verdict v, traffic_stats& st)
    {
        switch (v) {
        case rx_verdict::ok:
            return true;
        case rx_verdict::not_udp:
            ++not_udp;
            break;
        case rx_verdict::malformed:
            ++malformed;
            break;
        case rx_verdict::bad_cksum:
            ++bad_cksum;
            break;
        }
        ++st.rx_other;
        return false;
    }
};

// One answer to an offered frame, timed when its send TSC is known (0: untimed).
inline void record_answer(traffic_stats& st, uint16_t len, uint64_t sent_tsc, uint64_t now)
{
    ++st.answered;
    st.answered_bytes += len;
    if (sent_tsc && now >= sent_tsc)
        st.latency.record(now - sent_tsc);
}

} // namespace peregrine::trafgen
