#pragma once

// The standard CRC-32 (IEEE 802.3, zlib, gzip, PNG: reflected polynomial 0x04C11DB7, initial
// value and final XOR 0xFFFFFFFF; check value 0xCBF43926 for "123456789") through ISA-L's
// folding kernels (PCLMULQDQ / VPCLMULQDQ). Same values and chaining as zlib's crc32():
// crc32(b, lb, crc32(a, la)) == crc32(a||b).

#include <cstddef>
#include <cstdint>

#include <isa-l/crc.h>

namespace peregrine::crypto {

inline uint32_t crc32(const uint8_t* data, size_t len, uint32_t prev = 0)
{
    static const uint8_t none = 0;
    return crc32_gzip_refl(prev, data != nullptr ? data : &none, len);
}

// out[i] = crc32(data[i], len[i]). Stateless and thread-safe (no context needed).
inline void crc32_burst(const uint8_t* const* data, const uint32_t* len, unsigned n, uint32_t* out)
{
    for (unsigned i = 0; i < n; ++i)
        out[i] = crc32(data[i], len[i]);
}

} // namespace peregrine::crypto
