// lb::state, the control lcore's side: registration and notifications (including Serving Nodes
// split over datagrams), Acks and retransmission until the peer is marked unhealthy, expiry,
// duplicate Request IDs, (group, user) registrations and Start Call, least-loaded choice.
// Time is a fake TSC at 1 MHz, so "1 s" is 1'000'000 ticks.

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "lb/state.hpp"
#include "test_env.hpp"

namespace peregrine::lb {
namespace {

using namespace pgtest;

constexpr uint64_t hz = 1'000'000;
constexpr uint64_t sec = hz;
constexpr uint16_t lb_port = 7200;

struct host {
    uint32_t ip_be;
    uint16_t port;  // host order
    uint8_t mac_lo;
    endpoint sender() const { return {ip_be, rte_cpu_to_be_16(port)}; }
    // What a serving node advertises: its public address, another port.
    endpoint pub() const { return {ip_be, rte_cpu_to_be_16(static_cast<uint16_t>(port + 1000))}; }
};

host node(unsigned i) { return {ip4(198, 18, 3, static_cast<uint8_t>(10 + i % 200)), static_cast<uint16_t>(5000 + i), uint8_t(0x40 + i)}; }
host ctl(unsigned i) { return {ip4(198, 18, 4, static_cast<uint8_t>(10 + i)), static_cast<uint16_t>(6000 + i), uint8_t(0x80 + i)}; }
const host client{ip4(198, 18, 5, 9), 41000, 0x99};
endpoint peer_endpoint() { return {ip4(198, 18, 5, 10), rte_cpu_to_be_16(41001)}; }

// One frame the state sent.
struct sent {
    endpoint to;
    bytes payload;
    uint8_t t() const { return payload.at(0); }
    uint16_t req() const { return rd16(payload.data() + 1); }
};

class LbState : public ::testing::Test {
protected:
    LbState()
    {
        ports[0] = {mac(1), ip4(198, 18, 0, 1), 16};
        std::memset(&st, 0, sizeof(st));
        in_use = rte_mempool_in_use_count(pool());
        make();
    }
    ~LbState() override
    {
        s.reset();
        EXPECT_EQ(rte_mempool_in_use_count(pool()), in_use) << "mbuf leak";
    }

    void make(bool least_loaded = false, uint32_t max_registrations = 1u << 20, uint64_t probe_s = 0)
    {
        s.reset();
        cfg.pol = least_loaded ? policy::least_loaded : policy::maglev;
        state_params p;
        p.pool = pool();
        p.tsc_hz = hz;
        p.max_registrations = max_registrations;
        p.probe_s = probe_s;
        s = std::make_unique<state>(cfg, ports, p);
    }

    // A datagram from h, as a worker hands it over.
    void recv(const host& h, const bytes& payload)
    {
        udp_frame f;
        f.dst_mac = ports[0].mac;
        f.src_mac = mac(h.mac_lo);
        f.src_ip_be = h.ip_be;
        f.dst_ip_be = ports[0].ip_be;
        f.src_port = h.port;
        f.dst_port = lb_port;
        f.payload = payload;
        s->handle(make_mbuf(build(f), 0).release(), now, st);
    }

    // Everything sent since the last call, checked for well-formedness.
    std::vector<sent> out()
    {
        std::vector<sent> r;
        for (rte_mbuf* m : s->outbox()) {
            bytes f = contents(m);
            EXPECT_EQ(m->port, 0);
            EXPECT_EQ(ipv4(f)->src_addr, ports[0].ip_be);
            EXPECT_EQ(rte_be_to_cpu_16(udp(f)->src_port), lb_port);
            EXPECT_EQ(rte_raw_cksum(ipv4(f), 20), 0xffff) << "IPv4 checksum";
            EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ipv4(f), udp(f)), 0) << "UDP checksum";
            const std::size_t plen = rte_be_to_cpu_16(udp(f)->dgram_len) - 8;
            r.push_back({{ipv4(f)->dst_addr, udp(f)->dst_port}, bytes(payload(f), payload(f) + plen)});
            rte_pktmbuf_free(m);
        }
        s->outbox().clear();
        return r;
    }

