// libFuzzer target for the router fast path. Each input is used twice:
//  (a) as a router datagram for router::parse (from libFuzzer's exact-size buffer, so ASan
//      catches any over-read), with the result checked against the wire format;
//  (b) as a whole Ethernet frame received on port 0 of an engine whose registry holds a few
//      clients: engine::process_burst, then router::apply_register for what goes to the control
//      lcore. Outside the frame's bytes the mbuf's buffer is ASan-poisoned, so reading or
//      writing past data_len is a crash. Every input mbuf must come out exactly once, the
//      counters must add up, replies must be well-formed, and the mempool must get every mbuf
//      back (no leak). A failed check aborts.
// Along the way, the engine's own checksum code is compared with DPDK's reference functions.
// The registry is restored after each input, so an input's outcome never depends on earlier
// ones (reproducible crashes).

#include <cstring>
#include <memory>

#include "fuzz_engine.hpp"
#include "fuzz_env.hpp"
#include "fuzz_router.hpp"
#include "router/codec.hpp"
#include "router/module.hpp"

using namespace peregrine;
using namespace fuzz_engine;

namespace {

struct fuzz_state {
    rte_mempool* pool = nullptr;
    std::unique_ptr<engine::context> ctx;
    router::registry* reg = nullptr;
    router::config cfg;
    std::unique_ptr<router::module> mod;
    engine::control_io io;
    lcore_stats st;
    fuzz_counts counts;
};
fuzz_state* S = nullptr;

constexpr uint64_t now = 1'000'000;

uint32_t ip_of(const uint8_t (&a)[4]) { return pgtest::ip4(a[0], a[1], a[2], a[3]); }

router::endpoint endpoint_of(const fuzzenv::client& c)
{
    return {ip_of(c.ip), rte_cpu_to_be_16(c.udp_port), c.port_id, pgtest::mac(c.mac_lo)};
}

bool is_seed_id(uint32_t id)
{
    for (const auto& c : fuzzenv::registered)
        if (c.id == id)
            return true;
    return false;
}

void restore_registry()
{
    for (const auto& c : fuzzenv::registered)
        FUZZ_CHECK(S->reg->upsert(c.id, endpoint_of(c), now) != router::upsert_result::full);
    S->reg->reclaim();
}

// (a) The codec against the wire format.
void check_codec(const uint8_t* d, size_t n)
{
    router::packet p;
    drop why = drop::count_;
    if (router::parse(d, n, &p, &why)) {
        switch (p.t) {
        case router::type::register_client:
            FUZZ_CHECK(n == 5 && d[0] == 0x00 && p.client_id == router::read_id(d + 1));
            break;
        case router::type::message:
            FUZZ_CHECK(n >= 5 && n <= router::max_message_len && d[0] == 0x02 && p.client_id == router::read_id(d + 1));
            break;
        case router::type::heartbeat:
            FUZZ_CHECK(n == 1 && d[0] == 0x04);
            break;
        default:
            FUZZ_CHECK(!"parse accepted a type a client never sends");
        }
        return;
    }
    FUZZ_CHECK(why == drop::router_empty || why == drop::router_unknown_type || why == drop::router_bad_len ||
               why == drop::router_too_long || why == drop::router_reply_type);
    FUZZ_CHECK((why == drop::router_empty) == (n == 0));
}

// The engine's software checksum paths against DPDK's reference functions (differential).
void check_checksums(rte_mbuf* m)
{
    net::udp_view v;
    const net::classification c = net::classify(m, S->ctx->ports[0], &v);
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    if (c.v == net::verdict::drop && c.d == drop::ipv4_bad_cksum)
        FUZZ_CHECK(rte_raw_cksum(ip, rte_ipv4_hdr_len(ip)) != 0xffff);
    if (c.v == net::verdict::local_udp) {
        FUZZ_CHECK(rte_raw_cksum(ip, rte_ipv4_hdr_len(ip)) == 0xffff);
        const bool ref = v.udp->dgram_cksum == 0 || rte_ipv4_udptcp_cksum_verify(v.ip, v.udp) == 0;
        FUZZ_CHECK(net::udp_cksum_ok(m, v) == ref);
    }
}

bool ip_cksum_ok(const rte_ipv4_hdr* ip) { return rte_raw_cksum(ip, sizeof(*ip)) == 0xffff; }

// A frame the engine sends: well-formed IPv4/UDP from the engine's router port, never longer
// than what came in.
void check_tx(rte_mbuf* m, uint16_t port, size_t in_len, const uint8_t* in)
{
    FUZZ_CHECK(port < 2);
    FUZZ_CHECK(m->nb_segs == 1 && m->data_len == m->pkt_len && m->data_len <= in_len);
    FUZZ_CHECK(m->data_len >= pgtest::headers_len + 1);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const auto* data = reinterpret_cast<const uint8_t*>(udp + 1);
    const net::port_addr& pa = S->ctx->ports[port];
    FUZZ_CHECK(rte_is_same_ether_addr(&eth->src_addr, &pa.mac));
    FUZZ_CHECK(ip->version_ihl == RTE_IPV4_VHL_DEF && ip_cksum_ok(ip));
    FUZZ_CHECK(ip->src_addr == pa.ip_be);
    FUZZ_CHECK(udp->src_port == rte_cpu_to_be_16(fuzzenv::router_port));
    const size_t ip_end = pgtest::l2_len + rte_be_to_cpu_16(ip->total_length);
    FUZZ_CHECK(rte_be_to_cpu_16(udp->dgram_len) + sizeof(rte_ipv4_hdr) == rte_be_to_cpu_16(ip->total_length));
    FUZZ_CHECK(ip_end <= m->data_len);
    const size_t plen = ip_end - pgtest::headers_len;
    if (data[0] == 0x02) {
        // Forwarded: the datagram's payload is untouched (the input had a 20-byte IPv4 header),
        // and so is any Ethernet padding after it.
        FUZZ_CHECK(m->data_len == in_len);
        FUZZ_CHECK(plen >= 5 && std::memcmp(data, in + pgtest::headers_len, in_len - pgtest::headers_len) == 0);
        const router::entry* e = S->reg->find_id(router::read_id(data + 1));
        FUZZ_CHECK(e && e->port_id == port && ip->dst_addr == e->ip_be && udp->dst_port == e->udp_port_be);
        S->counts.forwarded++;
    } else {
        // Answered: Heartbeat Response or Unknown Recipient, with a fresh UDP checksum.
        FUZZ_CHECK(ip_end == m->data_len);
        FUZZ_CHECK((data[0] == 0x05 && plen == 1) || (data[0] == 0x03 && plen == 5));
        FUZZ_CHECK(udp->dgram_cksum != 0 && rte_ipv4_udptcp_cksum_verify(ip, udp) == 0);
        S->counts.answered++;
    }
}

// What the control lcore does with a Register Client the worker handed over: the module's
// control half, as the daemon's control lcore calls it. Consumes m.
void apply_register(rte_mbuf* m)
{
    const auto* d = rte_pktmbuf_mtod_offset(m, const uint8_t*, pgtest::headers_len);
    const auto* udp = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, pgtest::headers_len - sizeof(rte_udp_hdr));
    FUZZ_CHECK(rte_be_to_cpu_16(udp->dgram_len) == sizeof(rte_udp_hdr) + router::register_len && d[0] == 0x00);
    FUZZ_CHECK(engine::module_of(m) == S->mod->index());
    const uint32_t id = router::read_id(d + 1);
    const uint64_t full_before = S->st.drops[unsigned(drop::registry_full)];
    S->mod->control(&m, 1, now, S->st, S->io);
    unpoison(m);  // the buffer stays in the pool, freed or not: lift the poison before reuse
    if (S->io.n_replies() == 1) {
        FUZZ_CHECK(S->io.replies()[0] == m && S->reg->find_id(id) != nullptr);
        FUZZ_CHECK(m->data_len == pgtest::headers_len + 1 && d[0] == 0x01);
        S->counts.registered++;
        rte_pktmbuf_free(m);
    } else {
        FUZZ_CHECK(S->io.n_replies() == 0 && S->st.drops[unsigned(drop::registry_full)] == full_before + 1);
    }
    S->io.clear_replies();
    if (!is_seed_id(id))
        S->reg->remove(id);
}

