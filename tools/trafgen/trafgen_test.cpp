// Unit tests of peregrine-trafgen's math and frames: histogram and percentiles, result
// arithmetic, frame building (checksums, lengths, parsed back by the engine's own classify and
// router codec), and the router profile against the real engine fast path (process_burst with
// a registry), which answers what the profile built; the profile must count every answer.

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "engine/context.hpp"
#include "engine/dispatch.hpp"
#include "histogram.hpp"
#include "net/classify.hpp"
#include "net/rewrite.hpp"
#include "options.hpp"
#include "report.hpp"
#include "router/codec.hpp"
#include "router/module.hpp"
#include "router/registry.hpp"
#include "router_profile.hpp"
#include "test_eal.hpp"

namespace {

using namespace peregrine;
using namespace peregrine::trafgen;

rte_mempool* g_pool;

// ---- histogram --------------------------------------------------------------------------------

TEST(Histogram, SmallValuesAreExact)
{
    histogram h;
    for (uint64_t v = 0; v < 128; ++v)
        h.record(v);
    EXPECT_EQ(h.count(), 128u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 127u);
    EXPECT_EQ(h.percentile(50), 63u);   // the 64th smallest of 0..127
    EXPECT_EQ(h.percentile(100), 127u);
    EXPECT_DOUBLE_EQ(h.mean(), 63.5);
}

TEST(Histogram, BucketsTileTheRange)
{
    // Every bucket starts right after the previous one ends, and index_of agrees with the bounds.
    for (unsigned i = 1; i < histogram::n_buckets; ++i) {
        ASSERT_EQ(histogram::bucket_low(i), histogram::bucket_high(i - 1) + 1) << i;
        ASSERT_EQ(histogram::index_of(histogram::bucket_low(i)), i);
        ASSERT_EQ(histogram::index_of(histogram::bucket_high(i)), i);
    }
    EXPECT_EQ(histogram::index_of(UINT64_MAX), histogram::n_buckets - 1);
    EXPECT_EQ(histogram::bucket_high(histogram::n_buckets - 1), UINT64_MAX);
}

TEST(Histogram, RelativeErrorBounded)
{
    // Bucket width is at most 1/64 of its values: the reported value is >= the true one and
    // within 1/64 above it.
    std::mt19937_64 r(7);
    for (int i = 0; i < 100000; ++i) {
        const uint64_t v = r() >> (r() % 60);
        const unsigned b = histogram::index_of(v);
        ASSERT_LE(histogram::bucket_low(b), v);
        ASSERT_GE(histogram::bucket_high(b), v);
        ASSERT_LE(double(histogram::bucket_high(b) - v), double(v) / 64.0 + 1);
    }
}

TEST(Histogram, PercentilesOfAKnownDistribution)
{
    histogram h;
    for (uint64_t v = 1; v <= 100000; ++v)  // uniform 1..100000: pX is X * 1000
        h.record(v);
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) {
        const double truth = p * 1000;
        const double got = double(h.percentile(p));
        EXPECT_GE(got, truth) << p;
        EXPECT_LE(got, truth * (1 + 1.0 / 64)) << p;
    }
    EXPECT_EQ(h.percentile(100), 100000u);
    EXPECT_EQ(h.percentile(0), 1u);
}

TEST(Histogram, TailIsNotHidden)
{
    // 999 fast answers and one slow one: p99.9 must be the slow one, p99 a fast one.
    histogram h;
    for (int i = 0; i < 999; ++i)
        h.record(1000);
    h.record(5000000);
    EXPECT_LE(h.percentile(99), 1000u + 1000 / 64);
    EXPECT_LE(h.percentile(99.9), 1000u + 1000 / 64);  // rank 999 of 1000
    EXPECT_GE(h.percentile(99.95), 5000000u);
    EXPECT_EQ(h.percentile(100), 5000000u);
}

TEST(Histogram, MergeAndReset)
{
    histogram a, b;
    a.record(10);
    a.record(20);
    b.record(5);
    b.record(1000000);
    a.merge(b);
    EXPECT_EQ(a.count(), 4u);
    EXPECT_EQ(a.min(), 5u);
    EXPECT_EQ(a.max(), 1000000u);
    EXPECT_EQ(a.percentile(50), 10u);
    a.reset();
    EXPECT_EQ(a.count(), 0u);
    EXPECT_EQ(a.percentile(50), 0u);
    EXPECT_EQ(a.min(), 0u);
}

// ---- result arithmetic ------------------------------------------------------------------------

