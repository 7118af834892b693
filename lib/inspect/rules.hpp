#pragma once

// The rules file of --inspect-rules: one rule a line in Hyperscan's `ID:/regex/flags` form (as
// hsbench and Suricata's Hyperscan tools write it), then an optional action, `drop` or `count`
// (the default, so an hsbench file loads as it is). Lines that start with '#' (after blanks)
// and blank lines are skipped. Pure: no Hyperscan, no DPDK, so the parser is fuzzed on its own.
//
//   # drop what looks like a shell
//   1:/\/bin\/(ba)?sh/ drop
//   2:/password=/i count
//   3:/^GET \/admin/s

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace peregrine::inspect {

// Rules in one file at most: a bound on compile time and on the per-lcore match counters.
static constexpr unsigned max_rules = 100'000;

enum class rule_action : uint8_t { count, drop };

// Flag letters, Hyperscan's (hs_compile.h) and hsbench's, the ones that mean something for a
// rule that only matches or not: i caseless, m multiline, s dotall, H single match (always
// on: a rule counts once per payload), V allow empty, 8 UTF-8, W Unicode properties.
enum rule_flag : uint8_t {
    caseless = 1,
    multiline = 2,
    dotall = 4,
    single_match = 8,
    allow_empty = 16,
    utf8 = 32,
    ucp = 64,
};

struct rule {
    uint32_t id = 0;
    std::string expr;   // between the slashes, as written
    uint8_t flags = 0;  // rule_flag bits as written
    rule_action action = rule_action::count;
    unsigned line = 0;  // 1-based, for messages
};

// Parses a whole file's text. On error returns false with *err = "line N: what" (the first
// error; nothing is kept).
bool parse_rules(std::string_view text, std::vector<rule>* out, std::string* err);

// Reads and parses a file (*err names the file on a read error).
bool read_rules(const std::string& path, std::vector<rule>* out, std::string* err);

const char* action_name(rule_action a);

} // namespace peregrine::inspect
