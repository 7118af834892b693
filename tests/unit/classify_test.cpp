// net::classify: one test per drop and exception reason it can produce, Ethernet padding,
// NIC checksum flags, and truncation at every length on a guard page (no read past data_len).

#include <random>

#include <gtest/gtest.h>

#include "net/classify.hpp"
#include "test_env.hpp"

namespace peregrine::net {
namespace {

using namespace pgtest;

const bytes hello = {'h', 'e', 'l', 'l', 'o'};

class Classify : public ::testing::Test {
protected:
    Classify()
    {
        pa.mac = mac(1);
        pa.ip_be = ip4(198, 18, 0, 1);
        pa.prefix_len = 24;
    }

    // A valid UDP datagram for us (port 0's MAC and IP), router port.
    static bytes valid(unsigned padding = 0)
    {
        udp_frame s;
        s.payload = hello;
        s.padding = padding;
        return build(s);
    }

    classification run(const bytes& f, uint64_t ol_flags = 0, udp_view* out = nullptr)
    {
        mbuf_ptr m = make_mbuf(f);
        EXPECT_TRUE(m);
        m->ol_flags = ol_flags;
        udp_view v{};
        const classification c = classify(m.get(), pa, &v);
        if (out)
            *out = v;
        return c;
    }

    void expect_drop(const bytes& f, drop d, uint64_t ol_flags = 0)
    {
        const classification c = run(f, ol_flags);
        ASSERT_EQ(c.v, verdict::drop) << "length " << f.size();
        EXPECT_EQ(c.d, d) << "got " << drop_name(static_cast<unsigned>(c.d)) << ", length " << f.size();
    }

    void expect_exc(const bytes& f, exc e)
    {
        const classification c = run(f);
        ASSERT_EQ(c.v, verdict::exception) << "length " << f.size();
        EXPECT_EQ(c.e, e) << "got " << exc_name(static_cast<unsigned>(c.e));
    }

    void expect_local(const bytes& f, uint64_t ol_flags = 0)
    {
        const classification c = run(f, ol_flags);
        EXPECT_EQ(c.v, verdict::local_udp);
    }

    // Frame edits: change a header field, then (by default) make the checksums right again so
    // only the intended defect remains.
    template <typename Edit>
    static bytes edited(bytes f, Edit&& edit, bool fix = true)
    {
        edit(f);
        if (fix)
            fix_ip_cksum(f);
        return f;
    }

    port_addr pa;
};

TEST_F(Classify, ValidDatagramIsLocatedExactly)
{
    bytes f = valid();
    mbuf_ptr m = make_mbuf(f);
    udp_view v{};
    const classification c = classify(m.get(), pa, &v);
    ASSERT_EQ(c.v, verdict::local_udp);
    auto* base = rte_pktmbuf_mtod(m.get(), uint8_t*);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(v.eth), base);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(v.ip), base + 14);
    EXPECT_EQ(reinterpret_cast<uint8_t*>(v.udp), base + 34);
    EXPECT_EQ(v.data, base + 42);
    EXPECT_EQ(v.len, hello.size());
    EXPECT_EQ(v.dst_port, 7100);
    EXPECT_EQ(bytes(v.data, v.data + v.len), hello);
}

TEST_F(Classify, EthernetPaddingIsAcceptedAndNotPayload)
{
    // A 47-byte frame padded to the 60-byte Ethernet minimum, and a heavily padded one.
    for (unsigned pad : {13u, 200u}) {
        udp_view v{};
        const classification c = run(valid(pad), 0, &v);
        ASSERT_EQ(c.v, verdict::local_udp) << "padding " << pad;
        EXPECT_EQ(v.len, hello.size());
    }
}

TEST_F(Classify, EthShort)
{
    const bytes f = valid();
    for (std::size_t len = 0; len < 14; ++len)
        expect_drop(bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(len)), drop::eth_short);
}

TEST_F(Classify, L2OtherHost)
{
    expect_drop(edited(valid(), [](bytes& f) { eth(f)->dst_addr = mac(9); }), drop::l2_other_host);
}

TEST_F(Classify, NonIpv4EthertypesGoToTheKernel)
{
    auto with_type = [](uint16_t et, rte_ether_addr dst) {
        bytes f = valid();
        eth(f)->ether_type = rte_cpu_to_be_16(et);
        eth(f)->dst_addr = dst;
        return f;
    };
    expect_exc(with_type(RTE_ETHER_TYPE_ARP, broadcast_mac), exc::arp);
    expect_exc(with_type(RTE_ETHER_TYPE_ARP, mac(1)), exc::arp);
    expect_exc(with_type(RTE_ETHER_TYPE_IPV6, mac(1)), exc::ipv6);
    expect_exc(with_type(RTE_ETHER_TYPE_VLAN, mac(1)), exc::other_ethertype);
    expect_exc(with_type(RTE_ETHER_TYPE_LLDP, rte_ether_addr{{0x01, 0x80, 0xc2, 0, 0, 0x0e}}), exc::other_ethertype);
    // Non-IPv4 is handed over even when only the Ethernet header is present.
    bytes arp_short = with_type(RTE_ETHER_TYPE_ARP, broadcast_mac);
    arp_short.resize(14);
    expect_exc(arp_short, exc::arp);
}

