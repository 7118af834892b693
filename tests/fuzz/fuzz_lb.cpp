// libFuzzer target for the load-balancer protocol. Each input is used twice:
//  (a) as a load-balancer datagram for lb::parse (from libFuzzer's exact-size buffer, so ASan
//      catches any over-read), with the result checked against the wire format;
//  (b) as a whole Ethernet frame received on port 0 of an engine with the protocol on, a Maglev
//      table of three serving nodes and a control-lcore lb::state holding those nodes and a
//      call controller: engine::process_burst, then lb::state::handle for what goes to the
//      control lcore, then a timer tick. Outside the frame's bytes the mbuf's buffer is
//      ASan-poisoned. Every input mbuf must come out exactly once, the counters must add up,
//      every frame sent (worker replies, Acks, notifications, Start Call, retransmissions) must
//      be well-formed IPv4/UDP from the load-balancer port, and no mbuf may leak. A failed check
//      aborts. When an input changed the state, it is rebuilt, so outcomes never depend on
//      earlier inputs (reproducible crashes).
// The replay hooks (fuzz_frame_replay.cpp) are fuzz_router's.

#include <cstring>
#include <memory>

#include "fuzz_engine.hpp"
#include "fuzz_env.hpp"
#include "fuzz_router.hpp"
#include "lb/module.hpp"

using namespace peregrine;
using namespace fuzz_engine;
using pgtest::bytes;

namespace {

constexpr uint16_t lb_port = 7200;
constexpr uint64_t hz = 1'000'000;
constexpr uint64_t now = 1'000 * hz;
const uint8_t our_ip[4] = {198, 18, 0, 1};
// Serving nodes and a call controller registered before every input; a outsider is not.
struct host {
    uint8_t ip[4];
    uint16_t port;
    uint8_t mac_lo;
};
constexpr host nodes[] = {{{198, 18, 0, 10}, 5000, 0x10}, {{198, 18, 0, 11}, 5001, 0x11}, {{198, 18, 0, 12}, 5002, 0x12}};
constexpr host controller = {{198, 18, 0, 20}, 6000, 0x20};
constexpr host outsider = {{198, 18, 0, 30}, 40003, 0x30};

uint32_t ip_of(const uint8_t (&a)[4]) { return pgtest::ip4(a[0], a[1], a[2], a[3]); }

bytes from(const host& h, const bytes& payload, bool cksum = true, uint16_t dst_port = lb_port)
{
    pgtest::udp_frame s;
    s.dst_mac = pgtest::mac(0x01);
    s.src_mac = pgtest::mac(h.mac_lo);
    s.src_ip_be = ip_of(h.ip);
    s.dst_ip_be = ip_of(our_ip);
    s.src_port = h.port;
    s.dst_port = dst_port;
    s.payload = payload;
    s.udp_cksum = cksum;
    return pgtest::build(s);
}

bytes reg(uint8_t t, uint16_t req, const host& h)
{
    return {t, uint8_t(req >> 8), uint8_t(req), h.ip[0], h.ip[1], h.ip[2], h.ip[3], uint8_t((h.port + 1000) >> 8),
            uint8_t(h.port + 1000)};
}

struct fuzz_state {
    rte_mempool* pool = nullptr;
    std::unique_ptr<engine::context> ctx;
    lb::config cfg;
    std::unique_ptr<lb::state> lb;
    std::unique_ptr<lb::module> mod;
    engine::control_io io;
    lcore_stats st;
    fuzz_counts counts;
    uint64_t fingerprint = 0;
    std::vector<bytes> acks;
};
fuzz_state* S = nullptr;

uint64_t fingerprint()
{
    const lb::state& s = *S->lb;
    return s.table_generation() * 1'000'003 + s.serving_nodes().size() * 10007 + s.call_controllers().size() * 101 +
           s.registrations().size() * 7 + s.calls().size() * 3 + s.awaiting_ack();
}

// A well-formed frame from the engine's load-balancer port on port 0.
const uint8_t* check_sent(rte_mbuf* m, size_t* plen)
{
    FUZZ_CHECK(m->nb_segs == 1 && m->data_len == m->pkt_len && m->port == 0);
    FUZZ_CHECK(m->data_len >= pgtest::headers_len + lb::header_len);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const net::port_addr& pa = S->ctx->ports[0];
    FUZZ_CHECK(rte_is_same_ether_addr(&eth->src_addr, &pa.mac));
    FUZZ_CHECK(ip->version_ihl == RTE_IPV4_VHL_DEF && rte_raw_cksum(ip, sizeof(*ip)) == 0xffff);
    FUZZ_CHECK(ip->src_addr == pa.ip_be && ip->dst_addr != pa.ip_be);
    FUZZ_CHECK(udp->src_port == rte_cpu_to_be_16(lb_port) && udp->dst_port != 0);
    FUZZ_CHECK(pgtest::l2_len + rte_be_to_cpu_16(ip->total_length) == m->data_len);
    FUZZ_CHECK(rte_be_to_cpu_16(udp->dgram_len) + sizeof(rte_ipv4_hdr) == rte_be_to_cpu_16(ip->total_length));
    FUZZ_CHECK(udp->dgram_cksum != 0 && rte_ipv4_udptcp_cksum_verify(ip, udp) == 0);
    *plen = m->data_len - pgtest::headers_len;
    return reinterpret_cast<const uint8_t*>(udp + 1);
}

bool is_node(const lb::endpoint& e)
{
    const lb::table* t = S->cfg.current.load();
    for (uint32_t i = 0; t && i < t->n_nodes; ++i)
        if (t->nodes[i] == e)
            return true;
    return false;
}

// Everything the module sent: each a type Peregrine sends, of its exact length.
void drain_outbox()
{
    FUZZ_CHECK(S->io.n_replies() == 0);  // lb::state sends everything in order, none as a reply
    for (rte_mbuf* m : S->io.sent()) {
        size_t n;
        const uint8_t* d = check_sent(m, &n);
        switch (d[0]) {
        case 3: FUZZ_CHECK(n == lb::ack_len); break;
        case 2: FUZZ_CHECK(n == lb::start_call_len); break;
        case 7: FUZZ_CHECK(n == lb::serving_node_response_len); break;
        case 9: FUZZ_CHECK(n >= lb::header_len && (n - lb::header_len) % lb::endpoint_len == 0); break;  // 3: the probe
        case 10: FUZZ_CHECK(n == lb::serving_node_removed_len); break;
        default: FUZZ_CHECK(!"lb::state sent a type it never sends");
        }
        S->counts.answered++;
        rte_pktmbuf_free(m);
    }
    S->io.sent().clear();
}

void feed(const bytes& f)
{
    rte_mbuf* m = rte_pktmbuf_alloc(S->pool);
    FUZZ_CHECK(m);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.size())), f.data(), f.size());
    m->port = 0;
    S->mod->control(&m, 1, now, S->st, S->io);
}

