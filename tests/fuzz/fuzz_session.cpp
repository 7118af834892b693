// libFuzzer target for the session protocol: record sequences (fuzz_session.hpp) run through
// engine::process_burst and session::apply_control on an engine with an empty session table, so
// inputs reach every state: open, pings, data, replays, corruption, timeouts, disconnects.
// Outside each frame's bytes (and the 32 an answer may grow by) the mbuf's buffer is
// ASan-poisoned. Every input mbuf must come out
// exactly once and be counted once, every frame sent must be a well-formed answer from the
// session port with a valid digest (checked with OpenSSL), never amplify by more than an
// ACK's 32 bytes nor send anything longer than a request to an unproven endpoint, and the mempool must get every mbuf back. The table is emptied after each
// input, so outcomes never depend on earlier inputs. A failed check aborts.

#include "fuzz_session.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "common/rcu.hpp"
#include "crypto/sha256.hpp"
#include "fuzz_engine.hpp"
#include "session/module.hpp"
#include "session/pipeline.hpp"
#include "session_frames.hpp"

using namespace peregrine;
using namespace fuzz_engine;
using pgtest::bytes;

namespace fuzz_session {
namespace {

constexpr uint16_t session_port = 7300;
constexpr uint64_t base_ms = 1'700'000'000'000ull;
constexpr uint64_t tsc_per_ms = 1000;
constexpr uint64_t timeout_tsc = 30'000 * tsc_per_ms;
const bytes key = {'f', 'u', 'z', 'z', '-', 's', 'e', 's', 's', 'i', 'o', 'n', '-', 'k', 'e', 'y'};

struct state {
    rte_mempool* pool = nullptr;
    rte_rcu_qsbr* rcu = nullptr;
    session::table* tab = nullptr;
    std::unique_ptr<crypto::mb_context> mb;
    crypto::hmac_key hk{};
    std::unique_ptr<engine::context> ctx;
    session::config cfg;
    std::unique_ptr<session::module> mod;
    engine::control_io io;
    session::echo_app echo;
    lcore_stats st;
    counts c{};
};
state* S = nullptr;

// The UDP payload of a frame, if it is a plain Ethernet/IPv4(20)/UDP frame with sane lengths.
uint8_t* session_part(bytes& f, std::size_t* len)
{
    if (f.size() < pgtest::headers_len || pgtest::ipv4(f)->version_ihl != RTE_IPV4_VHL_DEF)
        return nullptr;
    const std::size_t ulen = rte_be_to_cpu_16(pgtest::udp(f)->dgram_len);
    if (ulen < sizeof(rte_udp_hdr) || pgtest::l2_len + 20 + ulen > f.size())
        return nullptr;
    *len = ulen - sizeof(rte_udp_hdr);
    return pgtest::payload(f);
}

void prepare(bytes& f, uint8_t flags, bool keyed_mode)
{
    std::size_t n = 0;
    if (flags & echo_token) {
        // As a client that got the ACCEPT: the token is random, no mutation would find it.
        uint8_t* p = session_part(f, &n);
        const session::entry* e = p && n >= session::header_len ? S->tab->find(p + session::off_client) : nullptr;
        if (e) {
            const uint32_t t = S->tab->token(*e);
            p[session::off_token] = static_cast<uint8_t>(t >> 16);
            p[session::off_token + 1] = static_cast<uint8_t>(t >> 8);
            p[session::off_token + 2] = static_cast<uint8_t>(t);
        }
    }
    if (flags & sign) {
        if (uint8_t* p = session_part(f, &n); p && n >= session::header_len) {
            const bytes d = pgtest::ref_digest(p + 32, n - 32, keyed_mode ? key : bytes{});
            std::memcpy(p, d.data(), 32);
        }
    }
    if ((flags & fix_cksum) && f.size() >= pgtest::l2_len + 20 && pgtest::ipv4(f)->version_ihl == RTE_IPV4_VHL_DEF) {
        pgtest::fix_ip_cksum(f);
        const std::size_t tot = rte_be_to_cpu_16(pgtest::ipv4(f)->total_length);
        if (pgtest::ipv4(f)->next_proto_id == IPPROTO_UDP && tot >= 28 && pgtest::l2_len + tot <= f.size() &&
            pgtest::udp(f)->dgram_cksum != 0)
            pgtest::fix_udp_cksum(f);
    }
}

// A frame the engine sends on port 0: an answer from the session port, signed, well-formed.
void check_tx(rte_mbuf* m, bool keyed_mode, std::size_t max_len)
{
    FUZZ_CHECK(m->nb_segs == 1 && m->data_len == m->pkt_len && m->port == 0);
    FUZZ_CHECK(m->data_len <= max_len + session::digest_len);
    bytes f(rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_mtod(m, const uint8_t*) + m->data_len);
    FUZZ_CHECK(f.size() >= pgtest::headers_len + session::header_len);
    const net::port_addr& pa = S->ctx->ports[0];
    FUZZ_CHECK(rte_is_same_ether_addr(&pgtest::eth(f)->src_addr, &pa.mac));
    FUZZ_CHECK(pgtest::ipv4(f)->version_ihl == RTE_IPV4_VHL_DEF && rte_ipv4_cksum(pgtest::ipv4(f)) == 0);
    FUZZ_CHECK(pgtest::ipv4(f)->src_addr == pa.ip_be);
    FUZZ_CHECK(pgtest::udp(f)->src_port == rte_cpu_to_be_16(session_port));
    FUZZ_CHECK(rte_ipv4_udptcp_cksum_verify(pgtest::ipv4(f), pgtest::udp(f)) == 0);
    std::size_t n = 0;
    const uint8_t* p = session_part(f, &n);
    FUZZ_CHECK(p && n >= session::header_len && pgtest::headers_len + n == f.size());
    const bytes pk(p, p + n);
    FUZZ_CHECK(pgtest::digest_ok(pk, keyed_mode ? key : bytes{}));
    FUZZ_CHECK(session::load_be16(p + session::off_length) == n - session::header_len);
    // Answers that may be longer than what they answer go to proven endpoints only.
    const auto t = static_cast<session::type>(p[session::off_type]);
    if (t == session::type::ack || t == session::type::bad_ack || t == session::type::data_noack) {
        const session::entry* e = S->tab->find(p + session::off_client);
        FUZZ_CHECK(e && e->is_proven());
    }
    switch (t) {
    case session::type::accept: ++S->c.accepted; FUZZ_CHECK(n == 72); break;
    case session::type::reject: ++S->c.reject; FUZZ_CHECK(n == 64); break;
    case session::type::pong: ++S->c.pong; break;
    case session::type::ack: ++S->c.ack; FUZZ_CHECK(n == 96); break;
    case session::type::bad_ack: ++S->c.bad_ack; FUZZ_CHECK(n == 96); break;
    case session::type::data_noack: ++S->c.app; break;  // the echo application
    default: FUZZ_CHECK(!"the server sent a type it never sends");
    }
}

void run_burst(std::vector<bytes>& frames, uint64_t now, bool keyed_mode)
{
    rte_mbuf* in[burst_size];
    std::size_t max_len = 0;
    const unsigned n = static_cast<unsigned>(frames.size());
    for (unsigned i = 0; i < n; ++i) {
        std::size_t len;
        rte_mbuf* m = frame_mbuf(S->pool, frames[i].data(), frames[i].size(), &len);
        // Except the digest_len bytes after the frame: ACK and BAD_ACK (96 bytes) may answer a
        // 64-byte DATA_ACK in place, growing into the tailroom the pipeline checked (check_tx
        // bounds the growth).
        poison_outside_data(m, session::digest_len);
        in[i] = m;
        max_len = std::max(max_len, len);
    }
    const lcore_stats before = S->st;
    engine::burst_out out;
    engine::init(out);
    engine::process_burst(*S->ctx, S->st, 0, in, static_cast<uint16_t>(n), now, out);

    const uint64_t app = S->st.session[unsigned(ses::app_sent)] - before.session[unsigned(ses::app_sent)];
    const uint64_t consumed = S->st.session[unsigned(ses::consumed)] - before.session[unsigned(ses::consumed)];
    const uint64_t drops = S->st.drop_total() - before.drop_total();
    const uint64_t n_tx = sum(out.n_tx);
    FUZZ_CHECK(S->st.rx_packets - before.rx_packets == n);
    FUZZ_CHECK(out.tx_port_mask == (n_tx ? 1u : 0u));
    FUZZ_CHECK(n_tx - app + out.n_exc + out.n_ctl + out.n_drop == n);
    FUZZ_CHECK(out.n_drop == drops + consumed);
    FUZZ_CHECK(sum(S->st.exceptions) - sum(before.exceptions) == out.n_exc);
    // Each input mbuf is in exactly one output list; application packets are new mbufs.
    for (unsigned i = 0; i < n; ++i) {
        unsigned seen = 0;
        for (unsigned k = 0; k < out.n_tx[0]; ++k)
            seen += out.tx[0][k] == in[i];
        seen += static_cast<unsigned>(std::count(out.exc, out.exc + out.n_exc, in[i]));
        seen += static_cast<unsigned>(std::count(out.ctl, out.ctl + out.n_ctl, in[i]));
        seen += static_cast<unsigned>(std::count(out.drop, out.drop + out.n_drop, in[i]));
        FUZZ_CHECK(seen == 1);
    }
    S->c.packets += n;
    S->c.drops += drops;
    S->c.control += out.n_ctl;
    for (unsigned k = 0; k < out.n_tx[0]; ++k) {
        unpoison(out.tx[0][k]);
        check_tx(out.tx[0][k], keyed_mode, max_len);
    }
    S->c.answers += n_tx;
    rte_pktmbuf_free_bulk(out.tx[0], out.n_tx[0]);
    for (unsigned k = 0; k < out.n_exc; ++k)
        unpoison(out.exc[k]);
    rte_pktmbuf_free_bulk(out.exc, out.n_exc);
    for (unsigned k = 0; k < out.n_drop; ++k)
        unpoison(out.drop[k]);
    rte_pktmbuf_free_bulk(out.drop, out.n_drop);

    // The control lcore's half.
    for (unsigned k = 0; k < out.n_ctl; ++k)
        unpoison(out.ctl[k]);
    const lcore_stats cb = S->st;
    for (unsigned j = 0; j < out.n_ctl; ++j)
        FUZZ_CHECK(engine::module_of(out.ctl[j]) == S->mod->index());
    // The module's control half, as the daemon's control lcore calls it.
    S->mod->control(out.ctl, out.n_ctl, now, S->st, S->io);
    const unsigned k = S->io.n_replies();
    FUZZ_CHECK(k <= out.n_ctl && S->io.sent().empty());
    FUZZ_CHECK(S->st.drop_total() - cb.drop_total() == out.n_ctl - k);
    for (unsigned j = 0; j < k; ++j)
        check_tx(S->io.replies()[j], keyed_mode, max_len);
    rte_pktmbuf_free_bulk(S->io.replies(), k);
    S->io.clear_replies();
    S->c.answers += k;
}

void empty_table()
{
    std::vector<std::array<uint8_t, 16>> ids;
    S->tab->for_each([&](const session::entry& e) {
        std::array<uint8_t, 16> id;
        std::memcpy(id.data(), e.client_id, 16);
        ids.push_back(id);
    });
    for (const auto& id : ids)
        FUZZ_CHECK(S->tab->close(id.data()));
    FUZZ_CHECK(S->tab->size() == 0);
    rte_rcu_qsbr_quiescent(S->rcu, 0);
    S->tab->reclaim();
}

} // namespace

const counts& outcome_counts() { return S->c; }

} // namespace fuzz_session

