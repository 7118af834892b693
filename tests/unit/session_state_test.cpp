// Session protocol state machine through engine::process_burst (the worker) and
// session::apply_control (the control lcore): every transition, every timeout, the replay
// window's edges, keyed mode and the shutdown REJECT. Digests are checked with OpenSSL.

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <rte_ip.h>
#include <rte_lcore.h>

#include "crypto/sha256.hpp"
#include "engine/dispatch.hpp"
#include "session/module.hpp"
#include "session/pipeline.hpp"
#include "session/table.hpp"
#include "common/replay_window.hpp"
#include "session_frames.hpp"
#include "test_env.hpp"

namespace peregrine::session {
namespace {

using namespace pgtest;

struct peer {
    uint32_t ip_be;
    uint16_t port;
    rte_ether_addr mac;
};
const peer alice{ip4(198, 18, 0, 10), 40001, mac(0x10)};
const peer bob{ip4(198, 18, 0, 20), 40002, mac(0x20)};
const peer alice_moved{ip4(198, 18, 0, 10), 40999, mac(0x10)};

constexpr uint16_t session_port = 7300;
constexpr uint64_t base_ms = 1'700'000'000'000ull;
constexpr uint64_t tsc_per_ms = 1000;
constexpr uint64_t timeout_ms = 30'000;

uint64_t tsc_at(uint64_t ms) { return ms * tsc_per_ms; }  // ms after base_ms

struct table_delete {
    void operator()(table* t) const { delete t; }
};

// A decoded answer.
struct reply {
    bytes frame;
    bytes pkt;  // UDP payload
    type t;
    uint16_t length;
    uint16_t custom;
    uint64_t order;
    uint32_t token;
    bytes payload;
};

class SessionState : public testing::Test {
protected:
    void SetUp() override
    {
        reg_ = make_registry(16, 4);
        ASSERT_TRUE(reg_);
        mb_ = crypto::mb_context::create();
        ASSERT_TRUE(mb_);
        make_table(64);
        ctx_->ports[0].mac = mac(1);
        ctx_->ports[0].ip_be = ip4(198, 18, 0, 1);
        ctx_->ports[0].prefix_len = 24;
        config& c = cfg_;
        c.udp_port = session_port;
        c.timeout_tsc = tsc_at(timeout_ms);
        c.hello_window_ms = 30'000;
        c.wall_base_ms = base_ms;
        c.tsc_base = 0;
        c.tsc_per_ms = tsc_per_ms;
        c.app = &echo_;
        c.mb[rte_lcore_id()] = mb_.get();
        std::memset(&st_, 0, sizeof(st_));
        baseline_ = rte_mempool_in_use_count(pool());
    }

    void TearDown() override
    {
        cfg_.mb[rte_lcore_id()] = nullptr;
        EXPECT_EQ(rte_mempool_in_use_count(pool()), baseline_) << "mbuf leak";
    }

    void make_table(uint32_t cap)
    {
        table::params p;
        p.name = "uts";
        p.capacity = cap;
        p.rcu = reg_->rcu();
        p.socket_id = SOCKET_ID_ANY;
        mod_.reset();
        tab_.reset(table::create(p));
        ASSERT_TRUE(tab_);
        // A context with the session module on the new table, as the daemon plugs it in.
        auto ports = ctx_->ports[0];
        ctx_ = std::make_unique<engine::context>();
        ctx_->ports[0] = ports;
        mod_ = std::make_unique<session::module>(cfg_, *tab_, pool());
        ASSERT_TRUE(ctx_->add(mod_.get()));
    }

    void use_key(const bytes& k)
    {
        key_ = k;
        hk_ = crypto::make_hmac_key(*mb_, k.data(), k.size());
        cfg_.key = &hk_;
    }

    bytes frame(const peer& p, const bytes& pkt, uint16_t dst_port = session_port)
    {
        udp_frame f;
        f.src_mac = p.mac;
        f.src_ip_be = p.ip_be;
        f.src_port = p.port;
        f.dst_mac = mac(1);
        f.dst_ip_be = ip4(198, 18, 0, 1);
        f.dst_port = dst_port;
        f.payload = pkt;
        return build(f);
    }

    // As a client: with the token of the last ACCEPT open() saw for id.
    bytes pkt(const session_id& id, type t, uint64_t order, const bytes& payload = {}, uint16_t custom = 0)
    {
        const auto k = tok_.find(id);
        return session_pkt(id, t, order, payload, custom, key_, k == tok_.end() ? 0 : k->second);
    }

    bytes hello(const session_id& id, uint64_t ts_ms, uint64_t order = 0, uint16_t custom = 0)
    {
        return pkt(id, type::hello, order, be64(ts_ms), custom);
    }

    // One burst through the worker. Outputs: tx (answers + application packets), ctl, and
    // the counts of dropped and consumed packets. Every input is accounted for exactly once.
    struct result {
        std::vector<bytes> tx;
        std::vector<rte_mbuf*> ctl;
        unsigned dropped = 0;
    };

    result run(const std::vector<bytes>& frames, uint64_t now)
    {
        std::vector<rte_mbuf*> in;
        for (const auto& f : frames) {
            mbuf_ptr m = make_mbuf(f, 0);
            EXPECT_TRUE(m);
            in.push_back(m.release());
        }
        return run_mbufs(in, now);
    }

