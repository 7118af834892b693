// Replay driver for the session fuzz target in builds without libFuzzer (g++): every corpus
// file, then a fixed-seed stream of mutated seed sequences (records duplicated, dropped,
// reordered and spliced; frame bytes flipped; the session length, type and order fields set to
// edge values; flags changed). Most mutants are re-signed (flag 0x02) so they get past
// verification into the state machine. Deterministic, a few seconds, a meson test.
//
//   fuzz_session_replay [--iterations=N] [--seed=S] [FILE|DIR...]
//   fuzz_session_replay --write-corpus DIR     (regenerates corpus/session from the seeds)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_session.hpp"

namespace fs = std::filesystem;
using bytes = std::vector<uint8_t>;

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

class mutator {
public:
    mutator(uint64_t seed, std::vector<bytes> seeds) : rng_(seed)
    {
        for (const auto& s : seeds)
            seeds_.push_back(split(s));
    }

    bytes next()
    {
        std::vector<record> rs = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r)
            mutate(rs);
        return join(rs);
    }

private:
    std::size_t pick(std::size_t n) { return n ? rng_() % n : 0; }

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
            rs = seeds_[pick(seeds_.size())];
            return;
        }
        record& r = rs[pick(rs.size())];
        bytes& f = r.frame;
        switch (pick(10)) {
        case 0:
            if (!f.empty())
                f[pick(f.size())] ^= static_cast<uint8_t>(1u << pick(8));
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
                f.resize(pick(f.size() + 1));
            else
                for (std::size_t k = 1 + pick(64); k > 0; --k)
                    f.push_back(static_cast<uint8_t>(rng_()));
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
            const auto& o = seeds_[pick(seeds_.size())];
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

    std::mt19937_64 rng_;
    std::vector<std::vector<record>> seeds_;
};

bytes read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int write_corpus(const fs::path& dir)
{
    fs::create_directories(dir);
    const auto s = fuzz_session::seeds();
    for (const auto& [name, input] : s) {
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(input.data()), static_cast<std::streamsize>(input.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
            return 1;
        }
    }
    std::printf("wrote %zu seed inputs to %s\n", s.size(), dir.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = 20000, seed = 0x5e55;
    std::vector<fs::path> paths;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--write-corpus" && i + 1 < argc)
            return write_corpus(argv[++i]);
        if (a.rfind("--iterations=", 0) == 0)
            iterations = std::stoull(a.substr(13));
        else if (a.rfind("--seed=", 0) == 0)
            seed = std::stoull(a.substr(7), nullptr, 0);
        else if (a.rfind("--", 0) == 0) {
            std::fprintf(stderr, "usage: %s [--iterations=N] [--seed=S] [FILE|DIR...] | --write-corpus DIR\n", argv[0]);
            return 2;
        } else
            paths.emplace_back(a);
    }

    LLVMFuzzerInitialize(&argc, &argv);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<bytes> seeds;
    for (auto& [name, input] : fuzz_session::seeds())
        seeds.push_back(input);
    uint64_t replayed = 0;
    for (const auto& p : paths) {
        std::vector<fs::path> files;
        if (fs::is_directory(p)) {
            for (const auto& e : fs::directory_iterator(p))
                if (e.is_regular_file())
                    files.push_back(e.path());
        } else {
            files.push_back(p);
        }
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
            const bytes d = read_file(f);
            LLVMFuzzerTestOneInput(d.data(), d.size());
            seeds.push_back(d);
            ++replayed;
        }
    }
    mutator mut(seed, seeds);
    for (uint64_t i = 0; i < iterations; ++i) {
        const bytes d = mut.next();
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto& c = fuzz_session::outcome_counts();
    std::printf("fuzz_session_replay: %lu corpus files + %lu mutants (%lu packets) in %.2f s\n",
                static_cast<unsigned long>(replayed), static_cast<unsigned long>(iterations),
                static_cast<unsigned long>(c.packets), secs);
    std::printf("  drops %lu, answers %lu: accept %lu, reject %lu, pong %lu, ack %lu, bad_ack %lu, echo %lu\n",
                static_cast<unsigned long>(c.drops), static_cast<unsigned long>(c.answers),
                static_cast<unsigned long>(c.accepted), static_cast<unsigned long>(c.reject),
                static_cast<unsigned long>(c.pong), static_cast<unsigned long>(c.ack),
                static_cast<unsigned long>(c.bad_ack), static_cast<unsigned long>(c.app));
    if (!c.drops || !c.accepted || !c.reject || !c.pong || !c.ack || !c.bad_ack || !c.app) {
        std::fprintf(stderr, "fuzz_session_replay: some outcome was never reached (corpus missing?)\n");
        return 1;
    }
    return 0;
}