TEST(Result, RatesLossAndLatencyUnits)
{
    traffic_stats s;
    s.offered = 2000000;
    s.offered_bytes = 2000000ull * 60;
    s.answered = 1500000;
    s.answered_bytes = 1500000ull * 60;
    for (int i = 0; i < 100; ++i)
        s.latency.record(2000);  // 2000 cycles at 2 GHz = 1 us
    const result r = make_result(s, 2.0, 2e9);
    EXPECT_DOUBLE_EQ(r.offered_mpps, 1.0);
    EXPECT_DOUBLE_EQ(r.answered_mpps, 0.75);
    EXPECT_DOUBLE_EQ(r.offered_gbps, 0.48);
    EXPECT_DOUBLE_EQ(r.loss, 0.25);
    EXPECT_DOUBLE_EQ(r.lat_p50_ns, 1000.0);
    EXPECT_DOUBLE_EQ(r.lat_max_ns, 1000.0);
    EXPECT_EQ(r.lat_count, 100u);
    // More answers than offers (duplicates) never make loss negative.
    s.answered = s.offered + 5;
    EXPECT_DOUBLE_EQ(make_result(s, 1.0, 2e9).loss, 0.0);
    const std::string j = to_json(r);
    EXPECT_NE(j.find("\"loss\": 0.250000000"), std::string::npos) << j;
    EXPECT_NE(table_row(r).find("| 25.000 |"), std::string::npos) << table_row(r);
}

// ---- options ----------------------------------------------------------------------------------

bool parse(std::vector<std::string> args, gen_options* o, std::string* err)
{
    args.insert(args.begin(), "trafgen");
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    return parse_options(static_cast<int>(args.size()), argv.data(), o, err);
}

TEST(Options, ParsesAndRefuses)
{
    gen_options o;
    std::string err;
    ASSERT_TRUE(parse({"--addr", "198.18.0.1", "--clients", "1000000", "--mode", "forward", "--payload", "16-1400",
                       "--rate", "2.5M", "--dst-mac", "02:00:00:00:00:01"},
                      &o, &err))
        << err;
    EXPECT_EQ(o.router.clients, 1000000u);
    EXPECT_EQ(o.router.heartbeat_pct, 0u);
    EXPECT_EQ(o.router.payload_min, 16);
    EXPECT_EQ(o.router.payload_max, 1400);
    EXPECT_DOUBLE_EQ(o.rate, 2.5e6);
    EXPECT_TRUE(o.dst_mac_set);
    EXPECT_EQ(o.router.dst_mac.addr_bytes[5], 1);
    EXPECT_EQ(o.router.server_ip, RTE_IPV4(198, 18, 0, 1));

    for (const auto& bad : std::vector<std::vector<std::string>>{
             {"--clients", "5"},                                       // no --addr
             {"--addr", "198.18.0.1", "--payload", "1401"},
             {"--addr", "198.18.0.1", "--payload", "20-10"},
             {"--addr", "198.18.0.1", "--rate", "fast"},
             {"--addr", "198.18.0.1", "--dst-mac", "02:00:00:00:00"},
             {"--addr", "198.18.0.1", "--base-id", "4294967000", "--clients", "1000"},  // IDs wrap
             {"--addr", "198.19.0.1"},                                 // client 0's address
             {"--addr", "198.18.0.1", "--mode", "storm"},
         }) {
        gen_options x;
        EXPECT_FALSE(parse(bad, &x, &err)) << bad.back();
    }
}

// ---- frames -----------------------------------------------------------------------------------

