// Unit tests of the lb and session traffic profiles. Their frames are taken apart with the
// engine's own codecs (lb::parse, session::parse, the digest over bytes 32..end), and a server
// built from those codecs answers them, so the profile's matching, consistency, digest checks,
// notification Acks and latency math are checked against the protocol as Peregrine speaks it.
// The whole path through the real engine runs in the trafgen-profiles smoke test.

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ip.h>

#include "crypto/sha256.hpp"
#include "lb/codec.hpp"
#include "lb_profile.hpp"
#include "session/codec.hpp"
#include "session_profile.hpp"

namespace {

using namespace peregrine;
using namespace peregrine::trafgen;

constexpr uint32_t engine_ip = RTE_IPV4(198, 18, 0, 1);
const rte_ether_addr engine_mac{{0x02, 0xee, 0, 0, 0, 1}};
const rte_ether_addr gen_mac{{0x02, 0x99, 0, 0, 0, 2}};

router_config common(uint32_t clients)
{
    router_config c;
    c.clients = clients;
    c.ports_per_ip = 7;
    c.src_mac = gen_mac;
    c.dst_mac = engine_mac;
    c.server_ip = engine_ip;
    c.register_window = 64;
    c.tsc_hz = rte_get_tsc_hz();
    return c;
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

// A datagram the generator sent, taken apart.
struct sent {
    udp_rx u;
    std::vector<uint8_t> payload;
};

sent take_apart(const frame_buf& f)
{
    sent s;
    EXPECT_EQ(parse_udp(f.data, f.len, true, &s.u), rx_verdict::ok);
    s.payload.assign(s.u.payload, s.u.payload + s.u.len);
    return s;
}

// The server's answer to s: from the engine's address and port to s's source.
std::vector<uint8_t> reply(const sent& s, const std::vector<uint8_t>& payload)
{
    udp_addrs a;
    a.src_mac = engine_mac;
    a.dst_mac = gen_mac;
    a.src_ip_be = s.u.dst_ip_be;
    a.dst_ip_be = s.u.src_ip_be;
    a.src_port_be = s.u.dst_port_be;
    a.dst_port_be = s.u.src_port_be;
    std::vector<uint8_t> f(max_frame);
    f.resize(build_udp(f.data(), a, payload.data(), uint16_t(payload.size()), uint16_t(payload.size()), 1));
    return f;
}

// ---- lb --------------------------------------------------------------------------------------

lb_config lb_cfg(uint32_t clients, uint32_t nodes)
{
    lb_config c;
    c.common = common(clients);
    c.nodes = nodes;
    return c;
}

std::vector<uint8_t> lb_ack(uint16_t req)
{
    std::vector<uint8_t> p(lb::ack_len);
    lb::encode_ack(p.data(), req);
    return p;
}

// Registers every node: each Register is parsed by the engine's codec and Acked (the first
// `lose` are lost once); node 0 also gets a Serving Nodes notification, whose Ack must come.
void lb_setup(lb_profile& p, unsigned lose = 0, uint64_t* notify_acks = nullptr)
{
    auto b = std::make_unique<bufs>();
    setup_state st = setup_state::running;
    uint64_t now = rte_rdtsc();
    bool notified = false;
    for (int guard = 0; guard < 10000 && st == setup_state::running; ++guard) {
        const unsigned n = p.setup_burst(b->f, 32, now, &st);
        for (unsigned i = 0; i < n; ++i) {
            const sent s = take_apart(b->f[i]);
            lb::packet pk;
            drop why;
            ASSERT_TRUE(lb::parse(s.payload.data(), s.payload.size(), &pk, &why));
            if (pk.t == lb::type::ack) {
                EXPECT_EQ(pk.request_id, 0x4242) << "the Ack names the notification's Request ID";
                if (notify_acks)
                    ++*notify_acks;
                continue;
            }
            ASSERT_EQ(pk.t, lb::type::register_serving_node);
            // It advertises its own source endpoint.
            EXPECT_EQ(pk.ep.ip_be, s.u.src_ip_be);
            EXPECT_EQ(pk.ep.port_be, s.u.src_port_be);
            if (lose) {
                --lose;
                continue;
            }
            const auto a = reply(s, lb_ack(pk.request_id));
            p.receive(a.data(), uint16_t(a.size()), now);
            if (!notified) {
                notified = true;
                std::vector<uint8_t> list(lb::header_len + lb::endpoint_len);
                lb::encode_serving_nodes(list.data(), 0x4242, &pk.ep, 1);
                const auto l = reply(s, list);
                p.receive(l.data(), uint16_t(l.size()), now);
            }
        }
        if (n == 0)
            now += rte_get_tsc_hz() / 1000 * 250;  // silence: the retry and done timers run
    }
    ASSERT_EQ(st, setup_state::done) << p.setup_summary();
}

TEST(LbProfile, ConfigChecks)
{
    EXPECT_EQ(check_lb_config(lb_cfg(100, 8)), "");
    lb_config c = lb_cfg(100, 8);
    c.node_port = 10005;  // inside the clients' ports on --client-ip
    EXPECT_NE(check_lb_config(c), "");
    c = lb_cfg(100, 0);
    EXPECT_NE(check_lb_config(c), "");
    c = lb_cfg(100, 8);
    c.update_pct = 101;
    EXPECT_NE(check_lb_config(c), "");
}

TEST(LbProfile, RegistersNodesRetriesAndAcksNotifications)
{
    lb_profile p(lb_cfg(10, 5));
    uint64_t acks = 0;
    lb_setup(p, 2, &acks);
    EXPECT_EQ(p.registered_nodes(), 5u);
    EXPECT_EQ(acks, 1u) << "the Serving Nodes notification was Acked";
    EXPECT_EQ(p.pending_acks(), 0u);
}

TEST(LbProfile, RequestsAnsweredConsistencyAndNoNode)
{
    lb_profile p(lb_cfg(20, 2));
    lb_setup(p);
    p.start_measure();
    auto b = std::make_unique<bufs>();
    lb::endpoint node_a{rte_cpu_to_be_32(RTE_IPV4(198, 19, 0, 1)), rte_cpu_to_be_16(9000)};
    lb::endpoint node_b{rte_cpu_to_be_32(RTE_IPV4(198, 19, 0, 1)), rte_cpu_to_be_16(9001)};
    const uint64_t t0 = rte_rdtsc();
    auto answer_all = [&](unsigned n, const lb::endpoint& e, uint64_t at, int req_delta = 0) {
        for (unsigned i = 0; i < n; ++i) {
            const sent s = take_apart(b->f[i]);
            lb::packet pk;
            drop why;
            ASSERT_TRUE(lb::parse(s.payload.data(), s.payload.size(), &pk, &why));
            ASSERT_EQ(pk.t, lb::type::request_serving_node);
            std::vector<uint8_t> r(lb::serving_node_response_len);
            lb::encode_serving_node_response(r.data(), uint16_t(pk.request_id + req_delta), e);
            const auto f = reply(s, r);
            p.receive(f.data(), uint16_t(f.size()), at);
        }
    };
    p.traffic_burst(b->f, 20, t0);
    answer_all(20, node_a, t0 + 1000);
    EXPECT_EQ(p.stats().offered, 20u);
    EXPECT_EQ(p.stats().answered, 20u);
    EXPECT_EQ(p.stats().latency.count(), 20u);
    EXPECT_EQ(p.moved(), 0u);
    // Same node again: still consistent.
    p.traffic_burst(b->f, 20, t0 + 2000);
    answer_all(20, node_a, t0 + 3000);
    EXPECT_EQ(p.moved(), 0u);
    // Half of the clients are now given another node.
    p.traffic_burst(b->f, 10, t0 + 4000);
    answer_all(10, node_b, t0 + 5000);
    EXPECT_EQ(p.moved(), 10u);
    // An answer with another Request ID is stale, not an answer.
    p.traffic_burst(b->f, 5, t0 + 6000);
    answer_all(5, node_a, t0 + 7000, 1);
    EXPECT_EQ(p.stats().answered, 50u);
    // No live node: 0.0.0.0:0, counted, and not a move.
    p.traffic_burst(b->f, 5, t0 + 8000);
    answer_all(5, lb::endpoint{}, t0 + 9000);
    EXPECT_EQ(p.stats().answered, 55u);
    EXPECT_EQ(p.moved(), 10u);
    bool saw_no_node = false, saw_stale = false;
    for (const auto& [k, v] : p.counters()) {
        if (k == "no_node")
            saw_no_node = v == 5;
        if (k == "stale_answer")
            saw_stale = v == 5;
    }
    EXPECT_TRUE(saw_no_node);
    EXPECT_TRUE(saw_stale);
}

TEST(LbProfile, RegistrationUpdatesFromNodesAreAcked)
{
    lb_config c = lb_cfg(50, 3);
    c.update_pct = 100;
    lb_profile p(c);
    lb_setup(p);
    p.start_measure();
    auto b = std::make_unique<bufs>();
    const uint64_t t0 = rte_rdtsc();
    p.traffic_burst(b->f, 30, t0);
    for (unsigned i = 0; i < 30; ++i) {
        const sent s = take_apart(b->f[i]);
        lb::packet pk;
        drop why;
        ASSERT_TRUE(lb::parse(s.payload.data(), s.payload.size(), &pk, &why));
        ASSERT_EQ(pk.t, lb::type::registration_update);
        EXPECT_EQ(rte_be_to_cpu_16(s.u.src_port_be), 9000 + i % 3) << "from the nodes in turn";
        const auto f = reply(s, lb_ack(pk.request_id));
        p.receive(f.data(), uint16_t(f.size()), t0 + 100);
    }
    EXPECT_EQ(p.stats().answered, 30u);
    EXPECT_EQ(p.stats().rx_other, 0u);
}

// ---- session ---------------------------------------------------------------------------------

struct session_server {
    std::unique_ptr<crypto::mb_context> mb = crypto::mb_context::create();
    bool keyed = false;
    crypto::hmac_key key{};

    void digest(const uint8_t* p, size_t len, uint8_t* out)
    {
        const uint8_t* d[1] = {p + session::off_client};
        const uint32_t l[1] = {uint32_t(len - session::off_client)};
        uint8_t dig[1][crypto::sha256_len];
        if (keyed)
            crypto::hmac_sha256_burst(*mb, key, d, l, 1, dig);
        else
            crypto::sha256_burst(*mb, d, l, 1, dig);
        std::memcpy(out, dig[0], crypto::sha256_len);
    }
    bool verify(const std::vector<uint8_t>& p)
    {
        uint8_t d[crypto::sha256_len];
        digest(p.data(), p.size(), d);
        return std::memcmp(d, p.data(), crypto::sha256_len) == 0;
    }
    // An answer: same Client ID, custom ID and order count; type t with body b; signed.
    std::vector<uint8_t> answer(const std::vector<uint8_t>& req, session::type t, const uint8_t* b, uint16_t blen,
                                uint32_t token = 0)
    {
        std::vector<uint8_t> p(session::header_len + blen);
        session::header h;
        drop why;
        EXPECT_TRUE(session::parse(req.data(), req.size(), &h, &why));
        session::write_header(p.data(), req.data() + session::off_client, t, blen, h.custom, h.order, token);
        if (blen)
            std::memcpy(p.data() + session::header_len, b, blen);
        digest(p.data(), p.size(), p.data());
        return p;
    }
};

session_config ses_cfg(uint32_t clients, uint16_t payload)
{
    session_config c;
    c.common = common(clients);
    c.common.payload_min = c.common.payload_max = payload;
    return c;
}

// The token the test server's ACCEPT gives session k (the profile's custom ID is k).
uint32_t token_of(uint16_t k) { return 0xa50000u | k; }

void session_setup(session_profile& p, session_server& srv, unsigned lose = 0)
{
    auto b = std::make_unique<bufs>();
    setup_state st = setup_state::running;
    uint64_t now = rte_rdtsc();
    for (int guard = 0; guard < 10000 && st == setup_state::running; ++guard) {
        const unsigned n = p.setup_burst(b->f, 32, now, &st);
        for (unsigned i = 0; i < n; ++i) {
            const sent s = take_apart(b->f[i]);
            session::header h;
            drop why;
            ASSERT_TRUE(session::parse(s.payload.data(), s.payload.size(), &h, &why));
            ASSERT_EQ(h.t, session::type::hello);
            ASSERT_EQ(h.length, session::timestamp_len);
            ASSERT_TRUE(srv.verify(s.payload)) << "HELLO digest";
            if (lose) {
                --lose;
                continue;
            }
            const auto a = reply(s, srv.answer(s.payload, session::type::accept, s.payload.data() + 64, 8, token_of(h.custom)));
            p.receive(a.data(), uint16_t(a.size()), now);
        }
        if (n == 0)
            now += rte_get_tsc_hz() / 1000 * 250;
    }
    ASSERT_EQ(st, setup_state::done) << p.setup_summary();
}

uint64_t counter(const profile& p, const char* name)
{
    for (const auto& [k, v] : p.counters())
        if (k == name)
            return v;
    ADD_FAILURE() << "no counter " << name;
    return 0;
}

TEST(SessionProfile, OpensSessionsWithRetries)
{
    session_server srv;
    std::string err;
    auto p = session_profile::create(ses_cfg(40, 64), &err);
    ASSERT_TRUE(p) << err;
    session_setup(*p, srv, 5);
    EXPECT_EQ(p->open_sessions(), 40u);
    EXPECT_GE(counter(*p, "hello_passes"), 2u);
}

TEST(SessionProfile, DataAckAnsweredByMatchingAckAndCorruptionCounted)
{
    session_server srv;
    std::string err;
    auto p = session_profile::create(ses_cfg(8, 100), &err);
    ASSERT_TRUE(p) << err;
    session_setup(*p, srv);
    p->start_measure();
    auto b = std::make_unique<bufs>();
    const uint64_t t0 = rte_rdtsc();
    // Two rounds over 8 sessions: order counts 1 then 2 on each.
    for (int round = 1; round <= 2; ++round) {
        p->traffic_burst(b->f, 8, t0);
        for (unsigned i = 0; i < 8; ++i) {
            const sent s = take_apart(b->f[i]);
            session::header h;
            drop why;
            ASSERT_TRUE(session::parse(s.payload.data(), s.payload.size(), &h, &why));
            ASSERT_EQ(h.t, session::type::data_ack);
            EXPECT_EQ(h.order, uint64_t(round));
            EXPECT_EQ(h.token, token_of(h.custom)) << "the ACCEPT's token echoed";
            EXPECT_EQ(h.length, 100);
            ASSERT_TRUE(srv.verify(s.payload)) << "DATA_ACK digest";
            // ACK carries the digest of the packet acknowledged.
            auto ack = srv.answer(s.payload, session::type::ack, s.payload.data(), crypto::sha256_len);
            if (round == 2 && i == 0)
                ack.back() ^= 1;  // corrupted in flight: the digest no longer verifies
            if (round == 2 && i == 1) {
                ack[session::header_len] ^= 1;  // a well-signed ACK of some other packet
                srv.digest(ack.data(), ack.size(), ack.data());
            }
            const auto f = reply(s, ack);
            p->receive(f.data(), uint16_t(f.size()), t0 + 500);
        }
    }
    EXPECT_EQ(p->stats().offered, 16u);
    EXPECT_EQ(p->stats().answered, 14u);
    EXPECT_EQ(counter(*p, "bad_digest"), 1u);
    EXPECT_EQ(counter(*p, "ack_mismatch"), 1u);
    EXPECT_EQ(p->stats().latency.count(), 14u);
}

TEST(SessionProfile, AckOfAnEarlierPacketStillAnswersIt)
{
    session_server srv;
    std::string err;
    auto p = session_profile::create(ses_cfg(1, 16), &err);
    ASSERT_TRUE(p) << err;
    session_setup(*p, srv);
    p->start_measure();
    auto b = std::make_unique<bufs>();
    const uint64_t t0 = rte_rdtsc();
    p->traffic_burst(b->f, 2, t0);  // orders 1 and 2 of the one session, both in flight
    const sent first = take_apart(b->f[0]), second = take_apart(b->f[1]);
    for (const sent* s : {&second, &first}) {
        const auto f = reply(*s, srv.answer(s->payload, session::type::ack, s->payload.data(), crypto::sha256_len));
        p->receive(f.data(), uint16_t(f.size()), t0 + 100);
    }
    EXPECT_EQ(p->stats().answered, 2u);
    EXPECT_EQ(p->stats().latency.count(), 1u) << "only the latest is timed";
    EXPECT_EQ(counter(*p, "older_ack"), 1u);
}

TEST(SessionProfile, NoackAnsweredByItsEchoAndAckEchoCountedOnly)
{
    session_server srv;
    std::string err;
    session_config c = ses_cfg(4, 32);
    c.noack_pct = 100;
    auto p = session_profile::create(c, &err);
    ASSERT_TRUE(p) << err;
    session_setup(*p, srv);
    p->start_measure();
    auto b = std::make_unique<bufs>();
    const uint64_t t0 = rte_rdtsc();
    p->traffic_burst(b->f, 4, t0);
    for (unsigned i = 0; i < 4; ++i) {
        const sent s = take_apart(b->f[i]);
        session::header h;
        drop why;
        ASSERT_TRUE(session::parse(s.payload.data(), s.payload.size(), &h, &why));
        ASSERT_EQ(h.t, session::type::data_noack);
        const auto echo = srv.answer(s.payload, session::type::data_noack, s.payload.data() + 64, 32);
        const auto f = reply(s, echo);
        p->receive(f.data(), uint16_t(f.size()), t0 + 100);
    }
    EXPECT_EQ(p->stats().answered, 4u);
    EXPECT_EQ(counter(*p, "echo_answer"), 4u);
}

TEST(SessionProfile, KeyedModeSignsWithHmac)
{
    session_server srv;
    srv.keyed = true;
    const std::vector<uint8_t> key(32, 0x5a);
    srv.key = crypto::make_hmac_key(*srv.mb, key.data(), key.size());
    std::string err;
    session_config c = ses_cfg(4, 16);
    c.key = key;
    auto p = session_profile::create(c, &err);
    ASSERT_TRUE(p) << err;
    session_setup(*p, srv);  // the HELLOs verify under the key
    EXPECT_EQ(p->open_sessions(), 4u);
    // An answer signed with plain SHA-256 is refused in keyed mode.
    p->start_measure();
    auto b = std::make_unique<bufs>();
    p->traffic_burst(b->f, 1, rte_rdtsc());
    const sent s = take_apart(b->f[0]);
    session_server plain;
    const auto f = reply(s, plain.answer(s.payload, session::type::ack, s.payload.data(), crypto::sha256_len));
    p->receive(f.data(), uint16_t(f.size()), rte_rdtsc());
    EXPECT_EQ(p->stats().answered, 0u);
    EXPECT_EQ(counter(*p, "bad_digest"), 1u);
}

} // namespace