    result run_mbufs(std::vector<rte_mbuf*>& in, uint64_t now)
    {
        engine::burst_out out;
        engine::init(out);
        const lcore_stats before = st_;
        engine::process_burst(*ctx_, st_, 0, in.data(), static_cast<uint16_t>(in.size()), now, out);
        result r;
        for (unsigned k = 0; k < out.n_tx[0]; ++k)
            r.tx.push_back(contents(out.tx[0][k]));
        rte_pktmbuf_free_bulk(out.tx[0], out.n_tx[0]);
        r.ctl.assign(out.ctl, out.ctl + out.n_ctl);
        r.dropped = out.n_drop;
        rte_pktmbuf_free_bulk(out.drop, out.n_drop);
        EXPECT_EQ(out.n_exc, 0u);
        // Accounting: answers in place + consumed + drops + to control == inputs.
        const uint64_t app = st_.session[unsigned(ses::app_sent)] - before.session[unsigned(ses::app_sent)];
        const uint64_t consumed = st_.session[unsigned(ses::consumed)] - before.session[unsigned(ses::consumed)];
        const uint64_t drops = st_.drop_total() - before.drop_total();
        EXPECT_EQ(out.n_tx[0] - app + out.n_ctl + drops + consumed, in.size());
        EXPECT_EQ(out.n_drop, drops + consumed);
        return r;
    }

    // The control lcore's half for what a burst handed over; returns the answers.
    std::vector<bytes> control(result& r, uint64_t now)
    {
        std::vector<rte_mbuf*> m = r.ctl;
        r.ctl.clear();
        const unsigned k = apply_control(cfg_, *tab_, st_, ctx_->ports, m.data(), static_cast<unsigned>(m.size()), now);
        std::vector<bytes> out;
        for (unsigned i = 0; i < k; ++i)
            out.push_back(contents(m[i]));
        rte_pktmbuf_free_bulk(m.data(), k);
        return out;
    }

    // Decodes an answer sent to p and checks its addressing, checksums and digest.
    reply decode(const bytes& f, const peer& p)
    {
        reply r{};
        r.frame = f;
        bytes g = f;
        EXPECT_EQ(0, std::memcmp(&eth(g)->dst_addr, &p.mac, 6));
        EXPECT_EQ(ipv4(g)->dst_addr, p.ip_be);
        EXPECT_EQ(ipv4(g)->src_addr, ip4(198, 18, 0, 1));
        EXPECT_EQ(rte_be_to_cpu_16(udp(g)->dst_port), p.port);
        EXPECT_EQ(rte_be_to_cpu_16(udp(g)->src_port), session_port);
        EXPECT_EQ(rte_ipv4_cksum(ipv4(g)), 0);  // sums to 0 with a correct checksum field
        EXPECT_EQ(rte_ipv4_udptcp_cksum_verify(ipv4(g), udp(g)), 0);
        const uint16_t ulen = rte_be_to_cpu_16(udp(g)->dgram_len);
        r.pkt.assign(payload(g), payload(g) + (ulen - 8));
        if (r.pkt.size() < header_len) {
            ADD_FAILURE() << "answer shorter than a header";
            return r;
        }
        EXPECT_TRUE(digest_ok(r.pkt, key_)) << "answer digest";
        r.t = static_cast<type>(r.pkt[off_type]);
        r.length = load_be16(r.pkt.data() + off_length);
        r.custom = load_be16(r.pkt.data() + off_custom);
        r.order = load_be64(r.pkt.data() + off_order);
        r.token = uint32_t(r.pkt[off_token]) << 16 | uint32_t(r.pkt[off_token + 1]) << 8 | r.pkt[off_token + 2];
        r.payload.assign(r.pkt.begin() + header_len, r.pkt.end());
        EXPECT_EQ(r.length, r.payload.size());
        return r;
    }

    uint64_t sc(ses x) const { return st_.session[unsigned(x)]; }
    uint64_t dc(drop d) const { return st_.drops[unsigned(d)]; }

    // Opens a session for id from p at time now_ms; returns the ACCEPT.
    reply open(const session_id& id, const peer& p, uint64_t now_ms, uint64_t order = 0)
    {
        result r = run({frame(p, hello(id, base_ms + now_ms, order, 0x55))}, tsc_at(now_ms));
        EXPECT_TRUE(r.tx.empty());
        EXPECT_EQ(r.ctl.size(), 1u);
        const auto ans = control(r, tsc_at(now_ms));
        EXPECT_EQ(ans.size(), 1u);
        if (ans.size() != 1)
            return {};
        reply a = decode(ans[0], p);
        EXPECT_EQ(a.t, type::accept);
        if (a.t == type::accept)
            tok_[id] = a.token;
        return a;
    }

    // open(), then a PING with the token proves the endpoint: what BAD_ACK and the shutdown
    // REJECT need. Its count, 50, leaves the tests' own small counts inside the 64-wide window.
    reply open_proven(const session_id& id, const peer& p, uint64_t now_ms)
    {
        reply a = open(id, p, now_ms);
        EXPECT_EQ(one(p, pkt(id, type::ping, 50), now_ms).t, type::pong);
        const entry* e = tab_->find(id.data());
        EXPECT_TRUE(e && e->is_proven());
        return a;
    }

    // One packet, one answer expected on the worker.
    reply one(const peer& p, const bytes& pk, uint64_t now_ms)
    {
        result r = run({frame(p, pk)}, tsc_at(now_ms));
        EXPECT_EQ(r.tx.size(), 1u);
        EXPECT_TRUE(r.ctl.empty());
        if (r.tx.size() != 1)
            return {};
        return decode(r.tx[0], p);
    }