TEST(Frame, ChecksumsAndLengths)
{
    udp_addrs a{};
    a.src_mac = rte_ether_addr{{2, 0, 0, 0, 0, 0x10}};
    a.dst_mac = rte_ether_addr{{2, 0, 0, 0, 0, 1}};
    a.src_ip_be = rte_cpu_to_be_32(RTE_IPV4(198, 19, 0, 1));
    a.dst_ip_be = rte_cpu_to_be_32(RTE_IPV4(198, 18, 0, 1));
    a.src_port_be = rte_cpu_to_be_16(10000);
    a.dst_port_be = rte_cpu_to_be_16(7100);
    alignas(8) uint8_t f[max_frame];
    const uint8_t head[] = {0x02, 1, 2, 3, 4, 0xaa, 0xbb, 0xcc};
    for (uint16_t plen : {uint16_t(1), uint16_t(5), uint16_t(8), uint16_t(21), uint16_t(100), uint16_t(1405)}) {
        std::memset(f, 0x5a, sizeof(f));  // garbage the builder must overwrite
        const uint16_t hl = plen < sizeof(head) ? plen : sizeof(head);
        const uint16_t len = build_udp(f, a, head, hl, plen, 7);
        EXPECT_EQ(len, std::max<uint16_t>(60, uint16_t(42 + plen)));
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        EXPECT_EQ(rte_ipv4_cksum(ip), 0) << plen;
        EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ip, udp), 0) << plen;
        udp_rx u;
        ASSERT_EQ(parse_udp(f, len, true, &u), rx_verdict::ok);
        EXPECT_EQ(u.len, plen);
        EXPECT_EQ(std::memcmp(u.payload, head, hl), 0);
        for (uint16_t i = hl; i < plen; ++i)
            ASSERT_EQ(u.payload[i], 0);
        // A flipped payload bit is caught; so are lengths that do not fit the frame.
        f[42] ^= 0x40;
        EXPECT_EQ(parse_udp(f, len, true, &u), rx_verdict::bad_cksum);
        EXPECT_EQ(parse_udp(f, len, false, &u), rx_verdict::ok);
        f[42] ^= 0x40;
        EXPECT_EQ(parse_udp(f, static_cast<uint16_t>(42 + plen - 1), true, &u), rx_verdict::malformed);
    }
    EXPECT_EQ(parse_udp(f, 10, true, nullptr), rx_verdict::not_udp);
}

TEST(Frame, Arp)
{
    uint8_t f[60];
    const rte_ether_addr me{{2, 0, 0, 0, 0, 0x10}}, them{{2, 0, 0, 0, 0, 1}};
    const uint32_t my_ip = rte_cpu_to_be_32(RTE_IPV4(198, 19, 0, 1)), their_ip = rte_cpu_to_be_32(RTE_IPV4(198, 18, 0, 1));
    ASSERT_EQ(build_arp_request(f, me, my_ip, their_ip), 60);
    rte_ether_addr got;
    EXPECT_FALSE(parse_arp_reply(f, 60, their_ip, &got));  // a request is not a reply
    auto* arp = reinterpret_cast<rte_arp_hdr*>(f + 14);
    arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_sha = them;
    arp->arp_data.arp_sip = their_ip;
    ASSERT_TRUE(parse_arp_reply(f, 60, their_ip, &got));
    EXPECT_TRUE(rte_is_same_ether_addr(&got, &them));
    EXPECT_FALSE(parse_arp_reply(f, 60, my_ip, &got));
}

// ---- the router profile against the engine's fast path ---------------------------------------

constexpr uint32_t engine_ip = RTE_IPV4(198, 18, 0, 1);
const rte_ether_addr engine_mac{{0x02, 0xee, 0, 0, 0, 1}};
const rte_ether_addr gen_mac{{0x02, 0x99, 0, 0, 0, 2}};

struct engine_sim {
    engine::context ctx;
    std::unique_ptr<router::registry> reg;
    router::config cfg;
    std::unique_ptr<router::module> mod;
    engine::control_io io;
    lcore_stats st{};
    engine::burst_out out;

    explicit engine_sim(uint32_t capacity)
    {
        router::registry::params p;
        p.name = "tgut";
        p.capacity = capacity;
        p.max_readers = 1;
        p.socket_id = SOCKET_ID_ANY;
        reg.reset(router::registry::create(p));
        ctx.ports[0].mac = engine_mac;
        ctx.ports[0].ip_be = rte_cpu_to_be_32(engine_ip);
        ctx.ports[0].prefix_len = 24;
        cfg.udp_port = 7100;
        cfg.heartbeat_timeout_tsc = UINT64_MAX / 4;
        mod = std::make_unique<router::module>(cfg, *reg);
        EXPECT_TRUE(ctx.add(mod.get()));
        io.ports = ctx.ports;
        rte_rcu_qsbr_thread_register(reg->rcu(), 0);
        rte_rcu_qsbr_thread_online(reg->rcu(), 0);
        engine::init(out);
    }
    ~engine_sim()
    {
        rte_rcu_qsbr_thread_offline(reg->rcu(), 0);
        rte_rcu_qsbr_thread_unregister(reg->rcu(), 0);
    }

