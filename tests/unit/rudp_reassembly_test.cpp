// RUDP reassembly: in order, out of order, duplicates, missing fragments timing out, and every
// bound (per connection, all connections, fragment lengths and counts).

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "rudp/reassembly.hpp"

namespace peregrine::rudp {
namespace {

using bytes = std::vector<uint8_t>;
using status = reassembly::status;

bytes message(size_t n, uint8_t seed)
{
    bytes b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = static_cast<uint8_t>(seed + i * 7);
    return b;
}

// The fragments of m as a sender cuts them: count pieces of ceil(n / count), the last shorter.
std::vector<bytes> cut(const bytes& m, unsigned count)
{
    const size_t chunk = (m.size() + count - 1) / count;
    std::vector<bytes> out;
    for (unsigned i = 0; i < count; ++i) {
        const size_t off = i * chunk;
        out.emplace_back(m.begin() + off, m.begin() + std::min(m.size(), off + chunk));
    }
    return out;
}

struct RudpReassembly : ::testing::Test {
    reassembly r;
    void SetUp() override
    {
        reassembly::params p;
        p.contexts = 6;
        p.per_conn = 2;
        p.timeout_tsc = 1000;
        ASSERT_TRUE(r.init(p));
    }
    // Feeds fragments in the given order; returns the message when the last one completes it.
    bytes feed(uint64_t key, uint64_t base, const std::vector<bytes>& f, const std::vector<unsigned>& order,
               uint64_t now = 0)
    {
        for (size_t k = 0; k < order.size(); ++k) {
            unsigned slot = 0;
            const unsigned id = order[k];
            const status s = r.add(key, base, uint8_t(id), uint8_t(f.size()), f[id].data(), uint32_t(f[id].size()), now,
                                   &slot);
            if (s == status::complete) {
                EXPECT_EQ(k + 1, order.size());
                bytes out(r.data(slot), r.data(slot) + r.length(slot));
                r.release(slot);
                return out;
            }
            EXPECT_EQ(s, status::stored) << "fragment " << id;
        }
        return {};
    }
};

TEST_F(RudpReassembly, InOrderOutOfOrderAndLastFirst)
{
    const bytes m = message(200000, 1);
    const auto f = cut(m, 203);
    std::vector<unsigned> order(f.size());
    std::iota(order.begin(), order.end(), 0);
    EXPECT_EQ(feed(1, 100, f, order), m);
    std::reverse(order.begin(), order.end());  // the last fragment first
    EXPECT_EQ(feed(1, 400, f, order), m);
    std::mt19937 rng(3);
    for (int round = 0; round < 20; ++round) {
        std::shuffle(order.begin(), order.end(), rng);
        EXPECT_EQ(feed(2, 1000u * round, f, order), m) << round;
    }
    EXPECT_EQ(r.in_use(), 0u);
}

TEST_F(RudpReassembly, SmallestMessages)
{
    const bytes m = {7, 8};
    EXPECT_EQ(feed(1, 0, cut(m, 2), {1, 0}), m);
}

TEST_F(RudpReassembly, DuplicatesAndInconsistentFragments)
{
    const auto f = cut(message(3000, 2), 4);
    unsigned slot;
    EXPECT_EQ(r.add(1, 0, 1, 4, f[1].data(), uint32_t(f[1].size()), 0, &slot), status::stored);
    EXPECT_EQ(r.add(1, 0, 1, 4, f[1].data(), uint32_t(f[1].size()), 0, &slot), status::duplicate);
    EXPECT_EQ(r.add(1, 0, 2, 5, f[2].data(), uint32_t(f[2].size()), 0, &slot), status::bad_count);
    EXPECT_EQ(r.add(1, 0, 2, 4, f[2].data(), uint32_t(f[2].size() - 1), 0, &slot), status::bad_length);
    bytes longer = f[3];
    longer.resize(f[1].size() + 1);
    EXPECT_EQ(r.add(1, 0, 3, 4, longer.data(), uint32_t(longer.size()), 0, &slot), status::bad_length);
    EXPECT_EQ(r.add(1, 0, 0, 4, f[0].data(), 0, 0, &slot), status::bad_length);  // empty
    bytes huge(max_body + 1, 0);
    EXPECT_EQ(r.add(1, 0, 0, 4, huge.data(), uint32_t(huge.size()), 0, &slot), status::bad_length);
    // The refusals changed nothing: the real fragments still complete it.
    EXPECT_EQ(feed(1, 0, f, {0, 2, 3}), message(3000, 2));
}

TEST_F(RudpReassembly, BoundsPerConnectionAndInAll)
{
    const auto f = cut(message(5000, 3), 6);
    unsigned slot;
    EXPECT_EQ(r.add(1, 0, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::stored);
    EXPECT_EQ(r.add(1, 10, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::stored);
    EXPECT_EQ(r.add(1, 20, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::full);  // per_conn 2
    for (uint64_t k = 2; k <= 5; ++k)
        EXPECT_EQ(r.add(k, 0, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::stored) << k;
    EXPECT_EQ(r.add(9, 0, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::full);  // 6 contexts
    EXPECT_EQ(r.in_use(), 6u);
    r.forget(1);
    EXPECT_EQ(r.in_use(), 4u);
    EXPECT_EQ(r.add(9, 0, 0, 6, f[0].data(), uint32_t(f[0].size()), 0, &slot), status::stored);
}

TEST_F(RudpReassembly, UnfinishedMessagesTimeOut)
{
    const auto f = cut(message(3000, 4), 4);
    EXPECT_EQ(feed(1, 0, f, {0, 1}, 100), bytes{});
    EXPECT_EQ(r.expire(1100), 0u);  // not older than the timeout yet
    EXPECT_EQ(r.in_use(), 1u);
    EXPECT_EQ(r.expire(1101), 1u);
    EXPECT_EQ(r.in_use(), 0u);
    EXPECT_EQ(r.timed_out(), 1u);
    // What comes after starts afresh (and is incomplete again).
    unsigned slot;
    EXPECT_EQ(r.add(1, 0, 2, 4, f[2].data(), uint32_t(f[2].size()), 2000, &slot), status::stored);
}

} // namespace
} // namespace peregrine::rudp
