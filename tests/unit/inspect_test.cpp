// Payload inspection: the rules file parser (every error it names), compilation (Hyperscan's
// messages with the rule's line), matching and actions, reloads that fail, and reloads while
// another lcore scans without pause.

#include <atomic>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "common/rcu.hpp"
#include "inspect/inspector.hpp"
#include "inspect/options.hpp"
#include "inspect/rules.hpp"

namespace peregrine::inspect {
namespace {

std::string parse_error(const std::string& text)
{
    std::vector<rule> r;
    std::string err;
    EXPECT_FALSE(parse_rules(text, &r, &err)) << text;
    return err;
}

TEST(InspectRules, TheFormAndItsDefaults)
{
    std::vector<rule> r;
    std::string err;
    const char* text =
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "1:/abc/\n"
        "  22 : /a\\/b c/ismH8WV drop  \r\n"
        "4294967295:/x+/ count\n"
        "7:/with space/i\tdrop\n";
    ASSERT_TRUE(parse_rules(text, &r, &err)) << err;
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(r[0].id, 1u);
    EXPECT_EQ(r[0].expr, "abc");
    EXPECT_EQ(r[0].flags, 0);
    EXPECT_EQ(r[0].action, rule_action::count) << "no action: count (hsbench files load as they are)";
    EXPECT_EQ(r[0].line, 4u);
    EXPECT_EQ(r[1].id, 22u);
    EXPECT_EQ(r[1].expr, "a\\/b c") << "the expression ends at the last '/'";
    EXPECT_EQ(r[1].flags, caseless | dotall | multiline | single_match | utf8 | ucp | allow_empty);
    EXPECT_EQ(r[1].action, rule_action::drop);
    EXPECT_EQ(r[1].line, 5u);
    EXPECT_EQ(r[2].id, 4294967295u);
    EXPECT_EQ(r[2].action, rule_action::count);
    EXPECT_EQ(r[3].expr, "with space");
    EXPECT_EQ(r[3].action, rule_action::drop);

    ASSERT_TRUE(parse_rules("", &r, &err));
    EXPECT_TRUE(r.empty());
    ASSERT_TRUE(parse_rules("1:/a/", &r, &err)) << "no newline at the end";
    EXPECT_EQ(r.size(), 1u);
}

TEST(InspectRules, EveryErrorWithItsLine)
{
    EXPECT_EQ(parse_error("1:/a/\nno colon here\n"), "line 2: expected ID:/regex/flags [drop|count]");
    EXPECT_EQ(parse_error(":/a/"), "line 1: the rule ID must be a decimal number");
    EXPECT_EQ(parse_error("x1:/a/"), "line 1: the rule ID must be a decimal number");
    EXPECT_EQ(parse_error("-1:/a/"), "line 1: the rule ID must be a decimal number");
    EXPECT_EQ(parse_error("12345678901:/a/"), "line 1: the rule ID must be a decimal number");
    EXPECT_EQ(parse_error("4294967296:/a/"), "line 1: the rule ID is over 4294967295");
    EXPECT_EQ(parse_error("1:a/"), "line 1: the expression must start with '/'");
    EXPECT_EQ(parse_error("1:"), "line 1: the expression must start with '/'");
    EXPECT_EQ(parse_error("1:/abc"), "line 1: no closing '/' after the expression");
    EXPECT_EQ(parse_error("1://"), "line 1: empty expression");
    EXPECT_EQ(parse_error("1:/a/x"), "line 1: unknown flag 'x' (flags: i m s H V 8 W)");
    EXPECT_EQ(parse_error("1:/a/L"), "line 1: unknown flag 'L' (flags: i m s H V 8 W)");
    EXPECT_EQ(parse_error("1:/a/ii"), "line 1: flag 'i' given twice");
    EXPECT_EQ(parse_error("1:/a/ block"), "line 1: unknown action 'block' (drop or count)");
    EXPECT_EQ(parse_error("1:/a/ drop now"), "line 1: text after the action");
    EXPECT_EQ(parse_error("1:/a/\n\n1:/b/"), "line 3: rule ID 1 is already on line 1");
    EXPECT_EQ(parse_error(std::string("1:/a\0b/", 7)), "line 1: a NUL byte in the rule");
    std::string many;
    for (unsigned i = 0; i <= max_rules; ++i)
        many += std::to_string(i) + ":/a/\n";
    EXPECT_EQ(parse_error(many), "line " + std::to_string(max_rules + 1) + ": more than " +
                                     std::to_string(max_rules) + " rules");
}

TEST(InspectRules, FilesAndCompileErrors)
{
    std::string err;
    EXPECT_FALSE(check_rules_file("/nonexistent/rules", &err));
    EXPECT_EQ(err, "/nonexistent/rules: No such file or directory");

    char path[] = "/tmp/pgrulesXXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    auto write = [&](const char* text) {
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    };
    write("1:/ok/\n# two\n5:/(unclosed/ drop\n");
    EXPECT_FALSE(check_rules_file(path, &err));
    EXPECT_EQ(err.rfind(std::string(path) + ": line 3: rule 5: ", 0), 0u) << err;
    EXPECT_NE(err.find("parenthes"), std::string::npos) << "Hyperscan's own message: " << err;
    write("1:/a/\n2:/b/ bad\n");
    EXPECT_FALSE(check_rules_file(path, &err));
    EXPECT_EQ(err, std::string(path) + ": line 2: unknown action 'bad' (drop or count)");
    write("1:/ok/ drop\n");
    EXPECT_TRUE(check_rules_file(path, &err)) << err;
    write("");
    EXPECT_TRUE(check_rules_file(path, &err)) << "an empty file inspects nothing: " << err;
    std::remove(path);
}

// Scans one payload on this lcore through a point.
bool dropped(const engine::inspection_point* p, const std::string& s)
{
    const auto* d = reinterpret_cast<const uint8_t*>(s.data());
    const uint32_t l = static_cast<uint32_t>(s.size());
    bool drop = true;
    p->scan(&d, &l, 1, &drop);
    return drop;
}

std::vector<rule> rules_of(const std::string& text)
{
    std::vector<rule> r;
    std::string err;
    EXPECT_TRUE(parse_rules(text, &r, &err)) << err;
    return r;
}

TEST(Inspector, MatchesActionsAndCounters)
{
    inspector::config c;
    c.lcores = {rte_lcore_id()};
    c.all = false;
    c.only = {"router", "rudp"};
    inspector in(c);
    EXPECT_EQ(in.point("session"), nullptr) << "not in --inspect";
    const engine::inspection_point* p = in.point("router");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(in.unclaimed(), std::vector<std::string>{"rudp"});
    EXPECT_FALSE(dropped(p, "evil")) << "no rules published yet: nothing is dropped";

    std::string err;
    ASSERT_TRUE(in.publish(rules_of("10:/ev[i1]l/i drop\n20:/^GET /s count\n30:/\\x00\\xff/ drop\n"), &err)) << err;
    EXPECT_TRUE(dropped(p, "so EV1L"));
    EXPECT_FALSE(dropped(p, "GET / HTTP/1.1"));
    EXPECT_TRUE(dropped(p, "GET evil"));
    EXPECT_TRUE(dropped(p, std::string("a\0\xff", 3))) << "binary payloads";
    EXPECT_FALSE(dropped(p, ""));
    EXPECT_FALSE(dropped(p, "evi"));

    // A burst: each payload its own verdict, the count of drops returned.
    const std::string ps[] = {"evil evil evil", "clean", "GET x", "EVIL"};
    const uint8_t* d[4];
    uint32_t l[4];
    for (unsigned k = 0; k < 4; ++k) {
        d[k] = reinterpret_cast<const uint8_t*>(ps[k].data());
        l[k] = static_cast<uint32_t>(ps[k].size());
    }
    bool v[4];
    EXPECT_EQ(p->scan(d, l, 4, v), 2u);
    EXPECT_TRUE(v[0]);
    EXPECT_FALSE(v[1]);
    EXPECT_FALSE(v[2]);
    EXPECT_TRUE(v[3]);

    const point_counters pc = static_cast<const point*>(p)->sum();
    EXPECT_EQ(pc.scanned, 11u);
    EXPECT_EQ(pc.dropped, 5u);
    EXPECT_EQ(pc.matched, 7u);
    EXPECT_EQ(pc.errors, 0u);
    const auto m = in.matches();
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].id, 10u);
    EXPECT_EQ(m[0].matches, 4u) << "a rule counts once per payload however often it matches";
    EXPECT_EQ(m[1].matches, 3u);
    EXPECT_EQ(m[2].matches, 1u);
    EXPECT_EQ(in.state().rules, 3u);
    EXPECT_GT(in.state().db_bytes, 0u);
}

