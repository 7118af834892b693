// net::neigh_table: when it asks, what it learns from ARP on its way to the kernel, and the
// request it builds.

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <rte_arp.h>

#include "net/neigh.hpp"
#include "test_env.hpp"

namespace peregrine::net {
namespace {

constexpr uint64_t hz = 1'000'000;

uint32_t ip(const char* s)
{
    uint32_t v;
    inet_pton(AF_INET, s, &v);
    return v;
}

port_addr our_port()
{
    port_addr pa;
    pa.mac = {{0x02, 0, 0, 0, 0, 1}};
    pa.ip_be = ip("198.18.5.1");
    pa.prefix_len = 24;
    return pa;
}

pgtest::mbuf_ptr arp(uint16_t op, const rte_ether_addr& sha, const char* sip, const char* tip)
{
    pgtest::bytes f(sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr), 0);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
    eth->dst_addr = our_port().mac;
    eth->src_addr = sha;
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = 6;
    a->arp_plen = 4;
    a->arp_opcode = rte_cpu_to_be_16(op);
    a->arp_data.arp_sha = sha;
    a->arp_data.arp_sip = ip(sip);
    a->arp_data.arp_tip = ip(tip);
    return pgtest::make_mbuf(f, 0);
}

TEST(NeighTable, AsksOncePerSecondUntilAnswered)
{
    neigh_table t(hz);
    rte_ether_addr mac;
    bool ask = false;
    EXPECT_FALSE(t.lookup(0, ip("198.18.5.9"), 10, &mac, &ask));
    EXPECT_TRUE(ask);
    EXPECT_FALSE(t.lookup(0, ip("198.18.5.9"), 20, &mac, &ask));
    EXPECT_FALSE(ask) << "asked 10 us ago";
    EXPECT_FALSE(t.lookup(0, ip("198.18.5.9"), 10 + hz, &mac, &ask));
    EXPECT_TRUE(ask) << "1 s later";
    const rte_ether_addr peer{{0x02, 0, 0, 0, 0, 9}};
    EXPECT_TRUE(t.snoop(arp(RTE_ARP_OP_REPLY, peer, "198.18.5.9", "198.18.5.1").get(), our_port(), 2 * hz));
    EXPECT_TRUE(t.lookup(0, ip("198.18.5.9"), 2 * hz + 1, &mac, &ask));
    EXPECT_FALSE(ask);
    EXPECT_TRUE(rte_is_same_ether_addr(&mac, &peer));
    // Stale after reachable_s: still used, asked again.
    EXPECT_TRUE(t.lookup(0, ip("198.18.5.9"), 2 * hz + neigh_table::reachable_s * hz, &mac, &ask));
    EXPECT_TRUE(ask);
}

TEST(NeighTable, LearnsOnlyWhatItAskedForOrWhoAsksForUs)
{
    neigh_table t(hz);
    const rte_ether_addr x{{0x02, 0, 0, 0, 0, 7}};
    rte_ether_addr mac;
    bool ask;
    t.snoop(arp(RTE_ARP_OP_REPLY, x, "198.18.5.7", "198.18.5.1").get(), our_port(), 5);
    t.snoop(arp(RTE_ARP_OP_REQUEST, x, "198.18.5.8", "198.18.5.200").get(), our_port(), 5);
    EXPECT_EQ(t.size(), 0u) << "unsolicited, and a request for someone else";
    t.snoop(arp(RTE_ARP_OP_REQUEST, x, "198.18.6.8", "198.18.5.1").get(), our_port(), 5);
    EXPECT_EQ(t.size(), 0u) << "a sender off our subnet";
    t.snoop(arp(RTE_ARP_OP_REQUEST, x, "198.18.5.8", "198.18.5.1").get(), our_port(), 5);
    EXPECT_TRUE(t.lookup(0, ip("198.18.5.8"), 6, &mac, &ask)) << "a host asking for us";
    EXPECT_FALSE(t.snoop(pgtest::make_mbuf(pgtest::bytes(60, 0)).get(), our_port(), 5)) << "not ARP";
}

TEST(NeighTable, BuildsARequest)
{
    const port_addr pa = our_port();
    rte_mbuf* m = neigh_table::request(pgtest::pool(), 3, pa, ip("198.18.5.9"));
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->port, 3);
    ASSERT_EQ(rte_pktmbuf_data_len(m), sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr));
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    EXPECT_TRUE(rte_is_broadcast_ether_addr(&eth->dst_addr));
    const auto* a = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    EXPECT_EQ(a->arp_opcode, RTE_BE16(RTE_ARP_OP_REQUEST));
    EXPECT_EQ(a->arp_data.arp_sip, pa.ip_be);
    EXPECT_EQ(a->arp_data.arp_tip, ip("198.18.5.9"));
    EXPECT_TRUE(rte_is_same_ether_addr(&a->arp_data.arp_sha, &pa.mac));
    rte_pktmbuf_free(m);
}

TEST(NeighTable, OnLink)
{
    const port_addr pa = our_port();
    EXPECT_TRUE(on_link(pa, ip("198.18.5.200")));
    EXPECT_FALSE(on_link(pa, ip("198.18.6.1")));
    port_addr none;
    EXPECT_FALSE(on_link(none, ip("198.18.5.200")));
}

} // namespace
} // namespace peregrine::net
