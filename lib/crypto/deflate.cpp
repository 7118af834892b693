#include "crypto/deflate.hpp"

#include <cstring>
#include <new>

#include <isa-l/igzip_lib.h>

namespace peregrine::crypto {

namespace {

uint16_t deflate_wrapper(zformat f)
{
    switch (f) {
    case zformat::raw: return IGZIP_DEFLATE;
    case zformat::zlib: return IGZIP_ZLIB;
    case zformat::gzip: return IGZIP_GZIP;
    }
    return IGZIP_DEFLATE;
}

uint32_t inflate_wrapper(zformat f)
{
    switch (f) {
    case zformat::raw: return ISAL_DEFLATE;
    case zformat::zlib: return ISAL_ZLIB;
    case zformat::gzip: return ISAL_GZIP;
    }
    return ISAL_DEFLATE;
}

// Level buffers: the "SMALL" size (16 Ki tokens) of each level. Our inputs are packets and
// messages, not files; the hash table ISA-L clears per stateless call grows with this buffer,
// so the large default would cost more per call than it could gain.
uint32_t level_buf_size(unsigned level)
{
    switch (level) {
    case 0: return ISAL_DEF_LVL0_SMALL;
    case 1: return ISAL_DEF_LVL1_SMALL;
    case 2: return ISAL_DEF_LVL2_SMALL;
    case 3: return ISAL_DEF_LVL3_SMALL;
    }
    return 0;
}

} // namespace

// ---- deflater -------------------------------------------------------------------------------

std::unique_ptr<deflater> deflater::create(unsigned level, zformat fmt)
{
    if (level > ISAL_DEF_MAX_LEVEL)
        return nullptr;
    try {
        return std::unique_ptr<deflater>(new deflater(level, fmt));
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

std::unique_ptr<deflater> deflater::create_trained(const uint8_t* sample, size_t sample_len,
                                                  zformat fmt)
{
    if (sample == nullptr || sample_len == 0 || sample_len > INT32_MAX)
        return nullptr;
    try {
        std::unique_ptr<deflater> d(new deflater(0, fmt));
        auto hist = std::make_unique<isal_huff_histogram>();
        std::memset(hist.get(), 0, sizeof *hist);
        isal_update_histogram(const_cast<uint8_t*>(sample), static_cast<int>(sample_len), hist.get());
        d->tables_ = std::make_unique<isal_hufftables>();
        if (isal_create_hufftables(d->tables_.get(), hist.get()) != 0)
            return nullptr;
        return d;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

deflater::deflater(unsigned level, zformat fmt)
    : stream_(new isal_zstream), level_buf_size_(level_buf_size(level)), level_(level), fmt_(fmt)
{
    if (level_buf_size_ != 0)
        level_buf_.reset(new uint8_t[level_buf_size_]);
}

deflater::~deflater() = default;

uint32_t deflater::bound(uint32_t in_len)
{
    // Stored blocks: 5 bytes per 65535 input bytes (at least one block); gzip wrapper 18,
    // zlib 6; a few bytes of slack for the final block's bit padding.
    const uint64_t blocks = in_len / 65535 + 1;
    const uint64_t b = uint64_t(in_len) + 5 * blocks + 18 + 8;
    return b > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(b);
}

long deflater::compress(const uint8_t* in, uint32_t in_len, uint8_t* out, uint32_t out_cap)
{
    static uint8_t none = 0;
    isal_zstream& s = *stream_;
    isal_deflate_stateless_init(&s);
    s.next_in = const_cast<uint8_t*>(in != nullptr ? in : &none);  // ISA-L only reads it
    s.avail_in = in_len;
    s.next_out = out != nullptr ? out : &none;
    s.avail_out = out != nullptr ? out_cap : 0;
    s.level = level_;
    s.level_buf = level_buf_.get();
    s.level_buf_size = level_buf_size_;
    if (tables_)
        s.hufftables = tables_.get();  // else the default isal_deflate_stateless_init set
    s.end_of_stream = 1;
    s.flush = NO_FLUSH;
    s.gzip_flag = deflate_wrapper(fmt_);
    if (isal_deflate_stateless(&s) != COMP_OK || s.avail_in != 0)
        return -1;
    return static_cast<long>(s.total_out);
}

// ---- inflater -------------------------------------------------------------------------------

const char* inflate_status_name(inflate_status s)
{
    switch (s) {
    case inflate_status::ok: return "ok";
    case inflate_status::too_large: return "too_large";
    case inflate_status::truncated: return "truncated";
    case inflate_status::corrupt: return "corrupt";
    case inflate_status::bad_checksum: return "bad_checksum";
    case inflate_status::trailing_data: return "trailing_data";
    }
    return "?";
}

std::unique_ptr<inflater> inflater::create(zformat fmt)
{
    try {
        return std::unique_ptr<inflater>(new inflater(fmt));
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

inflater::inflater(zformat fmt) : state_(new inflate_state), fmt_(fmt) {}

inflater::~inflater() = default;

inflate_result inflater::decompress(const uint8_t* in, uint32_t in_len, uint8_t* out,
                                    uint32_t out_limit)
{
    static uint8_t none = 0;
    // RFC 1952 2.3.1.2: a decompressor must reject a gzip header with reserved FLG bits set;
    // ISA-L ignores them.
    static constexpr uint8_t gzip_flg_reserved = 0xe0;
    if (fmt_ == zformat::gzip && in_len > 3 && (in[3] & gzip_flg_reserved) != 0)
        return {inflate_status::corrupt, 0};
    inflate_state& st = *state_;
    isal_inflate_init(&st);
    st.next_in = const_cast<uint8_t*>(in != nullptr ? in : &none);  // ISA-L only reads it
    st.avail_in = in_len;
    st.next_out = out != nullptr ? out : &none;
    st.avail_out = out != nullptr ? out_limit : 0;
    st.crc_flag = inflate_wrapper(fmt_);
    const int r = isal_inflate_stateless(&st);
    switch (r) {
    case ISAL_DECOMP_OK:
        break;
    case ISAL_OUT_OVERFLOW:
        return {inflate_status::too_large, 0};
    case ISAL_END_INPUT:
        return {inflate_status::truncated, 0};
    case ISAL_INCORRECT_CHECKSUM:
        return {inflate_status::bad_checksum, 0};
    default:  // invalid block/symbol/lookback/wrapper, unsupported method, needs a dictionary
        return {inflate_status::corrupt, 0};
    }
    // Whole bytes the decoder took but did not use (it reads ahead up to 8 bytes into read_in)
    // plus bytes it never took: anything left is not part of the stream.
    if (st.avail_in + static_cast<uint32_t>(st.read_in_length / 8) != 0)
        return {inflate_status::trailing_data, 0};
    return {inflate_status::ok, st.total_out};
}

} // namespace peregrine::crypto
