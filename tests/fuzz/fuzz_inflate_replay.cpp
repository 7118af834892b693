// Replay hooks (replay.hpp) for fuzz_inflate: mutants of the corpus files (bit flips, byte
// sets, truncations, appended bytes, splices, a new limit or format byte).
//
//   fuzz_inflate_replay --write-corpus DIR   (regenerates corpus/inflate: streams of every
//                                             format from igzip and from zlib, stored, fixed and
//                                             dynamic Huffman blocks, a zero "bomb")

#include <iterator>
#include <string>

#include <zlib.h>

#include "crypto/deflate.hpp"
#include "replay.hpp"

using fuzz_replay::bytes;
using namespace peregrine::crypto;

namespace {

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

fuzz_replay::named_inputs seeds()
{
    std::string text;
    for (int i = 0; text.size() < 3000; ++i)
        text += "{\"id\":" + std::to_string(i * 7919 % 10007) + ",\"name\":\"peregrine\",\"ok\":true}\n";
    const bytes payloads[] = {bytes(), bytes(text.begin(), text.begin() + 40), bytes(text.begin(), text.end()),
                              bytes(4000, 0)};
    const char* fmt_name[] = {"raw", "zlib", "gzip"};
    fuzz_replay::named_inputs out;
    auto put = [&](const std::string& name, const bytes& hdr, const bytes& body) {
        bytes all = hdr;
        all.insert(all.end(), body.begin(), body.end());
        out.emplace_back(name, std::move(all));
    };
    for (unsigned f = 0; f < 3; ++f) {
        for (unsigned p = 0; p < std::size(payloads); ++p) {
            const bytes& in = payloads[p];
            const uint32_t limit = static_cast<uint32_t>(in.size() + 16);
            auto def = deflater::create(1, static_cast<zformat>(f));
            bytes c(deflater::bound(static_cast<uint32_t>(in.size())));
            const long n = def->compress(in.data(), static_cast<uint32_t>(in.size()), c.data(), static_cast<uint32_t>(c.size()));
            c.resize(n > 0 ? static_cast<size_t>(n) : 0);
            const std::string base = std::string(fmt_name[f]) + "-" + std::to_string(in.size());
            put(base + "-igzip", header(f, p % 4, limit), c);
            put(base + "-zlib-dynamic", header(f, 1, limit), zlib_stream(f, 9, Z_DEFAULT_STRATEGY, in));
            put(base + "-zlib-fixed", header(f, 2, limit), zlib_stream(f, 6, Z_FIXED, in));
            put(base + "-zlib-stored", header(f, 3, limit), zlib_stream(f, 0, Z_DEFAULT_STRATEGY, in));
        }
    }
    // The bomb, with a limit far below its size.
    put("raw-bomb-limited", header(0, 1, 1000), zlib_stream(0, 9, Z_DEFAULT_STRATEGY, bytes(60000, 0)));
    return out;
}

class inflate_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(3); r < rounds; ++r)
            mutate(f);
        return f;
    }

private:
    void mutate(bytes& f)
    {
        switch (pick(7)) {
        case 0:  // past the 3-byte header
            flip_bit(f, 3);
            break;
        case 1:
            set_byte(f, 3);
            break;
        case 2:
            truncate(f);
            break;
        case 3:
            extend(f, 16);
            break;
        case 4:
            splice(f);
            break;
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
};

} // namespace

// No built-in seeds: mutants start from the corpus files (the generated streams and whatever
// libFuzzer added).
const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 20000,
    .seed = 0x5eed,
    .seeds = seeds,
    .builtin_seeds = false,
    .new_mutator = fuzz_replay::make_mutator<inflate_mutator>,
    .check = nullptr,
};
