#include "histogram.hpp"

#include <cmath>

namespace peregrine::trafgen {

void histogram::reset()
{
    counts_.fill(0);
    count_ = sum_ = max_ = 0;
    min_ = UINT64_MAX;
}

void histogram::merge(const histogram& o)
{
    for (unsigned i = 0; i < n_buckets; ++i)
        counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    if (o.count_ && o.min_ < min_)
        min_ = o.min_;
    if (o.max_ > max_)
        max_ = o.max_;
}

uint64_t histogram::percentile(double p) const
{
    if (count_ == 0)
        return 0;
    if (p <= 0)
        return min_;
    // The epsilon keeps 99.9 % of 1000 at rank 999 (0.999 * 1000 is 999.0000000000001 in doubles).
    double r = std::ceil(p / 100.0 * double(count_) - 1e-9);
    uint64_t rank = r < 1 ? 1 : (r > double(count_) ? count_ : static_cast<uint64_t>(r));
    uint64_t seen = 0;
    for (unsigned i = 0; i < n_buckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            const uint64_t v = bucket_high(i);
            return v < min_ ? min_ : (v > max_ ? max_ : v);
        }
    }
    return max_;
}

} // namespace peregrine::trafgen
