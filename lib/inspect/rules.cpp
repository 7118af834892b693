#include "inspect/rules.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace peregrine::inspect {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s)
{
    while (!s.empty() && is_blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back()))
        s.remove_suffix(1);
    return s;
}

int flag_of(char c)
{
    switch (c) {
    case 'i': return caseless;
    case 'm': return multiline;
    case 's': return dotall;
    case 'H': return single_match;
    case 'V': return allow_empty;
    case '8': return utf8;
    case 'W': return ucp;
    default: return 0;
    }
}

// One non-comment line into *r, or false with *why.
bool parse_line(std::string_view s, rule* r, std::string* why)
{
    if (s.find('\0') != std::string_view::npos)
        return *why = "a NUL byte in the rule", false;
    const size_t colon = s.find(':');
    if (colon == std::string_view::npos)
        return *why = "expected ID:/regex/flags [drop|count]", false;
    const std::string_view id = trim(s.substr(0, colon));
    if (id.empty() || id.size() > 10 || id.find_first_not_of("0123456789") != std::string_view::npos)
        return *why = "the rule ID must be a decimal number", false;
    const uint64_t v = std::stoull(std::string(id));
    if (v > UINT32_MAX)
        return *why = "the rule ID is over 4294967295", false;
    r->id = static_cast<uint32_t>(v);

    std::string_view rest = trim(s.substr(colon + 1));
    if (rest.empty() || rest.front() != '/')
        return *why = "the expression must start with '/'", false;
    // The expression ends at the last '/': nothing after it (flags, action) may contain one.
    const size_t close = rest.rfind('/');
    if (close == 0)
        return *why = "no closing '/' after the expression", false;
    r->expr = std::string(rest.substr(1, close - 1));
    if (r->expr.empty())
        return *why = "empty expression", false;

    std::string_view tail = rest.substr(close + 1);
    size_t k = 0;
    r->flags = 0;
    for (; k < tail.size() && !is_blank(tail[k]); ++k) {
        const int f = flag_of(tail[k]);
        if (!f)
            return *why = std::string("unknown flag '") + tail[k] + "' (flags: i m s H V 8 W)", false;
        if (r->flags & f)
            return *why = std::string("flag '") + tail[k] + "' given twice", false;
        r->flags |= static_cast<uint8_t>(f);
    }
    const std::string_view act = trim(tail.substr(k));
    if (act.empty() || act == "count")
        r->action = rule_action::count;
    else if (act == "drop")
        r->action = rule_action::drop;
    else if (act.find_first_of(" \t") != std::string_view::npos)
        return *why = "text after the action", false;
    else
        return *why = "unknown action '" + std::string(act) + "' (drop or count)", false;
    return true;
}

} // namespace

const char* action_name(rule_action a) { return a == rule_action::drop ? "drop" : "count"; }

bool parse_rules(std::string_view text, std::vector<rule>* out, std::string* err)
{
    std::vector<rule> rules;
    std::unordered_map<uint32_t, unsigned> line_of;  // rule ID -> its line
    unsigned line = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        const std::string_view raw = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++line;
        const std::string_view s = trim(raw);
        if (s.empty() || s.front() == '#')
            continue;
        rule r;
        std::string why;
        if (!parse_line(s, &r, &why)) {
            *err = "line " + std::to_string(line) + ": " + why;
            return false;
        }
        r.line = line;
        const auto [it, fresh] = line_of.emplace(r.id, line);
        if (!fresh) {
            *err = "line " + std::to_string(line) + ": rule ID " + std::to_string(r.id) + " is already on line " +
                   std::to_string(it->second);
            return false;
        }
        if (rules.size() == max_rules) {
            *err = "line " + std::to_string(line) + ": more than " + std::to_string(max_rules) + " rules";
            return false;
        }
        rules.push_back(std::move(r));
    }
    *out = std::move(rules);
    return true;
}

bool read_rules(const std::string& path, std::vector<rule>* out, std::string* err)
{
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        *err = path + ": " + std::strerror(errno);
        return false;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) {
        *err = path + ": read error";
        return false;
    }
    if (!parse_rules(ss.str(), out, err)) {
        *err = path + ": " + *err;
        return false;
    }
    return true;
}

} // namespace peregrine::inspect
