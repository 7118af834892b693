// Payload inspection microbenchmarks (docs/performance.md, "Inspection"; rule sets and payloads
// in inspect_sets.hpp):
//  - BM_hyperscan: inspect::point::scan, the engine's own path (one block-mode scan per payload,
//    a burst of 32 back to back on one scratch), on clean payloads;
//  - BM_pcre2: the same rules through PCRE2 with its JIT, one pcre2_match per rule per payload
//    (what an engine without a multi-pattern matcher does);
//  - BM_re2_set: the same rules as one RE2::Set, one Match per payload;
//  - BM_router_forward: engine::process_burst on bursts of 32 Individual Messages to registered
//    clients with the payload size given, inspected (rules >= 0) or not (rules = -1): the
//    difference is what inspection adds to router forwarding. The session protocol's is
//    bench_session's BM_data_inspect.
// Args: set (0 literal, 1 regex, 2 crs), rules, payload bytes. Outcomes are checked: a packet
// that is not forwarded, or an engine that disagrees with another on how many payloads matched,
// fails the run.
//
//   bench_inspect --filter-rules IN OUT   keeps the rules of IN that compile in Hyperscan, PCRE2
//                                         and RE2 alike and do not match any text (empty, or
//                                         random words): how tests/data/crs-inspect.rules was made
// Flags (bench_common.hpp): --eal-mem=huge|nohuge (default nohuge), --eal-mem-mb=N;
// --crs=FILE (default tests/data/crs-inspect.rules).

#include <benchmark/benchmark.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include <hs/hs.h>
#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "bench_common.hpp"
#include "engine/dispatch.hpp"
#include "inspect/inspector.hpp"
#include "inspect_sets.hpp"
#include "router/codec.hpp"
#include "router/module.hpp"
#include "router/registry.hpp"

namespace {

using namespace peregrine;
using namespace bench_inspect;

constexpr unsigned burst = burst_size;
constexpr unsigned n_payloads = 1024;  // cycled: the payloads stay in L1/L2 as the NIC's DMA would leave them
std::string g_crs = PEREGRINE_SOURCE_DIR "/tests/data/crs-inspect.rules";

// ---- the three engines on one rule set --------------------------------------------------------

std::vector<inspect::rule> rules_for(benchmark::State& state)
{
    std::string err;
    auto r = rules_of(static_cast<set_kind>(state.range(0)), static_cast<unsigned>(state.range(1)), g_crs, &err);
    if (!err.empty())
        bench::fail(state, err.c_str());
    return r;
}

void set_label(benchmark::State& state, uint64_t matched, uint64_t scanned)
{
    state.SetLabel(std::string(set_name(static_cast<set_kind>(state.range(0)))) + " matched " +
                   std::to_string(scanned ? 100 * matched / scanned : 0) + "%");
    bench::set_counters(state, burst);
}

void BM_hyperscan(benchmark::State& state)
{
    const auto rules = rules_for(state);
    if (bench::failed)
        return;
    inspect::inspector::config c;
    c.lcores = {rte_lcore_id()};
    inspect::inspector in(c);
    std::string err;
    if (!in.publish(rules, &err))
        return bench::fail(state, err.c_str());
    const engine::inspection_point* pt = in.point("bench");
    const auto ps = payloads(n_payloads, static_cast<unsigned>(state.range(2)));
    std::vector<const uint8_t*> d(n_payloads);
    std::vector<uint32_t> l(n_payloads);
    for (unsigned k = 0; k < n_payloads; ++k) {
        d[k] = reinterpret_cast<const uint8_t*>(ps[k].data());
        l[k] = static_cast<uint32_t>(ps[k].size());
    }
    unsigned at = 0;
    bool drop[burst];
    for (auto _ : state) {
        pt->scan(&d[at], &l[at], burst, drop);
        at = (at + burst) % n_payloads;
    }
    const inspect::point_counters s = static_cast<const inspect::point*>(pt)->sum();
    set_label(state, s.matched, s.scanned);
    state.counters["db_kib"] = double(in.state().db_bytes) / 1024;
}

struct pcre2_rule {
    pcre2_code* code = nullptr;
    pcre2_match_data* md = nullptr;
};

uint32_t pcre2_options(uint8_t f)
{
    uint32_t o = 0;
    if (f & inspect::caseless)
        o |= PCRE2_CASELESS;
    if (f & inspect::multiline)
        o |= PCRE2_MULTILINE;
    if (f & inspect::dotall)
        o |= PCRE2_DOTALL;
    if (f & inspect::utf8)
        o |= PCRE2_UTF;
    if (f & inspect::ucp)
        o |= PCRE2_UCP;
    return o;
}

// nullptr if the rule does not compile in PCRE2.
pcre2_code* pcre2_compile_rule(const inspect::rule& r)
{
    int e;
    PCRE2_SIZE off;
    pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(r.expr.data()), r.expr.size(),
                                  pcre2_options(r.flags), &e, &off, nullptr);
    if (c)
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
}