    static bytes reg(type t, uint16_t req, const endpoint& e)
    {
        bytes b(register_len);
        encode_register(b.data(), t, req, e);
        return b;
    }
    static bytes ack(uint16_t req) { return {3, uint8_t(req >> 8), uint8_t(req)}; }
    static bytes update(uint16_t req, uint16_t g, uint32_t u, const endpoint& e)
    {
        bytes b(registration_update_len);
        encode_registration_update(b.data(), req, g, u, e);
        return b;
    }
    static bytes removed(uint16_t req, uint16_t g, uint32_t u)
    {
        bytes b(registration_removed_len);
        encode_registration_removed(b.data(), req, g, u);
        return b;
    }

    // A Register padded with zeros to len bytes: the budget a Peregrine peer buys itself.
    static bytes padded(bytes b, std::size_t len)
    {
        b.resize(len, 0);
        return b;
    }

    // Registers node i and Acks its probe, as an origin node does (it Acks Serving Nodes):
    // returns what was sent in the order a node that needed no proof would see it: the Ack,
    // the list of the others (sent once the probe's Ack proved it), then the one-node lists to
    // the proven others.
    std::vector<sent> add_node(unsigned i, uint16_t req = 1)
    {
        recv(node(i), reg(type::register_serving_node, req, node(i).pub()));
        auto o = out();
        EXPECT_GE(o.size(), 2u);
        if (o.size() < 2)
            return o;
        const sent probe = o[1];
        EXPECT_EQ(probe.to, node(i).sender());
        EXPECT_EQ(probe.payload.size(), header_len) << "the probe: an empty Serving Nodes";
        EXPECT_EQ(probe.t(), 9);
        recv(node(i), ack(probe.req()));
        const auto list = out();
        o.erase(o.begin() + 1);
        o.insert(o.begin() + 1, list.begin(), list.end());
        return o;
    }
    void ack_all(const std::vector<sent>& o, const std::vector<host>& hosts)
    {
        for (const auto& x : o)
            if (x.t() != 3)
                for (const auto& h : hosts)
                    if (x.to == h.sender())
                        recv(h, ack(x.req()));
        out();
    }

    uint64_t c(lbc k) const { return st.lb[unsigned(k)]; }
    uint64_t d(drop k) const { return st.drops[unsigned(k)]; }

    net::port_addr ports[RTE_MAX_ETHPORTS];
    config cfg;
    std::unique_ptr<state> s;
    lcore_stats st;
    uint64_t now = 1000 * sec;
    unsigned in_use = 0;
};

std::vector<endpoint> listed(const sent& x)
{
    std::vector<endpoint> r;
    for (std::size_t at = 3; at + 6 <= x.payload.size(); at += 6)
        r.push_back(rd_ep(x.payload.data() + at));
    return r;
}

TEST_F(LbState, FirstNodeGetsAnAckAndIsPublished)
{
    const uint64_t gen = s->table_generation();
    const auto o = add_node(0, 0x1234);
    ASSERT_EQ(o.size(), 1u) << "no Serving Nodes to the first node: there are no others";
    EXPECT_EQ(o[0].to, node(0).sender());
    EXPECT_EQ(o[0].payload, ack(0x1234));
    EXPECT_EQ(s->serving_nodes().size(), 1u);
    EXPECT_GT(s->table_generation(), gen);
    const table* t = cfg.current.load();
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->n_nodes, 1u);
    EXPECT_EQ(t->nodes[0], node(0).pub()) << "clients are given the advertised endpoint";
}

