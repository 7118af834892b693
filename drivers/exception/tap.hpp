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

// Puts every net_tap queue of this process in polling mode. By default net_tap asks the kernel
// for a real-time signal per frame it queues on a TAP (O_ASYNC + F_SETSIG on the queue fd) and
// reads only after one arrived; real-time signals are queued, not merged, so under load every
// frame costs a signal delivery on some thread of the process (profiled at about a third of the
// engine's CPU time with 10,000 LEKT clients). net_tap falls back to reading on every rx_burst
// when it finds no free real-time signal, so this marks the free ones (SIGRTMIN+1 .. SIGRTMAX-1,
// those still at SIG_DFL) as ignored. Call it before rte_eal_init, which probes --vdev taps.
// The cost: an idle rx_burst on a TAP is one readv() that returns EAGAIN. Returns how many
// signals it marked.
int tap_use_polling();

// Stops the TAP ethdev and removes it; the kernel interface disappears with it.
void tap_destroy(uint16_t tap_port);

} // namespace peregrine::drivers