    // One packet, nothing sent, nothing handed over.
    void silent(const peer& p, const bytes& pk, uint64_t now_ms)
    {
        result r = run({frame(p, pk)}, tsc_at(now_ms));
        EXPECT_TRUE(r.tx.empty());
        EXPECT_TRUE(r.ctl.empty());
    }

    registry_ptr reg_;
    std::unique_ptr<crypto::mb_context> mb_;
    std::unique_ptr<table, table_delete> tab_;
    std::unique_ptr<engine::context> ctx_ = std::make_unique<engine::context>();
    config cfg_;
    std::unique_ptr<session::module> mod_;
    echo_app echo_;
    discard_app discard_;
    bytes key_;
    crypto::hmac_key hk_{};
    lcore_stats st_;
    unsigned baseline_ = 0;
    std::map<session_id, uint32_t> tok_;
};

const session_id A = sid(1);
const session_id B = sid(2);

// ---- HELLO ----

TEST_F(SessionState, HelloOpensWithAccept)
{
    result r = run({frame(alice, hello(A, base_ms + 1000, 42, 0x55))}, tsc_at(1000));
    ASSERT_EQ(r.ctl.size(), 1u);
    EXPECT_EQ(sc(ses::hello_rx), 1u);
    EXPECT_EQ(tab_->size(), 0u) << "workers never write the table";
    const auto ans = control(r, tsc_at(1005));
    ASSERT_EQ(ans.size(), 1u);
    const reply a = decode(ans[0], alice);
    EXPECT_EQ(a.t, type::accept);
    EXPECT_EQ(a.custom, 0x55);
    EXPECT_EQ(a.order, 42u);
    EXPECT_EQ(0, std::memcmp(a.pkt.data() + off_client, A.data(), 16));
    EXPECT_EQ(a.payload, be64(base_ms + 1005)) << "ACCEPT carries the server clock";
    EXPECT_EQ(tab_->size(), 1u);
    EXPECT_EQ(sc(ses::accepted), 1u);
    const entry* e = tab_->find(A.data());
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->ip_be, alice.ip_be);
    EXPECT_EQ(e->udp_port_be, rte_cpu_to_be_16(alice.port));
    EXPECT_EQ(e->win.top(), 42u);
}

TEST_F(SessionState, HelloTimestampWindowEdges)
{
    const uint64_t now = 100'000;
    struct {
        int64_t skew;
        bool ok;
    } cases[] = {{-30'000, true}, {30'000, true}, {-30'001, false}, {30'001, false}, {0, true}, {-99'000, false}};
    unsigned seed = 10;
    for (const auto& c : cases) {
        const session_id id = sid(static_cast<uint8_t>(seed++));
        result r = run({frame(alice, hello(id, base_ms + now + c.skew))}, tsc_at(now));
        if (c.ok) {
            EXPECT_EQ(r.ctl.size(), 1u) << c.skew;
            control(r, tsc_at(now));
        } else {
            ASSERT_EQ(r.tx.size(), 1u) << c.skew;
            const reply a = decode(r.tx[0], alice);
            EXPECT_EQ(a.t, type::reject) << c.skew;
            EXPECT_TRUE(a.payload.empty());
        }
    }
    EXPECT_EQ(sc(ses::rejected_stale_hello), 3u);
}

TEST_F(SessionState, HelloWithoutAnEightByteTimestampIsRejected)
{
    for (std::size_t n : {0u, 1u, 7u, 9u, 16u}) {
        const reply a = one(alice, pkt(A, type::hello, 0, bytes(n, 0)), 1000);
        EXPECT_EQ(a.t, type::reject) << n;
    }
    EXPECT_EQ(sc(ses::rejected_bad_hello), 5u);
    EXPECT_EQ(tab_->size(), 0u);
}

TEST_F(SessionState, HelloWithBadDigestIsDropped)
{
    bytes h = hello(A, base_ms + 1000);
    h[70] ^= 1;  // inside the timestamp
    silent(alice, h, 1000);
    EXPECT_EQ(dc(drop::session_bad_digest), 1u);
}

TEST_F(SessionState, HelloWithBadUdpChecksumIsDropped)
{
    bytes f = frame(alice, hello(A, base_ms + 1000));
    udp(f)->dgram_cksum ^= 0x0101;
    result r = run({f}, tsc_at(1000));
    EXPECT_TRUE(r.tx.empty());
    EXPECT_TRUE(r.ctl.empty());
    EXPECT_EQ(dc(drop::udp_bad_cksum), 1u);
}

TEST_F(SessionState, FullTableRejects)
{
    make_table(1);
    open(A, alice, 1000);
    result r = run({frame(bob, hello(B, base_ms + 1000))}, tsc_at(1000));
    const auto ans = control(r, tsc_at(1000));
    ASSERT_EQ(ans.size(), 1u);
    EXPECT_EQ(decode(ans[0], bob).t, type::reject);
    EXPECT_EQ(sc(ses::rejected_full), 1u);
    EXPECT_EQ(tab_->size(), 1u);
}

TEST_F(SessionState, RepeatedHelloIsAcceptedAndChangesNothing)
{
    open(A, alice, 1000, 5);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 6), 1100).t, type::pong);
    open(A, alice, 1000, 5);  // same timestamp, same endpoint: its ACCEPT was lost
    EXPECT_EQ(tab_->counters().duplicate, 1u);
    // The window was not reset: count 6 is still taken.
    silent(alice, pkt(A, type::ping, 6), 1200);
    EXPECT_EQ(dc(drop::session_duplicate), 1u);
}