void rebuild_state()
{
    // A new context with the lb module on a new state, as the daemon plugs it in.
    S->ctx = make_context({{0x01, ip_of(our_ip)}});
    S->mod.reset();
    S->lb.reset();
    S->cfg.udp_port = lb_port;
    S->cfg.credit.init(64);  // Request Serving Node's byte budget, as the daemon's default
    lb::state_params p;
    p.pool = S->pool;
    p.tsc_hz = hz;
    S->lb = std::make_unique<lb::state>(S->cfg, S->ctx->ports, p);
    S->mod = std::make_unique<lb::module>(S->cfg, *S->lb);
    FUZZ_CHECK(S->ctx->add(S->mod.get()));
    S->io.ports = S->ctx->ports;
    uint16_t req = 1;
    for (const auto& h : nodes)
        feed(from(h, reg(0, req++, h)));
    feed(from(controller, reg(1, req++, controller)));
    // A registration (so its group has a call), and the Acks of everything sent so far except
    // what went to the last node, which stays pending.
    feed(from(nodes[0], {4, 0, 50, 0, 9, 0, 0, 0, 1, 198, 18, 0, 40, 0x9c, 0x40}));
    for (rte_mbuf* m : S->io.sent()) {
        size_t n;
        const uint8_t* d = check_sent(m, &n);
        if (d[0] == 3)
            continue;
        auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
        auto* udp = reinterpret_cast<const rte_udp_hdr*>(ip + 1);
        for (const host* h : {&nodes[0], &nodes[1], &controller})
            if (ip->dst_addr == ip_of(h->ip) && udp->dst_port == rte_cpu_to_be_16(h->port))
                S->acks.push_back(from(*h, {3, d[1], d[2]}));
    }
    drain_outbox();
    for (const auto& a : S->acks)
        feed(a);
    S->acks.clear();
    drain_outbox();
    S->mod->tick(now + 1500 * hz / 1000, 1, S->st, S->io);  // as after every input
    drain_outbox();
    S->fingerprint = fingerprint();
}