void BM_pcre2(benchmark::State& state)
{
    const auto rules = rules_for(state);
    if (bench::failed)
        return;
    std::vector<pcre2_rule> rs;
    for (const auto& r : rules) {
        pcre2_rule x;
        x.code = pcre2_compile_rule(r);
        if (!x.code)
            return bench::fail(state, ("PCRE2 refuses rule " + std::to_string(r.id)).c_str());
        x.md = pcre2_match_data_create_from_pattern(x.code, nullptr);
        rs.push_back(x);
    }
    const auto ps = payloads(n_payloads, static_cast<unsigned>(state.range(2)));
    unsigned at = 0;
    uint64_t matched = 0, scanned = 0;
    for (auto _ : state) {
        for (unsigned k = 0; k < burst; ++k) {
            const std::string& p = ps[(at + k) % n_payloads];
            bool any = false;
            for (auto& x : rs)
                any |= pcre2_match(x.code, reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(), 0, 0, x.md, nullptr) >= 0;
            matched += any;
        }
        scanned += burst;
        at = (at + burst) % n_payloads;
    }
    for (auto& x : rs) {
        pcre2_match_data_free(x.md);
        pcre2_code_free(x.code);
    }
    set_label(state, matched, scanned);
}

std::string re2_pattern(const inspect::rule& r)
{
    std::string f;
    if (r.flags & inspect::caseless)
        f += 'i';
    if (r.flags & inspect::multiline)
        f += 'm';
    if (r.flags & inspect::dotall)
        f += 's';
    return f.empty() ? r.expr : "(?" + f + ")" + r.expr;
}

RE2::Options re2_options()
{
    RE2::Options o;
    o.set_log_errors(false);
    o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, as Hyperscan without 8 sees them
    o.set_max_mem(int64_t(1) << 30);
    return o;
}

void BM_re2_set(benchmark::State& state)
{
    const auto rules = rules_for(state);
    if (bench::failed)
        return;
    RE2::Set set(re2_options(), RE2::UNANCHORED);
    for (const auto& r : rules)
        if (set.Add(re2_pattern(r), nullptr) < 0)
            return bench::fail(state, ("RE2 refuses rule " + std::to_string(r.id)).c_str());
    if (!rules.empty() && !set.Compile())
        return bench::fail(state, "RE2::Set::Compile failed (out of memory)");
    const auto ps = payloads(n_payloads, static_cast<unsigned>(state.range(2)));
    unsigned at = 0;
    uint64_t matched = 0, scanned = 0;
    std::vector<int> hits;
    for (auto _ : state) {
        for (unsigned k = 0; k < burst; ++k) {
            // Every matching rule, as the engine counts each (not just whether one matched).
            matched += !rules.empty() && set.Match(ps[(at + k) % n_payloads], &hits);
        }
        scanned += burst;
        at = (at + burst) % n_payloads;
    }
    set_label(state, matched, scanned);
}

// ---- router forwarding with and without inspection --------------------------------------------

constexpr unsigned ring_bursts = 32;
constexpr unsigned n_frames = 4096;
constexpr unsigned frame_stride = 1536;
constexpr uint16_t router_port = 7100;
constexpr uint32_t our_ip = RTE_IPV4(192, 0, 2, 1);
constexpr uint32_t n_clients = 1000;
const rte_ether_addr port_mac{{0x02, 0xaa, 0, 0, 0, 0}};

rte_mempool* g_pool;
rte_mbuf* g_ring[ring_bursts * burst];
router::registry* g_reg;

uint32_t client_id(uint32_t i) { return i * 2654435761u + 0x9e37u; }
uint32_t client_ip(uint32_t i) { return RTE_IPV4(10, 0, 0, 0) + i + 1; }
rte_ether_addr client_mac(uint32_t i) { return {{0x02, 0x00, 0, 0, uint8_t(i >> 8), uint8_t(i)}}; }

