#pragma once

// FUZZ_CHECK(cond): a fuzz target's invariant. A failure prints the condition as
// "fuzz_<name>: check failed: ..." (the name from the target's file) and aborts, which libFuzzer
// and the replay driver both report as a crash.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fuzz_check {

[[noreturn]] inline void fail(const char* what, const char* file, int line)
{
    std::string_view name = file;
    name = name.substr(name.find_last_of('/') + 1);
    name = name.substr(0, name.find('.'));
    std::fprintf(stderr, "%.*s: check failed: %s (%s:%d)\n", static_cast<int>(name.size()), name.data(), what, file,
                 line);
    std::abort();
}

} // namespace fuzz_check

#define FUZZ_CHECK(cond)                                       \
    do {                                                       \
        if (!(cond))                                           \
            fuzz_check::fail(#cond, __FILE__, __LINE__);       \
    } while (0)
