// The router fast path end to end without I/O: engine::process_burst on bursts of mbufs, then
// router::apply_register and engine::control for the registration path. Every burst is checked
// for accounting: each input mbuf comes out exactly once, and the per-lcore counters add up.

#include <algorithm>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include <rte_ring.h>

#include "engine/control.hpp"
#include "engine/dispatch.hpp"
#include "inspect/inspector.hpp"
#include "router/codec.hpp"
#include "router/module.hpp"
#include "test_env.hpp"

namespace peregrine::engine {
namespace {

using namespace pgtest;
using router::upsert_result;

struct client {
    uint32_t ip_be;
    uint16_t port;  // host order
    rte_ether_addr mac;
    uint16_t rx_port;  // where its frames arrive
};

const client alice{ip4(198, 18, 0, 10), 40001, mac(0x10), 0};
const client bob{ip4(198, 19, 0, 20), 5000, mac(0x20), 1};  // behind port 1
const client carol{ip4(198, 18, 0, 30), 40003, mac(0x30), 0};  // never registered up front

constexpr uint32_t alice_id = 0x0a0b0c0d;
constexpr uint32_t bob_id = 0xdeadbeef;
constexpr uint16_t router_port = 7100;

enum class where { tx, exc, ctl, drop, missing };

// One burst's results; frees every output mbuf when done.
struct burst {
    burst_out out;
    std::vector<rte_mbuf*> in;
    lcore_stats delta;

    burst() { init(out); }
    ~burst()
    {
        for (unsigned p = 0; p < max_ports; ++p)
            rte_pktmbuf_free_bulk(out.tx[p], out.n_tx[p]);
        rte_pktmbuf_free_bulk(out.exc, out.n_exc);
        rte_pktmbuf_free_bulk(out.ctl, out.n_ctl);
        rte_pktmbuf_free_bulk(out.drop, out.n_drop);
    }

    where find(unsigned i, uint16_t* port = nullptr) const
    {
        const rte_mbuf* m = in[i];
        for (uint16_t p = 0; p < max_ports; ++p)
            for (unsigned k = 0; k < out.n_tx[p]; ++k)
                if (out.tx[p][k] == m) {
                    if (port)
                        *port = p;
                    return where::tx;
                }
        auto in_list = [m](rte_mbuf* const* l, unsigned n) { return std::find(l, l + n, m) != l + n; };
        if (in_list(out.exc, out.n_exc))
            return where::exc;
        if (in_list(out.ctl, out.n_ctl))
            return where::ctl;
        if (in_list(out.drop, out.n_drop))
            return where::drop;
        return where::missing;
    }

    bytes frame(unsigned i) const { return contents(in[i]); }
};

lcore_stats minus(const lcore_stats& a, const lcore_stats& b)
{
    lcore_stats d = a;
    d.rx_packets -= b.rx_packets;
    for (unsigned i = 0; i < drop_count; ++i)
        d.drops[i] -= b.drops[i];
    for (unsigned i = 0; i < exc_count; ++i)
        d.exceptions[i] -= b.exceptions[i];
    for (unsigned i = 0; i < rtr_count; ++i)
        d.router[i] -= b.router[i];
    return d;
}

uint64_t sum(const auto& arr)
{
    uint64_t s = 0;
    for (auto v : arr)
        s += v;
    return s;
}

class RouterPipeline : public ::testing::Test {
protected:
    RouterPipeline()
    {
        reg = make_registry(64);
        cfg.udp_port = router_port;
        cfg.heartbeat_timeout_tsc = 1ull << 40;
        plug();
        std::memset(&st, 0, sizeof(st));
        in_use_ = rte_mempool_in_use_count(pool());
    }
    ~RouterPipeline() override
    {
        EXPECT_EQ(rte_mempool_in_use_count(pool()), in_use_) << "mbuf leak";
    }

    // A context with the router module on reg, as the daemon plugs it in.
    void plug()
    {
        ctx = std::make_unique<context>();
        ctx->ports[0] = {mac(1), ip4(198, 18, 0, 1), 24};
        ctx->ports[1] = {mac(2), ip4(198, 19, 0, 1), 24};
        mod = std::make_unique<router::module>(cfg, *reg);
        ASSERT_TRUE(ctx->add(mod.get()));
    }

    void register_client(uint32_t id, const client& c, uint64_t now = 100)
    {
        const router::endpoint e{c.ip_be, rte_cpu_to_be_16(c.port), c.rx_port, c.mac};
        ASSERT_NE(reg->upsert(id, e, now), upsert_result::full);
    }

    // A router datagram from c to the engine's address on c's port.
    bytes from(const client& c, const bytes& payload, bool cksum = true)
    {
        udp_frame s;
        s.dst_mac = ctx->ports[c.rx_port].mac;
        s.src_mac = c.mac;
        s.src_ip_be = c.ip_be;
        s.dst_ip_be = ctx->ports[c.rx_port].ip_be;
        s.src_port = c.port;
        s.dst_port = router_port;
        s.payload = payload;
        s.udp_cksum = cksum;
        return build(s);
    }