TEST_F(LbState, NewNodeLearnsOthersAndOthersLearnIt)
{
    ack_all(add_node(0), {node(0)});
    ack_all(add_node(1), {node(0), node(1)});
    const auto o = add_node(2, 77);
    // Ack first, then the list to the new node, then one-node lists to each existing node.
    ASSERT_EQ(o.size(), 4u);
    EXPECT_EQ(o[0].to, node(2).sender());
    EXPECT_EQ(o[0].payload, ack(77));
    EXPECT_EQ(o[1].to, node(2).sender());
    EXPECT_EQ(o[1].t(), 9);
    auto l = listed(o[1]);
    std::sort(l.begin(), l.end(), [](auto& a, auto& b) { return key_of(a) < key_of(b); });
    EXPECT_EQ(l, (std::vector<endpoint>{node(0).pub(), node(1).pub()}));
    std::vector<endpoint> told;
    for (unsigned k = 2; k < 4; ++k) {
        EXPECT_EQ(o[k].t(), 9);
        EXPECT_EQ(listed(o[k]), std::vector<endpoint>{node(2).pub()});
        told.push_back(o[k].to);
    }
    EXPECT_NE(std::find(told.begin(), told.end(), node(0).sender()), told.end());
    EXPECT_NE(std::find(told.begin(), told.end(), node(1).sender()), told.end());
    // Request IDs of Peregrine's messages are distinct: each Ack matches one.
    std::vector<uint16_t> ids = {o[1].req(), o[2].req(), o[3].req()};
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
    EXPECT_EQ(s->awaiting_ack(), 3u);
    ack_all(o, {node(0), node(1), node(2)});
    EXPECT_EQ(s->awaiting_ack(), 0u);
    // Three probes, the second node's two messages, the third's three.
    EXPECT_EQ(c(lbc::acked), 3u + 2u + 3u);
}

TEST_F(LbState, ServingNodesSplitOverDatagrams)
{
    const unsigned n = max_nodes_per_datagram + 5;
    for (unsigned i = 0; i < n; ++i)
        add_node(i);  // proven; the notifications stay pending (no Acks)
    const auto o = add_node(n);
    ASSERT_GE(o.size(), 3u);
    EXPECT_EQ(o[0].t(), 3);
    EXPECT_EQ(o[1].to, node(n).sender());
    EXPECT_EQ(o[2].to, node(n).sender());
    EXPECT_EQ(listed(o[1]).size(), max_nodes_per_datagram);
    EXPECT_EQ(listed(o[2]).size(), 5u);
    EXPECT_LE(o[1].payload.size() + 28, 1500u);
    EXPECT_EQ(o.size(), 3u + n) << "and one notification to each existing node";
}

TEST_F(LbState, RetransmitsEverySecondThenMarksTheNodeUnhealthy)
{
    ack_all(add_node(0), {node(0)});
    auto o = add_node(1);  // node 0 is told about node 1, node 1 about node 0; neither Acks
    ASSERT_EQ(o.size(), 3u);
    s->tick(now + sec / 2, st);
    EXPECT_TRUE(out().empty()) << "nothing before the 1 s Ack wait";
    s->tick(now + sec, st);
    auto r1 = out();
    ASSERT_EQ(r1.size(), 2u) << "second try of both";
    const bool same = (r1[0].payload == o[1].payload && r1[1].payload == o[2].payload) ||
                      (r1[0].payload == o[2].payload && r1[1].payload == o[1].payload);
    EXPECT_TRUE(same) << "resent unchanged";
    // Node 1 Acks its copy; node 0 stays silent.
    for (const auto& x : r1)
        if (x.to == node(1).sender())
            recv(node(1), ack(x.req()));
    out();
    s->tick(now + 2 * sec, st);
    auto r2 = out();
    ASSERT_EQ(r2.size(), 1u) << "third and last try, to node 0 only";
    EXPECT_EQ(r2[0].to, node(0).sender());
    EXPECT_EQ(c(lbc::retransmitted), 3u);
    s->tick(now + 3 * sec, st);
    auto r3 = out();
    EXPECT_EQ(c(lbc::ack_timeout), 1u);
    EXPECT_EQ(s->serving_nodes().size(), 1u) << "node 0 is out of service";
    EXPECT_EQ(s->serving_nodes().count(key_of(node(0).sender())), 0u);
    ASSERT_EQ(r3.size(), 1u) << "node 1 is told node 0 is gone";
    EXPECT_EQ(r3[0].to, node(1).sender());
    EXPECT_EQ(r3[0].t(), 10);
    EXPECT_EQ(rd_ep(r3[0].payload.data() + 3), node(0).pub());
    EXPECT_EQ(cfg.current.load()->n_nodes, 1u);
    EXPECT_EQ(cfg.current.load()->nodes[0], node(1).pub());
}

