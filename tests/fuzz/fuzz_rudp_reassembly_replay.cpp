// Replay hooks (replay.hpp) for the RUDP reassembly target: operation lists (see
// fuzz_rudp_reassembly.cpp) that complete messages in order and out of order, repeat fragments,
// change lengths and counts, fill the pool and let time pass; mutated by bit flips, edge bytes,
// truncations, extensions and splices.
//
//   fuzz_rudp_reassembly_replay --write-corpus DIR

#include "replay.hpp"

using fuzz_replay::bytes;

namespace {

void frag(bytes& s, uint8_t key, uint8_t base, uint8_t id, uint8_t count, uint8_t len)
{
    s.insert(s.end(), {0, key, base, id, count, len});
    for (uint8_t i = 0; i < len; ++i)
        s.push_back(uint8_t(base + id + i));
}

fuzz_replay::named_inputs seeds()
{
    bytes in_order, reverse, dup, bad_len, full, timeout;
    for (uint8_t id = 0; id < 4; ++id)
        frag(in_order, 1, 10, id, 4, id == 3 ? 5 : 20);
    for (int id = 3; id >= 0; --id)
        frag(reverse, 2, 20, uint8_t(id), 4, id == 3 ? 7 : 9);
    frag(dup, 0, 1, 0, 2, 8);
    frag(dup, 0, 1, 0, 2, 8);
    frag(dup, 0, 1, 1, 2, 8);
    frag(bad_len, 1, 5, 0, 3, 10);
    frag(bad_len, 1, 5, 1, 3, 9);
    frag(bad_len, 1, 5, 2, 3, 11);
    for (uint8_t k = 0; k < 4; ++k)
        frag(full, k, k, 0, 2, 4);
    frag(timeout, 3, 3, 0, 2, 4);
    timeout.insert(timeout.end(), {1, 60, 2, 3});
    frag(timeout, 3, 3, 1, 2, 4);
    return {{"in-order", in_order}, {"reverse", reverse}, {"duplicate", dup}, {"bad-length", bad_len},
            {"pool-full", full}, {"timeout-forget", timeout}};
}

class ops_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;
    bytes next() override
    {
        bytes s = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + unsigned(pick(3)); r < rounds; ++r) {
            switch (pick(4)) {
            case 0: flip_bit(s); break;
            case 1: set_byte(s); break;
            case 2: extend(s, 32); break;
            case 3: splice(s); break;
            }
        }
        return s;
    }
};

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 100000,
    .seed = 1,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<ops_mutator>,
    .check = nullptr,
};