TEST_F(SessionState, NewerHelloReopensFromANewEndpoint)
{
    open(A, alice, 1000, 100);
    open(A, alice_moved, 2000, 1);  // NAT rebinding: newer timestamp, new source port
    EXPECT_EQ(tab_->counters().reopened, 1u);
    EXPECT_EQ(tab_->size(), 1u);
    silent(alice, pkt(A, type::ping, 200), 2100);
    EXPECT_EQ(dc(drop::session_wrong_endpoint), 1u);
    // New window: counts restart from the new HELLO's.
    EXPECT_EQ(one(alice_moved, pkt(A, type::ping, 2), 2100).t, type::pong);
}

// ---- return routability: ACCEPT's token (docs/protocols/session.md, "Amplification") ----

TEST_F(SessionState, AcceptsTokenProvesTheEndpointBeforeAnythingLargerIsSent)
{
    const reply a = open(A, alice, 1000);
    entry* e = tab_->find(A.data());
    ASSERT_NE(e, nullptr);
    EXPECT_NE(a.token, 0u);
    EXPECT_EQ(a.token, tab_->token(*e));
    EXPECT_FALSE(e->is_proven());
    // Without the token (a blind spoofer's packets): dropped, no answer of any size, nothing
    // delivered, and no order count taken.
    silent(alice, session_pkt(A, type::data_ack, 1, {}, 0, key_, 0), 1100);
    silent(alice, session_pkt(A, type::data_noack, 2, {7}, 0, key_, a.token ^ 0x800000), 1100);
    silent(alice, session_pkt(A, type::ping, 3, {}, 0, key_, a.token ^ 1), 1100);
    bytes bad = session_pkt(A, type::data_ack, 4, bytes(10, 1), 0, key_, 0);
    bad[70] ^= 1;
    silent(alice, bad, 1100);  // no BAD_ACK (96 bytes) for a 74-byte packet either
    EXPECT_EQ(dc(drop::session_unproven), 3u);
    EXPECT_EQ(dc(drop::session_bad_digest), 1u);
    EXPECT_EQ(sc(ses::delivered), 0u);
    EXPECT_FALSE(e->is_proven());
    // The client's empty DATA_ACK with the token: ACK (96 bytes) and the echo.
    result r = run({frame(alice, pkt(A, type::data_ack, 1))}, tsc_at(1200));
    ASSERT_EQ(r.tx.size(), 2u);
    EXPECT_EQ(decode(r.tx[0], alice).t, type::ack);
    EXPECT_TRUE(e->is_proven());
    EXPECT_EQ(sc(ses::proven), 1u);
    // Proven: the field is not looked at again.
    EXPECT_EQ(one(alice, session_pkt(A, type::ping, 5, {}, 0, key_, 0), 1300).t, type::pong);
    EXPECT_EQ(sc(ses::proven), 1u);
    EXPECT_EQ(dc(drop::session_unproven), 3u);
}

TEST_F(SessionState, WrongTokensLockTheSessionUntilANewerHello)
{
    const reply a = open(A, alice, 1000);
    for (uint32_t k = 0; k < max_token_misses; ++k)
        silent(alice, session_pkt(A, type::ping, k + 1, {}, 0, key_, a.token ^ (k + 1)), 1100);
    // Locked: even the right token is refused now.
    silent(alice, pkt(A, type::ping, 20), 1100);
    EXPECT_EQ(dc(drop::session_unproven), max_token_misses + 1);
    EXPECT_FALSE(tab_->find(A.data())->is_proven());
    // The repeated HELLO (its ACCEPT lost) keeps the session, its token and its lock...
    EXPECT_EQ(open(A, alice, 1000).token, a.token);
    silent(alice, pkt(A, type::ping, 21), 1100);
    // ...a newer one opens a fresh session with a fresh token.
    const reply b = open(A, alice, 2000);
    EXPECT_EQ(tab_->counters().reopened, 1u);
    EXPECT_EQ(b.token, tab_->token(*tab_->find(A.data())));
    EXPECT_EQ(one(alice, pkt(A, type::ping, 1), 2100).t, type::pong);
    EXPECT_TRUE(tab_->find(A.data())->is_proven());
}

TEST_F(SessionState, OlderOrForeignHelloIsAReplay)
{
    open(A, alice, 5000);
    for (const auto& [p, ts] : {std::pair{alice, base_ms + 4000}, std::pair{bob, base_ms + 5000}}) {
        result r = run({frame(p, hello(A, ts))}, tsc_at(5000));
        ASSERT_EQ(r.ctl.size(), 1u);
        EXPECT_TRUE(control(r, tsc_at(5000)).empty());
    }
    EXPECT_EQ(dc(drop::session_hello_replayed), 2u);
    EXPECT_EQ(tab_->find(A.data())->ip_be, alice.ip_be);
}

// ---- PING, timeout ----

TEST_F(SessionState, PingGetsPongEchoingPayloadCustomAndOrder)
{
    open(A, alice, 1000);
    const bytes body = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const reply p = one(alice, pkt(A, type::ping, 1, body, 0x4242), 1500);
    EXPECT_EQ(p.t, type::pong);
    EXPECT_EQ(p.payload, body);
    EXPECT_EQ(p.custom, 0x4242);
    EXPECT_EQ(p.order, 1u);
    EXPECT_EQ(sc(ses::pong), 1u);
}

