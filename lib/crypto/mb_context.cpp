#include "crypto/mb_context.hpp"

#include <cstring>
#include <new>

namespace peregrine::crypto {

std::unique_ptr<mb_context> mb_context::create()
{
    return create(arch::automatic);
}

std::unique_ptr<mb_context> mb_context::create(arch a)
{
    IMB_MGR* m = alloc_mb_mgr(0);
    if (m == nullptr)
        return nullptr;
    arch used = a;
    switch (a) {
    case arch::automatic: {
        IMB_ARCH got = IMB_ARCH_NONE;
        init_mb_mgr_auto(m, &got);
        switch (got) {
        case IMB_ARCH_SSE: used = arch::sse; break;
        case IMB_ARCH_AVX: used = arch::avx; break;
        case IMB_ARCH_AVX2: used = arch::avx2; break;
        case IMB_ARCH_AVX512: used = arch::avx512; break;
        default: used = arch::automatic; break;  // NOAESNI: no x86 path we support
        }
        break;
    }
    case arch::sse:
        if ((m->features & IMB_CPUFLAGS_SSE) != IMB_CPUFLAGS_SSE)
            used = arch::automatic;
        else
            init_mb_mgr_sse(m);
        break;
    case arch::avx:
        if ((m->features & IMB_CPUFLAGS_AVX) != IMB_CPUFLAGS_AVX)
            used = arch::automatic;
        else
            init_mb_mgr_avx(m);
        break;
    case arch::avx2:
        if ((m->features & IMB_CPUFLAGS_AVX2) != IMB_CPUFLAGS_AVX2)
            used = arch::automatic;
        else
            init_mb_mgr_avx2(m);
        break;
    case arch::avx512:
        if ((m->features & IMB_CPUFLAGS_AVX512) != IMB_CPUFLAGS_AVX512)
            used = arch::automatic;
        else
            init_mb_mgr_avx512(m);
        break;
    }
    if (used == arch::automatic || imb_get_errno(m) != 0) {
        free_mb_mgr(m);
        return nullptr;
    }
    try {
        return std::unique_ptr<mb_context>(new mb_context(m, used));
    } catch (const std::bad_alloc&) {
        free_mb_mgr(m);
        return nullptr;
    }
}

mb_context::mb_context(IMB_MGR* m, arch a)
    : mgr_(m), arch_(a), jobs_(new IMB_JOB[max_chunk])
{
    std::memset(jobs_.get(), 0, sizeof(IMB_JOB) * max_chunk);
}

mb_context::~mb_context()
{
    free_mb_mgr(mgr_);
}

const char* mb_context::arch_name(arch a)
{
    switch (a) {
    case arch::automatic: return "auto";
    case arch::sse: return "sse";
    case arch::avx: return "avx";
    case arch::avx2: return "avx2";
    case arch::avx512: return "avx512";
    }
    return "?";
}

} // namespace peregrine::crypto