    std::unique_ptr<burst> run(uint16_t rx_port, const std::vector<bytes>& frames, uint64_t now = 5000)
    {
        std::vector<rte_mbuf*> ms;
        for (const auto& f : frames)
            ms.push_back(make_mbuf(f, rx_port).release());
        return run_mbufs(rx_port, ms, now);
    }

    // Runs already-built mbufs (the burst takes ownership) and checks the accounting.
    std::unique_ptr<burst> run_mbufs(uint16_t rx_port, const std::vector<rte_mbuf*>& ms, uint64_t now = 5000)
    {
        auto b = std::make_unique<burst>();
        b->in = ms;
        b->out.reset();
        const lcore_stats before = st;
        process_burst(*ctx, st, rx_port, b->in.data(), static_cast<uint16_t>(ms.size()), now, b->out);
        b->delta = minus(st, before);

        const lcore_stats& d = b->delta;
        const uint64_t n_tx = sum(b->out.n_tx);
        EXPECT_EQ(n_tx + b->out.n_exc + b->out.n_ctl + b->out.n_drop, ms.size());
        for (unsigned i = 0; i < ms.size(); ++i)
            EXPECT_NE(b->find(i), where::missing) << "packet " << i << " vanished";
        EXPECT_EQ(d.rx_packets, ms.size());
        EXPECT_EQ(d.drop_total(), b->out.n_drop);
        EXPECT_EQ(sum(d.exceptions), b->out.n_exc);
        EXPECT_EQ(d.router[unsigned(rtr::register_rx)], b->out.n_ctl);
        EXPECT_EQ(d.router[unsigned(rtr::heartbeat_answered)] + d.router[unsigned(rtr::message_forwarded)] +
                      d.router[unsigned(rtr::unknown_recipient)],
                  n_tx);
        for (uint16_t p = 0; p < max_ports; ++p)
            EXPECT_EQ((b->out.tx_port_mask >> p) & 1, b->out.n_tx[p] > 0 ? 1u : 0u) << "port " << p;
        return b;
    }

    void expect_drop(const bytes& f, drop why, uint16_t rx_port = 0)
    {
        auto b = run(rx_port, {f});
        EXPECT_EQ(b->find(0), where::drop);
        EXPECT_EQ(b->delta.drops[unsigned(why)], 1u) << "wanted " << drop_name(unsigned(why));
    }

    // A reply from the engine's port rx_port to c carrying exactly want.
    void expect_reply(const bytes& f, const client& c, const bytes& want)
    {
        bytes out = f;
        ASSERT_EQ(out.size(), headers_len + want.size());
        const net::port_addr& pa = ctx->ports[c.rx_port];
        EXPECT_TRUE(rte_is_same_ether_addr(&eth(out)->dst_addr, &c.mac));
        EXPECT_TRUE(rte_is_same_ether_addr(&eth(out)->src_addr, &pa.mac));
        EXPECT_EQ(ipv4(out)->src_addr, pa.ip_be);
        EXPECT_EQ(ipv4(out)->dst_addr, c.ip_be);
        EXPECT_EQ(rte_be_to_cpu_16(udp(out)->src_port), router_port);
        EXPECT_EQ(rte_be_to_cpu_16(udp(out)->dst_port), c.port);
        EXPECT_EQ(bytes(payload(out), payload(out) + want.size()), want);
        EXPECT_EQ(rte_raw_cksum(ipv4(out), 20), 0xffff) << "IPv4 checksum";
        EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ipv4(out), udp(out)), 0) << "UDP checksum";
    }

    std::unique_ptr<context> ctx;
    registry_ptr reg;
    router::config cfg;
    std::unique_ptr<router::module> mod;
    lcore_stats st;

private:
    unsigned in_use_;
};

TEST_F(RouterPipeline, RegisterGoesToTheControlLcoreUntouched)
{
    const bytes f = from(carol, register_payload(77));
    auto b = run(0, {f});
    EXPECT_EQ(b->find(0), where::ctl);
    EXPECT_EQ(b->frame(0), f);
    EXPECT_EQ(reg->find_id(77), nullptr) << "workers never write the registry";
}

TEST_F(RouterPipeline, RegisterWithBadUdpChecksumIsDropped)
{
    bytes f = from(carol, register_payload(77));
    payload(f)[1] ^= 1;  // the ID was corrupted in flight
    expect_drop(f, drop::udp_bad_cksum);
}

TEST_F(RouterPipeline, HeartbeatFromARegisteredEndpointIsAnsweredAndRefreshes)
{
    register_client(alice_id, alice, 100);
    auto b = run(0, {from(alice, heartbeat_payload())}, 5000);
    uint16_t port = 99;
    ASSERT_EQ(b->find(0, &port), where::tx);
    EXPECT_EQ(port, 0);
    expect_reply(b->frame(0), alice, {0x05});
    EXPECT_EQ(reg->find_id(alice_id)->seen(), 5000u);
}

