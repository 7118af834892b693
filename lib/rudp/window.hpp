#pragma once

// A connection's receive window over the client's full sequence numbers: 1024 of them, enough
// for a message of 255 fragments to have each of its fragments sent again after a loss while
// the next messages go out. RFC 4303's anti-replay window, with a bitmap too wide for one
// compare-and-swap: it belongs to the one worker lcore that owns the connection (conn::owner:
// RSS sends a client's 5-tuple to one queue), so it is plain memory.

#include <cstdint>
#include <cstring>

#include "common/replay_window.hpp"

namespace peregrine::rudp {

struct seq_window {
    static constexpr unsigned width = 1024;

    uint64_t top;
    uint64_t bits[width / 64];  // bit (s % width): s was accepted, for top - width < s <= top

    void reset(uint64_t first)
    {
        top = first;
        std::memset(bits, 0, sizeof(bits));
        set(first);
    }
    bool has(uint64_t s) const
    {
        return s <= top && top - s < width && ((bits[(s % width) / 64] >> (s % 64)) & 1);
    }
    replay peek(uint64_t s) const
    {
        if (s > top)
            return replay::fresh;
        if (top - s >= width)
            return replay::too_old;
        return has(s) ? replay::duplicate : replay::fresh;
    }
    replay check_and_set(uint64_t s)
    {
        const replay r = peek(s);
        if (r != replay::fresh)
            return r;
        if (s > top) {
            // The numbers the window slides over are forgotten.
            if (s - top >= width) {
                std::memset(bits, 0, sizeof(bits));
            } else {
                for (uint64_t x = top + 1; x < s; ++x)
                    bits[(x % width) / 64] &= ~(1ull << (x % 64));
            }
            top = s;
        }
        set(s);
        return replay::fresh;
    }

private:
    void set(uint64_t s) { bits[(s % width) / 64] |= 1ull << (s % 64); }
};

} // namespace peregrine::rudp