TEST_F(SessionState, PingsKeepTheSessionAliveAndSilenceEndsIt)
{
    open(A, alice, 0);
    // A ping just inside the timeout refreshes it; measured from the last accepted packet.
    EXPECT_EQ(one(alice, pkt(A, type::ping, 1), timeout_ms).t, type::pong);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 2), 2 * timeout_ms).t, type::pong);
    // One millisecond too late: REJECT, for every kind of packet.
    const uint64_t late = 3 * timeout_ms + 1;
    for (type t : {type::ping, type::data_ack, type::data_noack, type::disconnect}) {
        const reply r = one(alice, pkt(A, t, 10 + uint64_t(t)), late);
        EXPECT_EQ(r.t, type::reject) << int(t);
    }
    EXPECT_EQ(sc(ses::rejected_timed_out), 4u);
    EXPECT_EQ(sc(ses::delivered), 0u);
    // The control lcore's sweep removes it; later packets are then of no session.
    EXPECT_EQ(tab_->expire(tsc_at(late), cfg_.timeout_tsc, tab_->slots()), 1u);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 20), late).t, type::reject);
    EXPECT_EQ(sc(ses::rejected_no_session), 1u);
    // A new HELLO opens a fresh session.
    open(A, alice, late + 10, 30);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 31), late + 20).t, type::pong);
}

TEST_F(SessionState, TimedOutSessionIsReplacedByAHelloBeforeTheSweep)
{
    open(A, alice, 0, 100);
    open(A, bob, timeout_ms + 5, 1);  // same timestamp ordering does not matter once timed out
    EXPECT_EQ(tab_->find(A.data())->ip_be, bob.ip_be);
}

