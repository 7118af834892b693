#pragma once

// Per-lcore IPsec-MB state. Every accelerator call that goes through Intel's Multi-Buffer
// library takes one of these: the IMB_MGR holds the job ring, the out-of-order lane managers
// (SHA-256 x16 on AVX-512, ...) and the function pointers chosen for this CPU, so it must never
// be shared between threads. Create it off the hot path (it allocates); using it never does.

// IPsec-MB <= 1.x defines compatibility macros (SHA1, SHA256, AES_128_BYTES, ...) that collide
// with OpenSSL's functions and with ordinary identifiers: opt out before including.
#ifndef NO_COMPAT_IMB_API_053
#define NO_COMPAT_IMB_API_053
#endif
#include <intel-ipsec-mb.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace peregrine::crypto {

class mb_context {
public:
    // Which IPsec-MB code path to use. automatic = init_mb_mgr_auto (the widest the CPU has;
    // measured best on AVX-512 + SHA-NI hosts, see docs/performance-history.md). The explicit ones exist
    // for benchmarks and tests.
    enum class arch { automatic, sse, avx, avx2, avx512 };

    // Jobs one hash-burst call hands IPsec-MB at most (IMB_MAX_BURST_SIZE); longer bursts are
    // split. Also sizes the per-context job scratch.
    static constexpr unsigned max_chunk = IMB_MAX_BURST_SIZE;

    // nullptr if allocation fails or the CPU lacks the requested arch.
    static std::unique_ptr<mb_context> create();
    static std::unique_ptr<mb_context> create(arch a);
    ~mb_context();

    mb_context(const mb_context&) = delete;
    mb_context& operator=(const mb_context&) = delete;

    IMB_MGR* mgr() { return mgr_; }
    arch used_arch() const { return arch_; }
    static const char* arch_name(arch a);

    // Digests that could not be computed and were zeroed instead: HMAC inputs longer than
    // mb_max_len (a caller bug: see hmac_sha256_burst), and jobs IPsec-MB finished with an error
    // status (never expected: every job is built valid; counted so a surprise is visible).
    uint64_t job_errors() const { return job_errors_; }

    // Scratch for the burst APIs (IMB_SUBMIT_HASH_BURST takes a caller-owned job array).
    // Internal; preallocated so calls never allocate.
    IMB_JOB* job_scratch() { return jobs_.get(); }
    void count_job_error() { ++job_errors_; }

private:
    mb_context(IMB_MGR* m, arch a);

    IMB_MGR* mgr_;
    arch arch_;
    uint64_t job_errors_ = 0;
    std::unique_ptr<IMB_JOB[]> jobs_;
};

} // namespace peregrine::crypto
