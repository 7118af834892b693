#include "engine/resume_latency.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using peregrine::engine::cpu_resume_latency;
namespace fs = std::filesystem;

namespace {

// A stand-in for /sys/devices/system/cpu with cpuN/power/pm_qos_resume_latency_us files.
struct fake_sysfs {
    fs::path root = fs::temp_directory_path() / ("pg-qos-" + std::to_string(::getpid()) + "-" +
                                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    explicit fake_sysfs(std::initializer_list<std::pair<unsigned, const char*>> cpus)
    {
        for (const auto& [cpu, value] : cpus) {
            fs::create_directories(dir(cpu));
            set(cpu, value);
        }
    }
    ~fake_sysfs() { fs::remove_all(root); }
    fs::path dir(unsigned cpu) const { return root / ("cpu" + std::to_string(cpu)) / "power"; }
    void set(unsigned cpu, const char* v) const { std::ofstream(dir(cpu) / "pm_qos_resume_latency_us") << v << "\n"; }
    std::string get(unsigned cpu) const
    {
        std::string s;
        std::getline(std::ifstream(dir(cpu) / "pm_qos_resume_latency_us"), s);
        return s;
    }
};

} // namespace

TEST(ResumeLatency, ZeroIsWrittenAsNoLatencyAndTheOldValueComesBack)
{
    fake_sysfs f({{0, "0"}, {3, "100"}});
    {
        const cpu_resume_latency q({0, 3}, 0, f.root.string());
        EXPECT_EQ(q.error(), "");
        EXPECT_EQ(q.held(), 2u);
        EXPECT_EQ(q.changed(), 2u);
        EXPECT_EQ(f.get(0), "n/a") << "0 us is the kernel's n/a; its 0 would mean no constraint";
        EXPECT_EQ(f.get(3), "n/a");
    }
    EXPECT_EQ(f.get(0), "0") << "restored";
    EXPECT_EQ(f.get(3), "100");
}

TEST(ResumeLatency, APositiveBoundIsWrittenAsIs)
{
    fake_sysfs f({{1, "0"}});
    {
        const cpu_resume_latency q({1}, 20, f.root.string());
        EXPECT_EQ(f.get(1), "20");
    }
    EXPECT_EQ(f.get(1), "0");
    EXPECT_EQ(cpu_resume_latency::sysfs_value(0), "n/a");
    EXPECT_EQ(cpu_resume_latency::sysfs_value(1000), "1000");
}

TEST(ResumeLatency, AValueAlreadyThereIsHeldButLeftInPlace)
{
    // Another engine on this CPU set it: it still needs it after this one exits.
    fake_sysfs f({{0, "n/a"}});
    {
        const cpu_resume_latency q({0}, 0, f.root.string());
        EXPECT_EQ(q.held(), 1u);
        EXPECT_EQ(q.changed(), 0u);
    }
    EXPECT_EQ(f.get(0), "n/a");
}

TEST(ResumeLatency, OffTouchesNothing)
{
    fake_sysfs f({{0, "0"}});
    const cpu_resume_latency q({0}, cpu_resume_latency::off, f.root.string());
    EXPECT_EQ(q.held(), 0u);
    EXPECT_EQ(q.error(), "");
    EXPECT_EQ(f.get(0), "0");
}

TEST(ResumeLatency, AMissingCpuIsReportedAndTheOthersAreStillSet)
{
    fake_sysfs f({{0, "0"}});
    {
        const cpu_resume_latency q({7, 0}, 0, f.root.string());
        EXPECT_NE(q.error().find("cpu7/power/pm_qos_resume_latency_us"), std::string::npos) << q.error();
        EXPECT_EQ(q.held(), 1u);
        EXPECT_EQ(f.get(0), "n/a");
    }
    EXPECT_EQ(f.get(0), "0");
    EXPECT_FALSE(fs::exists(f.dir(7))) << "nothing created for a CPU that has no file";
}
