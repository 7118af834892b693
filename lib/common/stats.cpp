#include "common/stats.hpp"

#include <cstring>

namespace peregrine {

namespace {
constexpr std::string_view drop_names[] = {
#define PG_X(name, desc) #name,
    PG_DROP_REASONS(PG_X)
#undef PG_X
};
constexpr std::string_view drop_descs[] = {
#define PG_X(name, desc) desc,
    PG_DROP_REASONS(PG_X)
#undef PG_X
};
constexpr std::string_view exc_names[] = {
#define PG_X(name, desc) #name,
    PG_EXCEPTION_REASONS(PG_X)
#undef PG_X
};
#define PG_X(name, desc) #name,
#define PG_COUNTER_NAMES(field, type, LIST) constexpr std::string_view type##_names[] = {LIST(PG_X)};
PG_MODULE_COUNTERS(PG_COUNTER_NAMES)
#undef PG_COUNTER_NAMES
#undef PG_X

uint64_t relaxed(const uint64_t& v)
{
    return std::atomic_ref<const uint64_t>(v).load(std::memory_order_relaxed);
}
} // namespace

uint64_t lcore_stats::drop_total() const
{
    uint64_t t = 0;
    for (auto v : drops)
        t += v;
    return t;
}

lcore_stats stats_sum(const lcore_stats* blocks, unsigned n)
{
    lcore_stats s;
    std::memset(&s, 0, sizeof(s));
    for (unsigned b = 0; b < n; ++b) {
        const lcore_stats& x = blocks[b];
        s.rx_packets += relaxed(x.rx_packets);
        s.rx_bursts += relaxed(x.rx_bursts);
        s.tx_packets += relaxed(x.tx_packets);
        s.to_exception += relaxed(x.to_exception);
        s.to_control += relaxed(x.to_control);
        s.busy_cycles += relaxed(x.busy_cycles);
        s.idle_polls += relaxed(x.idle_polls);
        s.idle_sleep_us += relaxed(x.idle_sleep_us);
        s.sleeps += relaxed(x.sleeps);
        s.sleeps_woken += relaxed(x.sleeps_woken);
        s.doorbells += relaxed(x.doorbells);
        s.kernel_in += relaxed(x.kernel_in);
        s.kernel_out += relaxed(x.kernel_out);
        for (unsigned i = 0; i < drop_count; ++i)
            s.drops[i] += relaxed(x.drops[i]);
        for (unsigned i = 0; i < exc_count; ++i)
            s.exceptions[i] += relaxed(x.exceptions[i]);
#define PG_COUNTER_SUM(field, type, LIST)                                                   \
    for (unsigned i = 0; i < type##_count; ++i)                                            \
        s.field[i] += relaxed(x.field[i]);
        PG_MODULE_COUNTERS(PG_COUNTER_SUM)
#undef PG_COUNTER_SUM
    }
    return s;
}

std::string_view drop_name(unsigned i) { return drop_names[i]; }
std::string_view drop_desc(unsigned i) { return drop_descs[i]; }
std::string_view exc_name(unsigned i) { return exc_names[i]; }
#define PG_COUNTER_NAME(field, type, LIST)                                                  \
    std::string_view type##_name(unsigned i) { return type##_names[i]; }
PG_MODULE_COUNTERS(PG_COUNTER_NAME)
#undef PG_COUNTER_NAME

} // namespace peregrine
