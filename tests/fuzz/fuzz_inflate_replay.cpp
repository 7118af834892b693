// Replay driver for fuzz_inflate in builds without libFuzzer (g++): runs every corpus file, then a
// fixed-seed stream of mutants of them (bit flips, byte sets, truncations, appended bytes,
// splices, a new limit or format byte). Deterministic, a few seconds, a meson test.
//
//   fuzz_inflate_replay [--iterations=N] [--seed=S] [FILE|DIR...]
//   fuzz_inflate_replay --write-corpus DIR   (regenerates corpus/inflate: streams of every
//                                             format from igzip and from zlib, stored, fixed and
//                                             dynamic Huffman blocks, a zero "bomb")

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

#include <zlib.h>

#include "crypto/deflate.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;
using bytes = std::vector<uint8_t>;
using namespace peregrine::crypto;

namespace {

bytes read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bytes header(unsigned fmt, unsigned level, uint32_t limit)
{
    return {static_cast<uint8_t>(fmt | level << 2), static_cast<uint8_t>(limit), static_cast<uint8_t>(limit >> 8)};
}

bytes zlib_stream(unsigned fmt, int level, int strategy, const bytes& in)
{
    z_stream z{};
    deflateInit2(&z, level, Z_DEFLATED, fmt == 0 ? -15 : fmt == 1 ? 15 : 31, 8, strategy);
    bytes out(deflateBound(&z, in.size()));
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

int write_corpus(const fs::path& dir)
{
    fs::create_directories(dir);
    std::string text;
    for (int i = 0; text.size() < 3000; ++i)
        text += "{\"id\":" + std::to_string(i * 7919 % 10007) + ",\"name\":\"peregrine\",\"ok\":true}\n";
    const bytes payloads[] = {bytes(), bytes(text.begin(), text.begin() + 40), bytes(text.begin(), text.end()),
                              bytes(4000, 0)};
    const char* fmt_name[] = {"raw", "zlib", "gzip"};
    unsigned written = 0;
    auto put = [&](const std::string& name, const bytes& hdr, const bytes& body) {
        bytes all = hdr;
        all.insert(all.end(), body.begin(), body.end());
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size()));
        ++written;
        return static_cast<bool>(out);
    };
    bool ok = true;
    for (unsigned f = 0; f < 3; ++f) {
        for (unsigned p = 0; p < std::size(payloads); ++p) {
            const bytes& in = payloads[p];
            const uint32_t limit = static_cast<uint32_t>(in.size() + 16);
            auto def = deflater::create(1, static_cast<zformat>(f));
            bytes c(deflater::bound(static_cast<uint32_t>(in.size())));
            const long n = def->compress(in.data(), static_cast<uint32_t>(in.size()), c.data(), static_cast<uint32_t>(c.size()));
            c.resize(n > 0 ? static_cast<size_t>(n) : 0);
            const std::string base = std::string(fmt_name[f]) + "-" + std::to_string(in.size());
            ok &= put(base + "-igzip", header(f, p % 4, limit), c);
            ok &= put(base + "-zlib-dynamic", header(f, 1, limit), zlib_stream(f, 9, Z_DEFAULT_STRATEGY, in));
            ok &= put(base + "-zlib-fixed", header(f, 2, limit), zlib_stream(f, 6, Z_FIXED, in));
            ok &= put(base + "-zlib-stored", header(f, 3, limit), zlib_stream(f, 0, Z_DEFAULT_STRATEGY, in));
        }
    }
    // The bomb, with a limit far below its size.
    ok &= put("raw-bomb-limited", header(0, 1, 1000), zlib_stream(0, 9, Z_DEFAULT_STRATEGY, bytes(60000, 0)));
    if (!ok) {
        std::fprintf(stderr, "cannot write the corpus to %s\n", dir.c_str());
        return 1;
    }
    std::printf("wrote %u seeds to %s\n", written, dir.c_str());
    return 0;
}

class mutator {
public:
    mutator(uint64_t seed, std::vector<bytes> seeds) : rng_(seed), seeds_(std::move(seeds)) {}

    bytes next()
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(3); r < rounds; ++r)
            mutate(f);
        return f;
    }

private:
    size_t pick(size_t n) { return n ? rng_() % n : 0; }

    void mutate(bytes& f)
    {
        switch (pick(7)) {
        case 0:
            if (f.size() > 3)
                f[3 + pick(f.size() - 3)] ^= static_cast<uint8_t>(1u << pick(8));
            break;
        case 1:
            if (f.size() > 3)
                f[3 + pick(f.size() - 3)] = static_cast<uint8_t>(rng_());
            break;
        case 2:
            f.resize(pick(f.size() + 1));
            break;
        case 3:
            for (size_t k = 1 + pick(16); k > 0; --k)
                f.push_back(static_cast<uint8_t>(rng_()));
            break;
        case 4: {
            const bytes& o = seeds_[pick(seeds_.size())];
            const size_t at = pick(f.size() + 1), from = pick(o.size() + 1);
            f.resize(at);
            f.insert(f.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
            break;
        }
        case 5:  // new limit
            if (f.size() >= 3) {
                f[1] = static_cast<uint8_t>(rng_());
                f[2] = static_cast<uint8_t>(pick(4) ? rng_() : 0);
            }
            break;
        default:  // format / level byte
            if (!f.empty())
                f[0] = static_cast<uint8_t>(rng_());
            break;
        }
    }

    std::mt19937_64 rng_;
    std::vector<bytes> seeds_;
};

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = 20000, seed = 0x5eed;
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
        }
    }
    if (seeds.empty()) {
        std::fprintf(stderr, "fuzz_inflate_replay: no corpus\n");
        return 1;
    }
    mutator mut(seed, seeds);
    for (uint64_t i = 0; i < iterations; ++i) {
        const bytes d = mut.next();
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("fuzz_inflate_replay: %zu corpus files + %lu mutants in %.2f s\n", seeds.size(),
                static_cast<unsigned long>(iterations), secs);
    return 0;
}