TEST_F(Classify, Ipv4Short)
{
    const bytes f = valid();
    for (std::size_t len = 14; len < 34; ++len)
        expect_drop(bytes(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(len)), drop::ipv4_short);
}

TEST_F(Classify, Ipv4BadVersion)
{
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->version_ihl = 0x65; }), drop::ipv4_bad_version);
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->version_ihl = 0x05; }), drop::ipv4_bad_version);
}

TEST_F(Classify, Ipv4BadLen)
{
    // Header length below the minimum.
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->version_ihl = 0x44; }), drop::ipv4_bad_len);
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->version_ihl = 0x40; }), drop::ipv4_bad_len);
    // Total length shorter than the header.
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->total_length = rte_cpu_to_be_16(19); }), drop::ipv4_bad_len);
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->total_length = 0; }), drop::ipv4_bad_len);
    // Total length longer than the frame (by one byte, and by a lot).
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(f.size() - 14 + 1)); }),
                drop::ipv4_bad_len);
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->total_length = RTE_BE16(0xffff); }), drop::ipv4_bad_len);
    // Header length (60) longer than the frame's IPv4 part (33 bytes).
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->version_ihl = 0x4f; }), drop::ipv4_bad_len);
}

TEST_F(Classify, Ipv4BadChecksum)
{
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->hdr_checksum ^= RTE_BE16(0x0100); }, false),
                drop::ipv4_bad_cksum);
    // A changed field without a checksum update.
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->src_addr ^= 1; }, false), drop::ipv4_bad_cksum);
}

TEST_F(Classify, NicChecksumFlagsAreTrusted)
{
    // The NIC said bad: dropped even though the checksum is right.
    expect_drop(valid(), drop::ipv4_bad_cksum, RTE_MBUF_F_RX_IP_CKSUM_BAD);
    // The NIC said good: not recomputed.
    expect_local(edited(valid(), [](bytes& f) { ipv4(f)->hdr_checksum ^= 0xffff; }, false), RTE_MBUF_F_RX_IP_CKSUM_GOOD);
    // Unknown / none: verified in software.
    expect_local(valid(), RTE_MBUF_F_RX_IP_CKSUM_NONE);
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->hdr_checksum ^= 0xffff; }, false), drop::ipv4_bad_cksum,
                RTE_MBUF_F_RX_IP_CKSUM_NONE);
}

TEST_F(Classify, TtlZero)
{
    expect_drop(edited(valid(), [](bytes& f) { ipv4(f)->time_to_live = 0; }), drop::ipv4_ttl_zero);
    expect_local(edited(valid(), [](bytes& f) { ipv4(f)->time_to_live = 1; }));
}

TEST_F(Classify, UdpShort)
{
    // An IPv4 payload of 0..7 bytes (the frame is longer: the rest is Ethernet padding).
    for (uint16_t l4 = 0; l4 < 8; ++l4)
        expect_drop(edited(valid(), [l4](bytes& f) { ipv4(f)->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + l4)); }),
                    drop::udp_short);
}

TEST_F(Classify, UdpBadLen)
{
    const uint16_t real = static_cast<uint16_t>(8 + hello.size());
    for (uint16_t ulen : {uint16_t(real + 1), uint16_t(real - 1), uint16_t(0), uint16_t(7), uint16_t(0xffff)})
        expect_drop(edited(valid(), [ulen](bytes& f) { udp(f)->dgram_len = rte_cpu_to_be_16(ulen); }), drop::udp_bad_len);
}

TEST_F(Classify, L2GroupAddressedIpv4GoesToTheKernel)
{
    expect_exc(edited(valid(), [](bytes& f) { eth(f)->dst_addr = broadcast_mac; }), exc::l2_multicast);
    expect_exc(edited(valid(), [](bytes& f) { eth(f)->dst_addr = rte_ether_addr{{0x01, 0x00, 0x5e, 0, 0, 1}}; }),
               exc::l2_multicast);
}

TEST_F(Classify, NotOurIp)
{
    expect_exc(edited(valid(), [](bytes& f) { ipv4(f)->dst_addr = ip4(198, 18, 0, 99); }), exc::not_our_ip);
    // A port without an address hands every IPv4 packet to the kernel.
    pa.ip_be = 0;
    expect_exc(valid(), exc::not_our_ip);
}

