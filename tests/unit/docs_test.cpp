// The docs' tables of drop reasons and counters say exactly what the code counts: every drop
// reason (lib/common/stats.hpp and each module's lib/<module>/counters.hpp) is in the drop
// table of docs/architecture.md and nothing else is, and every module counter is listed in its
// telemetry row (docs/architecture.md for the router and session, docs/protocols/lb.md).

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/stats.hpp"

namespace peregrine {
namespace {

std::string read_doc(const std::string& rel)
{
    std::ifstream f(std::string(PEREGRINE_SOURCE_DIR) + "/" + rel);
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_FALSE(ss.str().empty()) << rel;
    return ss.str();
}

std::set<std::string> backticked(const std::string& s)
{
    std::set<std::string> out;
    static const std::regex tick("`([a-z0-9_*]+)`");
    for (auto it = std::sregex_iterator(s.begin(), s.end(), tick); it != std::sregex_iterator(); ++it)
        out.insert((*it)[1]);
    return out;
}

// The table that follows the line starting with `heading`, up to its first blank line.
std::string table_after(const std::string& doc, const std::string& heading)
{
    const std::size_t at = doc.find(heading);
    EXPECT_NE(at, std::string::npos) << heading;
    if (at == std::string::npos)
        return "";
    const std::size_t start = doc.find("\n|", at);
    const std::size_t end = doc.find("\n\n", start);
    return doc.substr(start, end - start);
}

// The table row whose first cell is `cmd` (backticked).
std::string row(const std::string& doc, const std::string& cmd)
{
    const std::size_t at = doc.find("| `" + cmd + "` |");
    EXPECT_NE(at, std::string::npos) << cmd;
    return at == std::string::npos ? "" : doc.substr(at, doc.find('\n', at) - at);
}

bool listed(const std::set<std::string>& names, const std::string& n)
{
    if (names.count(n))
        return true;
    for (const auto& w : names)  // "rejected_*" stands for every name it prefixes
        if (!w.empty() && w.back() == '*' && n.rfind(w.substr(0, w.size() - 1), 0) == 0)
            return true;
    return false;
}

TEST(Docs, DropTableListsEveryDropReasonAndNoOther)
{
    const std::string t = table_after(read_doc("docs/architecture.md"), "Drop reasons (");
    std::set<std::string> documented;
    std::istringstream lines(t);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("| `", 0) != 0)
            continue;
        const std::string first = line.substr(0, line.find(" |", 2));
        for (const auto& n : backticked(first))
            documented.insert(n);
    }
    std::set<std::string> code;
    for (unsigned i = 0; i < drop_count; ++i)
        code.insert(std::string(drop_name(i)));
    for (const auto& n : code)
        EXPECT_TRUE(documented.count(n)) << "drop reason " << n << " is not in docs/architecture.md's drop table";
    for (const auto& n : documented)
        EXPECT_TRUE(code.count(n)) << "docs/architecture.md lists a drop reason the code does not have: " << n;
}

TEST(Docs, TelemetryRowsListEveryModuleCounter)
{
    const std::string arch = read_doc("docs/architecture.md");
    const auto r = backticked(row(arch, "/peregrine/router"));
    for (unsigned i = 0; i < rtr_count; ++i)
        EXPECT_TRUE(listed(r, std::string(rtr_name(i)))) << rtr_name(i) << " missing from /peregrine/router";
    const auto s = backticked(row(arch, "/peregrine/session"));
    for (unsigned i = 0; i < ses_count; ++i)
        EXPECT_TRUE(listed(s, std::string(ses_name(i)))) << ses_name(i) << " missing from /peregrine/session";
    const auto l = backticked(row(read_doc("docs/protocols/lb.md"), "/peregrine/lb"));
    for (unsigned i = 0; i < lbc_count; ++i)
        EXPECT_TRUE(listed(l, std::string(lbc_name(i)))) << lbc_name(i) << " missing from /peregrine/lb";
    const auto c = backticked(row(arch, "/peregrine/cluster"));
    for (unsigned i = 0; i < cls_count; ++i)
        EXPECT_TRUE(listed(c, std::string(cls_name(i)))) << cls_name(i) << " missing from /peregrine/cluster";
    const auto u = backticked(row(read_doc("docs/protocols/rudp.md"), "/peregrine/rudp"));
    for (unsigned i = 0; i < rdp_count; ++i)
        EXPECT_TRUE(listed(u, std::string(rdp_name(i)))) << rdp_name(i) << " missing from /peregrine/rudp";
}

} // namespace
} // namespace peregrine
