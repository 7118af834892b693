#pragma once

// src/options.cpp's parse_options on an argument list, as main() gets it (the program name is
// prepended): shared by the options tests.

#include <string>
#include <vector>

#include "options.hpp"

namespace pgtest {

inline bool parse_options(std::vector<std::string> args, peregrine::options* o, std::string* err)
{
    args.insert(args.begin(), "peregrine");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    return peregrine::parse_options(static_cast<int>(args.size()), argv.data(), o, err);
}

} // namespace pgtest