TEST_F(SessionState, ExpirySweepKeepsLiveSessions)
{
    open(A, alice, 0);
    open(B, bob, 20'000);
    EXPECT_EQ(tab_->expire(tsc_at(timeout_ms + 1), cfg_.timeout_tsc, tab_->slots()), 1u);
    EXPECT_EQ(tab_->find(A.data()), nullptr);
    EXPECT_NE(tab_->find(B.data()), nullptr);
    EXPECT_EQ(tab_->counters().expired, 1u);
}

TEST_F(SessionState, PacketsOfNoSessionAreRejected)
{
    for (type t : {type::ping, type::data_ack, type::data_noack, type::disconnect}) {
        const reply r = one(alice, pkt(A, t, 1, {}, 7), 1000);
        EXPECT_EQ(r.t, type::reject);
        EXPECT_EQ(r.custom, 7);
        EXPECT_TRUE(r.payload.empty());
    }
    EXPECT_EQ(one(alice, pkt(A, type::ack, 1, bytes(32, 0)), 1000).t, type::reject);
    EXPECT_EQ(sc(ses::rejected_no_session), 5u);
}

// ---- DATA ----

TEST_F(SessionState, DataAckGetsAckWithItsDigestAndTheEcho)
{
    open(A, alice, 1000);
    const bytes body(300, 0xab);
    const bytes d = pkt(A, type::data_ack, 1, body, 0x0102);
    result r = run({frame(alice, d)}, tsc_at(1100));
    ASSERT_EQ(r.tx.size(), 2u);
    const reply ack = decode(r.tx[0], alice);
    EXPECT_EQ(ack.t, type::ack);
    EXPECT_EQ(ack.payload, bytes(d.begin(), d.begin() + 32)) << "the acknowledged packet's digest";
    EXPECT_EQ(ack.payload, ref_digest(d.data() + 32, d.size() - 32));
    EXPECT_EQ(ack.order, 1u);
    EXPECT_EQ(ack.custom, 0x0102);
    const reply echo = decode(r.tx[1], alice);
    EXPECT_EQ(echo.t, type::data_noack);
    EXPECT_EQ(echo.payload, body);
    EXPECT_EQ(echo.order, 0u) << "the server's own order count starts at 0";
    EXPECT_EQ(sc(ses::ack), 1u);
    EXPECT_EQ(sc(ses::delivered), 1u);
    EXPECT_EQ(sc(ses::app_sent), 1u);
    // The next server packet takes the next count.
    r = run({frame(alice, pkt(A, type::data_noack, 2, {9}))}, tsc_at(1200));
    ASSERT_EQ(r.tx.size(), 1u);
    EXPECT_EQ(decode(r.tx[0], alice).order, 1u);
}

TEST_F(SessionState, DataNoackIsDeliveredAndNotAnswered)
{
    cfg_.app = &discard_;
    open(A, alice, 1000);
    silent(alice, pkt(A, type::data_noack, 1, {1, 2, 3}), 1100);
    EXPECT_EQ(sc(ses::data_noack), 1u);
    EXPECT_EQ(sc(ses::delivered), 1u);
    EXPECT_EQ(sc(ses::consumed), 1u);
    EXPECT_EQ(st_.drop_total(), 0u);
    // With discard, a DATA_ACK gets its ACK and nothing else.
    result r = run({frame(alice, pkt(A, type::data_ack, 2, {4}))}, tsc_at(1100));
    ASSERT_EQ(r.tx.size(), 1u);
    EXPECT_EQ(decode(r.tx[0], alice).t, type::ack);
}

TEST_F(SessionState, EmptyAndLargestDataAck)
{
    open(A, alice, 1000);
    for (std::size_t n : {0u, 1400u}) {
        const bytes d = pkt(A, type::data_ack, 1 + n, bytes(n, 7));
        result r = run({frame(alice, d)}, tsc_at(1100));
        ASSERT_EQ(r.tx.size(), 2u) << n;
        EXPECT_EQ(decode(r.tx[0], alice).payload, ref_digest(d.data() + 32, d.size() - 32));
        EXPECT_EQ(decode(r.tx[1], alice).payload, bytes(n, 7));
    }
}

TEST_F(SessionState, ClientAckIsCounted)
{
    open(A, alice, 1000);
    silent(alice, pkt(A, type::ack, 1, bytes(32, 3)), 1100);
    EXPECT_EQ(sc(ses::ack_rx), 1u);
    EXPECT_EQ(sc(ses::consumed), 1u);
}

TEST_F(SessionState, CorruptDataAckGetsBadAckWithTheDigestOfWhatArrived)
{
    open_proven(A, alice, 1000);
    bytes d = pkt(A, type::data_ack, 1, bytes(100, 1));
    d[100] ^= 0x80;  // payload corrupted after signing
    const reply b = one(alice, d, 1100);
    EXPECT_EQ(b.t, type::bad_ack);
    EXPECT_EQ(b.payload, ref_digest(d.data() + 32, d.size() - 32));
    EXPECT_NE(b.payload, bytes(d.begin(), d.begin() + 32));
    EXPECT_EQ(b.order, 1u);
    EXPECT_EQ(sc(ses::bad_ack), 1u);
    EXPECT_EQ(sc(ses::delivered), 0u) << "corrupt data never reaches the application";
    // Its order count was not consumed: the resent packet is accepted.
    const bytes good = pkt(A, type::data_ack, 1, bytes(100, 1));
    result r = run({frame(alice, good)}, tsc_at(1200));
    ASSERT_EQ(r.tx.size(), 2u);
    EXPECT_EQ(decode(r.tx[0], alice).t, type::ack);
}

TEST_F(SessionState, CorruptDigestFieldAlsoGetsBadAck)
{
    open_proven(A, alice, 1000);
    bytes d = pkt(A, type::data_ack, 1, {1, 2});
    d[0] ^= 1;
    const reply b = one(alice, d, 1100);
    EXPECT_EQ(b.t, type::bad_ack);
    EXPECT_EQ(b.payload, ref_digest(d.data() + 32, d.size() - 32));
}

TEST_F(SessionState, CorruptPacketsWithoutABadAckAreDropped)
{
    open(A, alice, 1000);
    auto corrupt = [&](bytes p) {
        p[60] ^= 0x10;  // order count
        return p;
    };
    // Other types, a DATA_ACK of no session, of another endpoint, and of a timed-out session.
    silent(alice, corrupt(pkt(A, type::ping, 1)), 1100);
    silent(alice, corrupt(pkt(A, type::data_noack, 2, {1})), 1100);
    silent(alice, corrupt(pkt(A, type::disconnect, 3)), 1100);
    silent(alice, corrupt(pkt(A, type::ack, 4, bytes(32, 0))), 1100);
    silent(alice, corrupt(pkt(B, type::data_ack, 5, {1})), 1100);
    silent(bob, corrupt(pkt(A, type::data_ack, 6, {1})), 1100);
    silent(alice, corrupt(pkt(A, type::data_ack, 7, {1})), 1000 + timeout_ms + 1);
    EXPECT_EQ(dc(drop::session_bad_digest), 7u);
    EXPECT_EQ(sc(ses::bad_ack), 0u);
    EXPECT_NE(tab_->find(A.data()), nullptr) << "a corrupt DISCONNECT closes nothing";
}

// ---- replay window ----

TEST_F(SessionState, DuplicatesOldAndOutOfOrder)
{
    cfg_.app = &discard_;
    open(A, alice, 1000, 1000);  // the HELLO's count is taken
    silent(alice, pkt(A, type::ping, 1000), 1001);
    EXPECT_EQ(dc(drop::session_duplicate), 1u);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 1010), 1002).t, type::pong);  // a jump ahead
    EXPECT_EQ(one(alice, pkt(A, type::ping, 1005), 1003).t, type::pong);  // out of order, in window: once
    silent(alice, pkt(A, type::ping, 1005), 1004);
    EXPECT_EQ(dc(drop::session_duplicate), 2u);
    EXPECT_EQ(one(alice, pkt(A, type::ping, 1010 - 63), 1005).t, type::pong);  // oldest in the window
    silent(alice, pkt(A, type::ping, 1010 - 64), 1006);                        // just behind it
    EXPECT_EQ(dc(drop::session_too_old), 1u);
    // Replays of data are dropped before the application sees them.
    silent(alice, pkt(A, type::data_noack, 1011, {1}), 1007);
    silent(alice, pkt(A, type::data_noack, 1011, {1}), 1008);
    EXPECT_EQ(sc(ses::delivered), 1u);
    EXPECT_EQ(dc(drop::session_duplicate), 3u);
    // A duplicate in the same burst is caught too.
    result r = run({frame(alice, pkt(A, type::ping, 1020)), frame(alice, pkt(A, type::ping, 1020))}, tsc_at(1009));
    EXPECT_EQ(r.tx.size(), 1u);
    EXPECT_EQ(dc(drop::session_duplicate), 4u);
}