// (a) The codec against the wire format.
void check_codec(const uint8_t* d, size_t n)
{
    lb::packet p;
    drop why = drop::count_;
    if (lb::parse(d, n, &p, &why)) {
        FUZZ_CHECK(n >= 3 && p.request_id == lb::rd16(d + 1) && static_cast<uint8_t>(p.t) == d[0]);
        switch (p.t) {
        case lb::type::register_serving_node:
        case lb::type::register_call_controller:
            FUZZ_CHECK(n >= 9 && n <= lb::max_padded_len && p.ep == lb::rd_ep(d + 3));
            for (size_t i = 9; i < n; ++i)
                FUZZ_CHECK(d[i] == 0);  // padding is zeros only
            break;
        case lb::type::registration_update:
            FUZZ_CHECK(n == 15 && p.group_id == lb::rd16(d + 3) && p.user_id == lb::rd32(d + 5) && p.ep == lb::rd_ep(d + 9));
            break;
        case lb::type::registration_removed:
            FUZZ_CHECK(n == 9 && p.group_id == lb::rd16(d + 3) && p.user_id == lb::rd32(d + 5));
            break;
        case lb::type::ack:
            FUZZ_CHECK(n == 3);
            break;
        case lb::type::request_serving_node:
            FUZZ_CHECK(n >= 3 && n <= lb::max_padded_len);
            for (size_t i = 3; i < n; ++i)
                FUZZ_CHECK(d[i] == 0);
            break;
        default:
            FUZZ_CHECK(!"parse accepted a type nobody sends to the Controlling Function");
        }
        return;
    }
    FUZZ_CHECK(why == drop::lb_empty || why == drop::lb_unknown_type || why == drop::lb_bad_len ||
               why == drop::lb_reply_type);
    FUZZ_CHECK((why == drop::lb_empty) == (n == 0));
}

// (b) The frame through the fast path, then the control lcore.
void check_frame(const uint8_t* d, size_t n)
{
    const unsigned in_use = rte_mempool_in_use_count(S->pool);
    size_t len;
    rte_mbuf* m = frame_mbuf(S->pool, d, n, &len);
    // The reply may grow into the tailroom (a 9-byte answer to a 3-byte request): leave room
    // for exactly that much, no more.
    poison_outside_data(m, 16);

    engine::burst_out out;
    const lcore_stats before = process_one(*S->ctx, S->st, m, now, out);
    const uint64_t n_tx = sum(out.n_tx);
    const uint64_t no_node = S->st.lb[unsigned(lbc::request_no_node)] - before.lb[unsigned(lbc::request_no_node)];
    const uint64_t lb_answered = S->st.lb[unsigned(lbc::request_answered)] - before.lb[unsigned(lbc::request_answered)] +
                                 (S->cfg.answer_no_node ? no_node : 0);
    FUZZ_CHECK(lb_answered == n_tx);
    FUZZ_CHECK(S->st.lb[unsigned(lbc::to_control)] - before.lb[unsigned(lbc::to_control)] == out.n_ctl);

    unpoison(m);
    if (out.n_drop) {
        FUZZ_CHECK(out.drop[0] == m);
        S->counts.drop++;
        rte_pktmbuf_free(m);
    } else if (out.n_exc) {
        FUZZ_CHECK(out.exc[0] == m && m->data_len == len && std::memcmp(rte_pktmbuf_mtod(m, const void*), d, len) == 0);
        S->counts.exc++;
        rte_pktmbuf_free(m);
    } else if (out.n_ctl) {
        FUZZ_CHECK(out.ctl[0] == m);
        S->counts.ctl++;
        const uint64_t applied = S->st.lb[unsigned(lbc::node_registered)] + S->st.lb[unsigned(lbc::refreshed)] +
                                 S->st.lb[unsigned(lbc::registration_updated)] + S->st.lb[unsigned(lbc::acked)];
        FUZZ_CHECK(engine::module_of(m) == S->mod->index());
        S->mod->control(&m, 1, now, S->st, S->io);  // consumes m
        if (S->st.lb[unsigned(lbc::node_registered)] + S->st.lb[unsigned(lbc::refreshed)] +
                S->st.lb[unsigned(lbc::registration_updated)] + S->st.lb[unsigned(lbc::acked)] != applied)
            S->counts.registered++;
    } else {
        FUZZ_CHECK(out.tx_port_mask == 1 && out.n_tx[0] == 1 && out.tx[0][0] == m);
        size_t plen;
        const uint8_t* p = check_sent(m, &plen);
        FUZZ_CHECK(plen == lb::serving_node_response_len && p[0] == 7);
        // The Request ID echoed from the input, and a live node (or none while none is live).
        FUZZ_CHECK(len >= pgtest::headers_len + 3 && std::memcmp(p + 1, d + pgtest::headers_len + 1, 2) == 0);
        const lb::endpoint e = lb::rd_ep(p + 3);
        const lb::table* t = S->cfg.current.load();
        FUZZ_CHECK(is_node(e) || (e == lb::endpoint{} && (!t || !t->n_nodes)));
        S->counts.forwarded++;
        S->counts.tx++;
        rte_pktmbuf_free(m);
    }
    drain_outbox();
    // Timers: retransmissions of what is pending (and the last try's verdict two ticks on).
    S->mod->tick(now + 1500 * hz / 1000, 1, S->st, S->io);
    drain_outbox();
    if (fingerprint() != S->fingerprint)
        rebuild_state();
    FUZZ_CHECK(rte_mempool_in_use_count(S->pool) == in_use);
}

} // namespace

