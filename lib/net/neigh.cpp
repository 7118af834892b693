#include "net/neigh.hpp"

#include <cstring>

#include <rte_arp.h>
#include <rte_byteorder.h>

namespace peregrine::net {

neigh_table::entry& neigh_table::touch(uint64_t k)
{
    auto it = map_.find(k);
    if (it != map_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return it->second;
    }
    if (map_.size() >= max_entries) {
        map_.erase(lru_.back());
        lru_.pop_back();
    }
    lru_.push_front(k);
    entry& e = map_[k];
    e.lru = lru_.begin();
    return e;
}

bool neigh_table::lookup(uint16_t port, uint32_t ip_be, uint64_t now, rte_ether_addr* mac, bool* ask)
{
    entry& e = touch(key(port, ip_be));
    const bool fresh = e.valid && now - e.confirmed < reachable_s * hz_;
    // A stale entry is still used while it is asked for again (Linux's STALE/PROBE).
    *ask = !fresh && (e.asked == 0 || now - e.asked >= retry_s * hz_);
    if (*ask)
        e.asked = now;
    if (e.valid)
        *mac = e.mac;
    return e.valid;
}

uint16_t write_arp_request(uint8_t* f, const rte_ether_addr& src_mac, uint32_t src_ip_be, uint32_t target_ip_be)
{
    std::memset(f, 0, arp_request_len);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f);
    std::memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
    eth->src_addr = src_mac;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = RTE_ETHER_ADDR_LEN;
    a->arp_plen = 4;
    a->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = src_mac;
    a->arp_data.arp_sip = src_ip_be;
    a->arp_data.arp_tip = target_ip_be;
    return arp_request_len;
}

rte_mbuf* neigh_table::request(rte_mempool* pool, uint16_t port, const port_addr& pa, uint32_t ip_be)
{
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m)
        return nullptr;
    auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, arp_request_len));
    if (!f) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    write_arp_request(f, pa.mac, pa.ip_be, ip_be);
    m->port = port;
    return m;
}

bool neigh_table::snoop(const rte_mbuf* m, const port_addr& pa, uint64_t now)
{
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
        return false;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_ARP))
        return false;
    const auto* a = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    if (a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) || a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
        a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4)
        return true;
    const uint32_t sip = a->arp_data.arp_sip;
    if (!sip || !on_link(pa, sip) || rte_is_multicast_ether_addr(&a->arp_data.arp_sha) ||
        rte_is_zero_ether_addr(&a->arp_data.arp_sha))
        return true;
    const uint64_t k = key(m->port, sip);
    // Only what we asked for, or a host asking for us (it is about to talk to us): nobody fills
    // the table with addresses we never use.
    const bool asks_for_us = a->arp_opcode == RTE_BE16(RTE_ARP_OP_REQUEST) && a->arp_data.arp_tip == pa.ip_be;
    if (!map_.count(k) && !asks_for_us)
        return true;  // an unsolicited reply creates nothing (Linux's arp_accept=0)
    entry& e = touch(k);
    e.mac = a->arp_data.arp_sha;
    e.valid = true;
    e.confirmed = now;
    ++learned_;
    return true;
}

} // namespace peregrine::net