TEST_F(LbState, LivenessProbeFindsADeadNodeLongBeforeItsExpiry)
{
    make(false, 1u << 20, 10);
    ack_all(add_node(0), {node(0)});
    ack_all(add_node(1), {node(0), node(1)});
    s->tick(now + 9 * sec, st);
    EXPECT_TRUE(out().empty()) << "nothing before 10 s";
    s->tick(now + 10 * sec, st);
    auto p = out();
    ASSERT_EQ(p.size(), 2u) << "one probe per proven node";
    for (const auto& x : p) {
        EXPECT_EQ(x.t(), 9) << "Serving Nodes";
        ASSERT_EQ(listed(x).size(), 1u);
        EXPECT_EQ(listed(x)[0], x.to == node(0).sender() ? node(0).pub() : node(1).pub()) << "listing only itself";
    }
    EXPECT_EQ(c(lbc::probes_sent), 2u);
    // Node 1 Acks; node 0 is dead.
    for (const auto& x : p)
        if (x.to == node(1).sender())
            recv(node(1), ack(x.req()));
    out();
    for (uint64_t t = 11; t <= 13; ++t)
        s->tick(now + t * sec, st);
    EXPECT_EQ(c(lbc::ack_timeout), 1u);
    EXPECT_EQ(s->serving_nodes().size(), 1u) << "node 0 out 13 s after its last Register, not 120";
    EXPECT_EQ(s->serving_nodes().count(key_of(node(1).sender())), 1u);
    // A node that keeps re-registering is never probed.
    out();
    const uint64_t base = now;
    for (uint64_t t = 14; t <= 60; t += 2) {
        now = base + t * sec;
        recv(node(1), reg(type::register_serving_node, uint16_t(100 + t), node(1).pub()));
        s->tick(now, st);
        ack_all(out(), {node(1)});  // a live node Acks what it is sent
    }
    EXPECT_EQ(c(lbc::probes_sent), 2u);
    EXPECT_EQ(s->serving_nodes().size(), 1u);
    // Once it stops, probed 10 s after its last Register.
    s->tick(now + 10 * sec, st);
    const auto last = out();
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(c(lbc::probes_sent), 3u);
    EXPECT_EQ(listed(last[0]), std::vector<endpoint>{node(1).pub()});
}

TEST_F(LbState, ExpiryRemovesAndNotifies)
{
    ack_all(add_node(0), {node(0)});
    now += 60 * sec;
    ack_all(add_node(1), {node(0), node(1)});
    // Node 1 re-registers (refresh) at +100 s; node 0 never does.
    now += 40 * sec;
    recv(node(1), reg(type::register_serving_node, 2, node(1).pub()));
    EXPECT_EQ(out().size(), 1u) << "a refresh gets its Ack and nothing else";
    EXPECT_EQ(c(lbc::refreshed), 1u);
    s->tick(now + 19 * sec, st);  // node 0 at 119 s: still live
    EXPECT_EQ(s->serving_nodes().size(), 2u);
    s->tick(now + 21 * sec, st);  // 121 s
    EXPECT_EQ(c(lbc::expired), 1u);
    ASSERT_EQ(s->serving_nodes().size(), 1u);
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].to, node(1).sender());
    EXPECT_EQ(o[0].t(), 10);
    EXPECT_EQ(rd_ep(o[0].payload.data() + 3), node(0).pub());
}

