// The machine's floor for a cold registry: what one random cache-line miss costs, alone and with
// the burst's misses overlapped. docs/performance-history.md ("The DRAM floor") uses it to say how far a
// registry lookup at 10M clients can go on this machine.
//
//   BM_chase        dependent loads (pointer chase through a random cycle): DRAM latency
//   BM_batch/B      B independent random lines per iteration, all prefetched, then all read
//                   (what a two-stage lookup of a burst does): ns per line
//   BM_batch_rmw/B  the same, and each line is also written (a Heartbeat's stamp)
//   BM_stream/D     a continuous stream of random lines, prefetched D lines ahead: the
//                   throughput bound for random lines
//
// The buffer (--mib=N, default 512, larger than any cache) is mapped with 2 MiB hugepages when
// the kernel has free ones (MAP_HUGETLB), else with 4 KiB pages; the JSON context says which.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/mman.h>

namespace {

std::size_t g_bytes = std::size_t(512) << 20;
uint64_t* g_buf = nullptr;
std::size_t g_lines = 0;
constexpr std::size_t words_per_line = 8;

uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::size_t random_line(uint64_t& s) { return (mix(s += 0x9e3779b97f4a7c15ull) % g_lines) * words_per_line; }

void BM_chase(benchmark::State& state)
{
    // A random cyclic permutation over 2^22 lines of the buffer: every load depends on the last.
    const std::size_t n = g_lines < (1u << 22) ? g_lines : (1u << 22);
    std::vector<uint32_t> order(g_lines);
    for (std::size_t i = 0; i < g_lines; ++i)
        order[i] = static_cast<uint32_t>(i);
    uint64_t s = 1;
    for (std::size_t i = g_lines - 1; i > 0; --i)
        std::swap(order[i], order[mix(s += 0x9e3779b97f4a7c15ull) % (i + 1)]);
    for (std::size_t i = 0; i < n; ++i)
        g_buf[order[i] * words_per_line] = order[(i + 1) % n] * words_per_line;
    uint64_t x = order[0] * words_per_line;
    for (auto _ : state)
        x = g_buf[x];
    benchmark::DoNotOptimize(x);
    state.counters["ns_per_line"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

template <bool write>
void batch(benchmark::State& state)
{
    const unsigned b = static_cast<unsigned>(state.range(0));
    uint64_t s = 7, sum = 0;
    std::size_t idx[64];
    for (auto _ : state) {
        for (unsigned k = 0; k < b; ++k) {
            idx[k] = random_line(s);
            __builtin_prefetch(&g_buf[idx[k]], 0, 3);
        }
        for (unsigned k = 0; k < b; ++k) {
            sum += g_buf[idx[k] + 1];
            if (write)
                g_buf[idx[k] + 2] = sum;
        }
    }
    benchmark::DoNotOptimize(sum);
    state.counters["ns_per_line"] = benchmark::Counter(b, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
void BM_batch(benchmark::State& state) { batch<false>(state); }
void BM_batch_rmw(benchmark::State& state) { batch<true>(state); }

void BM_stream(benchmark::State& state)
{
    const unsigned d = static_cast<unsigned>(state.range(0));
    constexpr std::size_t ring = 4096;  // precomputed random lines, reused
    std::vector<std::size_t> idx(ring);
    uint64_t s = 9;
    for (auto& i : idx)
        i = random_line(s);
    uint64_t sum = 0;
    std::size_t i = 0;
    for (auto _ : state) {
        __builtin_prefetch(&g_buf[idx[(i + d) % ring]], 0, 3);
        sum += g_buf[idx[i % ring] + 1];
        ++i;
        if (i % ring == 0)  // fresh lines for the next lap, so nothing stays cached
            for (auto& j : idx)
                j = random_line(s);
    }
    benchmark::DoNotOptimize(sum);
    state.counters["ns_per_line"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_chase);
BENCHMARK(BM_batch)->Arg(8)->Arg(16)->Arg(32)->Arg(64);
BENCHMARK(BM_batch_rmw)->Arg(32);
BENCHMARK(BM_stream)->Arg(0)->Arg(16)->Arg(32);

} // namespace

int main(int argc, char** argv)
{
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--mib=", 6) == 0)
            g_bytes = std::size_t(std::stoul(argv[i] + 6)) << 20;
        else
            rest.push_back(argv[i]);
    }
    bool huge = true;
    void* p = mmap(nullptr, g_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
        huge = false;
        p = mmap(nullptr, g_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            std::perror("bench_memory: mmap");
            return 1;
        }
    }
    std::memset(p, 1, g_bytes);
    g_buf = static_cast<uint64_t*>(p);
    g_lines = g_bytes / 64;
    std::fprintf(stderr, "bench_memory: %zu MiB, %s\n", g_bytes >> 20, huge ? "2 MiB hugepages" : "4 KiB pages");
    benchmark::AddCustomContext("buffer", std::to_string(g_bytes >> 20) + " MiB, " + (huge ? "2 MiB hugepages" : "4 KiB pages"));

    int rargc = static_cast<int>(rest.size());
    benchmark::Initialize(&rargc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(rargc, rest.data()))
        return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    munmap(p, g_bytes);
    return 0;
}
