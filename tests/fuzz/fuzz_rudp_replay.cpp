// Replay hooks (replay.hpp) for the RUDP parser and handshake target: mutants of datagrams of
// every type and flag combination (bit flips, edge bytes, truncations, extensions, splices).
//
//   fuzz_rudp_replay --write-corpus DIR     (regenerates corpus/rudp from the seeds below)

#include <string>

#include "replay.hpp"
#include "rudp/codec.hpp"

using fuzz_replay::bytes;
using namespace peregrine::rudp;

namespace {

bytes datagram(type t, uint8_t flags, const bytes& body, uint8_t frag_id = 0, uint8_t frag_count = 0)
{
    header h;
    h.t = t;
    h.flags = flags;
    h.seq = 0x0102;
    h.frag_id = frag_id;
    h.frag_count = frag_count;
    h.iv = 3;
    h.crc = 0x04050607;
    bytes d(max_header);
    d.resize(write_header(d.data(), &h));
    d.insert(d.end(), body.begin(), body.end());
    return d;
}

fuzz_replay::named_inputs seeds()
{
    bytes key(32);
    for (unsigned i = 0; i < 32; ++i)
        key[i] = uint8_t(9 + i);
    bytes auth = {0, 32};
    auth.insert(auth.end(), key.begin(), key.end());
    auth.push_back(0);
    auth.push_back(0);
    bytes padded = auth;
    padded.resize(max_body, 0);
    return {
        {"auth-padded", datagram(type::auth, flag::reliable, padded)},
        {"auth-short", datagram(type::auth, flag::reliable, auth)},
        {"auth-crc", datagram(type::auth, flag::reliable | flag::checksum, padded)},
        {"finished", datagram(type::ack, 0, bytes(36, 0x11))},
        {"data-all-flags", datagram(type::data, 0xF8, bytes(40, 'd'), 1, 3)},
        {"data-plain", datagram(type::data, 0, {'h', 'i'})},
        {"ack", datagram(type::ack, flag::encrypted, bytes(20, 0))},
        {"ping", datagram(type::heartbeat, flag::checksum, {0, 'p'})},
        {"error", datagram(type::error, 0, {0x22})},
        {"reserved-type", datagram(type(7), 0, {})},
        {"empty", {}},
    };
}

class datagram_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;
    bytes next() override
    {
        static constexpr uint8_t edge[] = {0, 1, 2, 4, 0x08, 0x10, 0x20, 0x40, 0x80, 0xf8, 0xff, 32};
        bytes s = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + unsigned(pick(3)); r < rounds; ++r) {
            switch (pick(5)) {
            case 0: flip_bit(s); break;
            case 1:
                if (!s.empty())
                    s[pick(std::min<size_t>(s.size(), 16))] = edge[pick(sizeof(edge))];
                break;
            case 2: truncate(s); break;
            case 3: extend(s, 64); break;
            case 4: splice(s); break;
            }
        }
        return s;
    }
};

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 50000,
    .seed = 1,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<datagram_mutator>,
    .check = nullptr,
};
