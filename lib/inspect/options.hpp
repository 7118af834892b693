#pragma once

// Payload inspection's options (a section of --help).

#include <string>
#include <vector>

#include "engine/options.hpp"

namespace peregrine::inspect {

struct options {
    std::string rules;                  // --inspect-rules FILE; empty: no inspection
    bool all = true;                    // --inspect: every module that inspects...
    std::vector<std::string> only;      // ...or only these (empty with all false: none)
    bool operator==(const options&) const = default;
};

engine::option_section option_section(options& o);

// Reads and compiles a rules file as the engine would, without publishing it: what
// --inspect-rules checks before any port starts. False with *err (line number, Hyperscan's
// message).
bool check_rules_file(const std::string& path, std::string* err);

} // namespace peregrine::inspect