TEST_F(Classify, Ipv4Options)
{
    expect_exc(with_ip_options(valid(), 1), exc::ipv4_options);
    expect_exc(with_ip_options(valid(), 10), exc::ipv4_options);
}

TEST_F(Classify, Ipv4Fragments)
{
    expect_exc(edited(valid(), [](bytes& f) { ipv4(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG); }),
               exc::ipv4_fragment);
    expect_exc(edited(valid(), [](bytes& f) { ipv4(f)->fragment_offset = RTE_BE16(185); }), exc::ipv4_fragment);
    expect_exc(edited(valid(), [](bytes& f) { ipv4(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG | 1); }),
               exc::ipv4_fragment);
    // DF alone is not a fragment.
    expect_local(edited(valid(), [](bytes& f) { ipv4(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG); }));
    expect_local(edited(valid(), [](bytes& f) { ipv4(f)->fragment_offset = 0; }));
}

TEST_F(Classify, OtherIpProtocols)
{
    auto proto = [this](uint8_t p) { return edited(valid(), [p](bytes& f) { ipv4(f)->next_proto_id = p; }); };
    expect_exc(proto(IPPROTO_ICMP), exc::icmp);
    expect_exc(proto(IPPROTO_TCP), exc::tcp);
    expect_exc(proto(IPPROTO_GRE), exc::other_ip_proto);
    expect_exc(proto(IPPROTO_SCTP), exc::other_ip_proto);
    expect_exc(proto(0), exc::other_ip_proto);
}

// Truncation at every length, with the frame's last byte against a PROT_NONE page.
TEST_F(Classify, TruncatedAtEveryLengthNeverReadsPastDataLen)
{
    for (const bytes& f : {valid(), valid(13), with_ip_options(valid(), 2)}) {
        bytes copy = f;
        const std::size_t ip_end = l2_len + rte_be_to_cpu_16(ipv4(copy)->total_length);  // before any padding
        for (std::size_t len = 0; len <= f.size(); ++len) {
            guarded_frame g(f, len);
            udp_view v{};
            const classification c = classify(g.mbuf(), pa, &v);
            if (len >= ip_end) {
                EXPECT_NE(c.v, verdict::drop) << "length " << len;
                continue;
            }
            ASSERT_EQ(c.v, verdict::drop) << "length " << len;
            const drop want = len < 14 ? drop::eth_short : len < 34 ? drop::ipv4_short : drop::ipv4_bad_len;
            EXPECT_EQ(c.d, want) << "length " << len << ": got " << drop_name(static_cast<unsigned>(c.d));
        }
    }
}

// The software checksum paths (IPv4 header in classify, UDP in udp_cksum_ok) against DPDK's
// reference functions, on random datagrams: with and without IPv4 options, odd and even
// payload lengths, intact or with one flipped bit anywhere after the Ethernet header.
TEST_F(Classify, SoftwareChecksumsAgreeWithDpdk)
{
    std::mt19937 rng(31);
    unsigned local = 0, bad_ip = 0, bad_udp = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        udp_frame s;
        s.src_ip_be = rng();
        s.src_port = static_cast<uint16_t>(rng());
        s.payload.resize(rng() % 80);
        for (auto& b : s.payload)
            b = static_cast<uint8_t>(rng());
        bytes f = build(s);
        if (rng() % 4 == 0)
            f = with_ip_options(f, 1 + rng() % 3);
        if (rng() % 2)
            f[l2_len + rng() % (f.size() - l2_len)] ^= static_cast<uint8_t>(1u << (rng() % 8));

        mbuf_ptr m = make_mbuf(f);
        udp_view v{};
        const classification c = classify(m.get(), pa, &v);
        // Verdicts decided after the header checksum imply it was right.
        const bool past_ip_cksum = c.v == verdict::local_udp ||
                                   (c.v == verdict::exception && c.e != exc::arp && c.e != exc::ipv6 &&
                                    c.e != exc::other_ethertype) ||
                                   (c.v == verdict::drop && (c.d == drop::ipv4_ttl_zero || c.d == drop::udp_short ||
                                                             c.d == drop::udp_bad_len));
        if (c.v == verdict::drop && c.d == drop::ipv4_bad_cksum) {
            ++bad_ip;
            ASSERT_NE(rte_raw_cksum(ipv4(f), ihl(f)), 0xffff) << "iteration " << iter;
        } else if (past_ip_cksum) {
            ASSERT_EQ(rte_raw_cksum(ipv4(f), ihl(f)), 0xffff) << "iteration " << iter;
        }
        if (c.v == verdict::local_udp) {
            ++local;
            const bool ref = v.udp->dgram_cksum == 0 || rte_ipv4_udptcp_cksum_verify(v.ip, v.udp) == 0;
            bad_udp += !ref;
            ASSERT_EQ(udp_cksum_ok(m.get(), v), ref) << "iteration " << iter << ", payload " << v.len;
        }
    }
    // Both checks saw both answers many times.
    EXPECT_GT(local, 5000u);
    EXPECT_GT(bad_ip, 1000u);
    EXPECT_GT(bad_udp, 500u);
}