TEST(Inspector, AFailedReloadKeepsTheRulesInForce)
{
    char path[] = "/tmp/pgrulesXXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    auto write = [&](const char* text) { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; };
    inspector::config c;
    c.path = path;
    c.lcores = {rte_lcore_id()};
    inspector in(c);
    const engine::inspection_point* p = in.point("router");
    std::string err;
    write("1:/alpha/ drop\n");
    ASSERT_TRUE(in.load(&err)) << err;
    EXPECT_TRUE(dropped(p, "alpha"));
    const database* before = in.current();

    write("1:/alpha/ drop\n2:/[z-a]/ drop\n");
    EXPECT_FALSE(in.load(&err));
    EXPECT_EQ(err.rfind("line 2: rule 2: ", 0), 0u) << err;
    EXPECT_EQ(in.current(), before) << "the old set is still in force";
    EXPECT_TRUE(dropped(p, "alpha"));
    inspector::status s = in.state();
    EXPECT_FALSE(s.last_ok);
    EXPECT_EQ(s.last_error, err);
    EXPECT_EQ(s.generation, 1u);
    EXPECT_EQ(s.failures, 1u);

    std::remove(path);
    EXPECT_FALSE(in.load(&err)) << "a file that went away";
    EXPECT_TRUE(dropped(p, "alpha"));

    write("1:/alpha/ count\n3:/beta/ drop\n");
    ASSERT_TRUE(in.load(&err)) << err;
    EXPECT_FALSE(dropped(p, "alpha"));
    EXPECT_TRUE(dropped(p, "beta"));
    s = in.state();
    EXPECT_TRUE(s.last_ok);
    EXPECT_EQ(s.generation, 2u);
    EXPECT_EQ(s.rules, 2u);
    // Rule 1 matched "alpha" three times across both sets: totals follow the ID over reloads.
    const auto m = in.matches();
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].id, 1u);
    EXPECT_EQ(m[0].matches, 4u);
    EXPECT_EQ(m[0].action, rule_action::count);
    EXPECT_EQ(m[1].matches, 1u);

    write("3:/beta/ drop\n");
    ASSERT_TRUE(in.load(&err)) << err;
    const auto m2 = in.matches();
    ASSERT_EQ(m2.size(), 2u);
    EXPECT_FALSE(m2[0].loaded) << "rule 1 left the file; its total stays";
    EXPECT_EQ(m2[0].matches, 4u);
    std::remove(path);
}