TEST_F(RouterPipeline, HeartbeatFromAnUnregisteredEndpointIsDropped)
{
    register_client(alice_id, alice);
    expect_drop(from(carol, heartbeat_payload()), drop::router_hb_unregistered);
    // Same address, another port: another endpoint.
    client alice_other_port = alice;
    alice_other_port.port = 40999;
    expect_drop(from(alice_other_port, heartbeat_payload()), drop::router_hb_unregistered);
}

TEST_F(RouterPipeline, HeartbeatWithBadChecksumIsNotAnswered)
{
    register_client(alice_id, alice, 100);
    bytes f = from(alice, heartbeat_payload());
    udp(f)->dgram_cksum ^= 0x0101;
    expect_drop(f, drop::udp_bad_cksum);
    EXPECT_EQ(reg->find_id(alice_id)->seen(), 100u);
}

TEST_F(RouterPipeline, MessageToARegisteredClientIsForwardedUnchanged)
{
    register_client(bob_id, bob);
    bytes body(300);
    for (std::size_t k = 0; k < body.size(); ++k)
        body[k] = static_cast<uint8_t>(k * 3);
    const bytes msg = message_payload(bob_id, body);
    const bytes in = from(alice, msg);

    auto b = run(0, {in});
    uint16_t port = 99;
    ASSERT_EQ(b->find(0, &port), where::tx);
    EXPECT_EQ(port, 1) << "leaves through the port the recipient registered on";

    bytes out = b->frame(0);
    ASSERT_EQ(out.size(), in.size());
    EXPECT_EQ(bytes(payload(out), payload(out) + msg.size()), msg) << "payload must be forwarded byte for byte";
    EXPECT_TRUE(rte_is_same_ether_addr(&eth(out)->dst_addr, &bob.mac));
    EXPECT_TRUE(rte_is_same_ether_addr(&eth(out)->src_addr, &ctx->ports[1].mac));
    EXPECT_EQ(ipv4(out)->src_addr, ctx->ports[1].ip_be);
    EXPECT_EQ(ipv4(out)->dst_addr, bob.ip_be);
    EXPECT_EQ(rte_be_to_cpu_16(udp(out)->src_port), router_port);
    EXPECT_EQ(rte_be_to_cpu_16(udp(out)->dst_port), bob.port);
    EXPECT_EQ(rte_raw_cksum(ipv4(out), 20), 0xffff);
    EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ipv4(out), udp(out)), 0);
    EXPECT_EQ(b->delta.router[unsigned(rtr::message_forwarded)], 1u);
}

TEST_F(RouterPipeline, MessageWithoutUdpChecksumIsForwardedWithout)
{
    register_client(bob_id, bob);
    auto b = run(0, {from(alice, message_payload(bob_id, {1, 2, 3}), false)});
    ASSERT_EQ(b->find(0), where::tx);
    bytes out = b->frame(0);
    EXPECT_EQ(udp(out)->dgram_cksum, 0);
    EXPECT_EQ(ipv4(out)->dst_addr, bob.ip_be);
}

TEST_F(RouterPipeline, MessageSizeLimit)
{
    register_client(bob_id, bob);
    auto b = run(0, {from(alice, message_payload(bob_id, bytes(router::max_payload, 0x42)))});
    EXPECT_EQ(b->find(0), where::tx);
    expect_drop(from(alice, message_payload(bob_id, bytes(router::max_payload + 1, 0x42))), drop::router_too_long);
}

TEST_F(RouterPipeline, MessageToAnUnknownIdGetsUnknownRecipient)
{
    register_client(bob_id, bob);
    const bytes in = from(carol, message_payload(0x01020304, bytes(200, 7)));
    auto b = run(0, {in});
    uint16_t port = 99;
    ASSERT_EQ(b->find(0, &port), where::tx);
    EXPECT_EQ(port, 0);
    const bytes out = b->frame(0);
    EXPECT_LE(out.size(), in.size());
    expect_reply(out, carol, {0x03, 0x04, 0x03, 0x02, 0x01});
    EXPECT_EQ(b->delta.router[unsigned(rtr::unknown_recipient)], 1u);
}

TEST_F(RouterPipeline, UnknownRecipientIsNotSentForACorruptDatagram)
{
    bytes f = from(carol, message_payload(0x01020304, {9}));
    payload(f)[2] ^= 0x10;
    expect_drop(f, drop::udp_bad_cksum);
}

TEST_F(RouterPipeline, DatagramsFromTheEngineItselfAreDropped)
{
    client self = carol;
    self.ip_be = ctx->ports[0].ip_be;
    expect_drop(from(self, heartbeat_payload()), drop::router_self_source);
    expect_drop(from(self, message_payload(1, {})), drop::router_self_source);
}

