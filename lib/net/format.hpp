#pragma once

// Human-readable addresses for logs and telemetry (control lcore and telemetry thread only).

#include <cstdint>
#include <string>

#include <arpa/inet.h>

namespace peregrine::net {

inline std::string ipv4_to_string(uint32_t ip_be)
{
    char b[INET_ADDRSTRLEN];
    in_addr a{};
    a.s_addr = ip_be;
    inet_ntop(AF_INET, &a, b, sizeof(b));
    return b;
}

} // namespace peregrine::net
