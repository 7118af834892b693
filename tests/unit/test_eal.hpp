#pragma once

// A test-safe EAL: no hugepages, no PCI, no shared config or telemetry socket, a per-process
// file prefix so parallel runs never meet. Shared by the unit tests and the fuzz target.

#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

namespace pgtest {

inline std::string& eal_runtime_dir()
{
    static std::string dir;
    return dir;
}

// prefix_base: e.g. "pgunit"; the pid is appended. Returns false (and prints why) on failure.
inline bool init_test_eal(const char* prog, const char* prefix_base)
{
    std::vector<std::string> args = {
        prog, "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", "--no-shconf", "--no-telemetry",
        std::string("--file-prefix=") + prefix_base + std::to_string(getpid()), "--log-level=*:error",
    };
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
    eal_runtime_dir() = rte_eal_get_runtime_dir();
    return true;
}

// rte_eal_cleanup() leaves the (empty, with --no-shconf) runtime directory behind.
inline void cleanup_test_eal()
{
    rte_eal_cleanup();
    if (!eal_runtime_dir().empty())
        rmdir(eal_runtime_dir().c_str());
}

} // namespace pgtest
