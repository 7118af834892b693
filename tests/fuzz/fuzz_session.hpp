#pragma once

// The session fuzz target's entry points and seeds, for drivers other than libFuzzer.
//
// An input is a sequence of records, each [flags:1][length:2, big-endian][frame: length bytes]
// (a short last record takes what is left). flags:
//   0x01  repair the IPv4 and UDP checksums before the engine sees the frame
//   0x02  re-sign the session digest (bytes 32..end of the UDP payload) with the input's key
//   0x04  same burst as the previous record (up to 32); otherwise a burst of its own
//   0x08  advance the clock past the session timeout before this record's burst
//   0x10  (first record only) keyed mode for the whole input
//   0x20  echo the token of the session the packet's Client ID has (if any) before signing
// so mutations reach every state (a random digest or token would never verify).

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fuzz_session {

struct counts {
    uint64_t inputs, packets, drops, answers, app, control, accepted, pong, ack, bad_ack, reject;
};
const counts& outcome_counts();

enum flag : uint8_t { fix_cksum = 0x01, sign = 0x02, same_burst = 0x04, late = 0x08, keyed = 0x10, echo_token = 0x20 };

// Named seed inputs (record sequences).
std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds();

} // namespace fuzz_session