TEST_F(RouterPipeline, DatagramsFromSourcesNoReplyMayGoToAreDropped)
{
    for (uint32_t bad_ip : {ip4(0, 0, 0, 0), ip4(0, 1, 2, 3), ip4(127, 0, 0, 1), ip4(224, 0, 0, 5),
                            ip4(239, 1, 1, 1), ip4(240, 0, 0, 1), ip4(255, 255, 255, 255)}) {
        client c = carol;
        c.ip_be = bad_ip;
        expect_drop(from(c, register_payload(77)), drop::router_bad_source);
        expect_drop(from(c, heartbeat_payload()), drop::router_bad_source);
        expect_drop(from(c, message_payload(alice_id, {1})), drop::router_bad_source);
    }
    client zero_port = carol;
    zero_port.port = 0;
    expect_drop(from(zero_port, register_payload(77)), drop::router_bad_source);
    client group_mac = carol;
    group_mac.mac.addr_bytes[0] |= 0x01;
    expect_drop(from(group_mac, message_payload(alice_id, {1})), drop::router_bad_source);
    EXPECT_EQ(reg->find_id(77), nullptr);
}

TEST_F(RouterPipeline, CodecRejectionsAreCountedAsDrops)
{
    expect_drop(from(carol, {}), drop::router_empty);
    expect_drop(from(carol, {0x01}), drop::router_reply_type);
    expect_drop(from(carol, {0x05}), drop::router_reply_type);
    expect_drop(from(carol, {0x03, 1, 2, 3, 4}), drop::router_reply_type);
    expect_drop(from(carol, {0x09, 1}), drop::router_unknown_type);
    expect_drop(from(carol, {0x00, 1, 2, 3}), drop::router_bad_len);
    expect_drop(from(carol, {0x04, 0}), drop::router_bad_len);
}

TEST_F(RouterPipeline, NonRouterTrafficGoesToTheKernel)
{
    udp_frame dns;
    dns.dst_port = 53;
    dns.payload = {1, 2, 3};
    bytes arp = build(dns);
    eth(arp)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    auto b = run(0, {build(dns), arp});
    EXPECT_EQ(b->find(0), where::exc);
    EXPECT_EQ(b->find(1), where::exc);
    EXPECT_EQ(b->delta.exceptions[unsigned(exc::udp_other_port)], 1u);
    EXPECT_EQ(b->delta.exceptions[unsigned(exc::arp)], 1u);
}

TEST_F(RouterPipeline, MultiSegmentRouterDatagramIsDropped)
{
    register_client(bob_id, bob);
    rte_mbuf* head = make_mbuf(from(alice, message_payload(bob_id, {1, 2})), 0).release();
    rte_mbuf* tail = make_mbuf({0xee, 0xee}).release();
    ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
    auto b = run_mbufs(0, {head});
    EXPECT_EQ(b->find(0), where::drop);
    EXPECT_EQ(b->delta.drops[unsigned(drop::multi_seg)], 1u);
}

TEST_F(RouterPipeline, MixedBurstOf32)
{
    register_client(alice_id, alice, 100);
    register_client(bob_id, bob, 100);
    struct kind {
        bytes frame;
        where w;
        uint16_t port;       // for tx
        int reply_type;      // for tx: first payload byte, -1 to skip
    };
    bytes bad_ip = from(carol, heartbeat_payload());
    ipv4(bad_ip)->hdr_checksum ^= 0x4000;
    bytes arp = from(carol, heartbeat_payload());
    eth(arp)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    udp_frame other_port;
    other_port.dst_port = 9999;
    const std::vector<kind> kinds = {
        {from(carol, register_payload(77)), where::ctl, 0, -1},
        {from(alice, heartbeat_payload()), where::tx, 0, 0x05},
        {from(carol, heartbeat_payload()), where::drop, 0, -1},
        {from(alice, message_payload(bob_id, {1, 2, 3})), where::tx, 1, 0x02},
        {from(carol, message_payload(4242, {1})), where::tx, 0, 0x03},
        {bad_ip, where::drop, 0, -1},
        {arp, where::exc, 0, -1},
        {build(other_port), where::exc, 0, -1},
    };
    std::vector<unsigned> order;
    for (unsigned i = 0; i < burst_size; ++i)
        order.push_back(i % kinds.size());
    std::shuffle(order.begin(), order.end(), std::mt19937(2024));

    std::vector<bytes> frames;
    for (unsigned k : order)
        frames.push_back(kinds[k].frame);
    auto b = run(0, frames, 7000);

    for (unsigned i = 0; i < burst_size; ++i) {
        const kind& k = kinds[order[i]];
        uint16_t port = 99;
        ASSERT_EQ(b->find(i, &port), k.w) << "packet " << i << " (kind " << order[i] << ")";
        if (k.w == where::tx) {
            EXPECT_EQ(port, k.port) << "packet " << i;
            EXPECT_EQ(b->frame(i)[headers_len], k.reply_type) << "packet " << i;
        }
    }
    const unsigned each = burst_size / kinds.size();
    const lcore_stats& d = b->delta;
    EXPECT_EQ(d.router[unsigned(rtr::register_rx)], each);
    EXPECT_EQ(d.router[unsigned(rtr::heartbeat_answered)], each);
    EXPECT_EQ(d.router[unsigned(rtr::message_forwarded)], each);
    EXPECT_EQ(d.router[unsigned(rtr::unknown_recipient)], each);
    EXPECT_EQ(d.drops[unsigned(drop::router_hb_unregistered)], each);
    EXPECT_EQ(d.drops[unsigned(drop::ipv4_bad_cksum)], each);
    EXPECT_EQ(d.exceptions[unsigned(exc::arp)], each);
    EXPECT_EQ(d.exceptions[unsigned(exc::udp_other_port)], each);
    EXPECT_EQ(b->out.n_tx[0], 2 * each);
    EXPECT_EQ(b->out.n_tx[1], each);
    EXPECT_EQ(reg->find_id(alice_id)->seen(), 7000u);
}