// Reloads while lcore 1 scans without pause as a worker does (one quiescent state per loop):
// every payload gets the verdict of the set in force when its scan began, never a freed set's.
struct scanner {
    const engine::inspection_point* p = nullptr;
    rte_rcu_qsbr* v = nullptr;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> loops{0}, wrong{0}, a_drops{0}, b_drops{0};
};

int scan_loop(void* arg)
{
    auto& s = *static_cast<scanner*>(arg);
    const unsigned id = 0;
    rte_rcu_qsbr_thread_register(s.v, id);
    rte_rcu_qsbr_thread_online(s.v, id);
    const std::string ps[] = {"payload with alpha", "payload with beta", "neither here"};
    const uint8_t* d[3];
    uint32_t l[3];
    for (unsigned k = 0; k < 3; ++k) {
        d[k] = reinterpret_cast<const uint8_t*>(ps[k].data());
        l[k] = static_cast<uint32_t>(ps[k].size());
    }
    while (!s.stop.load(std::memory_order_relaxed)) {
        bool v[3];
        s.p->scan(d, l, 3, v);
        // Set A drops alpha, set B drops beta: never both, never neither's payload.
        if (v[2] || (v[0] && v[1]) || (!v[0] && !v[1]))
            s.wrong.fetch_add(1, std::memory_order_relaxed);
        s.a_drops += v[0];
        s.b_drops += v[1];
        s.loops.fetch_add(1, std::memory_order_relaxed);
        rte_rcu_qsbr_quiescent(s.v, id);
    }
    rte_rcu_qsbr_thread_offline(s.v, id);
    rte_rcu_qsbr_thread_unregister(s.v, id);
    return 0;
}

TEST(Inspector, ReloadWhileAnotherLcoreScans)
{
    const unsigned worker = rte_get_next_lcore(-1, 1, 0);
    ASSERT_LT(worker, RTE_MAX_LCORE) << "the test EAL has a second lcore";
    rte_rcu_qsbr* v = rcu_create(1, SOCKET_ID_ANY);
    ASSERT_NE(v, nullptr);
    inspector::config c;
    c.lcores = {rte_lcore_id(), worker};
    c.rcu = v;
    inspector in(c);
    scanner s;
    s.v = v;
    s.p = in.point("router");
    std::string err;
    ASSERT_TRUE(in.publish(rules_of("1:/alpha/ drop\n"), &err)) << err;
    ASSERT_EQ(rte_eal_remote_launch(scan_loop, &s, worker), 0);
    for (unsigned r = 0; r < 60; ++r) {
        const bool a = r % 2 == 1;
        // Sets of different sizes: a freed scratch or database would be noticed by ASan.
        std::string text = a ? "1:/alpha/ drop\n" : "2:/beta/ drop\n";
        for (unsigned k = 0; k < r % 7; ++k)
            text += std::to_string(100 + k) + ":/filler" + std::to_string(k) + "[0-9]{2,}x/ count\n";
        ASSERT_TRUE(in.publish(rules_of(text), &err)) << err;
        // After publish returns, the reader's next scans see this set only.
        const uint64_t start = s.loops.load();
        while (s.loops.load() < start + 3) {
        }
        const uint64_t a0 = s.a_drops.load(), b0 = s.b_drops.load();
        const uint64_t at = s.loops.load();
        while (s.loops.load() < at + 3) {
        }
        if (a)
            EXPECT_EQ(s.b_drops.load(), b0) << "round " << r << ": set B was replaced";
        else
            EXPECT_EQ(s.a_drops.load(), a0) << "round " << r << ": set A was replaced";
    }
    s.stop = true;
    rte_eal_wait_lcore(worker);
    EXPECT_EQ(s.wrong.load(), 0u);
    EXPECT_GT(s.loops.load(), 60u * 6);
    EXPECT_EQ(in.state().generation, 61u);
    rte_free(v);
}

} // namespace
} // namespace peregrine::inspect
