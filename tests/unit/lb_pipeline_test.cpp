// The load-balancer fast path through engine::process_burst (Request Serving Node answered by
// the worker from the published Maglev table; writes handed to the control lcore; every
// malformed datagram dropped with its reason), and through engine::control to lb::state.

#include <memory>
#include <set>

#include <gtest/gtest.h>

#include <rte_ring.h>

#include "engine/control.hpp"
#include "engine/dispatch.hpp"
#include "lb/module.hpp"
#include "test_env.hpp"

namespace peregrine::engine {
namespace {

using namespace pgtest;
using lb::endpoint;

constexpr uint16_t lb_port = 7200;
const rte_ether_addr peer_mac = mac(0x21);

class LbPipeline : public ::testing::Test {
protected:
    LbPipeline()
    {
        reg = make_registry(16);  // for its RCU variable
        ctx->ports[0] = {mac(1), ip4(198, 18, 0, 1), 24};
        cfg.udp_port = lb_port;
        lb::state_params lp;
        lp.pool = pool();
        lp.rcu = reg->rcu();
        lp.tsc_hz = 1'000'000;
        state = std::make_unique<lb::state>(cfg, ctx->ports, lp);
        mod = std::make_unique<lb::module>(cfg, *state);
        EXPECT_TRUE(ctx->add(mod.get()));
        std::memset(&st, 0, sizeof(st));
        in_use = rte_mempool_in_use_count(pool());
    }
    ~LbPipeline() override
    {
        state.reset();
        EXPECT_EQ(rte_mempool_in_use_count(pool()), in_use) << "mbuf leak";
    }

    void publish(unsigned n)
    {
        for (unsigned i = 0; i < n; ++i)
            eps.push_back({ip4(198, 18, 7, static_cast<uint8_t>(i + 1)), rte_cpu_to_be_16(static_cast<uint16_t>(9000 + i))});
        tbl = std::make_unique<lb::table>();
        lb::build(tbl.get(), eps.data(), n);
        cfg.current.store(tbl.get());
    }

    bytes from(uint32_t ip_be, uint16_t sport, const bytes& payload, bool cksum = true)
    {
        udp_frame f;
        f.dst_mac = ctx->ports[0].mac;
        f.src_mac = peer_mac;
        f.src_ip_be = ip_be;
        f.dst_ip_be = ctx->ports[0].ip_be;
        f.src_port = sport;
        f.dst_port = lb_port;
        f.payload = payload;
        f.udp_cksum = cksum;
        return build(f);
    }

    // Runs one frame; returns where it went (0 tx, 1 ctl, 2 drop, 3 exc) and leaves it in *m.
    int run1(rte_mbuf* in, rte_mbuf** m)
    {
        burst_out out;
        init(out);
        const lcore_stats before = st;
        process_burst(*ctx, st, 0, &in, 1, 1000, out);
        EXPECT_EQ(st.rx_packets - before.rx_packets, 1u);
        *m = in;
        if (out.n_tx[0]) {
            EXPECT_EQ(out.tx[0][0], in);
            return 0;
        }
        if (out.n_ctl)
            return 1;
        if (out.n_drop) {
            EXPECT_EQ(st.drop_total() - before.drop_total(), 1u);
            return 2;
        }
        return 3;
    }

    bytes answer(const bytes& f, int* where)
    {
        rte_mbuf* m;
        *where = run1(make_mbuf(f, 0).release(), &m);
        bytes r = contents(m);
        rte_pktmbuf_free(m);
        return r;
    }

    void expect_drop(const bytes& f, drop why)
    {
        const uint64_t before = st.drops[unsigned(why)];
        int w;
        answer(f, &w);
        EXPECT_EQ(w, 2);
        EXPECT_EQ(st.drops[unsigned(why)] - before, 1u) << "wanted " << drop_name(unsigned(why));
    }

