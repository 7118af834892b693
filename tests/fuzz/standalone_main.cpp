// Replay driver for the router fuzz target in builds without libFuzzer (g++): runs every corpus
// file, then a fixed-seed stream of mutated seed frames (bit flips, truncations, extensions,
// header fields set to edge values, splices, with checksums repaired half the time so the
// mutants get past the IPv4 and UDP checks). Deterministic, a few seconds, a meson test.
//
//   fuzz_router_replay [--iterations=N] [--seed=S] [FILE|DIR...]
//   fuzz_router_replay --write-corpus DIR     (regenerates corpus/router from seeds.cpp)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fuzz_env.hpp"
#include "fuzz_router.hpp"

namespace fs = std::filesystem;
using pgtest::bytes;

namespace {

bytes read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int write_corpus(const fs::path& dir)
{
    fs::create_directories(dir);
    for (const auto& [name, frame] : fuzzenv::seed_frames()) {
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(frame.data()), static_cast<std::streamsize>(frame.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
            return 1;
        }
    }
    std::printf("wrote %zu seed frames to %s\n", fuzzenv::seed_frames().size(), dir.c_str());
    return 0;
}

// Repairs the IPv4 and UDP checksums where the (possibly mutated) lengths allow it.
void fix_checksums(bytes& f)
{
    if (f.size() < pgtest::l2_len + sizeof(rte_ipv4_hdr) || (pgtest::ipv4(f)->version_ihl >> 4) != 4)
        return;
    const unsigned ihl = pgtest::ihl(f);
    if (ihl < sizeof(rte_ipv4_hdr) || pgtest::l2_len + ihl > f.size())
        return;
    pgtest::fix_ip_cksum(f);
    const unsigned tot = rte_be_to_cpu_16(pgtest::ipv4(f)->total_length);
    if (pgtest::ipv4(f)->next_proto_id != IPPROTO_UDP || tot < ihl + sizeof(rte_udp_hdr) ||
        pgtest::l2_len + tot > f.size() || pgtest::udp(f)->dgram_cksum == 0)
        return;
    pgtest::fix_udp_cksum(f);
}

class mutator {
public:
    mutator(uint64_t seed, std::vector<bytes> seeds) : rng_(seed), seeds_(std::move(seeds)) {}

    bytes next()
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r)
            mutate(f);
        if (pick(2))
            fix_checksums(f);
        return f;
    }

private:
    std::size_t pick(std::size_t n) { return n ? rng_() % n : 0; }

    void set16(bytes& f, std::size_t at)
    {
        if (at + 2 > f.size())
            return;
        const uint16_t cur = static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
        const uint16_t edge[] = {0, 1, 0xffff, uint16_t(cur + 1), uint16_t(cur - 1), uint16_t(rng_())};
        const uint16_t v = edge[pick(std::size(edge))];
        f[at] = static_cast<uint8_t>(v >> 8);
        f[at + 1] = static_cast<uint8_t>(v);
    }

    void mutate(bytes& f)
    {
        // Offsets of the 16-bit header fields: ethertype, IPv4 total length / id / fragment /
        // TTL+protocol / checksum, UDP ports / length / checksum.
        static constexpr std::size_t fields[] = {12, 16, 18, 20, 22, 24, 34, 36, 38, 40};
        switch (pick(8)) {
        case 0:
            if (!f.empty())
                f[pick(f.size())] ^= static_cast<uint8_t>(1u << pick(8));
            break;
        case 1:
            if (!f.empty())
                f[pick(f.size())] = static_cast<uint8_t>(rng_());
            break;
        case 2:
            f.resize(pick(f.size() + 1));
            break;
        case 3:
            for (std::size_t k = 1 + pick(64); k > 0; --k)
                f.push_back(static_cast<uint8_t>(rng_()));
            break;
        case 4:
            set16(f, fields[pick(std::size(fields))]);
            break;
        case 5:  // the router packet identifier
            if (f.size() > pgtest::headers_len)
                f[pgtest::headers_len] = static_cast<uint8_t>(pick(2) ? pick(8) : rng_());
            break;
        case 6: {  // splice the tail of another seed
            const bytes& o = seeds_[pick(seeds_.size())];
            const std::size_t at = pick(f.size() + 1), from = pick(o.size() + 1);
            f.resize(at);
            f.insert(f.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
            break;
        }
        default:  // IPv4 version / header length
            if (f.size() > pgtest::l2_len) {
                const uint8_t vi[] = {0x45, 0x46, 0x4f, 0x44, 0x40, 0x65, static_cast<uint8_t>(rng_())};
                f[pgtest::l2_len] = vi[pick(std::size(vi))];
            }
            break;
        }
    }

    std::mt19937_64 rng_;
    std::vector<bytes> seeds_;
};

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = 50000, seed = 0x5eed;
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
    for (auto& [name, frame] : fuzzenv::seed_frames())
        seeds.push_back(frame);
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
    const fuzz_counts& c = fuzz_router_counts();
    const std::string me = fs::path(argv[0]).filename().string();  // fuzz_router_replay or fuzz_lb_replay
    std::printf("%s: %lu corpus files + %lu mutants in %.2f s\n", me.c_str(), static_cast<unsigned long>(replayed),
                static_cast<unsigned long>(iterations), secs);
    std::printf("  outcomes: drop %lu, exception %lu, control %lu (registered %lu), tx %lu (forwarded %lu, answered %lu)\n",
                static_cast<unsigned long>(c.drop), static_cast<unsigned long>(c.exc), static_cast<unsigned long>(c.ctl),
                static_cast<unsigned long>(c.registered), static_cast<unsigned long>(c.tx),
                static_cast<unsigned long>(c.forwarded), static_cast<unsigned long>(c.answered));
    // A run that never reached the deep paths tested nothing there.
    if (!c.drop || !c.exc || !c.registered || !c.forwarded || !c.answered) {
        std::fprintf(stderr, "%s: some outcome was never reached (corpus missing?)\n", me.c_str());
        return 1;
    }
    return 0;
}
