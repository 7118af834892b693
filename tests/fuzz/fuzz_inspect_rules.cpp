// libFuzzer target: the --inspect-rules parser (lib/inspect/rules.cpp) on arbitrary file
// contents. Whatever it accepts must satisfy what the compiler and the telemetry rely on: rule
// IDs unique, lines increasing and inside the file, expressions non-empty and NUL-free, no
// more than max_rules; and written back in the file's form, it parses to the same rules.
// Nothing is compiled here: Hyperscan's compiler is not ours to fuzz, and a random expression
// can take it seconds.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "inspect/rules.hpp"

using namespace peregrine::inspect;

namespace {

std::string flag_letters(uint8_t f)
{
    std::string s;
    const std::pair<uint8_t, char> all[] = {{caseless, 'i'}, {multiline, 'm'}, {dotall, 's'}, {single_match, 'H'},
                                            {allow_empty, 'V'}, {utf8, '8'}, {ucp, 'W'}};
    for (const auto& [bit, c] : all)
        if (f & bit)
            s += c;
    return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<rule> rules;
    std::string err;
    if (!parse_rules(text, &rules, &err)) {
        if (err.rfind("line ", 0) != 0)
            std::abort();  // every refusal names its line
        return 0;
    }
    if (rules.size() > max_rules)
        std::abort();
    std::set<uint32_t> ids;
    unsigned last_line = 0;
    std::string again;
    for (const rule& r : rules) {
        if (!ids.insert(r.id).second || r.line <= last_line || r.expr.empty() ||
            r.expr.find('\0') != std::string::npos || (r.flags & 0x80))
            std::abort();
        last_line = r.line;
        again += std::to_string(r.id) + ":/" + r.expr + "/" + flag_letters(r.flags) + " " + action_name(r.action) + "\n";
    }
    std::vector<rule> back;
    if (!parse_rules(again, &back, &err) || back.size() != rules.size())
        std::abort();
    for (std::size_t i = 0; i < rules.size(); ++i)
        if (back[i].id != rules[i].id || back[i].expr != rules[i].expr || back[i].flags != rules[i].flags ||
            back[i].action != rules[i].action)
            std::abort();
    return 0;
}