    std::unique_ptr<context> ctx = std::make_unique<context>();
    registry_ptr reg;
    lb::config cfg;
    std::unique_ptr<lb::state> state;
    std::unique_ptr<lb::module> mod;
    lcore_stats st;
    std::vector<endpoint> eps;
    std::unique_ptr<lb::table> tbl;
    unsigned in_use = 0;
};

TEST_F(LbPipeline, RequestServingNodeIsAnsweredFromTheTable)
{
    publish(5);
    const uint32_t cip = ip4(198, 18, 0, 50);
    int w;
    bytes r = answer(from(cip, 41000, {6, 0xab, 0xcd}), &w);
    ASSERT_EQ(w, 0);
    ASSERT_EQ(r.size(), headers_len + lb::serving_node_response_len) << "reply grew past the 3-byte request";
    EXPECT_TRUE(rte_is_same_ether_addr(&eth(r)->dst_addr, &peer_mac));
    EXPECT_EQ(ipv4(r)->dst_addr, cip);
    EXPECT_EQ(ipv4(r)->src_addr, ctx->ports[0].ip_be);
    EXPECT_EQ(rte_be_to_cpu_16(udp(r)->src_port), lb_port);
    EXPECT_EQ(rte_be_to_cpu_16(udp(r)->dst_port), 41000);
    EXPECT_EQ(rte_raw_cksum(ipv4(r), 20), 0xffff);
    EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ipv4(r), udp(r)), 0);
    const uint8_t* p = payload(r);
    EXPECT_EQ(p[0], 7);
    EXPECT_EQ(lb::rd16(p + 1), 0xabcd) << "Request ID echoed";
    const endpoint got = lb::rd_ep(p + 3);
    EXPECT_EQ(got, lb::pick(tbl.get(), lb::requester_hash(cip, rte_cpu_to_be_16(41000))));
    // The same client keeps its node.
    for (int k = 0; k < 3; ++k)
        EXPECT_EQ(lb::rd_ep(payload(r = answer(from(cip, 41000, {6, 0, uint8_t(k)}), &w)) + 3), got);
    EXPECT_EQ(st.lb[unsigned(lbc::request_answered)], 4u);
    // Different clients spread over the nodes.
    std::set<uint64_t> seen;
    for (unsigned k = 0; k < 64; ++k) {
        bytes x = answer(from(ip4(198, 18, 0, static_cast<uint8_t>(60 + k)), 41000, {6, 0, 1}), &w);
        seen.insert(lb::key_of(lb::rd_ep(payload(x) + 3)));
    }
    EXPECT_EQ(seen.size(), 5u);
}

TEST_F(LbPipeline, NoLiveNodeIsNotAnsweredByDefault)
{
    // The origin's client takes any answer as its serving node; it retries only on silence.
    expect_drop(from(ip4(198, 18, 0, 50), 41000, {6, 1, 2}), drop::lb_no_node);
    EXPECT_EQ(st.lb[unsigned(lbc::request_no_node)], 1u);
    publish(0);  // a published table with no node is the same
    expect_drop(from(ip4(198, 18, 0, 50), 41000, {6, 1, 3}), drop::lb_no_node);
    EXPECT_EQ(st.lb[unsigned(lbc::request_no_node)], 2u);
    EXPECT_EQ(st.lb[unsigned(lbc::request_answered)], 0u);
    publish(1);
    int w;
    answer(from(ip4(198, 18, 0, 50), 41000, {6, 1, 4}), &w);
    EXPECT_EQ(w, 0) << "answered once a node is live";
}

