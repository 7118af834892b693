#pragma once

// Next hops for frames the engine originates to an address that has not written to it first
// (a router registering with its Controlling Function): ARP, IPv4 over Ethernet, on the
// control lcore only. Answers need none of this (they go back to the frame's source MAC); the
// kernel behind the exception TAP keeps its own table for its own traffic.
//
// The table learns from ARP frames on their way to the kernel (engine::control snoops the
// exception rings): a reply or request from an address we asked for, or a request for our
// address (an unsolicited reply creates nothing). Requests are sent at most once per retry_s
// per address; an entry is good for reachable_s, then asked for again while still used.
// Bounded: past max_entries the least recently used goes.

#include <cstdint>
#include <list>
#include <unordered_map>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "net/classify.hpp"

namespace peregrine::net {

class neigh_table {
public:
    static constexpr unsigned max_entries = 4096;  // next hops of peers: a cluster, not clients
    static constexpr uint64_t retry_s = 1;         // Linux's retrans_time
    static constexpr uint64_t reachable_s = 30;    // Linux's base_reachable_time

    explicit neigh_table(uint64_t tsc_hz) : hz_(tsc_hz) {}

    // The MAC for ip_be on port, if known and fresh. When not (or going stale), *ask says
    // whether an ARP request is due now (the caller sends request()).
    bool lookup(uint16_t port, uint32_t ip_be, uint64_t now, rte_ether_addr* mac, bool* ask);
    // An ARP request for ip_be from pa, to send on port; nullptr if the pool is empty.
    static rte_mbuf* request(rte_mempool* pool, uint16_t port, const port_addr& pa, uint32_t ip_be);
    // An Ethernet frame on its way to the kernel: learns what it says if it is ARP. True if it was.
    bool snoop(const rte_mbuf* m, const port_addr& pa, uint64_t now);

    std::size_t size() const { return map_.size(); }
    uint64_t learned() const { return learned_; }

private:
    struct entry {
        rte_ether_addr mac{};
        bool valid = false;
        uint64_t confirmed = 0;   // TSC
        uint64_t asked = 0;       // TSC of the last request
        std::list<uint64_t>::iterator lru;
    };
    static uint64_t key(uint16_t port, uint32_t ip_be) { return (uint64_t(port) << 32) | ip_be; }
    entry& touch(uint64_t k);

    uint64_t hz_;
    std::unordered_map<uint64_t, entry> map_;
    std::list<uint64_t> lru_;  // most recent first
    uint64_t learned_ = 0;
};

// Writes a broadcast ARP request for target_ip_be from (src_mac, src_ip_be) at f: Ethernet + ARP,
// arp_request_len bytes (the caller pads to a minimum frame if it must).
static constexpr uint16_t arp_request_len = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
uint16_t write_arp_request(uint8_t* f, const rte_ether_addr& src_mac, uint32_t src_ip_be, uint32_t target_ip_be);

// Whether ip_be is on pa's subnet.
inline bool on_link(const port_addr& pa, uint32_t ip_be)
{
    if (!pa.ip_be || pa.prefix_len == 0)
        return false;
    const uint32_t mask = pa.prefix_len >= 32 ? ~0u : ~(~0u >> pa.prefix_len);
    return ((rte_be_to_cpu_32(ip_be) ^ rte_be_to_cpu_32(pa.ip_be)) & mask) == 0;
}

} // namespace peregrine::net
