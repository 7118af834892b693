#pragma once

// The exception path to the Linux kernel: one TAP interface per port, made with DPDK's net_tap
// PMD, carrying the port's MAC and the engine's address, so the kernel answers ARP, ICMP and TCP
// for the engine's address exactly as if it owned the NIC. Only the control lcore touches it.

#include <cstdint>
#include <string>

#include <rte_ether.h>
#include <rte_mempool.h>

namespace peregrine::drivers {

struct tap_params {
    uint16_t phys_port = 0;
    std::string ifname;          // kernel interface name, e.g. pgx0
    rte_ether_addr mac{};        // the physical port's MAC: the kernel answers ARP with it
    uint32_t ip_be = 0;          // engine address on the port (0: none)
    uint8_t prefix_len = 0;
    uint16_t mtu = 1500;
    rte_mempool* pool = nullptr;
};

// Creates the TAP ethdev, configures one RX and one TX queue, starts it, and configures the
// kernel side (MAC, address, MTU, up). Returns the TAP's ethdev port id in *tap_port.
bool tap_create(const tap_params& p, uint16_t* tap_port, std::string* err);

// Stops the TAP ethdev and removes it; the kernel interface disappears with it.
void tap_destroy(uint16_t tap_port);

} // namespace peregrine::drivers
