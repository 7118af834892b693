#include "engine/resume_latency.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace peregrine::engine {

namespace {

bool read_value(const std::string& path, std::string* out)
{
    std::ifstream f(path);
    if (!f || !std::getline(f, *out))
        return false;
    while (!out->empty() && out->back() == ' ')  // getline took the newline
        out->pop_back();
    return true;
}

bool write_value(const std::string& path, const std::string& v)
{
    std::ofstream f(path);
    f << v << '\n';
    f.flush();
    return static_cast<bool>(f);
}

} // namespace

std::string cpu_resume_latency::sysfs_value(int32_t us)
{
    return us == 0 ? "n/a" : std::to_string(us);
}

cpu_resume_latency::cpu_resume_latency(const std::vector<unsigned>& cpus, int32_t us, std::string root)
{
    if (us < 0)
        return;
    const std::string want = sysfs_value(us);
    for (unsigned cpu : cpus) {
        const std::string path = root + "/cpu" + std::to_string(cpu) + "/power/pm_qos_resume_latency_us";
        std::string was;
        if (!read_value(path, &was)) {
            if (error_.empty())
                error_ = path + ": " + std::strerror(errno ? errno : ENOENT);
            continue;
        }
        if (was == want) {
            ++held_;
            continue;
        }
        if (!write_value(path, want)) {
            if (error_.empty())
                error_ = path + ": " + std::strerror(errno ? errno : EACCES);
            continue;
        }
        changed_.push_back({path, was});
        ++held_;
    }
}

cpu_resume_latency::~cpu_resume_latency()
{
    for (const auto& s : changed_)
        write_value(s.path, s.value);
}

} // namespace peregrine::engine