TEST_F(LbState, DuplicateRequestIdsAreAnsweredNotReapplied)
{
    ack_all(add_node(0), {node(0)});
    auto o = add_node(1, 500);
    ASSERT_EQ(o.size(), 3u);
    // The node lost our Ack and sends the same Register again.
    recv(node(1), reg(type::register_serving_node, 500, node(1).pub()));
    auto again = out();
    ASSERT_EQ(again.size(), 1u) << "only the Ack again, no second round of Serving Nodes";
    EXPECT_EQ(again[0].payload, ack(500));
    EXPECT_EQ(c(lbc::duplicate), 1u);
    EXPECT_EQ(c(lbc::node_registered), 2u);

    // A Registration Update, Removed, then a late duplicate of the Update: not resurrected.
    recv(node(0), update(10, 5, 42, client.sender()));
    recv(node(0), removed(11, 5, 42));
    recv(node(0), update(10, 5, 42, client.sender()));
    auto r = out();
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[2].payload, ack(10));
    EXPECT_TRUE(s->registrations().empty());
    EXPECT_EQ(c(lbc::duplicate), 2u);
    // After the window the same ID is a new request.
    now += (dup_window_s + 1) * sec;
    s->tick(now, st);
    recv(node(0), update(10, 5, 42, client.sender()));
    out();
    EXPECT_EQ(s->registrations().size(), 1u);
}

// The origin never re-sends a Request ID and, restarted, binds the same port and starts again
// at 0: a node that was removed and registers again is new, and so is what it sends next.
TEST_F(LbState, RestartedNodeWithTheSameRequestIdsIsRegisteredAgain)
{
    ack_all(add_node(0, 0), {node(0)});
    recv(node(0), update(1, 5, 42, client.sender()));
    ASSERT_EQ(out().size(), 1u);
    auto o = add_node(1, 0);  // node 0 is told about node 1 and never Acks: it crashed
    for (unsigned k = 1; k <= 3; ++k) {
        s->tick(now + k * sec, st);
        ack_all(out(), {node(1)});
    }
    ASSERT_EQ(c(lbc::ack_timeout), 1u);
    ASSERT_EQ(s->serving_nodes().count(key_of(node(0).sender())), 0u);
    EXPECT_TRUE(s->registrations().empty()) << "its registrations went with it";
    // Restarted 4 s later, well inside the 10 s duplicate window: Request ID 0 again.
    now += 4 * sec;
    recv(node(0), reg(type::register_serving_node, 0, node(0).pub()));
    auto r = out();
    ASSERT_FALSE(r.empty());
    EXPECT_EQ(r[0].payload, ack(0));
    EXPECT_EQ(c(lbc::node_registered), 3u) << "registered anew, not answered as a duplicate";
    EXPECT_EQ(c(lbc::duplicate), 0u);
    EXPECT_EQ(s->serving_nodes().count(key_of(node(0).sender())), 1u);
    ASSERT_GE(r.size(), 2u);
    EXPECT_EQ(r[1].t(), 9) << "and learns the other node";
    ack_all(r, {node(0), node(1)});
    recv(node(0), update(1, 5, 42, client.sender()));
    EXPECT_EQ(out().size(), 1u);
    EXPECT_EQ(s->registrations().size(), 1u) << "its Request ID 1 is applied, as new";
    EXPECT_EQ(c(lbc::duplicate), 0u);
    // The restarted node's own retry (Ack lost) is still a duplicate.
    recv(node(0), update(1, 5, 42, client.sender()));
    EXPECT_EQ(out().size(), 1u);
    EXPECT_EQ(c(lbc::duplicate), 1u);
}

TEST_F(LbState, RestartedControllerWithTheSameRequestIdIsRegisteredAgain)
{
    ack_all(add_node(0), {node(0)});
    recv(ctl(0), padded(reg(type::register_call_controller, 0, ctl(0).pub()), 32));
    ASSERT_EQ(out().size(), 1u);
    recv(node(0), update(7, 5, 42, client.sender()));
    auto o = out();
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[1].t(), 2) << "Start Call to the controller, which never Acks";
    for (unsigned k = 1; k <= 3; ++k) {
        s->tick(now + k * sec, st);
        out();
    }
    ASSERT_TRUE(s->call_controllers().empty());
    now += 4 * sec;
    recv(ctl(0), padded(reg(type::register_call_controller, 0, ctl(0).pub()), 32));
    auto r = out();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].payload, ack(0));
    EXPECT_EQ(c(lbc::controller_registered), 2u);
    EXPECT_EQ(c(lbc::duplicate), 0u);
    EXPECT_EQ(s->call_controllers().size(), 1u);
    EXPECT_EQ(r[1].t(), 2) << "the orphaned call is started on it again";
}

