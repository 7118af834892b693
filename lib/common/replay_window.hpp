#pragma once

// A sliding replay window over the packet order count (an IPsec-style anti-replay
// window, RFC 4303 3.4.3, made lock-free). State is {top, bits}: top is the highest count
// accepted, bit d of bits says whether top - d was accepted. A count is accepted once if it is
// above top (the window slides) or within the last `width` counts and not yet seen; duplicates
// and counts older than the window are refused. Out-of-order packets inside the window are
// therefore accepted (and delivered) in arrival order, once each.
//
// Used by the session protocol (order counts) and RUDP (sequence numbers). Several worker
// lcores may hold the same session (RSS gives no client-to-queue affinity when
// a client's source port changes, and every worker may look up every session), so the pair is
// updated with one 128-bit compare-and-swap (rte_atomic128_cmp_exchange: cmpxchg16b on x86-64,
// CASP on arm64): no lock, no torn state, exactly one winner per count.

#include <cstdint>

#include <rte_atomic.h>

namespace peregrine {

enum class replay : uint8_t { fresh, duplicate, too_old };

struct alignas(16) replay_window {
    static constexpr unsigned width = 64;  // counts remembered: one machine word of bits

    rte_int128_t v;  // val[0] = top, val[1] = bits

    // Writer-only set-up (before the session is published): the opening HELLO's count.
    void reset(uint64_t first)
    {
        v.val[0] = first;
        v.val[1] = 1;
    }

    uint64_t top() const { return __atomic_load_n(&v.val[0], __ATOMIC_RELAXED); }
    // Bit d: top - d was accepted (RUDP's ACK bits come from it).
    uint64_t bits() const { return __atomic_load_n(&v.val[1], __ATOMIC_RELAXED); }

    // What check_and_set(order) would answer now, without taking the count.
    replay peek(uint64_t order) const
    {
        const uint64_t top = __atomic_load_n(&v.val[0], __ATOMIC_RELAXED);
        const uint64_t bits = __atomic_load_n(&v.val[1], __ATOMIC_RELAXED);
        if (order > top)
            return replay::fresh;
        const uint64_t d = top - order;
        if (d >= width)
            return replay::too_old;
        return (bits >> d) & 1 ? replay::duplicate : replay::fresh;
    }

    replay check_and_set(uint64_t order)
    {
        // A torn first read is harmless: the CAS compares all 128 bits and reloads on failure.
        rte_int128_t exp;
        exp.val[0] = __atomic_load_n(&v.val[0], __ATOMIC_RELAXED);
        exp.val[1] = __atomic_load_n(&v.val[1], __ATOMIC_RELAXED);
        for (;;) {
            const uint64_t top = exp.val[0];
            const uint64_t bits = exp.val[1];
            rte_int128_t want;
            if (order > top) {
                const uint64_t shift = order - top;
                want.val[0] = order;
                want.val[1] = shift >= width ? 1 : (bits << shift) | 1;
            } else {
                const uint64_t d = top - order;
                if (d >= width)
                    return replay::too_old;
                const uint64_t bit = 1ull << d;
                if (bits & bit)
                    return replay::duplicate;
                want.val[0] = top;
                want.val[1] = bits | bit;
            }
            if (rte_atomic128_cmp_exchange(&v, &exp, &want, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
                return replay::fresh;
        }
    }
};
static_assert(sizeof(replay_window) == 16);

} // namespace peregrine
