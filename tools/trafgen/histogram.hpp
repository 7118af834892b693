#pragma once

// Log-linear latency histogram, HdrHistogram-like: values below 128 have a bucket each; above,
// every power-of-two range [2^k, 2^(k+1)) is split into 64 equal buckets, so a bucket is at most
// 1/64 of its values wide (reported values within 1.6 % of the truth, 2 significant digits).
// Recording is a count-leading-zeros, a shift and an increment: cheap enough for every reply on
// the generator's lcore. Values are unsigned 64-bit (TSC cycles in trafgen, converted to ns when
// reporting). No allocation after construction.

#include <array>
#include <cstdint>

namespace peregrine::trafgen {

class histogram {
public:
    static constexpr unsigned sub_bits = 6;                       // 64 buckets per octave: 1.6 % width
    static constexpr uint64_t linear_max = 2ull << sub_bits;      // [0, 128): exact buckets
    static constexpr unsigned n_buckets = (64 - sub_bits) * (1u << sub_bits) + (1u << sub_bits);

    static unsigned index_of(uint64_t v)
    {
        if (v < linear_max)
            return static_cast<unsigned>(v);
        const unsigned shift = (63u - static_cast<unsigned>(__builtin_clzll(v))) - sub_bits;
        return (shift << sub_bits) + static_cast<unsigned>(v >> shift);
    }
    // Smallest and largest value that land in bucket i.
    static uint64_t bucket_low(unsigned i)
    {
        if (i < linear_max)
            return i;
        const unsigned shift = (i >> sub_bits) - 1;
        return (static_cast<uint64_t>((i & ((1u << sub_bits) - 1)) | (1u << sub_bits))) << shift;
    }
    static uint64_t bucket_high(unsigned i)
    {
        if (i < linear_max)
            return i;
        const unsigned shift = (i >> sub_bits) - 1;
        return bucket_low(i) + ((uint64_t(1) << shift) - 1);
    }

    void record(uint64_t v)
    {
        ++counts_[index_of(v)];
        ++count_;
        sum_ += v;
        if (v < min_)
            min_ = v;
        if (v > max_)
            max_ = v;
    }

    void reset();
    void merge(const histogram& o);

    uint64_t count() const { return count_; }
    uint64_t min() const { return count_ ? min_ : 0; }
    uint64_t max() const { return max_; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }

    // The value at percentile p (0 < p <= 100): the highest value of the bucket holding the
    // ceil(p/100 * count)-th smallest sample, clamped to [min, max] (so p100 is the exact max).
    // 0 when empty.
    uint64_t percentile(double p) const;

private:
    std::array<uint64_t, n_buckets> counts_{};
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t max_ = 0;
};

} // namespace peregrine::trafgen