// (b) The frame through the fast path.
void check_frame(const uint8_t* d, size_t n)
{
    const unsigned in_use = rte_mempool_in_use_count(S->pool);
    size_t len;
    rte_mbuf* m = frame_mbuf(S->pool, d, n, &len);
    poison_outside_data(m);
    check_checksums(m);

    // Accounting: the one mbuf comes out exactly once, and its fate is counted exactly once.
    engine::burst_out out;
    const lcore_stats before = process_one(*S->ctx, S->st, m, now, out);
    const uint64_t n_tx = sum(out.n_tx);
    FUZZ_CHECK(sum(S->st.router) - sum(before.router) == n_tx + out.n_ctl);

    if (out.n_drop) {
        FUZZ_CHECK(out.drop[0] == m);
        S->counts.drop++;
    } else if (out.n_exc) {
        FUZZ_CHECK(out.exc[0] == m && m->data_len == len);
        FUZZ_CHECK(std::memcmp(rte_pktmbuf_mtod(m, const void*), d, len) == 0);
        S->counts.exc++;
    } else if (out.n_ctl) {
        FUZZ_CHECK(out.ctl[0] == m && m->data_len >= pgtest::headers_len + router::register_len);
        S->counts.ctl++;
        apply_register(m);  // consumes m
        FUZZ_CHECK(rte_mempool_in_use_count(S->pool) == in_use);
        restore_registry();
        return;
    } else {
        const uint16_t port = static_cast<uint16_t>(__builtin_ctzll(out.tx_port_mask));
        FUZZ_CHECK(out.tx_port_mask == (1ull << port) && out.n_tx[port] == 1 && out.tx[port][0] == m);
        check_tx(m, port, len, d);
        S->counts.tx++;
    }

    unpoison(m);
    rte_pktmbuf_free(m);
    FUZZ_CHECK(rte_mempool_in_use_count(S->pool) == in_use);
    restore_registry();
}

} // namespace

const fuzz_counts& fuzz_router_counts() { return S->counts; }

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
{
    (void)argc;
    S = new fuzz_state();
    std::memset(&S->st, 0, sizeof(S->st));
    S->pool = start((*argv)[0], "pgfuzz", 63);
    router::registry::params p;
    p.name = "fuzz";
    p.capacity = 8;
    p.max_readers = 1;
    p.socket_id = SOCKET_ID_ANY;
    S->reg = router::registry::create(p);
    FUZZ_CHECK(S->pool && S->reg);

    S->ctx = make_context({{fuzzenv::ports[0].mac_lo, ip_of(fuzzenv::ports[0].ip)},
                           {fuzzenv::ports[1].mac_lo, ip_of(fuzzenv::ports[1].ip)}});
    S->cfg.udp_port = fuzzenv::router_port;
    S->cfg.heartbeat_timeout_tsc = 1ull << 40;
    S->mod = std::make_unique<router::module>(S->cfg, *S->reg);
    FUZZ_CHECK(S->ctx->add(S->mod.get()));
    S->io.ports = S->ctx->ports;
    restore_registry();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    check_codec(data, size);
    check_frame(data, size);
    return 0;
}
