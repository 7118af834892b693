#pragma once

// The router fuzz target's entry points, for drivers other than libFuzzer.

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Where the inputs ended up, so a driver can tell that it reached the deep paths.
struct fuzz_counts {
    uint64_t drop, exc, ctl, tx;
    uint64_t forwarded, answered, registered;
};
const fuzz_counts& fuzz_router_counts();