TEST(SessionWindow, Edges)
{
    replay_window w;
    w.reset(0);
    EXPECT_EQ(w.check_and_set(0), replay::duplicate);
    EXPECT_EQ(w.check_and_set(1), replay::fresh);
    EXPECT_EQ(w.check_and_set(64), replay::fresh);
    EXPECT_EQ(w.check_and_set(0), replay::too_old);  // 64 behind
    EXPECT_EQ(w.check_and_set(1), replay::duplicate);  // 63 behind, seen
    EXPECT_EQ(w.check_and_set(2), replay::fresh);      // 62 behind, unseen
    EXPECT_EQ(w.check_and_set(2), replay::duplicate);
    EXPECT_EQ(w.check_and_set(64 + 64), replay::fresh);  // shift by exactly the width
    EXPECT_EQ(w.check_and_set(64), replay::too_old);
    EXPECT_EQ(w.check_and_set(1000), replay::fresh);   // shift beyond the width
    EXPECT_EQ(w.check_and_set(128), replay::too_old);
    EXPECT_EQ(w.check_and_set(999), replay::fresh);
    EXPECT_EQ(w.top(), 1000u);
    replay_window hi;
    hi.reset(UINT64_MAX - 1);
    EXPECT_EQ(hi.check_and_set(UINT64_MAX), replay::fresh);
    EXPECT_EQ(hi.check_and_set(UINT64_MAX), replay::duplicate);
    EXPECT_EQ(hi.check_and_set(UINT64_MAX - 1), replay::duplicate);
    EXPECT_EQ(hi.check_and_set(UINT64_MAX - 64), replay::too_old);
}

TEST(SessionWindow, EachCountIsAcceptedOnceAcrossThreads)
{
    // Four threads offer the same counts in different orders; every count in the final window
    // must have exactly one winner.
    replay_window w;
    w.reset(0);
    constexpr unsigned n = 20000;
    std::atomic<unsigned> fresh{0};
    std::vector<std::thread> th;
    for (unsigned t = 0; t < 4; ++t)
        th.emplace_back([&, t] {
            for (unsigned i = 1; i <= n; ++i) {
                // Small local reordering so threads collide inside the window.
                const uint64_t c = (t & 1) ? i : (i ^ 3u);
                if (c == 0 || c > n)
                    continue;
                if (w.check_and_set(c) == replay::fresh)
                    fresh.fetch_add(1);
            }
        });
    for (auto& x : th)
        x.join();
    EXPECT_LE(fresh.load(), n);
    EXPECT_GE(fresh.load(), n - 64 * 4);  // only counts that fell behind a racing thread are lost
    EXPECT_EQ(w.top(), n);
    for (uint64_t c = n - 63; c <= n; ++c)
        EXPECT_EQ(w.check_and_set(c), replay::duplicate) << c;
}

// ---- DISCONNECT, endpoint, sources ----

TEST_F(SessionState, DisconnectClosesWithRejectAndRetriesAreAnswered)
{
    open(A, alice, 1000);
    result r = run({frame(alice, pkt(A, type::disconnect, 1, {}, 9))}, tsc_at(1100));
    ASSERT_EQ(r.ctl.size(), 1u);
    // A retry before the control lcore has run: its count is a duplicate, answered REJECT.
    EXPECT_EQ(one(alice, pkt(A, type::disconnect, 1, {}, 9), 1101).t, type::reject);
    const auto ans = control(r, tsc_at(1102));
    ASSERT_EQ(ans.size(), 1u);
    const reply rej = decode(ans[0], alice);
    EXPECT_EQ(rej.t, type::reject);
    EXPECT_EQ(rej.custom, 9);
    EXPECT_EQ(tab_->size(), 0u);
    EXPECT_EQ(tab_->counters().closed, 1u);
    // And after: no session, REJECT again (the client's retries all get one).
    EXPECT_EQ(one(alice, pkt(A, type::disconnect, 1), 1200).t, type::reject);
    EXPECT_EQ(one(alice, pkt(A, type::disconnect, 2), 1300).t, type::reject);
    EXPECT_EQ(sc(ses::rejected_disconnect), 2u);
    EXPECT_EQ(sc(ses::rejected_no_session), 2u);
}

TEST_F(SessionState, WrongEndpointIsDropped)
{
    open(A, alice, 1000);
    silent(bob, pkt(A, type::ping, 1), 1100);
    silent(alice_moved, pkt(A, type::data_ack, 2, {1}), 1100);
    EXPECT_EQ(dc(drop::session_wrong_endpoint), 2u);
}

TEST_F(SessionState, BadSourcesAreDropped)
{
    for (uint32_t src : {ip4(127, 0, 0, 1), ip4(0, 1, 2, 3), ip4(224, 0, 0, 1), ip4(198, 18, 0, 1)}) {
        peer p{src, 1000, mac(0x40)};
        silent(p, hello(A, base_ms + 1000), 1000);
    }
    silent({alice.ip_be, 0, mac(0x40)}, hello(A, base_ms + 1000), 1000);
    EXPECT_EQ(dc(drop::session_bad_source), 5u);
}

TEST_F(SessionState, MalformedLengthsAreDroppedAndCounted)
{
    const bytes p = pkt(A, type::ping, 1, bytes(10, 0));
    for (std::size_t len : {0u, 1u, 32u, 63u}) {
        silent(alice, bytes(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(len)), 1000);
    }
    silent(alice, bytes(p.begin(), p.end() - 1), 1000);
    bytes longer = p;
    longer.push_back(0);
    silent(alice, longer, 1000);
    EXPECT_EQ(dc(drop::session_short), 4u);
    EXPECT_EQ(dc(drop::session_bad_len), 2u);
}

