// Application option parsing (src/options.cpp): good input accepted with the right values, bad
// input refused with a message that names the option.

#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>

#include <regex>

#include <gtest/gtest.h>

#include "engine/idle.hpp"
#include "parse_options.hpp"

namespace peregrine {
namespace {

struct parse_result {
    bool ok;
    options o;
    std::string err;
};

parse_result parse(std::vector<std::string> args)
{
    parse_result r{};
    r.ok = pgtest::parse_options(std::move(args), &r.o, &r.err);
    return r;
}

// Refused, and the message mentions `mention` (usually the option's name).
void expect_refused(std::vector<std::string> args, const std::string& mention)
{
    std::string joined;
    for (const auto& a : args)
        joined += a + " ";
    const parse_result r = parse(std::move(args));
    EXPECT_FALSE(r.ok) << "accepted: " << joined;
    EXPECT_NE(r.err.find(mention), std::string::npos) << "for '" << joined << "' the message '" << r.err
                                                     << "' does not mention " << mention;
}

uint32_t be(const char* dotted)
{
    in_addr a{};
    inet_pton(AF_INET, dotted, &a);
    return a.s_addr;
}

// What --help says an option's default is, is the default: giving that value changes nothing.
// (A test per default value would only restate the code; this one fails when the help lies.)
TEST(Options, HelpStatesTheRealDefaults)
{
    options defaults;
    std::string err;
    ASSERT_TRUE(parse_options(1, std::vector<char*>{const_cast<char*>("pg")}.data(), &defaults, &err)) << err;
    options probe;
    const std::regex stated("default ([0-9]+|[a-z]+)[;:)]");
    unsigned checked = 0;
    for (const auto& sec : option_sections(&probe))
        for (const auto& opt : sec.options) {
            std::smatch m;
            if (opt.arg.empty() || !std::regex_search(opt.help, m, stated))
                continue;
            probe = defaults;
            std::string e;
            ASSERT_TRUE(opt.apply(m[1].str().c_str(), &e)) << "--" << opt.name << " " << m[1] << ": " << e;
            EXPECT_TRUE(probe == defaults) << "--" << opt.name << ": --help says the default is " << m[1]
                                           << ", the code's is another";
            ++checked;
        }
    EXPECT_GE(checked, 15u) << "the help's \"(default N)\" pattern changed: this test checks nothing";
}

TEST(Options, AcceptsAFullCommandLine)
{
    const parse_result r = parse({"-p", "0x3", "--config", "(0,0,1),(0,1,2),(1,0,1)", "--addr", "0:198.18.0.1/24",
                                  "--addr", "1:198.19.0.1/16", "--router-port", "9000", "--lb-port", "9001",
                                  "--session-port", "9002", "--rudp-port", "9003", "--lekt-port", "9000",
                                  "--heartbeat-timeout", "30", "--max-clients", "1000", "--stats-interval", "5",
                                  "--tap-name", "pg%u", "--no-tap", "--mbufs", "8192"});
    ASSERT_TRUE(r.ok) << r.err;
    const options& o = r.o;
    EXPECT_EQ(o.portmask, 0x3u);
    ASSERT_EQ(o.config.size(), 3u);
    EXPECT_EQ(o.config[1].port, 0);
    EXPECT_EQ(o.config[1].queue, 1);
    EXPECT_EQ(o.config[1].lcore, 2u);
    ASSERT_EQ(o.addrs.size(), 2u);
    EXPECT_EQ(o.addrs[0].port, 0);
    EXPECT_EQ(o.addrs[0].ip_be, be("198.18.0.1"));
    EXPECT_EQ(o.addrs[0].prefix_len, 24);
    EXPECT_EQ(o.addrs[1].ip_be, be("198.19.0.1"));
    EXPECT_EQ(o.addrs[1].prefix_len, 16);
    EXPECT_EQ(o.router.port, 9000);
    EXPECT_EQ(o.lb.port, 9001);
    EXPECT_EQ(o.session.port, 9002);
    EXPECT_EQ(o.rudp.port, 9003);
    EXPECT_EQ(o.lekt.port, 9000) << "LEKT is TCP: it may share a number with a UDP protocol";
    EXPECT_EQ(o.router.heartbeat_timeout_s, 30u);
    EXPECT_EQ(o.router.max_clients, 1000u);
    EXPECT_EQ(o.stats_interval_s, 5u);
    EXPECT_EQ(o.tap_name, "pg%u");
    EXPECT_TRUE(o.no_tap);
    EXPECT_EQ(o.mbufs, 8192u);
}

TEST(Options, RangeEdgesAreAccepted)
{
    for (const char* p : {"1", "65535"})
        EXPECT_TRUE(parse({"--router-port", p}).ok) << p;
    EXPECT_TRUE(parse({"--heartbeat-timeout", "86400"}).ok);
    EXPECT_EQ(parse({}).o.router.register_rate, 10000u) << "Register Clients limited per source by default";
    EXPECT_EQ(parse({}).o.router.register_global_rate, 0u);
    EXPECT_EQ(parse({"--register-rate", "0"}).o.router.register_rate, 0u);
    EXPECT_EQ(parse({"--register-global-rate", "50000"}).o.router.register_global_rate, 50000u);
    EXPECT_TRUE(parse({"--stats-interval", "0"}).ok);
    EXPECT_EQ(parse({}).o.idle_sleep_us, 0u) << "busy-poll unless asked";
    EXPECT_EQ(parse({"--idle-sleep", "100000"}).o.idle_sleep_us, 100000u);
    EXPECT_EQ(parse({}).o.control_sleep_us, 1000u) << "the control lcore sleeps when idle unless asked";
    EXPECT_EQ(parse({"--control-sleep", "0"}).o.control_sleep_us, 0u);
    EXPECT_EQ(parse({}).o.control_resume_latency_us, 0) << "the control lcore's CPU is kept quick to wake unless asked";
    EXPECT_EQ(parse({"--control-resume-latency", "off"}).o.control_resume_latency_us, -1);
    EXPECT_EQ(parse({"--control-resume-latency", "1000000"}).o.control_resume_latency_us, 1000000);
    for (const char* bad : {"-1", "1000001", "of", "", "10us"})
        EXPECT_FALSE(parse({"--control-resume-latency", bad}).ok) << bad;
    EXPECT_FALSE(parse({}).o.tap_rx_signal) << "TAPs are polled unless asked";
    EXPECT_TRUE(parse({"--tap-rx-signal"}).o.tap_rx_signal);
    EXPECT_TRUE(parse({"--mbufs", "1024"}).ok);
    EXPECT_TRUE(parse({"--tap-name", "exception"}).ok) << "no %u is fine with one port";
    EXPECT_TRUE(parse({"-h"}).o.help);
    EXPECT_TRUE(parse({"--help"}).o.help);
}

TEST(Options, PortNumbers)
{
    for (const char* opt : {"--router-port", "--lb-port", "--session-port", "--rudp-port", "--lekt-port"})
        for (const char* bad : {"0", "65536", "-1", "+5", "abc", "7100x", "", " 7100", "0x10", "99999999999999999999"})
            expect_refused({opt, bad}, opt);
}

TEST(Options, OtherNumbers)
{
    expect_refused({"--heartbeat-timeout", "0"}, "--heartbeat-timeout");
    expect_refused({"--heartbeat-timeout", "86401"}, "--heartbeat-timeout");
    expect_refused({"--register-rate", "10000001"}, "--register-rate");
    expect_refused({"--max-clients", "0"}, "--max-clients");
    expect_refused({"--max-clients", "100000001"}, "--max-clients");
    expect_refused({"--stats-interval", "3601"}, "--stats-interval");
    expect_refused({"--idle-sleep", "100001"}, "--idle-sleep");
    expect_refused({"--idle-sleep", "-1"}, "--idle-sleep");
    expect_refused({"--control-sleep", "100001"}, "--control-sleep");
    expect_refused({"--mbufs", "1023"}, "--mbufs");
    expect_refused({"--mbufs", "1k"}, "--mbufs");
    expect_refused({"-p", "0"}, "-p");
    expect_refused({"-p", "xyz"}, "-p");
    expect_refused({"-p", "0x1g"}, "-p");
}

TEST(Options, TwoProtocolsOnOneUdpPort)
{
    expect_refused({"--lb-port", "7100"}, "7100");
    expect_refused({"--router-port", "7400"}, "7400");
    expect_refused({"--session-port", "8000", "--rudp-port", "8000"}, "8000");
}

TEST(Options, ProtocolsCanBeTurnedOff)
{
    const parse_result d = parse({});
    EXPECT_FALSE(d.o.lb.off || d.o.session.off) << "every protocol is served unless turned off";
    const parse_result r = parse({"--no-lb", "--no-session"});
    ASSERT_TRUE(r.ok) << r.err;
    EXPECT_TRUE(r.o.lb.off);
    EXPECT_TRUE(r.o.session.off);
    EXPECT_TRUE(parse({"--no-lb"}).o.lb.off);
    EXPECT_FALSE(parse({"--no-lb"}).o.session.off);
    expect_refused({"--no-lb=1"}, "no-lb");
    for (const char* opt : {"--no-lb", "--no-session"})
        EXPECT_NE(usage("peregrine").find(opt), std::string::npos) << opt;
}

TEST(Options, LoadBalancerPolicyAndExpiry)
{
    const parse_result d = parse({});
    EXPECT_EQ(d.o.lb.policy, 0u);
    EXPECT_EQ(d.o.lb.expiry_s, 120u);
    const parse_result r = parse({"--lb-policy", "least-loaded", "--lb-expiry", "3"});
    ASSERT_TRUE(r.ok) << r.err;
    EXPECT_EQ(r.o.lb.policy, 1u);
    EXPECT_EQ(r.o.lb.expiry_s, 3u);
    EXPECT_EQ(parse({"--lb-policy", "least-loaded", "--lb-policy", "maglev"}).o.lb.policy, 0u);
    for (const char* bad : {"", "Maglev", "round-robin", "least_loaded"})
        expect_refused({"--lb-policy", bad}, "--lb-policy");
    for (const char* bad : {"0", "86401", "-1", "1s", ""})
        expect_refused({"--lb-expiry", bad}, "--lb-expiry");
    EXPECT_TRUE(parse({"--lb-expiry", "86400"}).ok);
    EXPECT_FALSE(d.o.lb.answer_no_node) << "silence by default, as the origin";
    EXPECT_TRUE(parse({"--lb-answer-no-node"}).o.lb.answer_no_node);
    EXPECT_NE(usage("peregrine").find("--lb-policy"), std::string::npos);
    EXPECT_NE(usage("peregrine").find("--lb-expiry"), std::string::npos);
}

TEST(Options, TapName)
{
    for (const char* bad : {"", "pg%d", "pg%u%u", "%u%", "pg%", "averyverylongname%u"})
        expect_refused({"--tap-name", bad}, "--tap-name");
}

TEST(Options, MisuseOfTheCommandLine)
{
    expect_refused({"--router-port"}, "--router-port");
    expect_refused({"--bogus"}, "--bogus");
    expect_refused({"-x"}, "-x");
    expect_refused({"stray"}, "stray");
}

TEST(Options, ConfigTuples)
{
    std::vector<queue_map> q;
    std::string err;
    ASSERT_TRUE(parse_config("(0,0,1)", &q, &err)) << err;
    ASSERT_EQ(q.size(), 1u);
    ASSERT_TRUE(parse_config("(1,2,3),(1,3,3)", &q, &err)) << err;
    ASSERT_EQ(q.size(), 2u);
    EXPECT_EQ(q[0].port, 1);
    EXPECT_EQ(q[0].queue, 2);
    EXPECT_EQ(q[0].lcore, 3u);
    EXPECT_EQ(q[1].queue, 3);

    for (const char* bad : {"", "()", "(0,0)", "(0,0,1,2)", "(0,0,1", "0,0,1", "(0,0,1),", "(0,0,1)(0,1,1)",
                            "(0,0,1),(0,0,2)", "(a,0,1)", "(0,,1)", "(0,0,1)x", "(-1,0,1)", "(32,0,1)",
                            "(0,1024,1)", "(0,0,1024)", "( 0,0,1)"}) {
        err.clear();
        EXPECT_FALSE(parse_config(bad, &q, &err)) << "accepted '" << bad << "'";
        EXPECT_NE(err.find("--config"), std::string::npos) << err;
    }
    err.clear();
    parse_config("(0,0,1),(0,0,2)", &q, &err);
    EXPECT_NE(err.find("twice"), std::string::npos) << err;
    // Through the option parser as well.
    expect_refused({"--config", "(0,0,1),(0,0,1)"}, "--config");
}

TEST(Options, Addresses)
{
    port_address a{};
    std::string err;
    ASSERT_TRUE(parse_addr("3:192.0.2.7/32", &a, &err)) << err;
    EXPECT_EQ(a.port, 3);
    EXPECT_EQ(a.ip_be, be("192.0.2.7"));
    EXPECT_EQ(a.prefix_len, 32);

    for (const char* bad : {"", "0", "0:1.2.3.4", "1.2.3.4/24", "0/24:1.2.3.4", "x:1.2.3.4/24", "32:1.2.3.4/24",
                            "0:1.2.3/24", "0:1.2.3.400/24", "0:1.2.3.4/0", "0:1.2.3.4/33", "0:1.2.3.4/",
                            "0:1.2.3.4/24x", "0:127.0.0.1/8", "0:127.1.2.3/24", "0:0.0.0.0/8",
                            "0:224.0.0.1/24", "0:255.255.255.255/32"}) {
        err.clear();
        EXPECT_FALSE(parse_addr(bad, &a, &err)) << "accepted '" << bad << "'";
        EXPECT_NE(err.find("--addr"), std::string::npos) << err;
    }
    expect_refused({"--addr", "0:1.2.3.4/24", "--addr", "0:1.2.3.5/24"}, "--addr");
    expect_refused({"--addr", "0:127.0.0.1/8"}, "--addr");
}

// parse_options may be called more than once in a process (tests, a reload): an early return
// must not leave getopt state behind that changes the next parse.
TEST(Options, RepeatedParsesAreIndependent)
{
    EXPECT_TRUE(parse({"-hp", "0x1"}).o.help);
    const parse_result r = parse({"--router-port", "9000"});
    EXPECT_TRUE(r.ok) << r.err;
    EXPECT_EQ(r.o.portmask, 0u);
    EXPECT_EQ(r.o.router.port, 9000);
    EXPECT_FALSE(parse({"--mbufs", "1"}).ok);
    const parse_result r2 = parse({"-p", "0x2"});
    EXPECT_TRUE(r2.ok) << r2.err;
    EXPECT_EQ(r2.o.portmask, 0x2u);
}


// The --idle-sleep backoff: no sleep while packets flow or during the first empty polls, then
// 1 us doubling up to the ceiling, and back to the start at the first packet.
TEST(IdleBackoff, SleepsOnlyAfterARunOfEmptyPollsAndDoublesToTheCeiling)
{
    engine::idle_backoff off(8);
    for (unsigned i = 1; i < engine::idle_backoff::spins_before_sleep; ++i)
        ASSERT_EQ(off.idle(), 0u) << i;
    EXPECT_EQ(off.idle(), 1u);
    EXPECT_EQ(off.idle(), 2u);
    EXPECT_EQ(off.idle(), 4u);
    EXPECT_EQ(off.idle(), 8u);
    EXPECT_EQ(off.idle(), 8u) << "capped";
    off.busy();
    EXPECT_EQ(off.idle(), 0u) << "a packet resets the run";

    engine::idle_backoff never(0);
    for (unsigned i = 0; i < 4 * engine::idle_backoff::spins_before_sleep; ++i)
        ASSERT_EQ(never.idle(), 0u) << "0 busy-polls";
}

} // namespace
} // namespace peregrine
