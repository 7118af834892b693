// Replay hooks (replay.hpp) for the LEKT fuzz target: mutants of the seeds and corpus files
// (bit flips, byte sets to edge values, truncations, extensions, splices of two inputs).
//
//   fuzz_lekt_replay --write-corpus DIR     (regenerates corpus/lekt from the seeds below)

#include <algorithm>
#include <string>
#include <utility>

#include "lekt/codec.hpp"
#include "replay.hpp"

using fuzz_replay::bytes;
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

std::vector<std::pair<std::string, std::string>> text_seeds()
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

fuzz_replay::named_inputs seeds()
{
    fuzz_replay::named_inputs out;
    for (const auto& [name, s] : text_seeds())
        out.emplace_back(name, bytes(s.begin(), s.end()));
    return out;
}

class stream_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        static constexpr uint8_t edge[] = {0, 1, 0x7f, 0x80, 0xff, 'L', 'E', 'K', 'T', 'H', 'T', 'A', 'R'};
        bytes s = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + unsigned(pick(4)); r < rounds; ++r) {
            switch (pick(5)) {
            case 0:
                flip_bit(s);
                break;
            case 1:
                if (!s.empty())
                    s[pick(s.size())] = edge[pick(sizeof(edge))];
                break;
            case 2:
                truncate(s);
                break;
            case 3:
                for (std::size_t k = 0, n = pick(64); k < n; ++k)
                    s.push_back(uint8_t(rng_()));
                break;
            case 4:
                splice(s);
                break;
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
    .new_mutator = fuzz_replay::make_mutator<stream_mutator>,
    .check = nullptr,
};