    // Runs frames through process_burst (and, for Register Client, the router module's control
    // half: upsert, then the response in the same mbuf). Returns the answers as byte vectors.
    std::vector<std::vector<uint8_t>> run(const std::vector<std::vector<uint8_t>>& frames)
    {
        std::vector<std::vector<uint8_t>> answers;
        for (size_t at = 0; at < frames.size(); at += burst_size) {
            rte_mbuf* m[burst_size];
            const uint16_t n = static_cast<uint16_t>(std::min<size_t>(burst_size, frames.size() - at));
            for (uint16_t i = 0; i < n; ++i) {
                m[i] = rte_pktmbuf_alloc(g_pool);
                EXPECT_NE(m[i], nullptr);
                m[i]->port = 0;  // received on port 0
                std::memcpy(rte_pktmbuf_append(m[i], uint16_t(frames[at + i].size())), frames[at + i].data(),
                            frames[at + i].size());
            }
            out.reset();
            engine::process_burst(ctx, st, 0, m, n, rte_rdtsc(), out);
            rte_rcu_qsbr_quiescent(reg->rcu(), 0);
            mod->control(out.ctl, out.n_ctl, 0, st, io);
            EXPECT_EQ(io.n_replies(), out.n_ctl) << "every Register Client answered";
            for (unsigned i = 0; i < io.n_replies(); ++i)
                engine::emit_tx(out, 0, io.replies()[i]);
            io.clear_replies();
            for (uint16_t i = 0; i < out.n_tx[0]; ++i) {
                const auto* d = rte_pktmbuf_mtod(out.tx[0][i], const uint8_t*);
                answers.emplace_back(d, d + rte_pktmbuf_data_len(out.tx[0][i]));
            }
            rte_pktmbuf_free_bulk(out.tx[0], out.n_tx[0]);
            rte_pktmbuf_free_bulk(out.drop, out.n_drop);
            EXPECT_EQ(out.n_exc, 0);
            EXPECT_EQ(out.n_drop, 0);
        }
        return answers;
    }
};

router_config small_config(uint32_t clients)
{
    router_config c;
    c.clients = clients;
    c.ports_per_ip = 7;  // several addresses even for a few clients
    c.src_mac = gen_mac;
    c.dst_mac = engine_mac;
    c.server_ip = engine_ip;
    c.register_window = 64;
    c.tsc_hz = rte_get_tsc_hz();
    return c;
}

std::vector<std::vector<uint8_t>> take(frame_buf* f, unsigned n)
{
    std::vector<std::vector<uint8_t>> v;
    for (unsigned i = 0; i < n; ++i)
        v.emplace_back(f[i].data, f[i].data + f[i].len);
    return v;
}

struct bufs {
    uint8_t data[32][max_frame];
    frame_buf f[32];
    bufs()
    {
        for (int i = 0; i < 32; ++i)
            f[i].data = data[i];
    }
};

// Registers every client of p through the engine (losing the first `lose` registrations once)
// and returns how many setup bursts it took.
void register_all(router_profile& p, engine_sim& e, unsigned lose = 0)
{
    auto b = std::make_unique<bufs>();
    setup_state st = setup_state::running;
    uint64_t now = rte_rdtsc();
    for (int guard = 0; guard < 100000 && st == setup_state::running; ++guard) {
        const unsigned n = p.setup_burst(b->f, 32, now, &st);
        auto frames = take(b->f, n);
        for (const auto& fr : frames) {
            // The engine's classifier and the router codec accept every Register Client.
            rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
            std::memcpy(rte_pktmbuf_append(m, uint16_t(fr.size())), fr.data(), fr.size());
            net::udp_view v;
            ASSERT_EQ(net::classify(m, e.ctx.ports[0], &v).v, net::verdict::local_udp);
            ASSERT_TRUE(net::udp_cksum_ok(m, v));
            router::packet pk;
            drop why;
            ASSERT_TRUE(router::parse(v.data, v.len, &pk, &why));
            ASSERT_EQ(pk.t, router::type::register_client);
            rte_pktmbuf_free(m);
        }
        if (lose) {
            const unsigned l = std::min<unsigned>(lose, unsigned(frames.size()));
            frames.erase(frames.begin(), frames.begin() + l);
            lose -= l;
        }
        for (const auto& a : e.run(frames))
            p.receive(a.data(), uint16_t(a.size()), now);
        // Time passes only while the generator waits: the retry timeout fires on silence.
        if (n == 0)
            now += rte_get_tsc_hz() / 1000 * 250;
    }
    ASSERT_EQ(st, setup_state::done) << p.setup_summary();
}

