// LEKT membership change log: the first answer is a snapshot, later ones carry only the changes
// (their size does not grow with the membership), removals by IP re-announce the members still
// at that IP, compaction, the log bound with a snapshot for laggards, and splitting.

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "lekt/membership.hpp"
#include "lekt_test_util.hpp"

namespace peregrine::lekt {
namespace {

using namespace pgtest::lekt_util;

std::string record(uint32_t ip, uint16_t udp_port)
{
    std::string r;
    put_u32(r, 4 + 4 + 6);
    put_u32(r, ip);
    put_u32(r, 1);
    r += endpoint(ip, udp_port);
    return r;
}

// What a client holds: a multiset of (ip, record) built by applying answers as documented.
struct view {
    std::multiset<std::pair<uint32_t, std::string>> members;
    uint64_t pos = 0;
    int snapshots = 0;

    std::string ask(const membership& m, membership::answer_stats* st = nullptr, int64_t stamp = 1)
    {
        std::string out;
        membership::answer_stats local;
        m.answer(&pos, stamp, out, st ? st : &local);
        apply(out);
        return out;
    }

    void apply(const std::string& out)
    {
        const auto ev = decode(out);
        ASSERT_FALSE(ev.empty());
        EXPECT_EQ(ev.back().type, 'U');
        EXPECT_EQ(ev.back().u.kind, 'A');
        EXPECT_EQ(ev.back().u.count, 0u) << "an answer ends with an empty 'A'";
        for (std::size_t i = 0; i + 1 < ev.size(); ++i) {
            const auto& e = ev[i];
            ASSERT_EQ(e.type, 'U');
            if (e.u.kind == 'R') {
                if (e.u.count == 0) {
                    members.clear();
                    ++snapshots;
                }
                for (uint32_t ip : e.ips)
                    std::erase_if(members, [&](const auto& x) { return x.first == ip; });
            } else {
                const uint8_t* b = e.u.body;
                for (uint32_t k = 0; k < e.u.count; ++k) {
                    const uint32_t size = get_u32(b);
                    members.insert({get_u32(b + 4), std::string(reinterpret_cast<const char*>(b), 4 + size)});
                    b += 4 + size;
                }
            }
        }
    }
};

std::multiset<std::pair<uint32_t, std::string>> truth(const membership& m)
{
    std::multiset<std::pair<uint32_t, std::string>> s;
    m.for_each([&](const membership::member& x) { s.insert({x.ip, x.record}); });
    return s;
}

TEST(LektMembership, FirstAnswerIsSnapshotThenOnlyChanges)
{
    membership m;
    for (uint32_t i = 0; i < 1000; ++i)
        m.add(0xC6120000 + i, uint16_t(1000 + i), record(0xC6120000 + i, 5000));
    view v;
    membership::answer_stats st;
    const std::string first = v.ask(m, &st);
    EXPECT_TRUE(st.snapshot);
    EXPECT_EQ(st.added, 1000u);
    EXPECT_EQ(v.members, truth(m));
    EXPECT_EQ(v.snapshots, 1);

    // No change: only the terminator.
    const std::string idle = v.ask(m);
    EXPECT_EQ(idle.size(), update_header_len);

    // One join: one record, whatever the membership size.
    const uint64_t id = m.add(0xC6130001, 7, record(0xC6130001, 6000));
    membership::answer_stats st2;
    const std::string one = v.ask(m, &st2);
    EXPECT_FALSE(st2.snapshot);
    EXPECT_EQ(st2.added, 1u);
    EXPECT_EQ(one.size(), update_header_len + 18 + update_header_len);
    EXPECT_EQ(v.members, truth(m));

    // One leave: one 'R' with that IP.
    m.remove(id);
    membership::answer_stats st3;
    const std::string gone = v.ask(m, &st3);
    EXPECT_EQ(st3.removed, 1u);
    EXPECT_EQ(st3.added, 0u);
    EXPECT_EQ(gone.size(), update_header_len + 4 + update_header_len);
    EXPECT_EQ(v.members, truth(m));
    EXPECT_EQ(v.snapshots, 1);
}

TEST(LektMembership, AnswerCostIsChangesNotMembers)
{
    // The same 10 changes cost the same bytes with 10 or 5000 members.
    std::size_t sizes[2];
    int i = 0;
    for (uint32_t n : {10u, 5000u}) {
        membership m;
        for (uint32_t k = 0; k < n; ++k)
            m.add(0x0A000000 + k, 1, record(0x0A000000 + k, 1));
        view v;
        v.ask(m);
        for (uint32_t k = 0; k < 10; ++k)
            m.add(0x0B000000 + k, 1, record(0x0B000000 + k, 1));
        sizes[i++] = v.ask(m).size();
        EXPECT_EQ(v.members, truth(m));
    }
    EXPECT_EQ(sizes[0], sizes[1]);
}

TEST(LektMembership, JoinAndLeaveBetweenAnswersIsInvisible)
{
    membership m;
    m.add(1, 1, record(0x0A000001, 1));
    view v;
    v.ask(m);
    const uint64_t id = m.add(0x0A000002, 2, record(0x0A000002, 2));
    m.remove(id);
    membership::answer_stats st;
    const std::string out = v.ask(m, &st);
    EXPECT_EQ(st.added + st.removed, 0u) << "never announced, so never withdrawn";
    EXPECT_EQ(out.size(), update_header_len);
}

TEST(LektMembership, RemovalByIpReannouncesTheOthersAtThatIp)
{
    membership m;
    const uint32_t nat = 0xC6120005;
    const uint64_t a = m.add(nat, 1000, record(nat, 5001));
    m.add(nat, 1001, record(nat, 5002));
    m.add(0xC6120006, 1000, record(0xC6120006, 5001));
    view v;
    v.ask(m);
    EXPECT_EQ(v.members.size(), 3u);
    m.remove(a);
    membership::answer_stats st;
    const std::string out = v.ask(m, &st);
    EXPECT_EQ(st.removed, 1u);
    EXPECT_EQ(st.added, 1u) << "the member still behind the NAT address";
    EXPECT_EQ(v.members, truth(m));
    const auto ev = decode(out);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].u.kind, 'R');
    EXPECT_EQ(ev[1].u.kind, 'A');
    EXPECT_EQ(ev[1].ips, std::vector<uint32_t>{nat});
}