TEST_F(LbState, SameRequestIdWithOtherBytesIsANewRequest)
{
    ack_all(add_node(0), {node(0)});
    recv(node(0), update(3, 5, 42, client.sender()));
    recv(node(0), update(3, 5, 43, client.sender()));
    EXPECT_EQ(out().size(), 2u);
    EXPECT_EQ(s->registrations().size(), 2u);
    EXPECT_EQ(c(lbc::duplicate), 0u);
}

TEST_F(LbState, SameRequestIdOnAnotherTypeIsANewRequest)
{
    ack_all(add_node(0, 9), {node(0)});
    recv(node(0), update(9, 1, 1, client.sender()));
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].payload, ack(9));
    EXPECT_EQ(s->registrations().size(), 1u) << "applied, not taken for a duplicate of the Register";
    EXPECT_EQ(c(lbc::duplicate), 0u);
}

TEST_F(LbState, FullRegistrationTableIsNotAcked)
{
    make(false, 1);
    ack_all(add_node(0), {node(0)});
    recv(node(0), update(2, 1, 1, client.sender()));
    EXPECT_EQ(out().size(), 1u);
    recv(node(0), update(3, 1, 2, client.sender()));
    EXPECT_TRUE(out().empty()) << "no Ack: the node retries";
    EXPECT_EQ(d(drop::lb_full), 1u);
    recv(node(0), update(4, 1, 1, peer_endpoint()));
    EXPECT_EQ(out().size(), 1u) << "an update of an existing registration still fits";
    EXPECT_EQ(s->registrations().at(state::reg_key(1, 1)).ep, peer_endpoint());
    EXPECT_EQ(c(lbc::registration_updated), 2u);
}

TEST_F(LbState, RegistrationsOnlyFromServingNodesAndStartCall)
{
    recv(client, update(1, 7, 1, client.sender()));
    EXPECT_TRUE(out().empty());
    EXPECT_EQ(d(drop::lb_not_serving_node), 1u);

    ack_all(add_node(0), {node(0)});
    recv(ctl(0), padded(reg(type::register_call_controller, 9, ctl(0).pub()), 32));
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].payload, ack(9));

    // First member of group 7: Ack, then Start Call to the controller.
    recv(node(0), update(2, 7, 1, client.sender()));
    o = out();
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[0].payload, ack(2));
    EXPECT_EQ(o[1].to, ctl(0).sender());
    ASSERT_EQ(o[1].payload.size(), start_call_len);
    EXPECT_EQ(o[1].t(), 2);
    EXPECT_EQ(rd16(o[1].payload.data() + 5), 7) << "group ID";
    const uint16_t call_id = rd16(o[1].payload.data() + 3);
    EXPECT_EQ(s->calls().at(7).call_id, call_id);
    // Second member: no second call.
    recv(node(0), update(3, 7, 2, client.sender()));
    EXPECT_EQ(out().size(), 1u);
    EXPECT_EQ(s->registrations().size(), 2u);
    EXPECT_EQ(s->registrations().at(state::reg_key(7, 2)).ep, client.sender());
    EXPECT_EQ(s->serving_nodes().begin()->second.registrations, 2u);
    recv(ctl(0), ack(o[1].req()));
    out();
    EXPECT_EQ(s->awaiting_ack(), 0u);
    // Both leave: the call ends.
    recv(node(0), removed(4, 7, 1));
    recv(node(0), removed(5, 7, 2));
    out();
    EXPECT_TRUE(s->calls().empty());
    EXPECT_EQ(c(lbc::registration_removed), 2u);
}

