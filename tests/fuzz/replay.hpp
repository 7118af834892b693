#pragma once

// The replay driver that runs a fuzz target in builds without libFuzzer (g++), and what each
// target hands it. One driver (replay_main.cpp) is linked into every <name>_replay executable,
// with the target (fuzz_<name>.cpp: LLVMFuzzerTestOneInput, optionally LLVMFuzzerInitialize)
// and the target's replay hooks (fuzz_<name>_replay.cpp: defines fuzz_replay::replay_target).
//
//   fuzz_<name>_replay [--iterations=N] [--seed=S] [FILE|DIR...]
//   fuzz_<name>_replay --write-corpus DIR     (regenerates corpus/<name> from the target's seeds)
//
// The driver runs every corpus file (each directory in name order, so a run is deterministic),
// then N mutants from the target's mutator, started from the target's built-in seeds (if it has
// them) and every corpus file, then asks the target whether the run reached what it must.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace fuzz_replay {

using bytes = std::vector<uint8_t>;
using named_inputs = std::vector<std::pair<std::string, bytes>>;

// A fixed-seed stream of mutants of the seeds; the operations several targets share.
class mutator {
public:
    mutator(uint64_t seed, std::vector<bytes> seeds) : rng_(seed), seeds_(std::move(seeds)) {}
    virtual ~mutator() = default;
    virtual bytes next() = 0;

protected:
    std::size_t pick(std::size_t n) { return n ? rng_() % n : 0; }

    // One bit of a byte at or after offset `from` flipped.
    void flip_bit(bytes& f, std::size_t from = 0)
    {
        if (f.size() > from) {
            const auto bit = static_cast<uint8_t>(1u << pick(8));
            f[from + pick(f.size() - from)] ^= bit;
        }
    }

    // A byte at or after offset `from` set to a random value.
    void set_byte(bytes& f, std::size_t from = 0)
    {
        if (f.size() > from) {
            const auto v = static_cast<uint8_t>(rng_());
            f[from + pick(f.size() - from)] = v;
        }
    }

    void truncate(bytes& f) { f.resize(pick(f.size() + 1)); }

    // 1 to max random bytes appended.
    void extend(bytes& f, std::size_t max)
    {
        for (std::size_t k = 1 + pick(max); k > 0; --k)
            f.push_back(static_cast<uint8_t>(rng_()));
    }

    // f cut at a random point, followed by the tail of a random seed.
    void splice(bytes& f)
    {
        const bytes& o = seeds_[pick(seeds_.size())];
        const std::size_t at = pick(f.size() + 1), from = pick(o.size() + 1);
        f.resize(at);
        f.insert(f.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
    }

    std::mt19937_64 rng_;
    std::vector<bytes> seeds_;
};

template <typename M>
std::unique_ptr<mutator> make_mutator(uint64_t seed, std::vector<bytes> seeds)
{
    return std::make_unique<M>(seed, std::move(seeds));
}

struct target {
    uint64_t iterations;  // mutants without --iterations
    uint64_t seed;        // the mutation stream without --seed
    // The named inputs --write-corpus writes; with builtin_seeds, mutants also start from them
    // (otherwise only from the corpus files, and a run without any fails).
    named_inputs (*seeds)();
    bool builtin_seeds;
    std::unique_ptr<mutator> (*new_mutator)(uint64_t seed, std::vector<bytes> seeds);
    // After the driver's summary line: prints what the run reached; nonzero fails the run (a run
    // that never reached a deep path tested nothing there). May be null.
    int (*check)(const char* name);
};

// Defined by the target's replay hooks, once per executable.
extern const target replay_target;

} // namespace fuzz_replay
