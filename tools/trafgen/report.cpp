#include "report.hpp"

#include <cstdio>

namespace peregrine::trafgen {

result make_result(const traffic_stats& s, double seconds, double tsc_hz)
{
    result r;
    r.seconds = seconds;
    r.offered = s.offered;
    r.answered = s.answered;
    r.rx_other = s.rx_other;
    if (seconds > 0) {
        r.offered_mpps = double(s.offered) / seconds / 1e6;
        r.answered_mpps = double(s.answered) / seconds / 1e6;
        r.offered_gbps = double(s.offered_bytes) * 8 / seconds / 1e9;
        r.answered_gbps = double(s.answered_bytes) * 8 / seconds / 1e9;
    }
    r.loss = s.offered && s.answered < s.offered ? double(s.offered - s.answered) / double(s.offered) : 0.0;
    const double ns = tsc_hz > 0 ? 1e9 / tsc_hz : 0;
    const histogram& h = s.latency;
    r.lat_count = h.count();
    r.lat_min_ns = double(h.min()) * ns;
    r.lat_p50_ns = double(h.percentile(50)) * ns;
    r.lat_p99_ns = double(h.percentile(99)) * ns;
    r.lat_p999_ns = double(h.percentile(99.9)) * ns;
    r.lat_max_ns = double(h.max()) * ns;
    r.lat_mean_ns = h.mean() * ns;
    return r;
}

namespace {
std::string us(double ns, uint64_t n)
{
    char b[32];
    if (n == 0)
        return "-";
    std::snprintf(b, sizeof(b), "%.1f", ns / 1e3);
    return b;
}

std::string json_str(const std::string& s)
{
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof(b), "\\u%04x", c);
            o += b;
        } else {
            o += c;
        }
    }
    return o + "\"";
}
} // namespace

std::string table_header()
{
    return "| system | mode | clients | offered Mpps | answered Mpps | answered Gbps | loss % | p50 us | p99 us | "
           "p99.9 us |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
}

std::string table_row(const result& r)
{
    char b[512];
    std::snprintf(b, sizeof(b), "| %s | %s | %u | %.3f | %.3f | %.3f | %.3f | %s | %s | %s |\n",
                  r.label.empty() ? "-" : r.label.c_str(), r.mode.c_str(), r.clients, r.offered_mpps, r.answered_mpps,
                  r.answered_gbps, r.loss * 100, us(r.lat_p50_ns, r.lat_count).c_str(),
                  us(r.lat_p99_ns, r.lat_count).c_str(), us(r.lat_p999_ns, r.lat_count).c_str());
    return b;
}

std::string to_text(const result& r)
{
    std::string s = "setup: " + r.setup + "\n";
    char b[256];
    std::snprintf(b, sizeof(b), "measured %.3f s: offered %lu, answered %lu, other received %lu\n", r.seconds,
                  static_cast<unsigned long>(r.offered), static_cast<unsigned long>(r.answered),
                  static_cast<unsigned long>(r.rx_other));
    s += b;
    s += table_header() + table_row(r);
    s += "counters:";
    for (const auto& [k, v] : r.counters)
        if (v)
            s += " " + k + "=" + std::to_string(v);
    return s + "\n";
}

std::string to_json(const result& r)
{
    char b[1024];
    std::string s = "{\n  \"label\": " + json_str(r.label) + ",\n  \"profile\": " + json_str(r.profile) +
                    ",\n  \"mode\": " + json_str(r.mode) + ",\n  \"setup\": " + json_str(r.setup) +
                    ",\n  \"setup_ok\": " + (r.setup_ok ? "true" : "false") + ",\n";
    std::snprintf(b, sizeof(b),
                  "  \"clients\": %u,\n  \"payload_min\": %u,\n  \"payload_max\": %u,\n  \"target_pps\": %.0f,\n  \"seconds\": %.6f,\n  \"offered\": %lu,\n"
                  "  \"answered\": %lu,\n  \"rx_other\": %lu,\n  \"offered_mpps\": %.6f,\n  \"answered_mpps\": %.6f,\n"
                  "  \"offered_gbps\": %.6f,\n  \"answered_gbps\": %.6f,\n  \"loss\": %.9f,\n"
                  "  \"latency_ns\": {\"count\": %lu, \"min\": %.0f, \"p50\": %.0f, \"p99\": %.0f, \"p99.9\": %.0f, "
                  "\"max\": %.0f, \"mean\": %.0f},\n",
                  r.clients, r.payload_min, r.payload_max, r.target_pps, r.seconds, static_cast<unsigned long>(r.offered),
                  static_cast<unsigned long>(r.answered), static_cast<unsigned long>(r.rx_other), r.offered_mpps,
                  r.answered_mpps, r.offered_gbps, r.answered_gbps, r.loss, static_cast<unsigned long>(r.lat_count),
                  r.lat_min_ns, r.lat_p50_ns, r.lat_p99_ns, r.lat_p999_ns, r.lat_max_ns, r.lat_mean_ns);
    s += b;
    s += "  \"counters\": {";
    bool first = true;
    for (const auto& [k, v] : r.counters) {
        s += (first ? "" : ", ") + json_str(k) + ": " + std::to_string(v);
        first = false;
    }
    return s + "}\n}\n";
}

} // namespace peregrine::trafgen