TEST_F(RouterPipeline, TruncatedRouterFramesAreDroppedWithoutReadingPastTheFrame)
{
    register_client(bob_id, bob);
    for (const bytes& f : {from(alice, message_payload(bob_id, bytes(40, 1))), from(carol, register_payload(5))}) {
        for (std::size_t len = 0; len < f.size(); ++len) {
            guarded_frame g(f, len);
            auto b = run_mbufs(0, {g.release()});
            EXPECT_EQ(b->find(0), where::drop) << "length " << len;
        }
    }
}

// init() must clear only the max_ports TX counts: a mask of all 64 bits once made its reset()
// write n_tx[8..63], past the array into exc[] (UBSan caught it).
TEST(RouterBurstOut, InitWritesOnlyTheTxCounts)
{
    auto out = std::make_unique<burst_out>();
    std::memset(out.get(), 0xab, sizeof(*out));
    init(*out);
    for (unsigned p = 0; p < max_ports; ++p)
        EXPECT_EQ(out->n_tx[p], 0);
    for (rte_mbuf* m : out->exc)
        EXPECT_EQ(reinterpret_cast<uintptr_t>(m), 0xababababababababull) << "init() wrote into exc[]";
}

// ---- two bursts in flight (burst_pipeline, as worker_main runs the fast path) ----

// Where each mbuf of a finished burst went (tx port, or -1 exc, -2 ctl, -3 drop) and its bytes;
// frees them all.
struct fate {
    int to;
    bytes frame;
    bool operator==(const fate&) const = default;
};
std::map<const rte_mbuf*, fate> collect(burst_out& o)
{
    std::map<const rte_mbuf*, fate> r;
    for (uint16_t p = 0; p < max_ports; ++p)
        for (unsigned k = 0; k < o.n_tx[p]; ++k)
            r[o.tx[p][k]] = {p, contents(o.tx[p][k])};
    for (unsigned k = 0; k < o.n_exc; ++k)
        r[o.exc[k]] = {-1, contents(o.exc[k])};
    for (unsigned k = 0; k < o.n_ctl; ++k)
        r[o.ctl[k]] = {-2, contents(o.ctl[k])};
    for (unsigned k = 0; k < o.n_drop; ++k)
        r[o.drop[k]] = {-3, contents(o.drop[k])};
    for (uint16_t p = 0; p < max_ports; ++p)
        rte_pktmbuf_free_bulk(o.tx[p], o.n_tx[p]);
    rte_pktmbuf_free_bulk(o.exc, o.n_exc);
    rte_pktmbuf_free_bulk(o.ctl, o.n_ctl);
    rte_pktmbuf_free_bulk(o.drop, o.n_drop);
    o.reset();
    return r;
}

TEST_F(RouterPipeline, BurstPipelineHoldsOneBurstAndDecidesWhenItFinishesIt)
{
    register_client(alice_id, alice, 100);
    register_client(bob_id, bob, 100);
    auto pipe = std::make_unique<burst_pipeline>();
    EXPECT_FALSE(pipe->holding());
    EXPECT_EQ(pipe->drain(*ctx, st, 1), nullptr);

    std::vector<rte_mbuf*> a = {make_mbuf(from(alice, heartbeat_payload()), 0).release(),
                                make_mbuf(from(alice, message_payload(bob_id, {1, 2})), 0).release(),
                                make_mbuf(from(carol, heartbeat_payload()), 0).release()};
    EXPECT_EQ(pipe->push(*ctx, st, 0, a.data(), static_cast<uint16_t>(a.size()), 1000), nullptr)
        << "the first burst is held back";
    EXPECT_TRUE(pipe->holding());
    EXPECT_EQ(st.rx_packets, a.size()) << "received bursts are counted when staged";
    EXPECT_EQ(st.router[unsigned(rtr::heartbeat_answered)], 0u);

    // Between the halves the registry changes: the staged burst holds no registry pointer, so
    // its lookups see the registry as it is when the burst is finished.
    register_client(0x77, carol, 100);

    std::vector<rte_mbuf*> b = {make_mbuf(from(bob, heartbeat_payload()), 1).release()};
    burst_out* done = pipe->push(*ctx, st, 1, b.data(), 1, 2000);
    ASSERT_NE(done, nullptr);
    auto fa = collect(*done);
    ASSERT_EQ(fa.size(), a.size()) << "the previous burst, all of it and nothing else";
    EXPECT_EQ(fa[a[0]].to, 0);
    EXPECT_EQ(fa[a[0]].frame[headers_len], 0x05);
    EXPECT_EQ(fa[a[1]].to, 1) << "forwarded out of bob's port";
    EXPECT_EQ(fa[a[2]].to, 0) << "carol registered before her Heartbeat's burst was finished";
    EXPECT_EQ(reg->find_id(alice_id)->seen(), 2000u) << "stamped with the finishing time";
    EXPECT_EQ(reg->find_id(bob_id)->seen(), 100u) << "bob's Heartbeat is still held";

    done = pipe->drain(*ctx, st, 3000);
    ASSERT_NE(done, nullptr);
    auto fb = collect(*done);
    ASSERT_EQ(fb.size(), 1u);
    EXPECT_EQ(fb[b[0]].to, 1) << "answered on the port it came in on";
    EXPECT_EQ(reg->find_id(bob_id)->seen(), 3000u);
    EXPECT_FALSE(pipe->holding());
    EXPECT_EQ(pipe->drain(*ctx, st, 4000), nullptr);
    EXPECT_EQ(st.router[unsigned(rtr::heartbeat_answered)], 3u);
    EXPECT_EQ(st.router[unsigned(rtr::message_forwarded)], 1u);
}

