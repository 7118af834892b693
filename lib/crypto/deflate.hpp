#pragma once

// Deflate (RFC 1951) compression and decompression of whole buffers through ISA-L igzip's
// stateless entry points, optionally wrapped as zlib (RFC 1950) or gzip (RFC 1952). Output
// interoperates with zlib both ways.
//
// Each object owns the large ISA-L state (deflater: stream + level hash buffer; inflater:
// ~40 KiB of decode tables) allocated once by create(); compress/decompress never allocate.
// Not thread-safe: one per lcore.
//
// Decompression is bounded by the caller's output limit: a small input (deflate expands up to
// ~1032x) can never write past it. Exceeding it is an error, not a truncated result.

#include <cstddef>
#include <cstdint>
#include <memory>

struct isal_zstream;
struct isal_hufftables;
struct inflate_state;

namespace peregrine::crypto {

enum class zformat : uint8_t {
    raw,   // bare deflate stream
    zlib,  // 2-byte header, Adler-32 trailer (checked on inflate)
    gzip,  // 10-byte header, CRC-32 + size trailer (checked on inflate)
};

class deflater {
public:
    // level: ISA-L levels 0..3 (1 is the fast general-purpose one; 0 is mostly-Huffman with
    // small matches). nullptr if level is out of range or allocation fails.
    static std::unique_ptr<deflater> create(unsigned level = 1, zformat fmt = zformat::raw);

    // Level 0 with Huffman codes trained on `sample` (ISA-L's semi-static mode: the histogram
    // of a representative payload, isal_create_hufftables) instead of ISA-L's generic ones.
    // Level-0 speed with close to level-1 ratio on payloads like the sample (measured in
    // docs/performance-history.md), where level 1 spends microseconds per call building a dynamic code.
    // Every literal still gets a code: any input compresses, merely worse if unlike the
    // sample. The code travels in each stream's block header: any inflater decodes it.
    static std::unique_ptr<deflater> create_trained(const uint8_t* sample, size_t sample_len,
                                                    zformat fmt = zformat::raw);
    ~deflater();

    // Compresses in[0..in_len) into out[0..out_cap). Returns the compressed size, or -1 if it
    // does not fit (out_cap >= bound(in_len) always fits).
    long compress(const uint8_t* in, uint32_t in_len, uint8_t* out, uint32_t out_cap);

    // Worst case output size: incompressible input falls back to stored blocks (5 bytes per
    // 64 KiB block) plus the wrapper's header and trailer and a final empty block.
    static uint32_t bound(uint32_t in_len);

private:
    deflater(unsigned level, zformat fmt);
    std::unique_ptr<isal_zstream> stream_;
    std::unique_ptr<uint8_t[]> level_buf_;
    std::unique_ptr<isal_hufftables> tables_;  // trained codes, or null for ISA-L's defaults
    uint32_t level_buf_size_;
    unsigned level_;
    zformat fmt_;
};

enum class inflate_status : uint8_t {
    ok,
    too_large,     // the output would exceed out_limit (nothing beyond out_limit was written)
    truncated,     // input ended before the final block (or the wrapper's trailer)
    corrupt,       // invalid block, symbol, distance, header, or a preset dictionary (unsupported)
    bad_checksum,  // zlib/gzip trailer does not match the data
    trailing_data, // bytes left after the end of the stream
};
const char* inflate_status_name(inflate_status s);

struct inflate_result {
    inflate_status status;
    uint32_t out_len;  // bytes of out written when status == ok (else meaningless)
};

class inflater {
public:
    static std::unique_ptr<inflater> create(zformat fmt = zformat::raw);
    ~inflater();

    // Decompresses all of in[0..in_len) into out[0..out_limit).
    inflate_result decompress(const uint8_t* in, uint32_t in_len, uint8_t* out, uint32_t out_limit);

private:
    explicit inflater(zformat fmt);
    std::unique_ptr<inflate_state> state_;
    zformat fmt_;
};

} // namespace peregrine::crypto