TEST_F(LbState, UnresponsiveControllerIsReplaced)
{
    ack_all(add_node(0), {node(0)});
    recv(ctl(0), padded(reg(type::register_call_controller, 1, ctl(0).pub()), 32));
    out();
    recv(node(0), update(2, 3, 1, client.sender()));
    auto o = out();
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o[1].to, ctl(0).sender());
    // A second controller arrives; the first never Acks the Start Call.
    recv(ctl(1), padded(reg(type::register_call_controller, 1, ctl(1).pub()), 32));
    EXPECT_EQ(out().size(), 1u);
    for (unsigned k = 1; k <= 2; ++k) {
        s->tick(now + k * sec, st);
        auto r = out();
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].payload, o[1].payload) << "try " << k + 1;
    }
    s->tick(now + 3 * sec, st);
    auto r = out();
    EXPECT_EQ(c(lbc::ack_timeout), 1u);
    EXPECT_EQ(s->call_controllers().count(key_of(ctl(0).sender())), 0u) << "marked unhealthy";
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].to, ctl(1).sender()) << "the call is started on the other controller";
    EXPECT_EQ(r[0].t(), 2);
    EXPECT_EQ(rd16(r[0].payload.data() + 5), 3);
    EXPECT_EQ(s->calls().at(3).controller, key_of(ctl(1).sender()));
}

// ---- return routability (docs/protocols/lb.md, "Amplification") ----

std::size_t bytes_to(const std::vector<sent>& o, const host& h)
{
    std::size_t n = 0;
    for (const auto& x : o)
        if (x.to == h.sender())
            n += x.payload.size();
    return n;
}

TEST_F(LbState, UnprovenNodeIsSentNoMoreBytesThanItSent)
{
    for (unsigned i = 0; i < 3; ++i)
        ack_all(add_node(i), {node(0), node(1), node(2)});
    // A Register from an address that never answers (spoofed): its Ack and the 3-byte probe,
    // not the 21-byte list of the others; the proven nodes are told about it.
    recv(node(7), reg(type::register_serving_node, 1, node(7).pub()));
    auto o = out();
    std::size_t to_it = bytes_to(o, node(7));
    EXPECT_EQ(to_it, ack_len + header_len);
    EXPECT_EQ(o.size(), 2u + 3u);
    // A fourth node and a removal: nothing to the unproven one.
    ack_all(add_node(3), {node(0), node(1), node(2), node(3)});
    for (unsigned k = 1; k <= 3; ++k) {
        s->tick(now + k * sec, st);
        auto r = out();
        to_it += bytes_to(r, node(7));
        ack_all(r, {node(0), node(1), node(2), node(3)});
    }
    EXPECT_LE(to_it, register_len) << "never more than its 9 bytes";
    EXPECT_EQ(c(lbc::withheld), 1u) << "the probe's third try did not fit";
    EXPECT_EQ(s->serving_nodes().count(key_of(node(7).sender())), 0u) << "its tries ran out";
    EXPECT_EQ(c(lbc::proven), 4u);
}

TEST_F(LbState, WrongAcksLockTheProof)
{
    recv(node(0), reg(type::register_serving_node, 1, node(0).pub()));
    auto o = out();
    ASSERT_EQ(o.size(), 2u);
    const uint16_t probe = o[1].req();
    for (unsigned k = 1; k <= max_ack_misses; ++k)
        recv(node(0), ack(static_cast<uint16_t>(probe + k)));  // a blind spoofer's guesses
    EXPECT_EQ(d(drop::lb_ack_unmatched), max_ack_misses);
    recv(node(0), ack(probe));
    EXPECT_EQ(c(lbc::acked), 1u);
    EXPECT_EQ(c(lbc::proven), 0u) << "the right Request ID after too many wrong ones";
    EXPECT_FALSE(s->serving_nodes().begin()->second.proven);
}

