// cluster::peering (the directory sharded over the routers, Locate) and cluster::locations (the
// workers' peer table and location cache): homes agree on every router and move little when the
// set changes, announcements reach the home and are Acked, Locate finds the owner or nowhere,
// forged and stale messages change nothing, cache entries die with their peer.

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <map>
#include <memory>
#include <vector>

#include "cluster/locations.hpp"
#include "cluster/peering.hpp"

namespace peregrine::cluster {
namespace {

constexpr uint64_t hz = 1'000'000;
constexpr uint64_t sec = hz;

lb::endpoint ep(const char* ip, uint16_t port = 7100)
{
    lb::endpoint e;
    inet_pton(AF_INET, ip, &e.ip_be);
    e.port_be = htons(port);
    return e;
}

// Routers wired to each other: what one sends is delivered to the other at the next pump().
struct net {
    struct node {
        lb::endpoint self;
        lcore_stats st{};
        std::unique_ptr<peering> p;
        std::vector<std::tuple<uint32_t, peering::answer, lb::endpoint>> resolved;
    };
    std::map<uint64_t, std::unique_ptr<node>> nodes;
    std::vector<std::tuple<lb::endpoint, lb::endpoint, std::vector<uint8_t>>> wire;  // from, to, bytes
    std::set<uint64_t> down;  // routers whose datagrams are lost

