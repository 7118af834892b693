#include "engine/telemetry.hpp"

#include <arpa/inet.h>

#include <cstdlib>

#include <rte_cycles.h>

#include "net/format.hpp"

namespace peregrine::engine {

void add_u64s(rte_tel_data* d, std::initializer_list<std::pair<const char*, uint64_t>> kv)
{
    for (const auto& [k, v] : kv)
        rte_tel_data_add_dict_u64(d, k, v);
}

rte_tel_data* new_dict()
{
    rte_tel_data* c = rte_tel_data_alloc();
    if (c)
        rte_tel_data_start_dict(c);
    return c;
}

uint64_t ms_since(uint64_t now, uint64_t then) { return now > then ? (now - then) * 1000 / rte_get_tsc_hz() : 0; }

void add_endpoint(rte_tel_data* d, uint32_t ip_be, uint16_t udp_port_be, uint16_t port_id)
{
    rte_tel_data_add_dict_string(d, "ip", net::ipv4_to_string(ip_be).c_str());
    rte_tel_data_add_dict_u64(d, "udp_port", ntohs(udp_port_be));
    rte_tel_data_add_dict_u64(d, "port_id", port_id);
}

bool parse_client_id(const char* params, uint32_t* id)
{
    if (!params || !*params)
        return false;
    char* end = nullptr;
    const bool hex = params[0] == '0' && (params[1] == 'x' || params[1] == 'X');
    const unsigned long long v = std::strtoull(params, &end, hex ? 16 : 10);
    if (*end != '\0' || v > UINT32_MAX)
        return false;
    *id = static_cast<uint32_t>(v);
    return true;
}

} // namespace peregrine::engine