TEST_F(LbState, OriginControllerGetsNoStartCallItsRegisterDidNotPayFor)
{
    ack_all(add_node(0), {node(0)});
    recv(ctl(0), reg(type::register_call_controller, 1, ctl(0).pub()));  // 9 bytes, as the origin
    EXPECT_EQ(out().size(), 1u);
    recv(node(0), update(2, 3, 1, client.sender()));
    auto o = out();
    ASSERT_EQ(o.size(), 1u) << "Start Call (7 bytes) withheld: 6 left after the Ack";
    EXPECT_EQ(c(lbc::withheld), 1u);
    // Each withheld try counts: after three the controller is out, as an origin controller
    // (which never Acks Start Call) always was.
    for (unsigned k = 1; k <= 3; ++k) {
        s->tick(now + k * sec, st);
        EXPECT_TRUE(out().empty());
    }
    EXPECT_EQ(c(lbc::ack_timeout), 1u);
    EXPECT_TRUE(s->call_controllers().empty());
}

TEST_F(LbState, AckFromTheWrongSenderDoesNotMatch)
{
    ack_all(add_node(0), {node(0)});
    auto o = add_node(1);
    recv(client, ack(o[1].req()));
    EXPECT_EQ(d(drop::lb_ack_unmatched), 1u);
    EXPECT_EQ(s->awaiting_ack(), 2u);
}

TEST_F(LbState, LeastLoadedSpreadsAndAnswersDuplicatesTheSame)
{
    make(true);
    for (unsigned i = 0; i < 4; ++i)
        ack_all(add_node(i), {node(0), node(1), node(2), node(3)});
    // Node 0 reports three registrations: it is the most loaded.
    for (uint32_t u = 0; u < 3; ++u)
        recv(node(0), update(static_cast<uint16_t>(100 + u), 1, u, client.sender()));
    out();
    std::map<uint64_t, unsigned> given;
    for (unsigned k = 0; k < 30; ++k) {
        const host h{ip4(198, 18, 6, static_cast<uint8_t>(k + 1)), 40000, 0x55};
        recv(h, {6, 0, static_cast<uint8_t>(k)});
        auto o = out();
        ASSERT_EQ(o.size(), 1u);
        ASSERT_EQ(o[0].payload.size(), serving_node_response_len);
        EXPECT_EQ(o[0].t(), 7);
        EXPECT_EQ(o[0].req(), k);
        ++given[key_of(rd_ep(o[0].payload.data() + 3))];
        // Same sender, same Request ID: the same node again, and no extra load.
        recv(h, {6, 0, static_cast<uint8_t>(k)});
        auto dup = out();
        ASSERT_EQ(dup.size(), 1u);
        EXPECT_EQ(dup[0].payload, o[0].payload);
    }
    // 30 assignments on top of loads (3, 0, 0, 0): 33 in all, so every node ends at 8 or 9.
    for (unsigned i = 0; i < 4; ++i) {
        const unsigned load = given[key_of(node(i).pub())] + (i == 0 ? 3 : 0);
        EXPECT_TRUE(load == 8 || load == 9) << "node " << i << " load " << load;
    }
    EXPECT_EQ(c(lbc::request_answered), 30u);
    EXPECT_EQ(c(lbc::duplicate), 30u);
}

TEST_F(LbState, LeastLoadedWithNoNodeIsSilentByDefault)
{
    make(true);
    recv(client, {6, 0x12, 0x34});
    EXPECT_TRUE(out().empty());
    EXPECT_EQ(c(lbc::request_no_node), 1u);
    EXPECT_EQ(d(drop::lb_no_node), 1u);
    // Nothing remembered: the retry (a new Request ID from the origin, or the same one) is
    // answered once a node is live.
    add_node(0);
    recv(client, {6, 0x12, 0x34});
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(rd_ep(o[0].payload.data() + 3), node(0).pub());
    EXPECT_EQ(c(lbc::duplicate), 0u);
}

TEST_F(LbState, LeastLoadedWithNoNodeAnswersZeroWhenAsked)
{
    cfg.answer_no_node = true;
    make(true);
    recv(client, {6, 0x12, 0x34});
    auto o = out();
    ASSERT_EQ(o.size(), 1u);
    EXPECT_EQ(o[0].payload, (bytes{7, 0x12, 0x34, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(c(lbc::request_no_node), 1u);
    EXPECT_EQ(d(drop::lb_no_node), 0u);
}

} // namespace
} // namespace peregrine::lb
