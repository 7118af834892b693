#pragma once

// Keeps a sleeping control lcore's CPU quick to wake: the kernel's per-CPU PM QoS resume latency
// (/sys/devices/system/cpu/cpuN/power/pm_qos_resume_latency_us), the knob DPDK 24.11 wraps as
// rte_power_qos_set_cpu_resume_latency() and l3fwd-power sets with --cpu-resume-latency.
//
// At 0 us the cpuidle governor picks only its polling state for that CPU: when the control
// lcore sleeps, the CPU waits in the kernel's idle loop, which any runnable thread takes over at
// once (the fast path's generator, a LEKT client, the TAP's peer: the control lcore costs them
// nothing), and a worker's doorbell wakes it without an inter-processor interrupt or a halted
// vCPU's exit to the hypervisor (issue 17: that wake-up was 40-50 us of every isolated
// slow-path request here). What it costs is power: the CPU never reaches a C-state.
//
// It changes only what it finds different, and puts back what it changed when destroyed. A
// value already equal to its own is left alone, and left in place afterwards: another engine
// on the same CPU set it and still needs it.

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::engine {

class cpu_resume_latency {
public:
    static constexpr int32_t off = -1;  // leave the CPUs' setting as it is
    static constexpr const char* sysfs_cpus = "/sys/devices/system/cpu";

    // us: the longest wake-up the CPUs' idle states may cost, 0 (poll) or more; off: nothing.
    // root: the directory holding cpuN/power/ (tests pass their own).
    cpu_resume_latency(const std::vector<unsigned>& cpus, int32_t us, std::string root = sysfs_cpus);
    ~cpu_resume_latency();
    cpu_resume_latency(const cpu_resume_latency&) = delete;
    cpu_resume_latency& operator=(const cpu_resume_latency&) = delete;

    // CPUs that now have the value (set here, or found set).
    unsigned held() const { return held_; }
    // CPUs set here (to be restored).
    unsigned changed() const { return static_cast<unsigned>(changed_.size()); }
    // Why a CPU could not be set ("" when every one was); the first failure.
    const std::string& error() const { return error_; }

    // The sysfs spelling of a resume latency in us: 0 is "n/a" (no latency: the kernel's
    // "cannot be suspended"); "0" there means no constraint at all.
    static std::string sysfs_value(int32_t us);

private:
    struct saved {
        std::string path;
        std::string value;  // what was there, as read
    };
    std::vector<saved> changed_;
    unsigned held_ = 0;
    std::string error_;
};

} // namespace peregrine::engine