struct frames {
    unsigned payload = 0;
    uint16_t len = 0;
    uint8_t* data = nullptr;
} g_frames;

const frames* frames_for(unsigned payload)
{
    if (g_frames.data && g_frames.payload == payload)
        return &g_frames;
    rte_free(g_frames.data);
    g_frames.data = static_cast<uint8_t*>(rte_malloc("bench_frames", size_t(n_frames) * frame_stride, 64));
    if (!g_frames.data)
        return nullptr;
    const auto ps = payloads(n_frames, payload);
    rng r{0xf0f0};
    for (unsigned f = 0; f < n_frames; ++f) {
        const uint32_t from = r.below(n_clients), to = r.below(n_clients);
        uint8_t msg[router::max_message_len];
        const std::size_t ml = router::encode_message(msg, client_id(to), reinterpret_cast<const uint8_t*>(ps[f].data()),
                                                      payload);
        uint8_t* out = g_frames.data + size_t(f) * frame_stride;
        const bench::udp_addrs a{client_mac(from), port_mac, client_ip(from), our_ip, 40000, router_port};
        std::memcpy(bench::write_udp_headers(out, a, static_cast<uint16_t>(ml)), msg, ml);
        bench::seal_udp(out);
        g_frames.len = static_cast<uint16_t>(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + ml);
    }
    g_frames.payload = payload;
    return &g_frames;
}

void BM_router_forward(benchmark::State& state)
{
    const bool inspected = state.range(1) >= 0;
    std::vector<inspect::rule> rules;
    if (inspected) {
        rules = rules_for(state);
        if (bench::failed)
            return;
    }
    const frames* fs = frames_for(static_cast<unsigned>(state.range(2)));
    if (!fs)
        return bench::fail(state, "no memory for the frames");
    inspect::inspector::config ic;
    ic.lcores = {rte_lcore_id()};
    inspect::inspector in(ic);
    router::config cfg;
    cfg.udp_port = router_port;
    cfg.heartbeat_timeout_tsc = UINT64_MAX / 4;
    std::string err;
    if (inspected) {
        if (!in.publish(rules, &err))
            return bench::fail(state, err.c_str());
        cfg.inspect = in.point("router");
    }
    router::module mod(cfg, *g_reg);
    engine::context* ctx = bench::new_context({{port_mac, our_ip}});
    if (!ctx->add(&mod))
        return bench::fail(state, "module not plugged in");
    auto* st = static_cast<lcore_stats*>(rte_zmalloc("bench_stats", sizeof(lcore_stats), 64));
    engine::burst_out out;
    engine::init(out);
    unsigned b = 0, f = 0;
    for (auto _ : state) {
        rte_mbuf** pk = &g_ring[b * burst];
        for (unsigned k = 0; k < burst; ++k) {
            rte_mbuf* m = pk[k];
            std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), fs->data + size_t(f + k) * frame_stride, fs->len);
            m->data_len = m->pkt_len = fs->len;
            m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        }
        out.reset();
        engine::process_burst(*ctx, *st, 0, pk, burst, rte_rdtsc(), out);
        rte_rcu_qsbr_quiescent(g_reg->rcu(), 0);
        b = (b + 1) % ring_bursts;
        f = (f + burst) % n_frames;
    }
    const uint64_t n = uint64_t(state.iterations()) * burst;
    if (st->router[unsigned(rtr::message_forwarded)] != n || st->drop_total() != 0) {
        std::fprintf(stderr, "bench_inspect: %" PRIu64 " of %" PRIu64 " forwarded, %" PRIu64 " drops\n",
                     st->router[unsigned(rtr::message_forwarded)], n, st->drop_total());
        bench::fail(state, "unexpected packet outcomes");
    }
    rte_free(st);
    ctx->n_modules = 0;
    state.SetLabel(inspected ? set_name(static_cast<set_kind>(state.range(0))) : "not inspected");
    bench::set_counters(state, burst);
}

void matchers(benchmark::internal::Benchmark* b)
{
    b->ArgNames({"set", "rules", "payload"});
    for (int64_t set : {0, 1, 2})
        for (int64_t rules : {0, 10, 100, 1000})
            for (int64_t p : {64, 512, 1400})
                if (set == 0 || rules > 0)
                    b->Args({set, rules, p});
}

BENCHMARK(BM_hyperscan)->Apply(matchers);
BENCHMARK(BM_re2_set)->Apply(matchers);
BENCHMARK(BM_pcre2)->Apply(matchers);
BENCHMARK(BM_router_forward)->Apply(bench_inspect::module_cases);

