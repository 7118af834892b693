// LEKT connection state machine: handshake -> setup (one request per supported method, in order)
// -> 'T' 0 -> heartbeats; one packet per feed; every out-of-phase packet refused with a reason;
// the member leaves on failure and on destruction.

#include <gtest/gtest.h>

#include "lekt/session.hpp"
#include "lekt_test_util.hpp"

namespace peregrine::lekt {
namespace {

using namespace pgtest::lekt_util;

constexpr uint32_t peer = 0xC6120002;

session::result feed(session& s, const std::string& in, std::string& out)
{
    return s.feed(reinterpret_cast<const uint8_t*>(in.data()), in.size(), out);
}

TEST(LektSession, FullFlow)
{
    membership m;
    session s(m, peer, 40000);
    std::string out;
    // Methods 1, 3 and 9 (unknown to us): we request 1 then 3.
    const std::string h = hello({1, 3, 9});
    auto r = feed(s, h, out);
    EXPECT_EQ(r.consumed, h.size());
    auto ev = decode(out);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].type, 'A');
    EXPECT_EQ(ev[1].type, 'T');
    EXPECT_EQ(ev[1].index, 1u);
    EXPECT_EQ(s.state(), session::phase::setup);

    out.clear();
    r = feed(s, response(1, endpoint(0, 5000)), out);
    EXPECT_GT(r.consumed, 0u);
    ev = decode(out);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].index, 3u);
    EXPECT_EQ(m.size(), 0u) << "not a member before setup ends";

    out.clear();
    r = feed(s, response(3, endpoint(0x0A000001, 6000) + std::string(16, 'i')), out);
    ev = decode(out);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].index, 0u);
    EXPECT_EQ(s.state(), session::phase::heartbeat);
    ASSERT_EQ(m.size(), 1u);
    const auto* me = m.find(s.member_id());
    ASSERT_NE(me, nullptr);
    // Record: size, IP, method 1 with 0.0.0.0 replaced by the peer's address, method 3 as sent.
    std::string want;
    put_u32(want, 4 + 10 + 26);
    put_u32(want, peer);
    put_u32(want, 1);
    want += endpoint(peer, 5000);
    put_u32(want, 3);
    want += endpoint(0x0A000001, 6000) + std::string(16, 'i');
    EXPECT_EQ(me->record, want);

    out.clear();
    r = feed(s, heartbeat(77), out);
    EXPECT_TRUE(r.heartbeat);
    EXPECT_TRUE(r.answer.snapshot);
    ev = decode(out);
    ASSERT_EQ(ev.size(), 3u);  // reset, the member itself, terminator
    EXPECT_EQ(ev[0].u.stamp, 77);
    EXPECT_EQ(ev[1].ips, std::vector<uint32_t>{peer});
    EXPECT_EQ(s.position(), m.head());
}

TEST(LektSession, NoMethodsJoinsAtOnce)
{
    membership m;
    session s(m, peer, 1);
    std::string out;
    feed(s, hello({}), out);
    const auto ev = decode(out);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].index, 0u);
    EXPECT_EQ(s.state(), session::phase::heartbeat);
    EXPECT_EQ(m.size(), 1u);
}

TEST(LektSession, OnePacketPerFeed)
{
    membership m;
    session s(m, peer, 1);
    std::string out;
    const std::string h = hello({1});
    const std::string both = h + response(1, endpoint(0, 1)) + heartbeat(1);
    auto r = feed(s, both, out);
    EXPECT_EQ(r.consumed, h.size());
    r = feed(s, both.substr(h.size()), out);
    EXPECT_EQ(r.consumed, 18u);
    EXPECT_EQ(s.state(), session::phase::heartbeat);
    r = feed(s, both.substr(h.size() + 18), out);
    EXPECT_TRUE(r.heartbeat);
}

TEST(LektSession, PartialPacketsNeedMore)
{
    membership m;
    session s(m, peer, 1);
    std::string out;
    const std::string h = hello({1});
    for (std::size_t n = 1; n < h.size(); ++n) {
        const auto r = feed(s, h.substr(0, n), out);
        EXPECT_EQ(r.consumed, 0u);
        EXPECT_FALSE(r.close);
    }
    EXPECT_TRUE(out.empty());
}

struct bad_case {
    const char* what;
    std::vector<std::string> before;  // accepted packets
    std::string bad;
    reject why;
};

TEST(LektSession, OutOfPhasePacketsAreRefused)
{
    const std::vector<bad_case> cases = {
        {"heartbeat during setup", {hello({1})}, heartbeat(1), reject::bad_type},
        // A second handshake in the heartbeat phase is indistinguishable from a heartbeat (both
        // 'H'), so only its version can give it away.
        {"major version 2 heartbeat", {hello({})}, std::string("LEKTH\x02\0\0\0\0\0\0\0\0\0\0", 16), reject::bad_version},
        {"response after setup", {hello({})}, response(1, endpoint(0, 1)), reject::bad_type},
        {"response to another method", {hello({1, 2})}, response(2, endpoint(0, 1)), reject::wrong_method},
        {"request sent by a client", {}, std::string("LEKTT\x01\0\0\0\0\0\0", 12), reject::bad_type},
        {"accept sent by a client", {}, std::string("LEKTA\x01\0\0", 8), reject::bad_type},
        {"garbage", {}, "hello world", reject::bad_magic},
        {"garbage in heartbeat phase", {hello({})}, "xxxxxxxxxxxxxxxx", reject::bad_magic},
    };
    for (const auto& c : cases) {
        membership m;
        session s(m, peer, 1);
        std::string out;
        for (const auto& p : c.before)
            ASSERT_GT(feed(s, p, out).consumed, 0u) << c.what;
        out.clear();
        const auto r = feed(s, c.bad, out);
        EXPECT_TRUE(r.close) << c.what;
        EXPECT_EQ(r.why, c.why) << c.what;
        const auto ev = decode(out);
        ASSERT_EQ(ev.size(), 1u) << c.what;
        EXPECT_EQ(ev[0].type, 'R');
        EXPECT_EQ(ev[0].reason, reject_text(c.why));
        EXPECT_EQ(s.state(), session::phase::closed);
        EXPECT_EQ(m.size(), 0u) << c.what << ": a refused member leaves";
        out.clear();
        EXPECT_EQ(feed(s, heartbeat(1), out).consumed, 0u) << "closed: nothing more is read";
        EXPECT_TRUE(out.empty());
    }
}

TEST(LektSession, LeavesOnDestructionAndFail)
{
    membership m;
    {
        session s(m, peer, 1);
        std::string out;
        feed(s, hello({}), out);
        EXPECT_EQ(m.size(), 1u);
    }
    EXPECT_EQ(m.size(), 0u);
    session s(m, peer, 2);
    std::string out;
    feed(s, hello({}), out);
    out.clear();
    s.fail(reject::heartbeat_timeout, out);
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(decode(out)[0].reason, "no heartbeat in time");
    s.fail(reject::stalled, out);  // once only
    EXPECT_EQ(decode(out).size(), 1u);
}

} // namespace
} // namespace peregrine::lekt