TEST_F(RouterPipeline, BurstPipelineDecidesEveryPacketAsProcessBurstDoes)
{
    register_client(alice_id, alice, 100);
    register_client(bob_id, bob, 100);
    bytes bad_ip = from(carol, heartbeat_payload());
    ipv4(bad_ip)->hdr_checksum ^= 0x4000;
    bytes arp = from(carol, heartbeat_payload());
    eth(arp)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    bytes truncated = from(alice, heartbeat_payload());
    truncated.resize(30);
    const std::vector<bytes> kinds = {
        from(carol, register_payload(77)),          from(alice, heartbeat_payload()),
        from(carol, heartbeat_payload()),           from(alice, message_payload(bob_id, {1, 2, 3})),
        from(carol, message_payload(4242, {1})),    bad_ip,
        arp,                                        from(bob, heartbeat_payload()),
        from(bob, message_payload(alice_id, {9})),  truncated,
    };
    // Bursts of every size from 1 to 32, frames drawn at random; the same frames through
    // process_burst must end the same way (same list, same port, same bytes).
    std::mt19937 rnd(7);
    auto pipe = std::make_unique<burst_pipeline>();
    lcore_stats ref_st;
    std::memset(&ref_st, 0, sizeof(ref_st));
    std::vector<rte_mbuf*> held;  // the burst staged and not yet finished
    std::vector<fate> held_ref;   // what process_burst made of the same frames
    auto check = [&](burst_out* done) {
        ASSERT_NE(done, nullptr);
        auto got = collect(*done);
        ASSERT_EQ(got.size(), held.size());
        for (unsigned i = 0; i < held.size(); ++i) {
            ASSERT_EQ(got.count(held[i]), 1u) << "packet " << i;
            EXPECT_EQ(got[held[i]], held_ref[i]) << "packet " << i;
        }
    };
    uint64_t now = 10'000;
    for (unsigned size = 1; size <= burst_size; ++size, now += 10) {
        std::vector<bytes> frames;
        for (unsigned k = 0; k < size; ++k)
            frames.push_back(kinds[rnd() % kinds.size()]);
        std::vector<rte_mbuf*> ref;
        for (const auto& f : frames)
            ref.push_back(make_mbuf(f, 0).release());
        auto ro = std::make_unique<burst_out>();
        init(*ro);
        process_burst(*ctx, ref_st, 0, ref.data(), static_cast<uint16_t>(size), now, *ro);
        auto r = collect(*ro);
        std::vector<fate> ref_fates;
        for (rte_mbuf* m : ref)
            ref_fates.push_back(r.at(m));

        std::vector<rte_mbuf*> in;
        for (const auto& f : frames)
            in.push_back(make_mbuf(f, 0).release());
        burst_out* done = pipe->push(*ctx, st, 0, in.data(), static_cast<uint16_t>(size), now);
        if (size == 1)
            EXPECT_EQ(done, nullptr);
        else
            check(done);
        held = in;
        held_ref = ref_fates;
    }
    check(pipe->drain(*ctx, st, now));
    EXPECT_EQ(st.rx_packets, ref_st.rx_packets);
    for (unsigned i = 0; i < drop_count; ++i)
        EXPECT_EQ(st.drops[i], ref_st.drops[i]) << drop_name(i);
    for (unsigned i = 0; i < rtr_count; ++i)
        EXPECT_EQ(st.router[i], ref_st.router[i]) << rtr_name(i);
    for (unsigned i = 0; i < exc_count; ++i)
        EXPECT_EQ(st.exceptions[i], ref_st.exceptions[i]);
}

// ---- the registration path (control lcore) ----

