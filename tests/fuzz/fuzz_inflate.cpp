// libFuzzer target for the igzip inflater (lib/crypto/deflate): decompressing untrusted input
// with an output limit. Input layout:
//   byte 0      bits 0-1: format (0 raw, 1 zlib, 2 gzip, 3 raw); bits 2-3: deflater level for
//               the round trip below
//   bytes 1-2   output limit, little endian (0..65535)
//   bytes 3..   the compressed stream
// The output buffer is a heap block of exactly `limit` bytes, so ASan catches any write past the
// limit. Checks (a failed one aborts): a result of ok never exceeds the limit; decompressing
// again gives the same result (no state leaks between calls); an ok output round-trips through
// the deflater and back, and one byte less of limit turns it into too_large.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto/deflate.hpp"
#include "fuzz_check.hpp"

using namespace peregrine::crypto;

namespace {

struct state {
    std::unique_ptr<inflater> inf[3];
    std::unique_ptr<deflater> def[3][4];
};
state* S = nullptr;

// An exact-size heap block (null for 0 bytes, which the inflater must accept).
std::unique_ptr<uint8_t[]> block(size_t n)
{
    return n ? std::make_unique<uint8_t[]>(n) : nullptr;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    S = new state;
    for (unsigned f = 0; f < 3; ++f) {
        S->inf[f] = inflater::create(static_cast<zformat>(f));
        FUZZ_CHECK(S->inf[f]);
        for (unsigned l = 0; l < 4; ++l) {
            S->def[f][l] = deflater::create(l, static_cast<zformat>(f));
            FUZZ_CHECK(S->def[f][l]);
        }
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 3)
        return 0;
    const unsigned f = (data[0] & 3) == 3 ? 0 : data[0] & 3;
    const unsigned level = (data[0] >> 2) & 3;
    const uint32_t limit = data[1] | uint32_t(data[2]) << 8;
    // The stream from an exact-size copy, so an over-read is caught too.
    const size_t in_len = size - 3;
    auto in = block(in_len);
    if (in_len)
        std::memcpy(in.get(), data + 3, in_len);

    inflater& inf = *S->inf[f];
    auto out = block(limit);
    const inflate_result r = inf.decompress(in.get(), static_cast<uint32_t>(in_len), out.get(), limit);
    if (r.status != inflate_status::ok) {
        const inflate_result again = inf.decompress(in.get(), static_cast<uint32_t>(in_len), out.get(), limit);
        FUZZ_CHECK(again.status == r.status);
        return 0;
    }
    FUZZ_CHECK(r.out_len <= limit);

    auto out2 = block(r.out_len);
    const inflate_result exact = inf.decompress(in.get(), static_cast<uint32_t>(in_len), out2.get(), r.out_len);
    FUZZ_CHECK(exact.status == inflate_status::ok && exact.out_len == r.out_len);
    FUZZ_CHECK(r.out_len == 0 || std::memcmp(out.get(), out2.get(), r.out_len) == 0);
    if (r.out_len > 0) {
        auto small = block(r.out_len - 1);
        const inflate_result less =
            inf.decompress(in.get(), static_cast<uint32_t>(in_len), small.get(), r.out_len - 1);
        FUZZ_CHECK(less.status == inflate_status::too_large);
    }

    // Round trip through our own deflater.
    const uint32_t cap = deflater::bound(r.out_len);
    auto comp = block(cap);
    const long clen = S->def[f][level]->compress(out.get(), r.out_len, comp.get(), cap);
    FUZZ_CHECK(clen > 0 && static_cast<uint32_t>(clen) <= cap);
    auto back = block(r.out_len);
    const inflate_result rt = inf.decompress(comp.get(), static_cast<uint32_t>(clen), back.get(), r.out_len);
    FUZZ_CHECK(rt.status == inflate_status::ok && rt.out_len == r.out_len);
    FUZZ_CHECK(r.out_len == 0 || std::memcmp(out.get(), back.get(), r.out_len) == 0);
    return 0;
}