// classify()'s inline fast path must decide exactly as the full classification does: random
// valid frames with random bytes of their first 48 changed (every header field the fast path
// masks: MAC, ethertype, version/IHL, fragment bits, TTL, protocol, addresses, lengths), random
// truncation and padding and every NIC checksum flag, compared verdict, reason and view.
TEST_F(Classify, FastPathDecidesAsTheFullClassification)
{
    std::mt19937 rng(47);
    const uint64_t flags[] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
                              RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD};
    unsigned local = 0, other = 0;
    for (int iter = 0; iter < 50000; ++iter) {
        udp_frame u;
        u.payload.resize(rng() % 40);
        u.padding = rng() % 3 == 0 ? rng() % 20 : 0;
        bytes f = build(u);
        const unsigned changes = rng() % 3;
        for (unsigned k = 0; k < changes; ++k)
            f[rng() % std::min<std::size_t>(48, f.size())] = static_cast<uint8_t>(rng() % 4 == 0 ? 0 : rng());
        if (rng() % 8 == 0)
            f.resize(rng() % (f.size() + 1));
        const uint64_t fl = flags[rng() % 4];
        mbuf_ptr a = make_mbuf(f), b = make_mbuf(f);
        a->ol_flags = b->ol_flags = fl;
        udp_view va{}, vb{};
        const classification ca = classify(a.get(), pa, &va);
        const classification cb = classify_slow(b.get(), pa, &vb);
        ASSERT_EQ(ca.v, cb.v) << "iteration " << iter;
        if (ca.v == verdict::drop) {
            ASSERT_EQ(ca.d, cb.d) << "iteration " << iter;
        }
        if (ca.v == verdict::exception) {
            ASSERT_EQ(ca.e, cb.e) << "iteration " << iter;
        }
        if (ca.v != verdict::local_udp) {
            ++other;
            continue;
        }
        ++local;
        ASSERT_EQ(ca.dst_port, va.dst_port) << "iteration " << iter;
        ASSERT_EQ(cb.dst_port, vb.dst_port) << "iteration " << iter;
        auto off = [](const rte_mbuf* m, const void* p) {
            return static_cast<const uint8_t*>(p) - rte_pktmbuf_mtod(m, const uint8_t*);
        };
        ASSERT_EQ(off(a.get(), va.eth), off(b.get(), vb.eth));
        ASSERT_EQ(off(a.get(), va.ip), off(b.get(), vb.ip));
        ASSERT_EQ(off(a.get(), va.udp), off(b.get(), vb.udp));
        ASSERT_EQ(off(a.get(), va.data), off(b.get(), vb.data));
        ASSERT_EQ(va.len, vb.len);
        ASSERT_EQ(va.dst_port, vb.dst_port);
    }
    EXPECT_GT(local, 10000u);
    EXPECT_GT(other, 10000u);
}

TEST_F(Classify, UdpChecksum)
{
    auto check = [this](const bytes& f, uint64_t flags) {
        mbuf_ptr m = make_mbuf(f);
        m->ol_flags = flags;
        udp_view v{};
        EXPECT_EQ(classify(m.get(), pa, &v).v, verdict::local_udp);
        return udp_cksum_ok(m.get(), v);
    };
    const bytes corrupt = edited(valid(), [](bytes& f) { payload(f)[0] ^= 0x20; }, false);
    EXPECT_TRUE(check(valid(), 0));
    EXPECT_FALSE(check(corrupt, 0));
    // Zero: the sender computed none.
    EXPECT_TRUE(check(edited(corrupt, [](bytes& f) { udp(f)->dgram_cksum = 0; }, false), 0));
    // No verdict from the NIC: verified in software.
    EXPECT_TRUE(check(valid(), RTE_MBUF_F_RX_L4_CKSUM_NONE));
    EXPECT_FALSE(check(corrupt, RTE_MBUF_F_RX_L4_CKSUM_NONE));
    // The NIC's verdict wins.
    EXPECT_TRUE(check(corrupt, RTE_MBUF_F_RX_L4_CKSUM_GOOD));
    EXPECT_FALSE(check(valid(), RTE_MBUF_F_RX_L4_CKSUM_BAD));
}

} // namespace
} // namespace peregrine::net