TEST_F(SessionState, NoCryptoContextOnThisLcore)
{
    cfg_.mb[rte_lcore_id()] = nullptr;
    silent(alice, pkt(A, type::ping, 1), 1000);
    EXPECT_EQ(dc(drop::session_no_crypto), 1u);
}

TEST_F(SessionState, AnswerThatDoesNotFitIsDropped)
{
    open(A, alice, 1000);
    // An empty DATA_ACK whose ACK needs 32 more bytes than the buffer holds.
    const bytes f = frame(alice, pkt(A, type::data_ack, 1));
    guarded_frame g(f, f.size());
    std::vector<rte_mbuf*> in{g.release()};
    result r = run_mbufs(in, tsc_at(1100));
    EXPECT_EQ(dc(drop::session_no_room), 1u);
    // The echo (a fresh mbuf) still went out.
    ASSERT_EQ(r.tx.size(), 1u);
    EXPECT_EQ(decode(r.tx[0], alice).t, type::data_noack);
}

TEST_F(SessionState, FullBurstOfDataAcks)
{
    open(A, alice, 1000);
    std::vector<bytes> fr;
    for (unsigned i = 0; i < burst_size; ++i)
        fr.push_back(frame(alice, pkt(A, type::data_ack, 1 + i, bytes(64 + i, uint8_t(i)))));
    result r = run(fr, tsc_at(1100));
    EXPECT_EQ(r.tx.size(), 2 * burst_size);
    unsigned acks = 0, echoes = 0;
    for (const auto& f : r.tx) {
        const reply x = decode(f, alice);
        acks += x.t == type::ack;
        echoes += x.t == type::data_noack;
    }
    EXPECT_EQ(acks, burst_size);
    EXPECT_EQ(echoes, burst_size);
}

// ---- keyed mode ----

TEST_F(SessionState, KeyedModeAcceptsOnlyTheKey)
{
    const bytes k(32, 0x6b);
    use_key(k);
    open(A, alice, 1000);  // HMAC-signed HELLO, HMAC-signed ACCEPT (decode checks it)
    const reply p = one(alice, pkt(A, type::ping, 1), 1100);
    EXPECT_EQ(p.t, type::pong);
    // A plain SHA-256 packet, or one with another key, fails.
    silent(alice, session_pkt(A, type::ping, 2), 1100);
    silent(alice, session_pkt(A, type::ping, 3, {}, 0, bytes(32, 0x6c)), 1100);
    EXPECT_EQ(dc(drop::session_bad_digest), 2u);
    // A forged DATA_ACK gets BAD_ACK carrying the HMAC of what arrived.
    const bytes forged = session_pkt(A, type::data_ack, 4, {1, 2, 3});
    const reply b = one(alice, forged, 1100);
    EXPECT_EQ(b.t, type::bad_ack);
    EXPECT_EQ(b.payload, ref_digest(forged.data() + 32, forged.size() - 32, k));
    // And the ACK of a keyed DATA_ACK is its HMAC.
    const bytes d = pkt(A, type::data_ack, 5, {4, 5});
    result r = run({frame(alice, d)}, tsc_at(1200));
    ASSERT_EQ(r.tx.size(), 2u);
    EXPECT_EQ(decode(r.tx[0], alice).payload, bytes(d.begin(), d.begin() + 32));
}

TEST_F(SessionState, KeyedHelloWithoutTheKeyOpensNothing)
{
    use_key(bytes(16, 1));
    silent(alice, session_pkt(A, type::hello, 0, be64(base_ms + 1000)), 1000);
    EXPECT_EQ(tab_->size(), 0u);
    EXPECT_EQ(dc(drop::session_bad_digest), 1u);
}

// ---- shutdown ----

TEST_F(SessionState, ShutdownRejectsEveryProvenSession)
{
    open_proven(A, alice, 1000);
    open_proven(B, bob, 1000);
    open(sid(3), alice_moved, 1000);  // never proven: not told
    std::vector<bytes> sent;
    unsigned unproven = 0;
    const unsigned n = reject_all(cfg_, *tab_, pool(), ctx_->ports, &unproven, [&](uint16_t port, rte_mbuf** m, unsigned k) {
        EXPECT_EQ(port, 0);
        for (unsigned i = 0; i < k; ++i)
            sent.push_back(contents(m[i]));
        rte_pktmbuf_free_bulk(m, k);
    });
    EXPECT_EQ(n, 2u);
    EXPECT_EQ(unproven, 1u);
    ASSERT_EQ(sent.size(), 2u);
    const bool a_first = eth(sent[0])->dst_addr.addr_bytes[5] == 0x10 || ipv4(sent[0])->dst_addr == alice.ip_be;
    const reply ra = decode(sent[a_first ? 0 : 1], alice);
    const reply rb = decode(sent[a_first ? 1 : 0], bob);
    EXPECT_EQ(ra.t, type::reject);
    EXPECT_EQ(rb.t, type::reject);
    EXPECT_EQ(0, std::memcmp(ra.pkt.data() + off_client, A.data(), 16));
    EXPECT_EQ(0, std::memcmp(rb.pkt.data() + off_client, B.data(), 16));
}

} // namespace
} // namespace peregrine::session
