// The RUDP handshake (server side, rudp::handshaker) against a client written here from
// docs/protocols/rudp.md: X25519 through OpenSSL's EVP, the key schedule through a hand-written
// RFC 5869 HKDF over OpenSSL's HMAC (not the EVP_PKEY_HKDF the server uses), so a wrong
// schedule cannot agree with itself. Also the retransmitter's timing (rudp::retransmitter).

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "net/frame.hpp"
#include "rudp/handshake.hpp"
#include "rudp/retransmit.hpp"
#include "common/rcu.hpp"
#include "rudp/table.hpp"

namespace peregrine::rudp {
namespace {

using bytes = std::vector<uint8_t>;

bytes hmac(const bytes& key, const bytes& data)
{
    bytes out(32);
    unsigned n = 32;
    HMAC(EVP_sha256(), key.data(), int(key.size()), data.data(), data.size(), out.data(), &n);
    return out;
}

bytes cat(bytes a, const bytes& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// RFC 5869.
bytes hkdf(const bytes& salt, const bytes& ikm, const bytes& info, size_t len)
{
    const bytes prk = hmac(salt, ikm);
    bytes out, t;
    for (uint8_t i = 1; out.size() < len; ++i) {
        t = hmac(prk, cat(cat(t, info), bytes{i}));
        out = cat(out, t);
    }
    out.resize(len);
    return out;
}

struct test_client {
    EVP_PKEY* key = nullptr;
    bytes pub = bytes(32);
    bytes auth;  // our AUTH datagram
    ~test_client() { EVP_PKEY_free(key); }

    test_client()
    {
        EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr);
        EVP_PKEY_keygen_init(c);
        EVP_PKEY_keygen(c, &key);
        EVP_PKEY_CTX_free(c);
        size_t n = 32;
        EVP_PKEY_get_raw_public_key(key, pub.data(), &n);
    }
    // AUTH, seq 0, RELIABLE, padded to `size` bytes.
    const bytes& make_auth(size_t size = base_header + max_body)
    {
        auth = {0x02, flag::reliable, 0, 0, 0, 32};
        auth = cat(auth, pub);
        auth.push_back(0);  // certificate size 0
        auth.push_back(0);
        auth.resize(std::max(size, auth.size()), 0);
        return auth;
    }
    bytes shared_with(const uint8_t* server_pub) const
    {
        EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, server_pub, 32);
        EVP_PKEY_CTX* c = EVP_PKEY_CTX_new(key, nullptr);
        bytes s(32);
        size_t n = 32;
        EVP_PKEY_derive_init(c);
        EVP_PKEY_derive_set_peer(c, peer);
        EVP_PKEY_derive(c, s.data(), &n);
        EVP_PKEY_CTX_free(c);
        EVP_PKEY_free(peer);
        return s;
    }
};

header parsed(const uint8_t* d, size_t n)
{
    header h;
    uint8_t why;
    EXPECT_TRUE(parse_header(d, n, &h, &why));
    return h;
}

struct RudpHandshake : ::testing::Test {
    handshake_config cfg;
    std::unique_ptr<handshaker> hs;
    handshaker::answers a;
    void SetUp() override
    {
        cfg.max_half_open = 2;
        cfg.half_open_tsc = 1000;
        hs = std::make_unique<handshaker>(cfg);
    }
    handshaker::result auth(uint64_t ep, const bytes& d, uint64_t now = 0)
    {
        return hs->on_auth(ep, d.data(), d.size(), parsed(d.data(), d.size()), now, &a);
    }
    handshaker::result fin(uint64_t ep, const bytes& d, handshake_done* done, uint64_t now = 0)
    {
        return hs->on_finished(ep, d.data(), d.size(), parsed(d.data(), d.size()), now, done, &a);
    }
};

TEST_F(RudpHandshake, BothSidesDeriveTheSameKeysAndFinisheds)
{
    test_client c;
    ASSERT_EQ(auth(1, c.make_auth()), handshaker::result::answer);
    EXPECT_LE(a.auth_len + a.ack_len, c.auth.size()) << "never more bytes than the AUTH";
    // The server's AUTH: seq 0, RELIABLE, its key; its ACK: seq 1, of our seq 0, its finished.
    const header sh = parsed(a.auth, a.auth_len);
    EXPECT_EQ(sh.t, type::auth);
    EXPECT_EQ(sh.flags, flag::reliable);
    EXPECT_EQ(sh.seq, 0);
    auth_body ab;
    ASSERT_TRUE(parse_auth(a.auth + sh.len, a.auth_len - sh.len, &ab));
    ASSERT_EQ(ab.key_len, 32);
    const bytes server_pub(ab.key, ab.key + 32);
    const bytes shared = c.shared_with(ab.key);
    const bytes k = hkdf(cat(c.pub, server_pub), shared, bytes{'p', 'e', 'r', 'e', 'g', 'r', 'i', 'n', 'e', ' ', 'r',
                                                              'u', 'd', 'p', ' ', 'v', '0'},
                         104);
    bytes th(32);
    SHA256(cat(c.auth, bytes(a.auth, a.auth + a.auth_len)).data(), c.auth.size() + a.auth_len, th.data());
    const header ah = parsed(a.ack, a.ack_len);
    EXPECT_EQ(ah.t, type::ack);
    EXPECT_EQ(ah.seq, 1);
    ack_body ack;
    ASSERT_TRUE(parse_ack(a.ack + ah.len, a.ack_len - ah.len, &ack));
    EXPECT_EQ(ack.ack_id, 0);
    ASSERT_EQ(ack.data_len, 32u);
    const bytes s_fin(k.begin() + 72, k.begin() + 104);
    EXPECT_EQ(bytes(ack.data, ack.data + 32), hmac(s_fin, th)) << "server finished";

    // Our finished: ACK seq 1 of the server's AUTH (seq 0).
    const bytes c_fin(k.begin() + 40, k.begin() + 72);
    const bytes finished = cat(bytes{0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, hmac(c_fin, th));
    handshake_done done;
    ASSERT_EQ(fin(1, finished, &done), handshaker::result::answer);
    EXPECT_EQ(bytes(done.keys.c2s_key, done.keys.c2s_key + 16), bytes(k.begin(), k.begin() + 16));
    EXPECT_EQ(bytes(done.keys.s2c_key, done.keys.s2c_key + 16), bytes(k.begin() + 16, k.begin() + 32));
    EXPECT_EQ(bytes(done.keys.c2s_salt, done.keys.c2s_salt + 4), bytes(k.begin() + 32, k.begin() + 36));
    EXPECT_EQ(bytes(done.keys.s2c_salt, done.keys.s2c_salt + 4), bytes(k.begin() + 36, k.begin() + 40));
    EXPECT_EQ(done.client_top, 1u);
    EXPECT_EQ(done.server_next, 2u);
    EXPECT_EQ(hs->half_open(), 0u);
    EXPECT_EQ(hs->counters().finished, 1u);
    // Once finished it is gone: the same finished again finds no handshake.
    EXPECT_EQ(fin(1, finished, &done), handshaker::result::error);
    EXPECT_EQ(a.error, err::connection);
}

TEST_F(RudpHandshake, TamperedHandshakeFails)
{
    test_client c;
    ASSERT_EQ(auth(1, c.make_auth()), handshaker::result::answer);
    // A finished computed over a server AUTH altered on the way (another server key).
    bytes their_auth(a.auth, a.auth + a.auth_len);
    their_auth[10] ^= 1;
    bytes th(32);
    SHA256(cat(c.auth, their_auth).data(), c.auth.size() + their_auth.size(), th.data());
    const bytes bogus = cat(bytes{0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, hmac(bytes(32, 7), th));
    handshake_done done;
    EXPECT_EQ(fin(1, bogus, &done), handshaker::result::error);
    EXPECT_EQ(a.error, err::finish_invalid);
    EXPECT_EQ(hs->half_open(), 0u) << "a failed finished ends the handshake";
    // An ACK of the wrong packet, or too short.
    ASSERT_EQ(auth(2, c.make_auth()), handshaker::result::answer);
    EXPECT_EQ(fin(2, bytes{0x01, 0x00, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00}, &done), handshaker::result::error);
    EXPECT_EQ(a.error, err::finish_invalid);
}

TEST_F(RudpHandshake, ShortAuthGetsTheSizeItNeedsAndNothingMore)
{
    test_client c;
    ASSERT_EQ(auth(1, c.make_auth(60)), handshaker::result::error);
    EXPECT_EQ(a.error, err::connection);
    ASSERT_EQ(a.err_len, 2u);
    const size_t need = size_t(a.err_data[0]) << 8 | a.err_data[1];
    EXPECT_EQ(hs->half_open(), 0u) << "no state, no public-key work for a short AUTH";
    ASSERT_EQ(auth(1, c.make_auth(need - 1)), handshaker::result::error);
    ASSERT_EQ(auth(1, c.make_auth(need)), handshaker::result::answer);
    EXPECT_LE(a.auth_len + a.ack_len, need);
    EXPECT_EQ(hs->counters().short_auth, 2u);
}

TEST_F(RudpHandshake, RepeatedAuthGetsTheSameAnswer)
{
    test_client c;
    ASSERT_EQ(auth(1, c.make_auth()), handshaker::result::answer);
    const bytes first(a.auth, a.auth + a.auth_len), first_ack(a.ack, a.ack + a.ack_len);
    ASSERT_EQ(auth(1, c.auth), handshaker::result::answer);
    EXPECT_EQ(bytes(a.auth, a.auth + a.auth_len), first);
    EXPECT_EQ(bytes(a.ack, a.ack + a.ack_len), first_ack);
    EXPECT_EQ(hs->counters().repeated, 1u);
    // A new key from the same endpoint starts a new handshake.
    test_client c2;
    ASSERT_EQ(auth(1, c2.make_auth()), handshaker::result::answer);
    EXPECT_NE(bytes(a.auth, a.auth + a.auth_len), first);
    EXPECT_EQ(hs->half_open(), 1u);
}

TEST_F(RudpHandshake, BadKeysAndBounds)
{
    test_client c;
    bytes d = c.make_auth();
    d[5] = 31;  // key size 31: not X25519
    EXPECT_EQ(auth(1, d), handshaker::result::error);
    EXPECT_EQ(a.error, err::packet);  // the body no longer parses (31 + padding is not zero)
    d = c.make_auth();
    std::memset(d.data() + 6, 0, 32);  // the all-zero point: a small-order key, shared secret 0
    EXPECT_EQ(auth(1, d), handshaker::result::error);
    EXPECT_EQ(a.error, err::connection);
    d = c.make_auth();
    d[1] |= flag::checksum;  // claims a CRC it does not carry right
    d.resize(base_header + 4 + max_body);
    std::memmove(d.data() + 8, d.data() + 4, max_body);
    EXPECT_EQ(auth(1, d), handshaker::result::error);
    EXPECT_EQ(a.error, err::checksum);
    // Two half-open handshakes at most (the test's limit), then ERROR 1/1; they age out.
    test_client c1, c2, c3;
    EXPECT_EQ(auth(10, c1.make_auth(), 0), handshaker::result::answer);
    EXPECT_EQ(auth(11, c2.make_auth(), 10), handshaker::result::answer);
    EXPECT_EQ(auth(12, c3.make_auth(), 20), handshaker::result::error);
    EXPECT_EQ(a.error, err::no_space);
    hs->expire(1005);
    EXPECT_EQ(hs->half_open(), 1u);
    EXPECT_EQ(auth(12, c3.make_auth(), 1006), handshaker::result::answer);
    hs->expire(5000);
    EXPECT_EQ(hs->half_open(), 0u);
    EXPECT_EQ(hs->counters().expired, 3u);
}

// ---- retransmission timing ----

struct RudpRetransmit : ::testing::Test {
    rte_mempool* pool = nullptr;
    rte_ring* sent = nullptr;
    rte_ring* acks = nullptr;
    lcore_stats st{};
    std::vector<rte_mbuf*> out;
    std::vector<uint64_t> gave_up;
    int64_t gen = 5;

    void SetUp() override
    {
        static unsigned n = 0;
        const std::string id = std::to_string(n++);
        pool = rte_pktmbuf_pool_create(("rt_pool" + id).c_str(), 256, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        sent = rte_ring_create(("rt_sent" + id).c_str(), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
        acks = rte_ring_create_elem(("rt_acks" + id).c_str(), sizeof(ack_event), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
        ASSERT_TRUE(pool && sent && acks);
    }
    void TearDown() override
    {
        for (auto* m : out)
            rte_pktmbuf_free(m);
        rte_ring_free(sent);
        rte_ring_free(acks);
        EXPECT_EQ(rte_mempool_in_use_count(pool), 0u) << "an mbuf leaked";
        rte_mempool_free(pool);
    }
    // A RELIABLE frame the server sent with sequence ID seq to endpoint 198.18.0.2:5000.
    void frame(uint16_t seq)
    {
        net::port_addr pa{};
        net::udp_to to{};
        to.dst_ip_be = rte_cpu_to_be_32(0xC6120002);
        to.dst_port_be = rte_cpu_to_be_16(5000);
        uint8_t* p;
        rte_mbuf* m = net::new_udp_frame(pool, pa, to, 8, &p);
        ASSERT_NE(m, nullptr);
        const uint8_t d[8] = {0x00, flag::reliable, uint8_t(seq >> 8), uint8_t(seq), 'e', 'c', 'h', 'o'};
        std::memcpy(p, d, 8);
        ASSERT_EQ(rte_ring_enqueue(sent, m), 0);
    }
    static uint64_t key() { return endpoint_key(rte_cpu_to_be_32(0xC6120002), rte_cpu_to_be_16(5000)); }
    void ack(uint16_t id, uint16_t bits)
    {
        ack_event e{key(), id, bits, 0};
        ASSERT_EQ(rte_ring_enqueue_elem(acks, &e, sizeof(e)), 0);
    }
    void run(retransmitter& rt, uint64_t now)
    {
        rt.run(
            sent, acks, now, st, [&](uint64_t) { return gen; }, [&](rte_mbuf* m) { out.push_back(m); },
            [&](uint64_t k) { gave_up.push_back(k); });
    }
};

TEST_F(RudpRetransmit, BacksOffDoublingThenGivesUp)
{
    retransmitter::params p;
    p.initial_rto = 100;
    p.min_rto = 10;
    p.max_rto = 10000;
    p.max_tries = 4;
    retransmitter rt(p);
    frame(7);
    run(rt, 0);
    EXPECT_EQ(rt.pending(), 1u);
    std::vector<uint64_t> when;
    for (uint64_t t = 1; t < 2000 && gave_up.empty(); ++t) {
        const size_t before = out.size();
        run(rt, t);
        if (out.size() > before)
            when.push_back(t);
    }
    // Sent at 0; again at 100, then 200 and 400 later; the fourth try's timer gives up.
    EXPECT_EQ(when, (std::vector<uint64_t>{100, 300, 700}));
    ASSERT_EQ(gave_up.size(), 1u);
    EXPECT_EQ(gave_up[0], key());
    EXPECT_EQ(rt.pending(), 0u);
    EXPECT_EQ(st.rudp[unsigned(rdp::retransmitted)], 3u);
    EXPECT_EQ(st.rudp[unsigned(rdp::retransmit_closed)], 1u);
}

TEST_F(RudpRetransmit, AcksAndAckBitsReleaseAndTheRttSetsTheTimeout)
{
    retransmitter::params p;
    p.initial_rto = 1000;
    p.min_rto = 10;
    p.max_rto = 100000;
    retransmitter rt(p);
    for (uint16_t s = 10; s < 14; ++s)
        frame(s);
    run(rt, 0);
    EXPECT_EQ(rt.pending(), 4u);
    ack(13, 0b101);  // 13, and 12 (bit 0) and 10 (bit 2)
    run(rt, 40);
    EXPECT_EQ(rt.pending(), 1u);
    EXPECT_EQ(st.rudp[unsigned(rdp::acked)], 3u);
    // RTT 40 on the first try: RTO = 40 + 4 x 20 = 120, not the initial 1000.
    EXPECT_EQ(rt.rto_of(key()), 120u);
    ack(11, 0);
    run(rt, 50);
    EXPECT_EQ(rt.pending(), 0u);
    for (uint64_t t = 51; t < 3000; t += 7)
        run(rt, t);
    EXPECT_TRUE(out.empty()) << "nothing acknowledged is sent again";
    // An ACK that came before its frame reached the retransmitter still counts.
    ack(20, 0);
    frame(20);
    run(rt, 3000);  // frames first, then ACKs
    EXPECT_EQ(rt.pending(), 0u);
    ack(30, 0);
    run(rt, 3001);
    frame(30);  // queued after its ACK was taken
    run(rt, 3002);
    EXPECT_EQ(rt.pending(), 0u);
}

TEST_F(RudpRetransmit, ANewConnectionFromTheEndpointDropsTheOldFrames)
{
    retransmitter::params p;
    p.initial_rto = 100;
    p.max_rto = 1000;
    retransmitter rt(p);
    frame(1);
    run(rt, 0);
    gen = 6;  // closed and opened again
    for (uint64_t t = 1; t < 500; ++t)
        run(rt, t);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(rt.pending(), 0u);
    EXPECT_TRUE(gave_up.empty());
}

} // namespace
} // namespace peregrine::rudp

// ---- the nonce counter's end ----
namespace peregrine::rudp {
namespace {

TEST(RudpTable, SpentCounterClosesWithLastWords)
{
    rte_rcu_qsbr* v = rcu_create(1, SOCKET_ID_ANY);
    ASSERT_NE(v, nullptr);
    table::params p;
    p.name = "rt_spent";
    p.capacity = 4;
    p.rcu = v;
    p.socket_id = SOCKET_ID_ANY;
    std::unique_ptr<table> t(table::create(p));
    ASSERT_TRUE(t);
    auto mb = crypto::mb_context::create();
    session_keys k{};
    // Two numbers left before the reserve.
    const table::opening o{1, 2, 0, rte_ether_addr{}, &k, 1, max_counter - close_reserve - 2};
    conn* c = t->open(o, *mb, 0);
    ASSERT_NE(c, nullptr);
    uint64_t first = 0;
    EXPECT_TRUE(c->take_encrypted(2, &first));
    EXPECT_EQ(first, max_counter - close_reserve - 2);
    EXPECT_EQ(c->closing_state(), 0);
    EXPECT_FALSE(c->take_encrypted(1, &first)) << "a number from the reserve";
    EXPECT_EQ(c->closing_state(), conn::closing_spent);
    // The sweep closes it (not an expiry: it was seen just now) after its last words.
    std::vector<uint64_t> told;
    t->expire(0, UINT64_MAX / 4, t->slots(), [&](conn& x) { told.push_back(x.key); });
    EXPECT_EQ(told, std::vector<uint64_t>{endpoint_key(1, 2)});
    EXPECT_EQ(t->find(endpoint_key(1, 2)), nullptr);
    EXPECT_EQ(t->counters().closed, 1u);
    EXPECT_EQ(t->counters().expired, 0u);
    t.reset();
    rte_free(v);
}

} // namespace
} // namespace peregrine::rudp
