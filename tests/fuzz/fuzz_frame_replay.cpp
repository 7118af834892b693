// Replay hooks (replay.hpp) for the fuzz targets whose input is one Ethernet frame: fuzz_router
// (seeds in seeds.cpp) and fuzz_lb (seeds in fuzz_lb.cpp), both through fuzz_router.hpp's entry
// points. Mutants of the seed frames: bit flips, truncations, extensions, header fields set to
// edge values, splices, with checksums repaired half the time so the mutants get past the IPv4
// and UDP checks.
//
//   fuzz_router_replay --write-corpus DIR     (regenerates corpus/router from seeds.cpp)
//   fuzz_lb_replay --write-corpus DIR         (regenerates corpus/lb from fuzz_lb.cpp)

#include <cstdio>
#include <iterator>

#include "fuzz_env.hpp"
#include "fuzz_router.hpp"
#include "replay.hpp"

using pgtest::bytes;

namespace {

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

class frame_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r)
            mutate(f);
        if (pick(2))
            fix_checksums(f);
        return f;
    }

private:
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
            flip_bit(f);
            break;
        case 1:
            set_byte(f);
            break;
        case 2:
            truncate(f);
            break;
        case 3:
            extend(f, 64);
            break;
        case 4:
            set16(f, fields[pick(std::size(fields))]);
            break;
        case 5:  // the router packet identifier
            if (f.size() > pgtest::headers_len)
                f[pgtest::headers_len] = static_cast<uint8_t>(pick(2) ? pick(8) : rng_());
            break;
        case 6:  // splice the tail of another seed
            splice(f);
            break;
        default:  // IPv4 version / header length
            if (f.size() > pgtest::l2_len) {
                const uint8_t vi[] = {0x45, 0x46, 0x4f, 0x44, 0x40, 0x65, static_cast<uint8_t>(rng_())};
                f[pgtest::l2_len] = vi[pick(std::size(vi))];
            }
            break;
        }
    }
};

fuzz_replay::named_inputs seeds() { return fuzzenv::seed_frames(); }

int check(const char* me)
{
    const fuzz_counts& c = fuzz_router_counts();
    std::printf("  outcomes: drop %lu, exception %lu, control %lu (registered %lu), tx %lu (forwarded %lu, answered %lu)\n",
                static_cast<unsigned long>(c.drop), static_cast<unsigned long>(c.exc), static_cast<unsigned long>(c.ctl),
                static_cast<unsigned long>(c.registered), static_cast<unsigned long>(c.tx),
                static_cast<unsigned long>(c.forwarded), static_cast<unsigned long>(c.answered));
    // A run that never reached the deep paths tested nothing there.
    if (!c.drop || !c.exc || !c.registered || !c.forwarded || !c.answered) {
        std::fprintf(stderr, "%s: some outcome was never reached (corpus missing?)\n", me);
        return 1;
    }
    return 0;
}

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 50000,
    .seed = 0x5eed,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<frame_mutator>,
    .check = check,
};