TEST(RouterProfile, EndpointMapping)
{
    router_profile p(small_config(100));
    for (uint32_t k = 0; k < 100; ++k)
        ASSERT_EQ(p.client_of(p.client_ip(k), p.client_port(k)), k);
    EXPECT_EQ(p.client_of(p.client_ip(99), uint16_t(p.client_port(99) + 1)), UINT32_MAX);  // client 100: none
    EXPECT_EQ(p.client_of(p.client_ip(0) - 1, p.client_port(0)), UINT32_MAX);
    EXPECT_EQ(p.client_of(p.client_ip(0), uint16_t(p.client_port(0) + 7)), UINT32_MAX);  // beyond ports_per_ip
}

TEST(RouterProfile, RegistersWithRetries)
{
    engine_sim e(1024);
    router_profile p(small_config(300));
    register_all(p, e, 100);  // the first 100 Register Clients vanish: the second pass resends them
    EXPECT_EQ(p.registered_count(), 300u);
    EXPECT_EQ(e.reg->size(), 300u);
    const auto c = p.counters();
    auto get = [&](const char* k) {
        for (const auto& [n, v] : c)
            if (n == k)
                return v;
        return uint64_t(~0ull);
    };
    EXPECT_EQ(get("register_sent"), 400u);
    EXPECT_EQ(get("register_passes"), 2u);
    EXPECT_EQ(get("register_acked"), 300u);
}

TEST(RouterProfile, GivesUpAfterRetries)
{
    router_config c = small_config(10);
    c.register_retries = 2;
    router_profile p(c);
    auto b = std::make_unique<bufs>();
    setup_state st = setup_state::running;
    uint64_t now = rte_rdtsc();
    for (int i = 0; i < 1000 && st == setup_state::running; ++i, now += rte_get_tsc_hz())
        p.setup_burst(b->f, 32, now, &st);  // nothing ever answers
    EXPECT_EQ(st, setup_state::failed);
    EXPECT_EQ(p.registered_count(), 0u);
}

// Sends n measure frames of p through the engine and feeds every answer back.
result measure(router_profile& p, engine_sim& e, unsigned n, bool deliver = true)
{
    auto b = std::make_unique<bufs>();
    p.start_measure();
    for (unsigned sent = 0; sent < n; sent += 32) {
        const uint64_t now = rte_rdtsc();
        p.traffic_burst(b->f, 32, now);
        const auto answers = e.run(take(b->f, 32));
        for (const auto& a : answers)
            if (deliver)
                p.receive(a.data(), uint16_t(a.size()), now + 2000);
    }
    result r = make_result(p.stats(), 1.0, 2e9);
    r.counters = p.counters();
    return r;
}

uint64_t counter(const result& r, const char* k)
{
    for (const auto& [n, v] : r.counters)
        if (n == k)
            return v;
    ADD_FAILURE() << "no counter " << k;
    return 0;
}

TEST(RouterProfile, HeartbeatsAnsweredAndTimed)
{
    engine_sim e(1024);
    router_profile p(small_config(200));
    register_all(p, e);
    const result r = measure(p, e, 640);
    EXPECT_EQ(r.offered, 640u);
    EXPECT_EQ(r.answered, 640u);
    EXPECT_EQ(r.loss, 0.0);
    EXPECT_EQ(r.rx_other, 0u);
    EXPECT_EQ(counter(r, "heartbeat_answered"), 640u);
    EXPECT_EQ(r.lat_count, 640u);
    EXPECT_NEAR(r.lat_p50_ns, 1000.0, 1000.0 / 64 + 1);  // 2000 cycles at the nominal 2 GHz
    EXPECT_EQ(counter(r, "stamp_overwritten"), 0u);      // every answer came before the client's next send
    EXPECT_EQ(e.st.router[unsigned(rtr::heartbeat_answered)], 640u);
}

TEST(RouterProfile, ForwardedMessagesDeliveredWithStamp)
{
    engine_sim e(1024);
    router_config c = small_config(100);
    c.heartbeat_pct = 0;
    c.payload_min = 0;
    c.payload_max = 1400;
    router_profile p(c);
    register_all(p, e);
    const result r = measure(p, e, 960);
    EXPECT_EQ(r.answered, 960u);
    EXPECT_EQ(counter(r, "message_delivered"), 960u);
    EXPECT_EQ(r.rx_other, 0u);
    // Bodies under 16 bytes (about 16/1401 of them) carry no stamp.
    EXPECT_EQ(r.lat_count + counter(r, "message_untimed"), 960u);
    EXPECT_GT(r.lat_count, 900u);
    EXPECT_NEAR(r.lat_p50_ns, 1000.0, 1000.0 / 64 + 1);  // the stamp read back: 2000 cycles at 2 GHz
    EXPECT_NEAR(r.lat_max_ns, 1000.0, 1000.0 / 64 + 1);
    EXPECT_GT(r.offered_gbps, 960 * 600 * 8 / 1e9);  // average body ~700 bytes
    EXPECT_EQ(e.st.router[unsigned(rtr::message_forwarded)], 960u);
}

