#pragma once

// The engine the router fuzz target runs against, and the seed frames that match it. Shared by
// fuzz_router.cpp (libFuzzer entry points), seeds.cpp and standalone_main.cpp (replay driver).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "frame.hpp"

namespace fuzzenv {

using pgtest::bytes;

constexpr uint16_t router_port = 7100;

// Frames arrive on port 0; port 1 is where one registered client lives.
struct port_cfg {
    uint8_t mac_lo;
    uint8_t ip[4];
};
constexpr port_cfg ports[2] = {{0x01, {198, 18, 0, 1}}, {0x02, {198, 19, 0, 1}}};

struct client {
    uint32_t id;
    uint8_t ip[4];
    uint16_t udp_port;
    uint8_t mac_lo;
    uint16_t port_id;
};
// Registered before every input (and restored after it).
constexpr client registered[] = {
    {0x0a0b0c0d, {198, 18, 0, 10}, 40001, 0x10, 0},
    {0xdeadbeef, {198, 19, 0, 20}, 5000, 0x20, 1},
    {0x00000001, {198, 18, 0, 11}, 40002, 0x11, 0},
};
// Never registered up front.
constexpr client stranger = {77, {198, 18, 0, 30}, 40003, 0x30, 0};

// Named seed frames: valid Register / Heartbeat / Message frames, every router rejection, the
// exception path, and truncations.
std::vector<std::pair<std::string, bytes>> seed_frames();

} // namespace fuzzenv
