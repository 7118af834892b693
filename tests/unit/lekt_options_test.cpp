// LEKT options (src/options.cpp): defaults, accepted values, ranges refused with the option named,
// and every option documented in --help.

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "parse_options.hpp"

namespace peregrine {
namespace {

bool parse(std::vector<std::string> args, options* o, std::string* err)
{
    return pgtest::parse_options(std::move(args), o, err);
}

TEST(LektOptions, Accepted)
{
    options o;
    std::string err;
    ASSERT_TRUE(parse({"--no-lekt", "--lekt-max-clients", "1000000", "--lekt-max-per-ip", "1",
                       "--lekt-heartbeat-timeout", "3600", "--lekt-handshake-timeout", "1"},
                      &o, &err))
        << err;
    EXPECT_TRUE(o.lekt.off);
    EXPECT_EQ(o.lekt.max_clients, 1000000u);
    EXPECT_EQ(o.lekt.max_per_ip, 1u);
    EXPECT_EQ(o.lekt.heartbeat_timeout_s, 3600u);
    EXPECT_EQ(o.lekt.handshake_timeout_s, 1u);
}

TEST(LektOptions, OutOfRangeRefusedWithTheOptionNamed)
{
    const std::vector<std::pair<std::string, std::vector<std::string>>> bad = {
        {"lekt-max-clients", {"0", "1000001", "-1", "ten", ""}},
        {"lekt-max-per-ip", {"0", "1000001", "1x"}},
        {"lekt-heartbeat-timeout", {"0", "3601", "1.5"}},
        {"lekt-handshake-timeout", {"0", "301"}},
        {"lekt-port", {"0", "65536"}},
    };
    for (const auto& [name, values] : bad)
        for (const auto& v : values) {
            options o;
            std::string err;
            EXPECT_FALSE(parse({"--" + name, v}, &o, &err)) << name << " " << v;
            EXPECT_NE(err.find(name), std::string::npos) << err;
        }
    options o;
    std::string err;
    EXPECT_FALSE(parse({"--lekt-max-clients"}, &o, &err));
    EXPECT_FALSE(parse({"--no-lekt=1"}, &o, &err));
}

TEST(LektOptions, DocumentedInHelp)
{
    const std::string u = usage("peregrine");
    for (const char* opt : {"--no-lekt", "--lekt-port", "--lekt-max-clients", "--lekt-max-per-ip",
                            "--lekt-heartbeat-timeout", "--lekt-handshake-timeout"})
        EXPECT_NE(u.find(opt), std::string::npos) << opt;
}

} // namespace
} // namespace peregrine