// ---- --filter-rules ---------------------------------------------------------------------------

int filter_rules(const char* in, const char* out)
{
    std::vector<inspect::rule> rules;
    std::string err;
    if (!inspect::read_rules(in, &rules, &err)) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
    }
    std::ifstream src(in);
    std::ofstream dst(out);
    std::string line;
    // The file's leading comments (provenance, licence) are kept.
    while (std::getline(src, line) && (line.empty() || line[0] == '#'))
        dst << line << "\n";
    unsigned kept = 0, hs_no = 0, pcre_no = 0, re2_no = 0, empty = 0;
    std::vector<std::string> any_text = payloads(8, 64);
    any_text.emplace_back();
    for (const auto& r : rules) {
        hs_database_t* db = nullptr;
        hs_compile_error_t* ce = nullptr;
        const bool hs_ok =
            hs_compile(r.expr.c_str(), inspect::hs_flags(r.flags), HS_MODE_BLOCK, nullptr, &db, &ce) == HS_SUCCESS;
        hs_free_compile_error(ce);
        hs_free_database(db);
        pcre2_code* pc = pcre2_compile_rule(r);
        // CRS's plumbing (captures for setvar: ^. , (..)$, ^[a-zA-Z0-9_-]+) matches any text: not
        // a detection, and it would make every benchmark payload a match.
        bool matches_empty = false;
        if (pc) {
            pcre2_match_data* md = pcre2_match_data_create_from_pattern(pc, nullptr);
            for (const std::string& t : any_text) {
                matches_empty |= pcre2_match(pc, reinterpret_cast<PCRE2_SPTR>(t.data()), t.size(), 0, 0, md, nullptr) >= 0;
            }
            pcre2_match_data_free(md);
        }
        pcre2_code_free(pc);
        RE2 re(re2_pattern(r), re2_options());
        hs_no += !hs_ok;
        pcre_no += !pc;
        re2_no += !re.ok();
        empty += matches_empty;
        if (hs_ok && pc && re.ok() && !matches_empty) {
            dst << r.id << ":/" << r.expr << "/";
            const std::pair<uint8_t, char> fl[] = {{inspect::caseless, 'i'}, {inspect::multiline, 'm'},
                                                   {inspect::dotall, 's'}, {inspect::utf8, '8'}, {inspect::ucp, 'W'}};
            for (const auto& [bit, c] : fl)
                if (r.flags & bit)
                    dst << c;
            dst << (r.action == inspect::rule_action::drop ? " drop" : "") << "\n";
            ++kept;
        }
    }
    std::fprintf(stderr, "kept %u of %zu rules (refused: Hyperscan %u, PCRE2 %u, RE2 %u; matching any text: %u)\n", kept,
                 rules.size(), hs_no, pcre_no, re2_no, empty);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 4 && std::strcmp(argv[1], "--filter-rules") == 0)
        return filter_rules(argv[2], argv[3]);
    bench::eal_config eal{.prog = "bench_inspect", .prefix = "pgbenchi", .nohuge_mb = 512};
    if (!bench::parse_args(argc, argv, eal, [](const std::string& a) { return bench_inspect::crs_flag(a, &g_crs); }))
        return 2;
    if (!bench::start_eal(eal))
        return 1;
    g_pool = rte_pktmbuf_pool_create("bench_pool", 2047, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    router::registry::params p;
    p.name = "bench";
    p.capacity = n_clients;
    p.max_readers = 1;
    p.socket_id = SOCKET_ID_ANY;
    g_reg = router::registry::create(p);
    if (!g_pool || !g_reg || rte_pktmbuf_alloc_bulk(g_pool, g_ring, ring_bursts * burst) != 0) {
        std::fprintf(stderr, "bench_inspect: setup failed\n");
        return 1;
    }
    for (uint32_t i = 0; i < n_clients; ++i) {
        router::endpoint ep;
        ep.ip_be = rte_cpu_to_be_32(client_ip(i));
        ep.udp_port_be = rte_cpu_to_be_16(40000);
        ep.port_id = 0;
        ep.next_hop = client_mac(i);
        g_reg->upsert(client_id(i), ep, 0);
    }
    rte_rcu_qsbr_thread_register(g_reg->rcu(), 0);
    rte_rcu_qsbr_thread_online(g_reg->rcu(), 0);
    benchmark::AddCustomContext("hyperscan", hs_version());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return bench::finish();
}
