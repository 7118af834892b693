// engine::make_plan and engine::mbufs_needed: the port/queue/lcore plan the daemon decides
// before any port starts, and what it refuses.

#include <gtest/gtest.h>

#include "engine/plan.hpp"

namespace peregrine::engine {
namespace {

plan make(const std::vector<uint16_t>& ports, const std::vector<queue_map>& cfg, std::vector<unsigned> lcores,
          std::string* err = nullptr)
{
    plan p;
    std::string e;
    const bool ok = make_plan(ports, cfg, 0, lcores, &p, &e);
    if (err)
        *err = ok ? "" : e;
    else
        EXPECT_TRUE(ok) << e;
    return p;
}

TEST(EnginePlan, DefaultIsQueueZeroOfEveryPortOnTheFirstWorker)
{
    const plan p = make({0, 1}, {}, {0, 3, 5});
    ASSERT_EQ(p.n_workers(), 1u);
    const auto& rx = p.rx_of_lcore.at(3);
    ASSERT_EQ(rx.size(), 2u);
    EXPECT_EQ(rx[0].port, 0);
    EXPECT_EQ(rx[1].port, 1);
    EXPECT_EQ(p.n_rxq.at(0), 1);
    EXPECT_EQ(p.config.size(), 2u) << "the default is written back as a config";
}

TEST(EnginePlan, QueuesSpreadOverWorkers)
{
    const plan p = make({0}, {{0, 0, 1}, {0, 1, 2}, {0, 2, 1}}, {0, 1, 2});
    EXPECT_EQ(p.n_workers(), 2u);
    EXPECT_EQ(p.n_rxq.at(0), 3);
    EXPECT_EQ(p.rx_of_lcore.at(1).size(), 2u);
    EXPECT_EQ(p.rx_of_lcore.at(2).size(), 1u);
}

TEST(EnginePlan, RefusesWhatCannotRun)
{
    std::string err;
    make({0}, {}, {0}, &err);
    EXPECT_NE(err.find("no worker lcore"), std::string::npos) << err;
    make({0}, {{1, 0, 1}}, {0, 1}, &err);
    EXPECT_NE(err.find("port 1 is not driven"), std::string::npos) << err;
    make({0}, {{0, 0, 4}}, {0, 1}, &err);
    EXPECT_NE(err.find("lcore 4 is not enabled"), std::string::npos) << err;
    make({0}, {{0, 0, 0}}, {0, 1}, &err);
    EXPECT_NE(err.find("main lcore"), std::string::npos) << err;
    make({0}, {{0, 1, 1}}, {0, 1}, &err);
    EXPECT_NE(err.find("numbered 0..0"), std::string::npos) << err;
    make({0, 1}, {{0, 0, 1}}, {0, 1}, &err);
    EXPECT_NE(err.find("port 1 has no queue"), std::string::npos) << err;
}

TEST(EnginePlan, MbufsCoverEveryDescriptorAndRing)
{
    const plan one = make({0}, {}, {0, 1});
    const plan two = make({0}, {{0, 0, 1}, {0, 1, 2}}, {0, 1, 2});
    // One port, one queue, one worker: RX + TX descriptors, TAP, the worker's three rings.
    const uint32_t n1 = mbufs_needed(one, true);
    EXPECT_GE(n1, 3 * ring_descriptors + exception_ring_size + control_ring_size + tx_ring_size);
    EXPECT_LT(mbufs_needed(one, false), n1) << "no TAP, no TAP descriptors";
    // A second worker adds its rings, its TX queue and an RX queue.
    EXPECT_GE(mbufs_needed(two, true) - n1, exception_ring_size + control_ring_size + tx_ring_size + 2 * ring_descriptors);
    EXPECT_GE(mbufs_needed(plan{}, false), 8192u) << "a floor for tiny set-ups";
}

} // namespace
} // namespace peregrine::engine