TEST(RouterProfile, UnknownRecipientsAndLoss)
{
    engine_sim e(1024);
    router_config c = small_config(100);
    c.heartbeat_pct = 0;
    c.unknown_pct = 100;
    router_profile p(c);
    register_all(p, e);
    result r = measure(p, e, 320);
    EXPECT_EQ(counter(r, "unknown_answered"), 320u);
    EXPECT_EQ(r.answered, 320u);
    EXPECT_EQ(e.st.router[unsigned(rtr::unknown_recipient)], 320u);
    // Answers that never arrive are loss.
    r = measure(p, e, 320, false);
    EXPECT_EQ(r.offered, 320u);
    EXPECT_EQ(r.answered, 0u);
    EXPECT_DOUBLE_EQ(r.loss, 1.0);
    EXPECT_EQ(counter(r, "stamp_overwritten"), 220u);  // 320 sends over 100 clients, none answered
}

TEST(RouterProfile, MixAndForeignFrames)
{
    engine_sim e(1024);
    router_config c = small_config(500);
    c.heartbeat_pct = 50;
    c.unknown_pct = 20;
    router_profile p(c);
    register_all(p, e);
    const result r = measure(p, e, 3200);
    EXPECT_EQ(r.answered, 3200u);
    const uint64_t hb = counter(r, "heartbeat_sent"), msg = counter(r, "message_sent"), unk = counter(r, "unknown_sent");
    EXPECT_EQ(hb + msg + unk, 3200u);
    EXPECT_NEAR(double(hb) / 3200, 0.5, 0.05);
    EXPECT_NEAR(double(unk) / double(msg + unk), 0.2, 0.05);
    // A frame from elsewhere is not an answer; neither is one with a bad checksum.
    auto b = std::make_unique<bufs>();
    p.traffic_burst(b->f, 1, rte_rdtsc());  // a request, not an answer: source is a client
    p.receive(b->f[0].data, b->f[0].len, rte_rdtsc());
    EXPECT_EQ(p.stats().rx_other, 1u);
}

TEST(RouterProfile, ReflectorCountsEchoes)
{
    // dpdk-testpmd 5tswap: MACs, IPs and UDP ports swapped, payload unchanged.
    router_config c = small_config(50);
    c.reflector = true;
    c.heartbeat_pct = 50;
    router_profile p(c);
    auto b = std::make_unique<bufs>();
    auto swap = [](frame_buf& f) {
        auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data);
        std::swap(eth->src_addr, eth->dst_addr);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
        const uint32_t a = ip->src_addr;
        ip->src_addr = ip->dst_addr;
        ip->dst_addr = a;
        auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
        const uint16_t pt = udp->src_port;
        udp->src_port = udp->dst_port;
        udp->dst_port = pt;
    };
    setup_state st = setup_state::running;
    while (st == setup_state::running) {
        const unsigned n = p.setup_burst(b->f, 32, rte_rdtsc(), &st);
        for (unsigned i = 0; i < n; ++i) {
            swap(b->f[i]);
            p.receive(b->f[i].data, b->f[i].len, rte_rdtsc());
        }
    }
    ASSERT_EQ(st, setup_state::done);
    p.start_measure();
    p.traffic_burst(b->f, 32, rte_rdtsc());
    for (auto& f : b->f) {
        swap(f);
        p.receive(f.data, f.len, rte_rdtsc());
    }
    EXPECT_EQ(p.stats().answered, 32u);
    EXPECT_EQ(p.stats().rx_other, 0u);
}

} // namespace

int main(int argc, char** argv)
{
    testing::InitGoogleTest(&argc, argv);
    if (!pgtest::init_test_eal(argv[0], "tgunit"))
        return 1;
    g_pool = rte_pktmbuf_pool_create("tgunit_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (!g_pool)
        return 1;
    const int rc = RUN_ALL_TESTS();
    rte_mempool_free(g_pool);
    pgtest::cleanup_test_eal();
    return rc;
}
