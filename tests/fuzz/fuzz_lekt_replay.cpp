// Replay driver for the LEKT fuzz target in builds without libFuzzer (g++): runs every corpus
// file, then a fixed-seed stream of mutants of the seeds (bit flips, byte sets to edge values,
// truncations, extensions, splices of two seeds). Deterministic, a few seconds, a meson test.
//
//   fuzz_lekt_replay [--iterations=N] [--seed=S] [FILE|DIR...]
//   fuzz_lekt_replay --write-corpus DIR     (regenerates corpus/lekt from the seeds below)

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lekt/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace fs = std::filesystem;
using namespace peregrine::lekt;

namespace {

std::string hello(std::vector<uint32_t> methods, uint8_t major = version_major, int count = -1)
{
    uint32_t n = 0;
    for (uint32_t k : methods)
        n = std::max(n, k);
    if (count >= 0)
        n = uint32_t(count);
    std::vector<uint32_t> words((n + 31) / 32, 0);
    for (uint32_t k : methods)
        if ((k - 1) / 32 < words.size())
            words[(k - 1) / 32] |= 1u << ((k - 1) % 32);
    std::string s;
    encode_handshake(s, major, n, words.data(), words.size());
    return s;
}

std::string endpoint(uint32_t ip, uint16_t port)
{
    std::string s;
    put_u32(s, ip);
    put_u16(s, port);
    return s;
}

std::string resp(uint32_t k, const std::string& info)
{
    std::string s;
    encode_response(s, k, reinterpret_cast<const uint8_t*>(info.data()), info.size());
    return s;
}

std::string beat(int64_t t)
{
    std::string s;
    encode_heartbeat(s, t);
    return s;
}

std::vector<std::pair<std::string, std::string>> seeds()
{
    const std::string ep = endpoint(0, 5000);
    const std::string all = hello({1, 2, 3, 4}) + resp(1, ep) + resp(2, endpoint(42, 7100)) +
                            resp(3, ep + std::string(16, 's')) + resp(4, ep + std::string(32, 'k'));
    std::string update;
    put_header(update, 'H');
    put_u64(update, 1);
    update += "A";
    update += std::string("\0\0\1", 3);
    put_u32(update, 14);
    put_u32(update, 0xC6120002);
    put_u32(update, 1);
    update += endpoint(0xC6120002, 9);
    return {
        {"join-all-methods-3-beats", all + beat(1) + beat(2) + beat(3)},
        {"join-no-methods", hello({}) + beat(1700000000)},
        {"join-udp", hello({1}) + resp(1, endpoint(0xC6120002, 1)) + beat(-1)},
        {"join-unknown-method", hello({2, 40}) + resp(2, endpoint(7, 7)) + beat(0)},
        {"handshake-only", hello({1, 3})},
        {"half-handshake", hello({1}).substr(0, 10)},
        {"half-heartbeat", hello({}) + beat(5).substr(0, 9)},
        {"garbage-http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
        {"bad-version", hello({1}, 2)},
        {"too-many-methods", hello({}, 1, 5000)},
        {"max-methods", hello({4096})},
        {"bad-bitfield", std::string("LEKTH\x01\0\0\0\0\0\x03\0\0\0\x10", 16)},
        {"wrong-method", hello({1, 2}) + resp(2, endpoint(1, 1))},
        {"port-zero", hello({1}) + resp(1, endpoint(0x0A000001, 0))},
        {"heartbeat-in-setup", hello({1}) + beat(1)},
        {"update-packet", update},
        {"empty", ""},
    };
}

std::string read_file(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void run(const std::string& s) { LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

} // namespace

int main(int argc, char** argv)
{
    uint64_t iterations = 100000, seed = 1;
    std::vector<fs::path> inputs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--write-corpus" && i + 1 < argc) {
            const fs::path dir = argv[++i];
            fs::create_directories(dir);
            for (const auto& [name, data] : seeds()) {
                std::ofstream out(dir / name, std::ios::binary);
                out.write(data.data(), std::streamsize(data.size()));
            }
            std::printf("wrote %zu seeds to %s\n", seeds().size(), dir.c_str());
            return 0;
        }
        if (a.rfind("--iterations=", 0) == 0)
            iterations = std::stoull(a.substr(13));
        else if (a.rfind("--seed=", 0) == 0)
            seed = std::stoull(a.substr(7));
        else
            inputs.push_back(a);
    }
    std::size_t files = 0;
    for (const auto& p : inputs) {
        if (fs::is_directory(p)) {
            for (const auto& e : fs::directory_iterator(p))
                if (e.is_regular_file()) {
                    run(read_file(e.path()));
                    ++files;
                }
        } else {
            run(read_file(p));
            ++files;
        }
    }
    const auto base = seeds();
    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t n) { return n ? std::size_t(rng() % n) : 0; };
    static constexpr uint8_t edge[] = {0, 1, 0x7f, 0x80, 0xff, 'L', 'E', 'K', 'T', 'H', 'T', 'A', 'R'};
    for (uint64_t it = 0; it < iterations; ++it) {
        std::string s = base[pick(base.size())].second;
        for (unsigned r = 0, rounds = 1 + unsigned(pick(4)); r < rounds; ++r) {
            switch (pick(5)) {
            case 0:
                if (!s.empty())
                    s[pick(s.size())] ^= char(1u << pick(8));
                break;
            case 1:
                if (!s.empty())
                    s[pick(s.size())] = char(edge[pick(sizeof(edge))]);
                break;
            case 2:
                s.resize(pick(s.size() + 1));
                break;
            case 3:
                for (std::size_t k = 0, n = pick(64); k < n; ++k)
                    s.push_back(char(rng()));
                break;
            case 4: {
                const std::string& o = base[pick(base.size())].second;
                s = s.substr(0, pick(s.size() + 1)) + o.substr(pick(o.size() + 1));
                break;
            }
            }
        }
        run(s);
    }
    std::printf("fuzz_lekt_replay: %zu corpus files, %llu mutants: no failure\n", files, (unsigned long long)iterations);
    return 0;
}