using namespace fuzz_session;

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    (void)argc;
    S = new state();
    std::memset(&S->st, 0, sizeof(S->st));
    S->pool = start((*argv)[0], "pgfuzzs", 255);
    S->rcu = rcu_create(1, SOCKET_ID_ANY);
    FUZZ_CHECK(S->pool && S->rcu);
    rte_rcu_qsbr_thread_register(S->rcu, 0);
    rte_rcu_qsbr_thread_online(S->rcu, 0);
    session::table::params p;
    p.name = "fuzzs";
    p.capacity = 4;  // small: a few HELLOs fill it
    p.rcu = S->rcu;
    p.socket_id = SOCKET_ID_ANY;
    S->tab = session::table::create(p);
    S->mb = crypto::mb_context::create();
    FUZZ_CHECK(S->tab && S->mb);
    S->hk = crypto::make_hmac_key(*S->mb, key.data(), key.size());

    S->ctx = make_context({{0x01, pgtest::ip4(198, 18, 0, 1)}});
    session::config& c = S->cfg;
    c.udp_port = session_port;
    c.timeout_tsc = timeout_tsc;
    c.hello_window_ms = 30'000;
    c.wall_base_ms = base_ms;
    c.tsc_per_ms = tsc_per_ms;
    c.app = &S->echo;
    c.mb[rte_lcore_id()] = S->mb.get();
    S->mod = std::make_unique<session::module>(c, *S->tab, S->pool);
    FUZZ_CHECK(S->ctx->add(S->mod.get()));
    S->io.ports = S->ctx->ports;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const unsigned in_use = rte_mempool_in_use_count(S->pool);
    const bool keyed_mode = size > 0 && (data[0] & keyed);
    S->cfg.key = keyed_mode ? &S->hk : nullptr;
    uint64_t now = tsc_per_ms * 1000;
    std::vector<bytes> burst;
    std::size_t at = 0;
    unsigned records = 0;
    while (at < size && records < 64) {
        const uint8_t flags = data[at];
        std::size_t len = at + 2 < size ? (std::size_t(data[at + 1]) << 8 | data[at + 2]) : 0;
        at = std::min(at + 3, size);
        len = std::min(len, size - at);
        bytes f(data + at, data + at + len);
        at += len;
        ++records;
        if (!burst.empty() && (!(flags & same_burst) || burst.size() == burst_size || (flags & late))) {
            run_burst(burst, now, keyed_mode);
            burst.clear();
        }
        // After the previous burst: the token of a session it opened is known.
        prepare(f, flags, keyed_mode);
        if (flags & late)
            now += timeout_tsc + 1;
        now += tsc_per_ms;
        burst.push_back(std::move(f));
    }
    if (!burst.empty())
        run_burst(burst, now, keyed_mode);
    empty_table();
    FUZZ_CHECK(rte_mempool_in_use_count(S->pool) == in_use);
    ++S->c.inputs;
    return 0;
}