    node& add(const lb::endpoint& e)
    {
        auto n = std::make_unique<node>();
        n->self = e;
        peering_params pp;
        pp.self = e;
        pp.group = 3;
        pp.tsc_hz = hz;
        pp.rate = 1000;
        node* raw = n.get();
        n->p = std::make_unique<peering>(
            pp,
            [this, e](const lb::endpoint& to, const uint8_t* d, std::size_t len) {
                wire.emplace_back(e, to, std::vector<uint8_t>(d, d + len));
                return true;
            },
            [raw](uint32_t id, peering::answer a, const lb::endpoint& o) { raw->resolved.emplace_back(id, a, o); });
        node& ref = *n;
        nodes[lb::key_of(e)] = std::move(n);
        return ref;
    }
    // Every router's peer set is everyone else.
    void converge()
    {
        for (auto& [k, n] : nodes) {
            std::set<uint64_t> peers;
            for (auto& [k2, n2] : nodes)
                if (k2 != k)
                    peers.insert(k2);
            n->p->set_peers(peers, n->st);
        }
    }
    void pump(uint64_t now)
    {
        for (int round = 0; round < 8 && !wire.empty(); ++round) {
            auto w = std::move(wire);
            wire.clear();
            for (auto& [from, to, d] : w) {
                auto it = nodes.find(lb::key_of(to));
                if (it == nodes.end() || down.count(lb::key_of(to)) || down.count(lb::key_of(from)))
                    continue;
                it->second->p->on_datagram(from, d.data(), d.size(), now, it->second->st);
            }
        }
    }
    void tick(uint64_t now)
    {
        for (auto& [k, n] : nodes)
            if (!down.count(k))
                n->p->tick(now, n->st);
        pump(now);
    }
    node& at(const lb::endpoint& e) { return *nodes.at(lb::key_of(e)); }
};

TEST(ClusterPeering, EveryRouterComputesTheSameHomeAndFewMoveWhenTheSetChanges)
{
    net n;
    std::vector<lb::endpoint> eps;
    for (int i = 0; i < 5; ++i) {
        char ip[32];
        std::snprintf(ip, sizeof(ip), "198.18.2.%d", 10 + i);
        eps.push_back(ep(ip));
        n.add(eps.back());
    }
    n.converge();
    constexpr uint32_t ids = 20000;
    std::map<uint64_t, unsigned> per;
    std::vector<lb::endpoint> before(ids);
    for (uint32_t id = 0; id < ids; ++id) {
        before[id] = n.at(eps[0]).p->home(id);
        for (const auto& e : eps)
            ASSERT_EQ(n.at(e).p->home(id), before[id]) << "router " << e.ip_be << " disagrees on " << id;
        ++per[lb::key_of(before[id])];
    }
    for (const auto& [k, c] : per)
        EXPECT_NEAR(c, ids / 5, ids / 50) << "an even share per router";
    // One router leaves: only the IDs it was home to move (Maglev's minimal disruption).
    n.nodes.erase(lb::key_of(eps[4]));
    n.converge();
    unsigned moved = 0, moved_wrongly = 0;
    for (uint32_t id = 0; id < ids; ++id) {
        const lb::endpoint now = n.at(eps[0]).p->home(id);
        if (!(now == before[id])) {
            ++moved;
            moved_wrongly += !(before[id] == eps[4]);
        }
    }
    EXPECT_NEAR(moved, ids / 5, ids / 50);
    EXPECT_LT(moved_wrongly, ids / 100) << "IDs homed on the live routers stay (Maglev: ~1% churn)";
}

TEST(ClusterPeering, AnnouncesToTheHomeAndLocateFindsTheOwner)
{
    net n;
    const lb::endpoint a = ep("198.18.3.1"), b = ep("198.18.3.2"), c = ep("198.18.3.3");
    n.add(a), n.add(b), n.add(c);
    n.converge();
    // IDs registered on a, homed on each of the three.
    std::map<uint64_t, uint32_t> id_homed;
    for (uint32_t id = 1; id_homed.size() < 3; ++id)
        id_homed.emplace(lb::key_of(n.at(a).p->home(id)), id);
    for (auto& [h, id] : id_homed)
        n.at(a).p->registered(id, {}, n.at(a).st);
    n.tick(1);
    n.tick(sec / 100);  // the pacing's first tokens
    for (auto& [h, id] : id_homed) {
        const peering& home = *n.nodes.at(h)->p;
        ASSERT_NE(home.owner_of(id), nullptr) << "home holds " << id;
        EXPECT_EQ(*home.owner_of(id), a);
    }
    EXPECT_EQ(n.at(a).p->in_flight(), 0u) << "both announcements Acked";
    EXPECT_EQ(n.at(a).st.cluster[unsigned(cls::dir_updates_sent)], 2u) << "none for its own share";
    // From c: an ID homed on b is asked of b; one homed on c is answered at once.
    for (auto& [h, id] : id_homed) {
        lb::endpoint owner{};
        const peering::answer got = n.at(c).p->locate(id, &owner, sec / 50, n.at(c).st);
        if (h == lb::key_of(c)) {
            EXPECT_EQ(got, peering::answer::owner);
            EXPECT_EQ(owner, a);
        } else if (h == lb::key_of(a) || h == lb::key_of(b)) {
            EXPECT_EQ(got, peering::answer::asked);
        }
    }
    n.pump(sec / 50);
    auto& res = n.at(c).resolved;
    ASSERT_EQ(res.size(), 2u);
    for (auto& [id, ans, owner] : res) {
        EXPECT_EQ(ans, peering::answer::owner);
        EXPECT_EQ(owner, a);
    }
    // Registered nowhere.
    uint32_t nobody = 900000;
    while (n.at(c).p->is_home(nobody))
        ++nobody;
    lb::endpoint o{};
    EXPECT_EQ(n.at(c).p->locate(nobody, &o, sec / 50, n.at(c).st), peering::answer::asked);
    n.pump(sec / 50);
    ASSERT_EQ(res.size(), 3u);
    EXPECT_EQ(std::get<1>(res.back()), peering::answer::nowhere);
    // Unregistered: the home forgets it.
    const uint32_t on_b = id_homed.at(lb::key_of(b));
    n.at(a).p->unregistered(on_b, n.at(a).st);
    n.tick(2 * sec);
    EXPECT_EQ(n.at(b).p->owner_of(on_b), nullptr);
    EXPECT_EQ(n.at(a).st.cluster[unsigned(cls::dir_removals_sent)], 1u);
}

TEST(ClusterPeering, RetransmitsThenGivesUpAndLocateTimesOut)
{
    net n;
    const lb::endpoint a = ep("198.18.4.1"), b = ep("198.18.4.2");
    n.add(a), n.add(b);
    n.converge();
    uint32_t id = 1;
    while (!(n.at(a).p->home(id) == b))
        ++id;
    n.down.insert(lb::key_of(b));
    n.at(a).p->registered(id, {}, n.at(a).st);
    for (uint64_t t = 1; t <= 4 * sec; t += sec / 10)
        n.tick(t);
    const lcore_stats& st = n.at(a).st;
    EXPECT_EQ(st.cluster[unsigned(cls::dir_retransmitted)], 2u) << "3 tries";
    EXPECT_EQ(st.cluster[unsigned(cls::dir_lost)], 1u);
    lb::endpoint o{};
    EXPECT_EQ(n.at(a).p->locate(id + 1000000 * (n.at(a).p->is_home(id + 1000000)), &o, 5 * sec, n.at(a).st),
              n.at(a).p->is_home(id + 1000000) ? peering::answer::nowhere : peering::answer::asked);
    uint32_t remote = 5000000;
    while (n.at(a).p->is_home(remote))
        ++remote;
    EXPECT_EQ(n.at(a).p->locate(remote, &o, 5 * sec, n.at(a).st), peering::answer::asked);
    EXPECT_EQ(n.at(a).p->locate(remote, &o, 5 * sec, n.at(a).st), peering::answer::asked) << "asked once";
    const uint64_t asked = st.cluster[unsigned(cls::locates_sent)];
    for (uint64_t t = 5 * sec; t <= 6 * sec; t += sec / 100)
        n.tick(t);
    EXPECT_EQ(st.cluster[unsigned(cls::locates_sent)], asked + 2) << "3 tries of 200 ms";
    bool lost = false;
    for (auto& [rid, ans, owner] : n.at(a).resolved)
        lost |= rid == remote && ans == peering::answer::lost;
    EXPECT_TRUE(lost);
    EXPECT_EQ(n.at(a).p->asking(), 0u);
}

TEST(ClusterPeering, RefusesForgedOwnersAndStaleAnswers)
{
    net n;
    const lb::endpoint a = ep("198.18.5.1"), b = ep("198.18.5.2"), c = ep("198.18.5.3");
    n.add(a), n.add(b), n.add(c);
    n.converge();
    uint32_t id = 1;
    while (!n.at(b).p->is_home(id))
        ++id;
    // c claims an ID for a: refused.
    uint8_t d[lb::registration_update_len];
    lb::encode_registration_update(d, 1, 3, id, a);
    n.at(b).p->on_datagram(c, d, sizeof(d), 1, n.at(b).st);
    EXPECT_EQ(n.at(b).p->owner_of(id), nullptr);
    EXPECT_EQ(n.at(b).st.drops[unsigned(drop::cluster_not_owner)], 1u);
    EXPECT_TRUE(n.wire.empty()) << "no Ack for it";
    // Another group, short datagrams, unknown types.
    lb::encode_registration_update(d, 2, 4, id, c);
    n.at(b).p->on_datagram(c, d, sizeof(d), 1, n.at(b).st);
    n.at(b).p->on_datagram(c, d, 5, 1, n.at(b).st);
    d[0] = 0x77;
    n.at(b).p->on_datagram(c, d, sizeof(d), 1, n.at(b).st);
    EXPECT_EQ(n.at(b).st.drops[unsigned(drop::cluster_bad_peer_message)], 3u);
    EXPECT_EQ(n.at(b).p->owner_of(id), nullptr);
    // A Location from a router that was not asked, or with an old Request ID: ignored.
    lb::endpoint o{};
    ASSERT_EQ(n.at(a).p->locate(id, &o, 1, n.at(a).st), peering::answer::asked);
    ASSERT_EQ(n.wire.size(), 1u);
    const uint16_t req = lb::rd16(std::get<2>(n.wire[0]).data() + 1);
    n.wire.clear();
    uint8_t loc[location_len];
    lb::encode_registration_update(loc, req, 3, id, c);
    loc[0] = static_cast<uint8_t>(peer_type::location);
    n.at(a).p->on_datagram(c, loc, sizeof(loc), 2, n.at(a).st);  // c is not id's home
    lb::wr16(loc + 1, uint16_t(req + 1));
    n.at(a).p->on_datagram(b, loc, sizeof(loc), 2, n.at(a).st);  // not the question's ID
    EXPECT_TRUE(n.at(a).resolved.empty());
    lb::wr16(loc + 1, req);
    n.at(a).p->on_datagram(b, loc, sizeof(loc), 2, n.at(a).st);
    ASSERT_EQ(n.at(a).resolved.size(), 1u);
    EXPECT_EQ(std::get<2>(n.at(a).resolved[0]), c);
}

TEST(ClusterPeering, ARouterLeavesItsEntriesArePurgedAndMovedClientsReannounced)
{
    net n;
    const lb::endpoint a = ep("198.18.6.1"), b = ep("198.18.6.2"), c = ep("198.18.6.3");
    n.add(a), n.add(b), n.add(c);
    n.converge();
    // 300 clients on each router.
    uint32_t next = 1;
    for (const auto& e : {a, b, c})
        for (int i = 0; i < 300; ++i)
            n.at(e).p->registered(next++, {}, n.at(e).st);
    for (uint64_t t = 1; t < 2 * sec; t += sec / 10)
        n.tick(t);
    std::size_t total = 0;
    for (const auto& e : {a, b, c})
        total += n.at(e).p->share();
    EXPECT_EQ(total, 900u);
    // c dies: a and b drop what c owned, and re-announce their own clients c was home to.
    n.nodes.erase(lb::key_of(c));
    n.converge();
    for (uint64_t t = 2 * sec; t < 4 * sec; t += sec / 10)
        n.tick(t);
    EXPECT_EQ(n.at(a).p->share() + n.at(b).p->share(), 600u) << "c's clients purged, every live one held";
    for (uint32_t id = 1; id <= 600; ++id) {
        const peering& home = *n.at(n.at(a).p->home(id)).p;
        ASSERT_NE(home.owner_of(id), nullptr) << id;
        EXPECT_EQ(*home.owner_of(id), id <= 300 ? a : b);
    }
    EXPECT_GT(n.at(a).st.cluster[unsigned(cls::dir_purged)], 0u);
}

TEST(ClusterLocations, CachesPeersNowhereAndForgetsWithTheSlot)
{
    locations l(1024);
    locations::peer p;
    p.ip_be = 0x0a000001;
    p.port_be = htons(7100);
    p.port_id = 1;
    p.mac = {{2, 0, 0, 0, 0, 9}};
    EXPECT_FALSE(l.is_peer(p.ip_be));
    l.set_peer(3, p, false);
    EXPECT_TRUE(l.is_peer(p.ip_be));
    l.cache(42, 3);
    locations::peer got;
    EXPECT_EQ(l.find(42, &got), locations::hit::none) << "no entry for a peer without a MAC";
    l.set_peer(3, p, true);
    l.cache(42, 3);
    ASSERT_EQ(l.find(42, &got), locations::hit::peer);
    EXPECT_EQ(got.ip_be, p.ip_be);
    EXPECT_EQ(got.port_be, p.port_be);
    EXPECT_EQ(got.port_id, 1);
    EXPECT_EQ(got.mac.addr_bytes[5], 9);
    EXPECT_EQ(l.find(43, &got), locations::hit::none);
    // A new MAC for the same router keeps its entries; another router in the slot voids them.
    p.mac.addr_bytes[5] = 10;
    l.set_peer(3, p, true);
    ASSERT_EQ(l.find(42, &got), locations::hit::peer);
    EXPECT_EQ(got.mac.addr_bytes[5], 10);
    locations::peer q = p;
    q.ip_be = 0x0a000002;
    l.set_peer(3, q, true);
    EXPECT_EQ(l.find(42, &got), locations::hit::none);
    l.cache(42, 3);
    l.clear_peer(3);
    EXPECT_EQ(l.find(42, &got), locations::hit::none);
    EXPECT_FALSE(l.is_peer(q.ip_be));
    // Nowhere lasts this second and the next.
    l.cache_nowhere(7);
    EXPECT_EQ(l.find(7, &got), locations::hit::nowhere);
    l.next_epoch();
    EXPECT_EQ(l.find(7, &got), locations::hit::nowhere);
    l.next_epoch();
    EXPECT_EQ(l.find(7, &got), locations::hit::none);
    l.set_peer(5, p, true);
    l.cache(8, 5);
    l.invalidate(8);
    EXPECT_EQ(l.find(8, &got), locations::hit::none);
}

} // namespace
} // namespace peregrine::cluster
