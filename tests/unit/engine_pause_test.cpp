// The interrupt thread's pause (lib/engine/pause.hpp): hold() returns only once every running
// worker stands aside, and a worker inside its loop body is never aside; release() lets them go;
// a worker that never reaches its checkpoint costs the bound, not a hang.

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/pause.hpp"

namespace peregrine::engine {
namespace {

TEST(EnginePause, HoldWaitsForEveryWorkerAndReleaseLetsThemGo)
{
    constexpr int n = 2;
    std::atomic<bool> quit{false};
    std::atomic<int> in_body{0};     // workers between their checkpoint and the end of the body
    std::atomic<long> iterations{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < n; ++w)
        workers.emplace_back([&] {
            pause::worker_started();
            while (!quit.load()) {
                pause::checkpoint();
                in_body.fetch_add(1);
                // A burst inside a driver: the interrupt thread must not run now.
                for (volatile int k = 0; k < 200; ++k) {
                }
                iterations.fetch_add(1);
                in_body.fetch_sub(1);
            }
            pause::worker_stopped();
        });
    while (iterations.load() < 1000)
        std::this_thread::yield();
    const auto before = pause::stats();
    int bounded = 0;  // rounds where a descheduled worker took longer than the bound (busy host)
    for (int round = 0; round < 50; ++round) {
        const uint64_t t = pause::stats().timeouts;
        pause::hold();
        if (pause::stats().timeouts != t) {
            ++bounded;
            pause::release();
            continue;
        }
        // Every worker stands aside: none is inside its body, and none gets there.
        EXPECT_EQ(in_body.load(), 0) << "round " << round;
        const long it = iterations.load();
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        EXPECT_EQ(iterations.load(), it) << "a worker ran while held, round " << round;
        pause::release();
        while (iterations.load() < it + n)
            std::this_thread::yield();
    }
    EXPECT_EQ(pause::stats().holds - before.holds, 50u);
    EXPECT_LT(bounded, 10);
    quit.store(true);
    for (auto& t : workers)
        t.join();
}

TEST(EnginePause, AStuckWorkerCostsTheBoundNotAHang)
{
    pause::worker_started();  // a worker that never reaches its checkpoint
    const auto before = pause::stats();
    const auto t0 = std::chrono::steady_clock::now();
    pause::hold();
    const auto took = std::chrono::steady_clock::now() - t0;
    pause::release();
    pause::worker_stopped();
    EXPECT_EQ(pause::stats().timeouts - before.timeouts, 1u);
    EXPECT_GE(took, std::chrono::milliseconds(19));
    EXPECT_LT(took, std::chrono::seconds(1));
    // With no worker running there is nothing to wait for.
    const auto t1 = std::chrono::steady_clock::now();
    pause::hold();
    pause::release();
    EXPECT_LT(std::chrono::steady_clock::now() - t1, std::chrono::milliseconds(5));
}

} // namespace
} // namespace peregrine::engine
