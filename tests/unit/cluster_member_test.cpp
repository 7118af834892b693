// cluster::member, the serving node's side of the load-balancer protocol: Register and its
// retries, the peer list, the reports' queue, pacing, retransmission and Acks, bad messages.

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <vector>

#include "cluster/member.hpp"

namespace peregrine::cluster {
namespace {

constexpr uint64_t hz = 1'000'000;  // 1 tick per microsecond
constexpr uint64_t sec = hz;

lb::endpoint ep(const char* ip, uint16_t port)
{
    lb::endpoint e;
    inet_pton(AF_INET, ip, &e.ip_be);
    e.port_be = htons(port);
    return e;
}

struct rig {
    member_params p;
    std::vector<std::vector<uint8_t>> out;
    bool link = true;  // send() succeeds
    lcore_stats st{};
    std::unique_ptr<member> m;

    explicit rig(uint32_t rate = 1000)
    {
        p.advertise = ep("198.18.1.2", 7100);
        p.group = 7;
        p.tsc_hz = hz;
        p.report_rate = rate;
        p.first_request_id = 100;
        m = std::make_unique<member>(p, [this](const uint8_t* d, std::size_t n) {
            if (!link)
                return false;
            out.emplace_back(d, d + n);
            return true;
        });
    }
    uint64_t c(cls x) const { return st.cluster[unsigned(x)]; }
    void in(std::vector<uint8_t> d, uint64_t now) { m->on_datagram(d.data(), d.size(), now, st); }
    static uint16_t req(const std::vector<uint8_t>& d) { return uint16_t(d[1] << 8 | d[2]); }
    std::vector<uint8_t> ack_of(const std::vector<uint8_t>& d) const { return {3, d[1], d[2]}; }
    // Registers with the CF at t = 0.
    void up()
    {
        m->tick(1, st);
        ASSERT_EQ(out.size(), 1u);
        in(ack_of(out.back()), 2);
        ASSERT_TRUE(m->registered_with_server());
        out.clear();
    }
};

TEST(ClusterMember, RegistersAndRetriesThenSlowsDown)
{
    rig r;
    r.m->tick(1, r.st);
    ASSERT_EQ(r.out.size(), 1u);
    const auto& reg = r.out[0];
    ASSERT_EQ(reg.size(), lb::register_len);
    EXPECT_EQ(reg[0], 0) << "Register Serving Node";
    EXPECT_EQ(lb::rd_ep(reg.data() + 3), r.p.advertise);
    r.m->tick(sec / 2, r.st);
    EXPECT_EQ(r.out.size(), 1u) << "no retry before 1 s";
    r.m->tick(1 + sec, r.st);
    r.m->tick(1 + 2 * sec, r.st);
    EXPECT_EQ(r.out.size(), 3u) << "3 tries, 1 s apart";
    EXPECT_NE(rig::req(r.out[1]), rig::req(r.out[2])) << "each try its own Request ID";
    r.m->tick(1 + 3 * sec, r.st);
    r.m->tick(1 + 6 * sec, r.st);
    EXPECT_EQ(r.out.size(), 3u) << "an unreachable server is tried every 5 s, not every second";
    r.m->tick(1 + 7 * sec + 1, r.st);
    EXPECT_EQ(r.out.size(), 4u);
    EXPECT_FALSE(r.m->registered_with_server());
    r.in(r.ack_of(r.out[2]), 8 * sec);
    EXPECT_FALSE(r.m->registered_with_server()) << "an Ack for an older try proves nothing about this one";
    r.in(r.ack_of(r.out[3]), 8 * sec);
    EXPECT_TRUE(r.m->registered_with_server());
    EXPECT_EQ(r.c(cls::register_acked), 1u);
    r.out.clear();
    r.m->tick(8 * sec + 59 * sec, r.st);
    EXPECT_TRUE(r.out.empty());
    r.m->tick(8 * sec + 60 * sec, r.st);
    ASSERT_EQ(r.out.size(), 1u) << "re-registered after 60 s";
    EXPECT_EQ(r.out[0][0], 0);
}

TEST(ClusterMember, KeepsPeersAndAcksTheirNews)
{
    rig r;
    r.up();
    std::vector<uint8_t> list = {9, 0x12, 0x34};
    for (const auto& e : {ep("198.18.1.2", 7100), ep("198.18.1.3", 7100), ep("198.18.1.4", 7100)}) {
        list.resize(list.size() + 6);
        lb::wr_ep(list.data() + list.size() - 6, e);
    }
    r.in(list, 10);
    EXPECT_EQ(r.m->peers().size(), 2u) << "ourselves left out";
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_EQ(r.out[0], (std::vector<uint8_t>{3, 0x12, 0x34}));
    r.in({9, 0, 1}, 11);  // the CF's empty probe
    EXPECT_EQ(r.m->peers().size(), 2u);
    EXPECT_EQ(r.out.size(), 2u) << "the probe is Acked";
    std::vector<uint8_t> rm = {10, 0, 2};
    rm.resize(9);
    lb::wr_ep(rm.data() + 3, ep("198.18.1.3", 7100));
    r.in(rm, 12);
    ASSERT_EQ(r.m->peers().size(), 1u);
    EXPECT_EQ(*r.m->peers().begin(), lb::key_of(ep("198.18.1.4", 7100)));
    EXPECT_EQ(r.out.size(), 3u);
    EXPECT_EQ(r.c(cls::peers_added), 2u);
    EXPECT_EQ(r.c(cls::peers_removed), 1u);
}

TEST(ClusterMember, RefusesWhatNoServingNodeIsSent)
{
    rig r;
    r.up();
    for (const std::vector<uint8_t>& bad : std::vector<std::vector<uint8_t>>{
             {}, {9}, {9, 0, 1, 1, 2, 3}, {10, 0, 1, 1}, {2, 0, 1, 0}, {4, 0, 1}, {6, 0, 1}, {0, 0, 1}, {200, 0, 0}})
        r.in(bad, 10);
    EXPECT_EQ(r.st.drops[unsigned(drop::cluster_bad_message)], 9u);
    EXPECT_TRUE(r.out.empty()) << "nothing answered";
    EXPECT_TRUE(r.m->peers().empty());
}

TEST(ClusterMember, ReportsWaitForTheRegistrationAndTheLatestWins)
{
    rig r;
    r.m->registered(1, ep("198.19.0.1", 4000), 0, r.st);
    r.m->registered(2, ep("198.19.0.2", 4000), 0, r.st);
    r.m->unregistered(1, 0, r.st);
    r.m->tick(1, r.st);
    ASSERT_EQ(r.out.size(), 1u) << "only the Register until it is Acked";
    r.in(r.ack_of(r.out[0]), 2);
    r.out.clear();
    r.m->tick(sec, r.st);
    ASSERT_EQ(r.out.size(), 2u);
    EXPECT_EQ(r.out[0][0], 4) << "2's Update";
    EXPECT_EQ(lb::rd32(r.out[0].data() + 5), 2u);
    EXPECT_EQ(lb::rd16(r.out[0].data() + 3), 7u) << "the group";
    EXPECT_EQ(lb::rd_ep(r.out[0].data() + 9), ep("198.19.0.2", 4000)) << "the client's endpoint";
    EXPECT_EQ(r.out[1][0], 5) << "1's Removed replaced its Update";
    EXPECT_EQ(r.out[1].size(), lb::registration_removed_len);
    EXPECT_EQ(lb::rd32(r.out[1].data() + 5), 1u);
    EXPECT_EQ(r.m->queued(), 0u);
}

TEST(ClusterMember, PacesRetransmitsAndGivesUp)
{
    rig r(10);  // 10 reports a second
    r.up();
    for (uint32_t id = 0; id < 100; ++id)
        r.m->registered(id, ep("198.19.0.1", uint16_t(5000 + id)), 3, r.st);
    r.m->tick(3 + sec, r.st);
    EXPECT_EQ(r.out.size(), 10u) << "one second's worth";
    r.m->tick(3 + sec + sec / 2, r.st);
    EXPECT_EQ(r.out.size(), 15u);
    for (int i = 0; i < 10; ++i)
        r.in(r.ack_of(r.out[i]), 3 + sec + sec / 2);
    EXPECT_EQ(r.c(cls::reports_acked), 10u);
    EXPECT_EQ(r.m->in_flight(), 5u);
}

TEST(ClusterMember, RetransmitsThreeTimesInAllThenGivesUp)
{
    rig r;
    r.up();
    for (uint32_t id = 0; id < 5; ++id)
        r.m->registered(id, ep("198.19.0.1", uint16_t(5000 + id)), 3, r.st);
    r.link = false;  // lost on the way, as far as the member knows: sent
    const uint64_t t0 = 10 * sec;  // re-registration is due at 60 s: out of the way
    r.m->tick(t0, r.st);
    EXPECT_EQ(r.c(cls::updates_sent), 5u);
    r.m->tick(t0 + sec, r.st);
    EXPECT_EQ(r.c(cls::retransmitted), 5u);
    r.m->tick(t0 + 2 * sec, r.st);
    EXPECT_EQ(r.c(cls::retransmitted), 10u);
    EXPECT_EQ(r.c(cls::reports_lost), 0u);
    r.m->tick(t0 + 3 * sec, r.st);
    EXPECT_EQ(r.c(cls::reports_lost), 5u) << "3 tries, 1 s apart, then given up";
    EXPECT_EQ(r.c(cls::retransmitted), 10u);
    EXPECT_EQ(r.m->in_flight(), 0u);
}

TEST(ClusterMember, BoundedQueue)
{
    rig r;
    r.p.report_queue = 4;
    r.m = std::make_unique<member>(r.p, [](const uint8_t*, std::size_t) { return true; });
    for (uint32_t id = 0; id < 10; ++id)
        r.m->registered(id, ep("198.19.0.1", 4000), 0, r.st);
    EXPECT_EQ(r.m->queued(), 4u);
    EXPECT_EQ(r.c(cls::reports_dropped), 6u);
}

} // namespace
} // namespace peregrine::cluster
