// The g++ replay driver for every fuzz target (see replay.hpp): argument parsing, the corpus run,
// the mutation loop and the summary. Deterministic, a few seconds, a meson test per target.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "replay.hpp"

// Weak, as libFuzzer has it: a target without set-up (fuzz_lekt) does not define it.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fs = std::filesystem;
using fuzz_replay::bytes;
using fuzz_replay::replay_target;

namespace {

bytes read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int write_corpus(const fs::path& dir)
{
    fs::create_directories(dir);
    const fuzz_replay::named_inputs s = replay_target.seeds();
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

// The regular files of each path (a directory's in name order), in the order given.
std::vector<fs::path> corpus_files(const std::vector<fs::path>& paths)
{
    std::vector<fs::path> all;
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
        all.insert(all.end(), files.begin(), files.end());
    }
    return all;
}

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = replay_target.iterations, seed = replay_target.seed;
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
    const std::string me = fs::path(argv[0]).filename().string();

    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    const auto t0 = std::chrono::steady_clock::now();

    std::vector<bytes> seeds;
    if (replay_target.builtin_seeds)
        for (auto& [name, input] : replay_target.seeds())
            seeds.push_back(std::move(input));
    uint64_t replayed = 0;
    for (const auto& f : corpus_files(paths)) {
        const bytes d = read_file(f);
        LLVMFuzzerTestOneInput(d.data(), d.size());
        seeds.push_back(d);
        ++replayed;
    }
    if (seeds.empty()) {
        std::fprintf(stderr, "%s: no corpus files\n", me.c_str());
        return 1;
    }

    const auto mut = replay_target.new_mutator(seed, std::move(seeds));
    for (uint64_t i = 0; i < iterations; ++i) {
        const bytes d = mut->next();
        LLVMFuzzerTestOneInput(d.data(), d.size());
    }

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %lu corpus files + %lu mutants in %.2f s\n", me.c_str(), static_cast<unsigned long>(replayed),
                static_cast<unsigned long>(iterations), secs);
    return replay_target.check ? replay_target.check(me.c_str()) : 0;
}