TEST_F(RouterPipeline, ApplyRegisterRegistersAndAnswers)
{
    mbuf_ptr m = make_mbuf(from(carol, register_payload(77)), 0);
    const std::size_t in_len = rte_pktmbuf_data_len(m.get());
    EXPECT_EQ(router::apply_register(*reg, m.get(), ctx->ports[0], 300), upsert_result::added);

    const router::entry* e = reg->find_id(77);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->ip_be, carol.ip_be);
    EXPECT_EQ(e->udp_port_be, rte_cpu_to_be_16(carol.port));
    EXPECT_EQ(e->port_id, 0);
    EXPECT_TRUE(rte_is_same_ether_addr(&e->next_hop, &carol.mac));
    EXPECT_EQ(e->seen(), 300u);
    EXPECT_EQ(reg->find_endpoint(router::endpoint_key(carol.ip_be, rte_cpu_to_be_16(carol.port))), e);

    EXPECT_LE(rte_pktmbuf_data_len(m.get()), in_len);
    expect_reply(contents(m.get()), carol, {0x01});

    // Registering again refreshes.
    mbuf_ptr again = make_mbuf(from(carol, register_payload(77)), 0);
    EXPECT_EQ(router::apply_register(*reg, again.get(), ctx->ports[0], 400), upsert_result::refreshed);
    EXPECT_EQ(reg->find_id(77)->seen(), 400u);

    // And a Heartbeat right after is answered.
    auto b = run(0, {from(carol, heartbeat_payload())});
    EXPECT_EQ(b->find(0), where::tx);
}

// A registry whose indexes have 4 buckets: most keys live away from their home bucket, so the
// burst's lookups go round again (step::again) for the next bucket; every packet must still
// end where it belongs, and a key beyond a full probe window is refused as full.
TEST_F(RouterPipeline, OverflowingIndexBucketsStillAnswerEveryPacket)
{
    router::registry::params p;
    p.name = "ut_ovf";
    p.capacity = 64;
    p.max_readers = 1;
    p.socket_id = SOCKET_ID_ANY;
    p.index_buckets = 4;  // 16 endpoint ways, 32 id ways
    reg.reset(router::registry::create(p));
    ASSERT_NE(reg, nullptr);
    plug();
    // 12 clients whose endpoints, and 12 IDs that, all hash to one bucket: 4 (8) per bucket fit,
    // the others live 1-2 buckets further.
    std::vector<client> cs;
    std::vector<uint32_t> ids;
    for (uint32_t k = 0; cs.size() < 12; ++k) {
        client c{ip4(198, 18, 1 + k / 200, static_cast<uint8_t>(10 + k % 200)), static_cast<uint16_t>(41000 + k), mac(0x40),
                 0};
        if (reg->endpoints().home(router::endpoint_key(c.ip_be, rte_cpu_to_be_16(c.port))) == 0)
            cs.push_back(c);
    }
    for (uint32_t id = 1000; ids.size() < 12; ++id)
        if (reg->ids().home(id) == 1)
            ids.push_back(id);
    for (uint32_t k = 0; k < 12; ++k)
        register_client(ids[k], cs[k]);
    EXPECT_EQ(reg->endpoints().passed_buckets(), 2u);
    EXPECT_EQ(reg->ids().passed_buckets(), 1u);
    for (uint32_t k = 12; k < 40; ++k) {
        const router::endpoint e{ip4(198, 18, 2, static_cast<uint8_t>(k)), rte_cpu_to_be_16(42000), 0, mac(0x60)};
        if (reg->upsert(2000 + k, e, 100) == upsert_result::full)
            break;
        ASSERT_LT(k, 16u) << "more endpoints than ways";
    }
    EXPECT_GT(reg->counters().full, 0u);

    std::vector<bytes> frames;
    for (const auto& c : cs)
        frames.push_back(from(c, heartbeat_payload()));
    for (uint32_t k = 0; k < cs.size(); ++k)
        frames.push_back(from(cs[k], message_payload(ids[(k + 1) % 12], {1, 2, 3})));
    frames.push_back(from(cs[0], message_payload(999, {1})));  // unknown: examines every bucket
    frames.push_back(from(carol, heartbeat_payload()));        // unregistered
    auto b = run(0, frames, 7777);
    for (unsigned i = 0; i < frames.size() - 1; ++i)
        EXPECT_EQ(b->find(i), where::tx) << "packet " << i;
    EXPECT_EQ(b->find(frames.size() - 1), where::drop);
    EXPECT_EQ(b->delta.router[unsigned(rtr::heartbeat_answered)], cs.size());
    EXPECT_EQ(b->delta.router[unsigned(rtr::message_forwarded)], cs.size());
    EXPECT_EQ(b->delta.router[unsigned(rtr::unknown_recipient)], 1u);
    for (uint32_t k = 0; k < cs.size(); ++k) {
        EXPECT_EQ(reg->find_id(ids[k])->seen(), 7777u) << "heartbeat of client " << k << " did not refresh it";
        // Each forward went to its recipient's endpoint.
        bytes out = b->frame(cs.size() + k);
        const client& to = cs[(k + 1) % 12];
        EXPECT_EQ(ipv4(out)->dst_addr, to.ip_be) << k;
        EXPECT_EQ(rte_be_to_cpu_16(udp(out)->dst_port), to.port) << k;
    }
}

