// Replay hooks (replay.hpp) for the session fuzz target: mutants of the seed record sequences
// (records duplicated, dropped, reordered and spliced; frame bytes flipped; the session length,
// type and order fields set to edge values; flags changed). Most mutants are re-signed (flag
// 0x02) so they get past verification into the state machine.
//
//   fuzz_session_replay --write-corpus DIR     (regenerates corpus/session from the seeds)

#include <algorithm>
#include <cstdio>
#include <iterator>

#include "fuzz_session.hpp"
#include "replay.hpp"

using fuzz_replay::bytes;

namespace {

struct record {
    uint8_t flags;
    bytes frame;
};

std::vector<record> split(const bytes& in)
{
    std::vector<record> r;
    std::size_t at = 0;
    while (at < in.size()) {
        const uint8_t flags = in[at];
        std::size_t len = at + 2 < in.size() ? (std::size_t(in[at + 1]) << 8 | in[at + 2]) : 0;
        at = std::min(at + 3, in.size());
        len = std::min(len, in.size() - at);
        r.push_back({flags, bytes(in.begin() + static_cast<std::ptrdiff_t>(at), in.begin() + static_cast<std::ptrdiff_t>(at + len))});
        at += len;
    }
    return r;
}

bytes join(const std::vector<record>& rs)
{
    bytes out;
    for (const auto& r : rs) {
        out.push_back(r.flags);
        out.push_back(static_cast<uint8_t>(r.frame.size() >> 8));
        out.push_back(static_cast<uint8_t>(r.frame.size()));
        out.insert(out.end(), r.frame.begin(), r.frame.end());
    }
    return out;
}

class record_mutator : public fuzz_replay::mutator {
public:
    record_mutator(uint64_t seed, std::vector<bytes> seeds) : mutator(seed, std::move(seeds))
    {
        for (const auto& s : seeds_)
            records_.push_back(split(s));
    }

    bytes next() override
    {
        std::vector<record> rs = records_[pick(records_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r)
            mutate(rs);
        return join(rs);
    }

private:
    // Session header offsets inside a frame (Ethernet 14 + IPv4 20 + UDP 8 = 42).
    static constexpr std::size_t sess = 42;

    void set_field(bytes& f, std::size_t at, std::size_t width)
    {
        if (f.size() < at + width)
            return;
        const uint64_t edge[] = {0, 1, 2, 31, 32, 33, 63, 64, 65, 0xff, 0xffff, ~0ull, rng_()};
        uint64_t v = edge[pick(std::size(edge))];
        for (std::size_t k = width; k-- > 0; v >>= 8)
            f[at + k] = static_cast<uint8_t>(v);
    }

    void mutate(std::vector<record>& rs)
    {
        if (rs.empty()) {
            rs = records_[pick(records_.size())];
            return;
        }
        record& r = rs[pick(rs.size())];
        bytes& f = r.frame;
        switch (pick(10)) {
        case 0:
            flip_bit(f);
            break;
        case 1:  // the session type
            if (f.size() > sess + 48)
                f[sess + 48] = static_cast<uint8_t>(pick(3) ? 1 + pick(10) : rng_());
            break;
        case 2:  // the session length field
            set_field(f, sess + 52, 2);
            break;
        case 3:  // the order count
            set_field(f, sess + 56, 8);
            break;
        case 4:  // truncate or extend (the UDP/IP lengths go stale unless the flags repair them)
            if (pick(2))
                truncate(f);
            else
                extend(f, 64);
            break;
        case 5:
            r.flags = static_cast<uint8_t>(pick(4) ? (r.flags ^ (1u << pick(5))) : rng_());
            break;
        case 6:
            rs.insert(rs.begin() + static_cast<std::ptrdiff_t>(pick(rs.size() + 1)), rs[pick(rs.size())]);
            break;
        case 7:
            rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(pick(rs.size())));
            break;
        case 8: {  // splice another seed's records
            const auto& o = records_[pick(records_.size())];
            rs.insert(rs.end(), o.begin() + static_cast<std::ptrdiff_t>(pick(o.size() + 1)), o.end());
            break;
        }
        default:
            if (rs.size() > 1)
                std::swap(rs[pick(rs.size())], rs[pick(rs.size())]);
            break;
        }
        if (rs.size() > 40)
            rs.resize(40);
    }

    std::vector<std::vector<record>> records_;
};

fuzz_replay::named_inputs seeds() { return fuzz_session::seeds(); }

int check(const char* me)
{
    const auto& c = fuzz_session::outcome_counts();
    std::printf("  %lu packets: drops %lu, answers %lu: accept %lu, reject %lu, pong %lu, ack %lu, bad_ack %lu, echo %lu\n",
                static_cast<unsigned long>(c.packets), static_cast<unsigned long>(c.drops),
                static_cast<unsigned long>(c.answers), static_cast<unsigned long>(c.accepted),
                static_cast<unsigned long>(c.reject), static_cast<unsigned long>(c.pong),
                static_cast<unsigned long>(c.ack), static_cast<unsigned long>(c.bad_ack),
                static_cast<unsigned long>(c.app));
    if (!c.drops || !c.accepted || !c.reject || !c.pong || !c.ack || !c.bad_ack || !c.app) {
        std::fprintf(stderr, "%s: some outcome was never reached (corpus missing?)\n", me);
        return 1;
    }
    return 0;
}

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 20000,
    .seed = 0x5e55,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<record_mutator>,
    .check = check,
};