// ---- seeds ----

namespace fuzz_session {

namespace {

bytes frame_of(const bytes& pkt, uint16_t src_port = 40001)
{
    pgtest::udp_frame f;
    f.dst_mac = pgtest::mac(0x01);
    f.src_mac = pgtest::mac(0x10);
    f.src_ip_be = pgtest::ip4(198, 18, 0, 10);
    f.dst_ip_be = pgtest::ip4(198, 18, 0, 1);
    f.src_port = src_port;
    f.dst_port = session_port;
    f.payload = pkt;
    return pgtest::build(f);
}

struct seq {
    std::vector<uint8_t> b;
    seq& add(const bytes& frame, uint8_t flags = fix_cksum | sign | echo_token)
    {
        b.push_back(flags);
        b.push_back(static_cast<uint8_t>(frame.size() >> 8));
        b.push_back(static_cast<uint8_t>(frame.size()));
        b.insert(b.end(), frame.begin(), frame.end());
        return *this;
    }
};

} // namespace

std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds()
{
    using session::type;
    const auto id = pgtest::sid(1);
    const auto id2 = pgtest::sid(2);
    // The clock at the first record is base_ms + 1001 ms.
    auto hello = [&](const pgtest::session_id& i, uint64_t ts = base_ms + 1000) {
        return frame_of(pgtest::session_pkt(i, type::hello, 0, pgtest::be64(ts)));
    };
    auto p = [&](type t, uint64_t order, const bytes& body = {}) { return frame_of(pgtest::session_pkt(id, t, order, body)); };
    const bytes h = hello(id);
    std::vector<std::pair<std::string, std::vector<uint8_t>>> s;
    s.emplace_back("hello", seq().add(h).b);
    s.emplace_back("hello-stale", seq().add(hello(id, base_ms - 60'000)).b);
    s.emplace_back("hello-bad-len", seq().add(frame_of(pgtest::session_pkt(id, type::hello, 0, bytes(4, 0)))).b);
    s.emplace_back("hello-ping", seq().add(h).add(p(type::ping, 1, {1, 2, 3})).b);
    s.emplace_back("hello-data-ack", seq().add(h).add(p(type::data_ack, 1, bytes(100, 7))).b);
    s.emplace_back("hello-data-noack", seq().add(h).add(p(type::data_noack, 1, {9})).b);
    s.emplace_back("hello-ack", seq().add(h).add(p(type::ack, 1, bytes(32, 1))).b);
    s.emplace_back("hello-bad-data-ack", seq().add(h).add(p(type::data_ack, 1, {1, 2}), fix_cksum).b);
    {
        bytes corrupt = p(type::data_ack, 1, {1, 2, 3});
        corrupt.back() ^= 1;
        s.emplace_back("hello-corrupt-data-ack", seq().add(h).add(corrupt, fix_cksum).b);
    }
    s.emplace_back("hello-disconnect-twice", seq().add(h).add(p(type::disconnect, 1)).add(p(type::disconnect, 1)).b);
    s.emplace_back("hello-replay", seq().add(h).add(p(type::ping, 5)).add(p(type::ping, 5)).add(p(type::ping, 200)).add(p(type::ping, 100)).b);
    s.emplace_back("hello-burst-dup", seq().add(h).add(p(type::ping, 1)).add(p(type::ping, 1), fix_cksum | sign | same_burst | echo_token).b);
    s.emplace_back("hello-timeout", seq().add(h).add(p(type::ping, 1), fix_cksum | sign | late | echo_token).b);
    s.emplace_back("hello-repeat-reopen", seq().add(h).add(h).add(hello(id, base_ms + 1500)).b);
    s.emplace_back("hello-wrong-endpoint", seq().add(h).add(frame_of(pgtest::session_pkt(id, type::ping, 1), 40999)).b);
    s.emplace_back("table-full", [&] {
        seq q;
        for (uint8_t i = 1; i <= 6; ++i)
            q.add(hello(pgtest::sid(i)));
        return q.b;
    }());
    s.emplace_back("no-session", seq().add(frame_of(pgtest::session_pkt(id2, type::data_ack, 1, {1}))).b);
    s.emplace_back("short", seq().add(frame_of(bytes(63, 0))).b);
    s.emplace_back("bad-length-field", [&] {
        bytes pk = pgtest::session_pkt(id, type::ping, 1, {1, 2});
        pk[53] = 3;
        return seq().add(h).add(frame_of(pk)).b;
    }());
    s.emplace_back("reply-type", seq().add(frame_of(pgtest::session_pkt(id, type::pong, 1))).b);
    s.emplace_back("unknown-type", seq().add(frame_of(pgtest::session_pkt(id, static_cast<type>(0x42), 1))).b);
    s.emplace_back("keyed-hello-ping", seq().add(h, fix_cksum | sign | keyed).add(p(type::ping, 1)).add(p(type::data_ack, 2, {5})).b);
    s.emplace_back("keyed-unsigned", seq().add(frame_of(pgtest::session_pkt(id, type::hello, 0, pgtest::be64(base_ms + 1000))), fix_cksum | keyed).b);
    s.emplace_back("large-data", seq().add(h).add(p(type::data_ack, 1, bytes(1400, 0x33))).b);
    s.emplace_back("unproven-data", seq().add(h).add(p(type::data_ack, 1, {1}), fix_cksum | sign).b);
    return s;
}

} // namespace fuzz_session
