// Replay hooks (replay.hpp) for the cluster member: record sequences (fuzz_cluster.cpp) built
// from the protocol's messages, mutated by bytes and by records inserted, dropped and repeated.
//
//   fuzz_cluster_replay --write-corpus DIR     (regenerates corpus/cluster)

#include "lb/codec.hpp"
#include "replay.hpp"

using fuzz_replay::bytes;
using namespace peregrine;

namespace {

void datagram(bytes& f, const bytes& d)
{
    f.push_back(0);
    f.push_back(static_cast<uint8_t>(d.size()));
    f.insert(f.end(), d.begin(), d.end());
}

void reg(bytes& f, uint8_t kind, uint32_t id)
{
    f.push_back(kind);
    uint8_t b[4];
    lb::wr32(b, id);
    f.insert(f.end(), b, b + 4);
}

void wait(bytes& f, uint16_t ms)
{
    f.push_back(3);
    f.push_back(static_cast<uint8_t>(ms >> 8));
    f.push_back(static_cast<uint8_t>(ms));
}

bytes ack(uint16_t req) { return {3, uint8_t(req >> 8), uint8_t(req)}; }

bytes nodes(uint16_t req, unsigned n)
{
    bytes d = {9, uint8_t(req >> 8), uint8_t(req)};
    for (unsigned k = 0; k < n; ++k) {
        d.resize(d.size() + 6);
        lb::wr_ep(d.data() + d.size() - 6, {0x0205a8c0 + (k << 24), 0x9c1b});  // k = 0 is the node itself
    }
    return d;
}

fuzz_replay::named_inputs seeds()
{
    fuzz_replay::named_inputs out;
    {
        bytes f;
        wait(f, 1);
        datagram(f, ack(0xfff0));  // the first Register's Ack
        datagram(f, {9, 0, 1});    // the probe
        datagram(f, nodes(2, 4));
        bytes rm = {10, 0, 3, 0, 0, 0, 0, 0, 0};
        lb::wr_ep(rm.data() + 3, {0x0205a8c0 + (2u << 24), 0x9c1b});
        datagram(f, rm);
        datagram(f, {2, 0, 4, 0, 1, 0, 3});
        out.push_back({"register-and-peers", f});
    }
    {
        bytes f;
        reg(f, 1, 7);
        reg(f, 1, 8);
        reg(f, 2, 7);
        wait(f, 1);
        datagram(f, ack(0xfff0));
        wait(f, 10);
        datagram(f, ack(0xfff1));
        wait(f, 1000);
        wait(f, 1000);
        wait(f, 1000);
        for (uint32_t id = 0; id < 40; ++id)
            reg(f, 1, id);
        wait(f, 60000);
        out.push_back({"reports-and-retries", f});
    }
    {
        bytes f;
        for (int k = 0; k < 4; ++k)
            wait(f, 1000);
        wait(f, 5000);
        datagram(f, {9, 0, 9, 1, 2, 3, 4, 5});
        datagram(f, {10, 0, 1});
        datagram(f, {4, 0, 1});
        datagram(f, {});
        out.push_back({"unreachable-and-bad", f});
    }
    return out;
}

class cluster_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r) {
            switch (pick(6)) {
            case 0:
                flip_bit(f);
                break;
            case 1:
                set_byte(f);
                break;
            case 2:
                truncate(f);
                break;
            case 3:
                splice(f);
                break;
            case 4: {  // a datagram of a random type and length
                bytes d(pick(24));
                for (auto& b : d)
                    b = static_cast<uint8_t>(pick(256));
                if (!d.empty())
                    d[0] = static_cast<uint8_t>(pick(12));
                bytes g;
                datagram(g, d);
                f.insert(f.begin() + static_cast<std::ptrdiff_t>(pick(f.size() + 1)), g.begin(), g.end());
                break;
            }
            default:
                extend(f, 8);
                break;
            }
        }
        return f;
    }
};

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 200000,
    .seed = 0xc105,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<cluster_mutator>,
    .check = nullptr,
};