TEST_F(RouterPipeline, ApplyRegisterWhenFullLeavesTheFrameAlone)
{
    reg = make_registry(1);
    plug();
    register_client(alice_id, alice);
    const bytes f = from(carol, register_payload(77));
    mbuf_ptr m = make_mbuf(f, 0);
    EXPECT_EQ(router::apply_register(*reg, m.get(), ctx->ports[0], 300), upsert_result::full);
    EXPECT_EQ(contents(m.get()), f);
    EXPECT_EQ(reg->find_id(77), nullptr);
}

TEST_F(RouterPipeline, ControlAppliesRegistrationsAndAnswersThroughTheWorker)
{
    struct ring_free {
        void operator()(rte_ring* r) const { rte_ring_free(r); }
    };
    auto ring = [](const char* name) {
        return std::unique_ptr<rte_ring, ring_free>(
            rte_ring_create(name, 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
    };
    auto exc_r = ring("ut_exc"), ctl_r = ring("ut_ctl"), tx_r = ring("ut_tx");
    ASSERT_TRUE(exc_r && ctl_r && tx_r);
    lcore_stats cst;
    std::memset(&cst, 0, sizeof(cst));
    control c(*ctx, cst, {0, 1}, {{exc_r.get(), ctl_r.get(), tx_r.get()}});

    // What a worker hands over: a Register Client and an ARP request for a port without a TAP.
    auto b = run(0, {from(carol, register_payload(77))});
    ASSERT_EQ(b->out.n_ctl, 1);
    ASSERT_EQ(rte_ring_enqueue(ctl_r.get(), b->out.ctl[0]), 0);
    b->out.n_ctl = 0;  // the ring owns it now
    bytes arp = from(carol, heartbeat_payload());
    eth(arp)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
    ASSERT_EQ(rte_ring_enqueue(exc_r.get(), make_mbuf(arp, 0).release()), 0);

    EXPECT_TRUE(c.poll(1000));

    ASSERT_NE(reg->find_id(77), nullptr);
    rte_mbuf* reply = nullptr;
    ASSERT_EQ(rte_ring_dequeue(tx_r.get(), reinterpret_cast<void**>(&reply)), 0);
    mbuf_ptr owned(reply);
    EXPECT_EQ(reply->port, 0);
    expect_reply(contents(reply), carol, {0x01});
    EXPECT_EQ(rte_ring_count(tx_r.get()), 0u);
    EXPECT_EQ(cst.drops[unsigned(drop::exception_no_tap)], 1u);
}

TEST_F(RouterPipeline, InspectionDropsWhatADropRuleMatchesAndForwardsTheRest)
{
    inspect::inspector::config ic;
    ic.lcores = {rte_lcore_id()};
    inspect::inspector insp(ic);
    std::vector<inspect::rule> rules;
    std::string err;
    ASSERT_TRUE(inspect::parse_rules("1:/evil/ drop\n2:/note/i count\n", &rules, &err)) << err;
    ASSERT_TRUE(insp.publish(rules, &err)) << err;
    cfg.inspect = insp.point("router");
    ASSERT_NE(cfg.inspect, nullptr);
    register_client(bob_id, bob);

    auto text = [](const char* s) { return bytes(s, s + std::strlen(s)); };
    // The recipient ID is not payload: a rule on the payload never matches the header.
    auto b = run(0, {from(alice, message_payload(bob_id, text("fine"))),
                     from(alice, message_payload(bob_id, text("an evil plan"))),
                     from(alice, message_payload(bob_id, text("a NOTE, and evil"))),
                     from(alice, message_payload(bob_id, text("NOTE only"))),
                     from(alice, message_payload(0x6c697665, text("to nobody: evil")))});
    EXPECT_EQ(b->find(0), where::tx);
    EXPECT_EQ(b->find(1), where::drop);
    EXPECT_EQ(b->find(2), where::drop);
    EXPECT_EQ(b->find(3), where::tx);
    EXPECT_EQ(b->find(4), where::tx) << "Unknown Recipient: nothing is forwarded, nothing inspected";
    EXPECT_EQ(b->delta.drops[unsigned(drop::router_inspect_drop)], 2u);
    EXPECT_EQ(b->delta.router[unsigned(rtr::message_forwarded)], 2u);
    EXPECT_EQ(b->delta.router[unsigned(rtr::unknown_recipient)], 1u);

    const auto* pt = static_cast<const inspect::point*>(cfg.inspect);
    const inspect::point_counters c = pt->sum();
    EXPECT_EQ(c.scanned, 4u);
    EXPECT_EQ(c.matched, 3u);
    EXPECT_EQ(c.dropped, 2u);
    const auto m = insp.matches();
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].matches, 2u);  // rule 1
    EXPECT_EQ(m[1].matches, 2u);  // rule 2
    cfg.inspect = nullptr;
}

} // namespace
} // namespace peregrine::engine