TEST_F(LbPipeline, NoLiveNodeIsAnsweredWithZeroesWhenAsked)
{
    cfg.answer_no_node = true;
    int w;
    bytes r = answer(from(ip4(198, 18, 0, 50), 41000, {6, 1, 2}), &w);
    ASSERT_EQ(w, 0);
    EXPECT_EQ(bytes(payload(r), payload(r) + 9), (bytes{7, 1, 2, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(st.lb[unsigned(lbc::request_no_node)], 1u);
    EXPECT_EQ(st.drops[unsigned(drop::lb_no_node)], 0u);
    publish(0);
    r = answer(from(ip4(198, 18, 0, 50), 41000, {6, 1, 3}), &w);
    EXPECT_EQ(bytes(payload(r), payload(r) + 9), (bytes{7, 1, 3, 0, 0, 0, 0, 0, 0}));
}

TEST_F(LbPipeline, AnswersNoSourceMoreBytesThanItSent)
{
    cfg.credit.init(1024);
    publish(3);
    const uint32_t a = ip4(198, 18, 0, 60), b = ip4(198, 18, 0, 61);
    // The origin's 3-byte request, a new Request ID per try: tries 1 and 2 bank 6 bytes, the
    // third is answered (9 bytes for 9).
    expect_drop(from(a, 41000, {6, 0, 1}), drop::lb_unvalidated);
    expect_drop(from(a, 41000, {6, 0, 2}), drop::lb_unvalidated);
    int w;
    answer(from(a, 41000, {6, 0, 3}), &w);
    EXPECT_EQ(w, 0);
    EXPECT_EQ(cfg.credit.balance(a), 0u);
    // Another source is not served from a's balance; another port of a's address shares it.
    expect_drop(from(b, 41000, {6, 0, 1}), drop::lb_unvalidated);
    expect_drop(from(a, 41001, {6, 0, 4}), drop::lb_unvalidated);
    EXPECT_EQ(cfg.credit.balance(a), 3u);
    // Padded with zeros to 9 bytes: answered at once.
    answer(from(b, 41000, {6, 0, 2, 0, 0, 0, 0, 0, 0}), &w);
    EXPECT_EQ(w, 0);
    EXPECT_EQ(st.drops[unsigned(drop::lb_unvalidated)], 4u);
    EXPECT_EQ(st.lb[unsigned(lbc::request_answered)], 2u);
}

TEST(ByteCredit, BalancesPerAddressCappedAndEvicted)
{
    byte_credit c;
    c.init(1);  // one entry: every address collides
    EXPECT_FALSE(c.exchange(1, 3, 9));
    EXPECT_EQ(c.balance(1), 3u);
    EXPECT_TRUE(c.exchange(1, 6, 9));
    EXPECT_EQ(c.balance(1), 0u);
    EXPECT_FALSE(c.exchange(2, 5, 9)) << "2 takes the entry from 0, not from 1's balance";
    EXPECT_EQ(c.balance(1), 0u);
    EXPECT_EQ(c.balance(2), 5u);
    EXPECT_TRUE(c.exchange(2, 1000, 0));
    EXPECT_EQ(c.balance(2), byte_credit::max_balance);
}

TEST_F(LbPipeline, WritesGoToTheControlLcore)
{
    const uint32_t ip = ip4(198, 18, 0, 51);
    const bytes writes[] = {{0, 0, 1, 1, 2, 3, 4, 0, 5}, {1, 0, 1, 1, 2, 3, 4, 0, 5}, {3, 0, 1},
                            {4, 0, 1, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4, 0, 5}, {5, 0, 1, 0, 1, 0, 0, 0, 1}};
    for (const auto& p : writes) {
        int w;
        answer(from(ip, 5000, p), &w);
        EXPECT_EQ(w, 1) << "type " << int(p[0]);
    }
    EXPECT_EQ(st.lb[unsigned(lbc::to_control)], 5u);
    // Under least-loaded, Request Serving Node is a write too (the assignment is counted).
    cfg.pol = lb::policy::least_loaded;
    int w;
    answer(from(ip, 5000, {6, 0, 1}), &w);
    EXPECT_EQ(w, 1);
}

TEST_F(LbPipeline, MalformedIsDroppedAndCounted)
{
    const uint32_t ip = ip4(198, 18, 0, 52);
    expect_drop(from(ip, 5000, {}), drop::lb_empty);
    expect_drop(from(ip, 5000, {6, 0}), drop::lb_bad_len);
    expect_drop(from(ip, 5000, {6, 0, 1, 1}), drop::lb_bad_len);  // padding that is not zeros
    expect_drop(from(ip, 5000, {0, 0, 1, 1, 2, 3, 4, 0}), drop::lb_bad_len);
    expect_drop(from(ip, 5000, {7, 0, 1, 1, 2, 3, 4, 0, 5}), drop::lb_reply_type);
    expect_drop(from(ip, 5000, {9, 0, 1}), drop::lb_reply_type);
    expect_drop(from(ip, 5000, {8, 0, 1}), drop::lb_unknown_type);
    expect_drop(from(ip, 5000, {0xff, 0, 1}), drop::lb_unknown_type);
    expect_drop(from(ctx->ports[0].ip_be, 5000, {6, 0, 1}), drop::lb_self_source);
    expect_drop(from(ip4(127, 0, 0, 1), 5000, {6, 0, 1}), drop::lb_bad_source);
    expect_drop(from(ip4(224, 0, 0, 1), 5000, {6, 0, 1}), drop::lb_bad_source);
    bytes bad = from(ip, 5000, {6, 0, 1});
    payload(bad)[2] ^= 0x40;  // corrupt Request ID under a now-wrong UDP checksum
    expect_drop(bad, drop::udp_bad_cksum);
    // No checksum at all is the sender's choice (UDP over IPv4): answered.
    publish(1);
    int w;
    answer(from(ip, 5000, {6, 0, 1}, false), &w);
    EXPECT_EQ(w, 0);
}

TEST_F(LbPipeline, ReplyThatDoesNotFitIsDroppedNotWrittenPastTheBuffer)
{
    publish(1);
    const bytes f = from(ip4(198, 18, 0, 53), 5000, {6, 0, 1});
    guarded_frame g(f, f.size(), 0);
    rte_mbuf* m;
    EXPECT_EQ(run1(g.mbuf(), &m), 2);
    EXPECT_EQ(st.drops[unsigned(drop::lb_no_room)], 1u);
}

TEST_F(LbPipeline, WithoutTheModuleItsPortGoesToTheKernel)
{
    // --no-lb: the daemon plugs no lb module in.
    ctx = std::make_unique<context>();
    ctx->ports[0] = {mac(1), ip4(198, 18, 0, 1), 24};
    int w;
    answer(from(ip4(198, 18, 0, 54), 5000, {6, 0, 1}), &w);
    EXPECT_EQ(w, 3);
    EXPECT_EQ(st.exceptions[unsigned(exc::udp_other_port)], 1u);
}

TEST_F(LbPipeline, ControlAppliesWritesAndSendsThroughTheWorker)
{
    struct ring_free {
        void operator()(rte_ring* r) const { rte_ring_free(r); }
    };
    auto ring = [](const char* name) {
        return std::unique_ptr<rte_ring, ring_free>(rte_ring_create(name, 64, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
    };
    auto exc_r = ring("ut_lexc"), ctl_r = ring("ut_lctl"), tx_r = ring("ut_ltx");
    lcore_stats cst;
    std::memset(&cst, 0, sizeof(cst));
    {
        control c(*ctx, cst, {0}, {{exc_r.get(), ctl_r.get(), tx_r.get()}});
        const uint32_t nip = ip4(198, 18, 0, 70);
        rte_mbuf* m;
        ASSERT_EQ(run1(make_mbuf(from(nip, 5000, {0, 0x42, 0x43, 198, 18, 9, 9, 0x23, 0x28}), 0).release(), &m), 1);
        ASSERT_EQ(rte_ring_enqueue(ctl_r.get(), m), 0);
        EXPECT_TRUE(c.poll(5000));
        rte_mbuf* reply = nullptr;
        ASSERT_EQ(rte_ring_dequeue(tx_r.get(), reinterpret_cast<void**>(&reply)), 0);
        bytes r = contents(reply);
        rte_pktmbuf_free(reply);
        EXPECT_EQ(bytes(payload(r), payload(r) + 3), (bytes{3, 0x42, 0x43}));
        EXPECT_EQ(ipv4(r)->dst_addr, nip);
        // Then the probe that asks the new node to show it receives our messages.
        rte_mbuf* probe = nullptr;
        ASSERT_EQ(rte_ring_dequeue(tx_r.get(), reinterpret_cast<void**>(&probe)), 0);
        bytes pr = contents(probe);
        rte_pktmbuf_free(probe);
        EXPECT_EQ(rte_be_to_cpu_16(udp(pr)->dgram_len), 8 + 3);
        EXPECT_EQ(payload(pr)[0], 9);
        // The node is now what workers answer with.
        const lb::table* t = cfg.current.load();
        ASSERT_NE(t, nullptr);
        ASSERT_EQ(t->n_nodes, 1u);
        EXPECT_EQ(t->nodes[0], (endpoint{ip4(198, 18, 9, 9), rte_cpu_to_be_16(9000)}));
        int w;
        bytes a = answer(from(ip4(198, 18, 0, 71), 6000, {6, 0, 9}), &w);
        EXPECT_EQ(lb::rd_ep(payload(a) + 3), t->nodes[0]);
    }
}

} // namespace
} // namespace peregrine::engine
