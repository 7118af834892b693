// Session protocol options (src/options.cpp): defaults, ranges, and refusals naming the option.

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

TEST(SessionOptions, GoodValues)
{
    options o;
    std::string err;
    ASSERT_TRUE(parse({"--session-app", "discard", "--session-key-file", "/etc/pg.key", "--max-sessions", "100000000",
                       "--session-timeout", "86400", "--session-hello-window", "1"},
                      &o, &err))
        << err;
    EXPECT_EQ(o.session.app, "discard");
    EXPECT_EQ(o.session.key_file, "/etc/pg.key");
    EXPECT_EQ(o.session.max_sessions, 100000000u);
    EXPECT_EQ(o.session.timeout_s, 86400u);
    EXPECT_EQ(o.session.hello_window_s, 1u);
}

TEST(SessionOptions, RefusedValuesNameTheOption)
{
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{"--session-app", "cat"}, "--session-app"},
        {{"--session-app", ""}, "--session-app"},
        {{"--session-key-file", ""}, "--session-key-file"},
        {{"--max-sessions", "0"}, "--max-sessions"},
        {{"--max-sessions", "100000001"}, "--max-sessions"},
        {{"--max-sessions", "-1"}, "--max-sessions"},
        {{"--session-timeout", "0"}, "--session-timeout"},
        {{"--session-timeout", "86401"}, "--session-timeout"},
        {{"--session-timeout", "1s"}, "--session-timeout"},
        {{"--session-hello-window", "0"}, "--session-hello-window"},
        {{"--session-hello-window", "3601"}, "--session-hello-window"},
        {{"--session-port", "0"}, "--session-port"},
        {{"--session-port", "7100"}, "7100"},  // the router's
    };
    for (const auto& [args, mention] : bad) {
        options o;
        std::string err;
        EXPECT_FALSE(parse(args, &o, &err)) << args[0] << " " << args[1];
        EXPECT_NE(err.find(mention), std::string::npos) << err;
    }
}

} // namespace
} // namespace peregrine
