#pragma once

// The rule sets and payloads of the inspection benchmarks (bench_inspect, bench_session's
// BM_data_inspect; docs/performance.md, "Inspection"), the same for every engine measured:
//  - literal: N random lowercase words of 6 to 10 letters;
//  - regex: N expressions from six templates around random words (bounded repeats, .{0,16}
//    gaps, alternations, classes, anchors, caseless), the shapes an operator writes;
//  - crs: the first N lines of tests/data/crs-inspect.rules, the OWASP Core Rule Set converted
//    (tools/inspect/crs_to_rules.py): regexes and phrase lists no one here wrote.
// Every rule is `count`, so a packet's outcome never changes with the set; payloads are random
// lowercase text and spaces, which the literal prefixes partly match, as real text does.

#include <cstdint>
#include <fstream>

#include <benchmark/benchmark.h>
#include <string>
#include <vector>

#include "inspect/rules.hpp"

namespace bench_inspect {

enum class set_kind : int { literal = 0, regex = 1, crs = 2 };

inline const char* set_name(set_kind k)
{
    return k == set_kind::literal ? "literal" : k == set_kind::regex ? "regex" : "crs";
}

struct rng {
    uint64_t s;
    uint64_t next()
    {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }
};

inline std::string word(rng& r)
{
    std::string w;
    for (unsigned k = 0, n = 6 + r.below(5); k < n; ++k)
        w += static_cast<char>('a' + r.below(26));
    return w;
}

// The rules file text of n rules of kind k ("" when crs has fewer than n lines).
inline std::string rules_text(set_kind k, unsigned n, const std::string& crs_path)
{
    std::string out;
    if (k == set_kind::crs) {
        std::ifstream f(crs_path);
        std::string line;
        unsigned got = 0;
        while (got < n && std::getline(f, line)) {
            if (line.empty() || line[0] == '#')
                continue;
            out += line + "\n";
            ++got;
        }
        return got == n ? out : std::string();
    }
    rng r{0x1a5e5ull + n * 7 + static_cast<unsigned>(k)};
    for (unsigned i = 0; i < n; ++i) {
        const std::string a = word(r), b = word(r);
        std::string e, flags;
        if (k == set_kind::literal) {
            e = a;
        } else {
            switch (i % 6) {
            case 0: e = a + "[0-9]{2,6}" + b; break;
            case 1: e = a + ".{0,16}" + b; break;
            case 2: e = "(" + a + "|" + b + ")=[a-z]+"; break;
            case 3: e = "^" + a; break;
            case 4: e = a + "\\s+[a-f0-9]{8}"; flags = "i"; break;
            default: e = a; flags = "i"; break;
            }
        }
        out += std::to_string(i + 1) + ":/" + e + "/" + flags + " count\n";
    }
    return out;
}

inline std::vector<peregrine::inspect::rule> rules_of(set_kind k, unsigned n, const std::string& crs_path,
                                                      std::string* err)
{
    std::vector<peregrine::inspect::rule> rules;
    const std::string text = rules_text(k, n, crs_path);
    if (n && text.empty()) {
        *err = crs_path + ": fewer than " + std::to_string(n) + " rules";
        return {};
    }
    if (!peregrine::inspect::parse_rules(text, &rules, err))
        return {};
    for (auto& r : rules)
        r.action = peregrine::inspect::rule_action::count;
    return rules;
}

// The benchmarks' own flag --crs=FILE (bench_common.hpp's `own`): true if a is it.
inline bool crs_flag(const std::string& a, std::string* path)
{
    if (a.rfind("--crs=", 0) != 0)
        return false;
    *path = a.substr(6);
    return true;
}

// The arguments {set, rules, payload} of a module benchmark with and without inspection: for
// each payload size, rules -1 (not inspected), then every set at 0 (literal only), 10, 100 and
// 1,000 rules.
inline void module_cases(benchmark::internal::Benchmark* b)
{
    b->ArgNames({"set", "rules", "payload"});
    for (int64_t p : {64, 512, 1400}) {
        b->Args({0, -1, p});
        for (int64_t set : {0, 1, 2})
            for (int64_t rules : {0, 10, 100, 1000})
                if (set == 0 || rules > 0)
                    b->Args({set, rules, p});
    }
}

// count payloads of len bytes each, random lowercase text with spaces.
inline std::vector<std::string> payloads(unsigned count, unsigned len)
{
    rng r{0xda7aull + len};
    std::vector<std::string> out(count);
    for (auto& p : out) {
        p.resize(len);
        for (auto& c : p)
            c = r.below(6) == 0 ? ' ' : static_cast<char>('a' + r.below(26));
    }
    return out;
}

} // namespace bench_inspect