TEST(LektMembership, RandomChurnKeepsEveryViewExact)
{
    membership m(64);
    std::vector<uint64_t> live;
    std::vector<view> views(5);
    uint32_t rng = 12345;
    auto next = [&] { return rng = rng * 1103515245 + 12345; };
    for (int round = 0; round < 400; ++round) {
        if (live.empty() || next() % 3) {
            const uint32_t ip = 0x0A000000 + next() % 20;  // few IPs: many shared
            live.push_back(m.add(ip, uint16_t(round), record(ip, uint16_t(round))));
        } else {
            const std::size_t k = next() % live.size();
            m.remove(live[k]);
            live.erase(live.begin() + long(k));
        }
        auto& v = views[next() % views.size()];
        v.ask(m);
        ASSERT_EQ(v.members, truth(m)) << "round " << round;
        uint64_t min_pos = m.head();
        for (const auto& x : views)
            if (x.pos)
                min_pos = std::min(min_pos, x.pos);
        m.compact(min_pos);
        EXPECT_LE(m.log_size(), 64u);
    }
    for (auto& v : views) {
        v.ask(m);
        EXPECT_EQ(v.members, truth(m));
    }
}

TEST(LektMembership, CompactionAndLaggardSnapshot)
{
    membership m(8);
    m.add(0x0A000001, 1, record(0x0A000001, 1));
    view fast, slow;
    fast.ask(m);
    slow.ask(m);
    for (uint32_t k = 0; k < 4; ++k)
        m.add(0x0A000010 + k, 1, record(0x0A000010 + k, 1));
    fast.ask(m);
    // Everyone saw seq 1: entries up to 1 go.
    m.compact(std::min(fast.pos, slow.pos));
    EXPECT_EQ(m.base(), 1u);
    EXPECT_EQ(m.log_size(), 4u);
    membership::answer_stats st;
    slow.ask(m, &st);
    EXPECT_FALSE(st.snapshot);
    EXPECT_EQ(slow.members, truth(m));
    // Beyond the bound the oldest entries go even if a laggard needs them: it gets a snapshot.
    uint64_t lag_pos = slow.pos;
    for (uint32_t k = 0; k < 20; ++k)
        m.add(0x0A000100 + k, 1, record(0x0A000100 + k, 1));
    m.compact(lag_pos);
    EXPECT_EQ(m.log_size(), 8u);
    EXPECT_GT(m.base(), lag_pos);
    membership::answer_stats st2;
    slow.ask(m, &st2);
    EXPECT_TRUE(st2.snapshot);
    EXPECT_EQ(slow.snapshots, 2);
    EXPECT_EQ(slow.members, truth(m));
}

TEST(LektMembership, LargeUpdatesAreSplit)
{
    membership m;
    for (uint32_t k = 0; k < 3000; ++k)
        m.add(0x0A000000 + k, 1, record(0x0A000000 + k, 1));
    view v;
    const std::string out = v.ask(m);
    const auto ev = decode(out);  // fails on any packet over max_update_len
    uint32_t total = 0;
    std::size_t a_packets = 0;
    for (const auto& e : ev)
        if (e.u.kind == 'A' && e.u.count) {
            total += e.u.count;
            ++a_packets;
            EXPECT_LE(update_header_len + e.u.body_len, max_update_len);
        }
    EXPECT_EQ(total, 3000u);
    EXPECT_EQ(a_packets, (3000 * 18 + (max_update_len - update_header_len) / 18 * 18 - 1) /
                             ((max_update_len - update_header_len) / 18 * 18));
    EXPECT_EQ(v.members, truth(m));
    // Removals split too: 2000 IPs.
    std::vector<uint64_t> ids;
    m.for_each([&](const membership::member& x) { ids.push_back(x.add_seq); });
    for (std::size_t k = 0; k < 2000; ++k)
        m.remove(ids[k]);
    const auto ev2 = decode(v.ask(m));
    uint32_t removed = 0;
    for (const auto& e : ev2)
        if (e.u.kind == 'R')
            removed += e.u.count;
    EXPECT_EQ(removed, 2000u);
    EXPECT_GT(ev2.size(), 2u);
    EXPECT_EQ(v.members, truth(m));
}

} // namespace
} // namespace peregrine::lekt