const fuzz_counts& fuzz_router_counts() { return S->counts; }

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    (void)argc;
    S = new fuzz_state();
    std::memset(&S->st, 0, sizeof(S->st));
    S->pool = start((*argv)[0], "pgfuzzlb", 255);
    FUZZ_CHECK(S->pool);
    rebuild_state();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    check_codec(data, size);
    check_frame(data, size);
    return 0;
}

// ---- seeds (written to corpus/lb by fuzz_lb_replay --write-corpus DIR) ----
namespace fuzzenv {

std::vector<std::pair<std::string, bytes>> seed_frames()
{
    const host& a = nodes[0];
    auto truncated = [](bytes f, std::size_t n) {
        f.resize(n);
        return f;
    };
    const bytes rsn = from(outsider, {6, 0x12, 0x34});
    bytes bad_ck = rsn;
    pgtest::payload(bad_ck)[1] ^= 1;
    bytes self = rsn;
    pgtest::ipv4(self)->src_addr = ip_of(our_ip);
    pgtest::fix_cksums(self);
    return {
        {"request-serving-node", rsn},
        {"request-no-cksum", from(outsider, {6, 0, 1}, false)},
        {"register-node-new", from(outsider, reg(0, 7, outsider))},
        {"register-node-refresh", from(a, reg(0, 99, a))},
        {"register-node-duplicate", from(a, reg(0, 1, a))},
        {"register-node-moved-endpoint", from(a, {0, 0, 98, 198, 18, 0, 99, 0x30, 0x39})},
        {"register-controller", from(outsider, reg(1, 8, outsider))},
        {"ack-pending", from(nodes[2], {3, 0, 1})},
        {"ack-unmatched", from(outsider, {3, 0x55, 0x55})},
        {"registration-update", from(a, {4, 0, 60, 0, 7, 0, 0, 0, 2, 198, 18, 0, 41, 0x9c, 0x41})},
        {"registration-update-outsider", from(outsider, {4, 0, 61, 0, 7, 0, 0, 0, 2, 198, 18, 0, 41, 0x9c, 0x41})},
        {"registration-removed", from(a, {5, 0, 62, 0, 9, 0, 0, 0, 1})},
        {"lb-empty", from(outsider, {})},
        {"lb-bad-len", from(outsider, {6, 0})},
        {"lb-long", from(outsider, {6, 0, 1, 0})},
        {"lb-reply-type", from(outsider, {7, 0, 1, 1, 2, 3, 4, 5, 6})},
        {"lb-serving-nodes", from(outsider, {9, 0, 1, 1, 2, 3, 4, 5, 6})},
        {"lb-type-8", from(outsider, {8, 0, 1})},
        {"lb-unknown-type", from(outsider, {0xee, 0, 1})},
        {"lb-bad-cksum", bad_ck},
        {"lb-self-source", self},
        {"udp-other-port", from(outsider, {6, 0, 1}, true, 7201)},
        {"truncated-45", truncated(rsn, 45)},
        {"truncated-42", truncated(rsn, 42)},
        {"truncated-20", truncated(rsn, 20)},
    };
}

} // namespace fuzzenv
