#include "rudp/service.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_errno.h>

namespace peregrine::rudp {

namespace {
engine::telemetry_slot<service> g;

int cmd_rudp(const char*, const char*, rte_tel_data* d)
{
    const lcore_stats s = g.tel->sum();
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const service& v = *g.svc;
    rte_tel_data_add_dict_u64(d, "udp_port", v.opt_.port);
    rte_tel_data_add_dict_string(d, "app", std::string(v.app_->name()).c_str());
    const handshake_counters h = v.hs_->counters();
    const table_counters c = v.tab_->counters();
    engine::add_u64s(d, {{"connections", v.tab_->size()},
                         {"capacity", v.tab_->capacity()},
                         {"timeout_s", v.opt_.timeout_s},
                         {"certificate", !v.id_.der.empty()},
                         {"client_ca", v.client_ca_ != nullptr},
                         {"half_open", v.hs_->half_open()},
                         {"reassembling", v.reasm_.in_use()},
                         {"reassembly_contexts", v.reasm_.contexts()},
                         {"reassembly_timed_out", v.reasm_.timed_out()},
                         {"unacked", v.rt_ ? v.rt_->pending() : 0},
                         {"handshake_answered", h.answered},
                         {"handshake_repeated", h.repeated},
                         {"handshake_short_auth", h.short_auth},
                         {"handshake_bad_auth", h.bad_auth},
                         {"handshake_bad_key", h.bad_key},
                         {"handshake_bad_cert", h.bad_cert},
                         {"handshake_half_open_full", h.half_open_full},
                         {"handshake_finished", h.finished},
                         {"handshake_bad_finished", h.bad_finished},
                         {"handshake_none", h.no_handshake},
                         {"handshake_expired", h.expired},
                         {"opened", c.opened},
                         {"replaced", c.replaced},
                         {"closed", c.closed},
                         {"expired", c.expired},
                         {"refused_full", c.full}});
    engine::add_named(d, rdp_name, s.rudp);
    return 0;
}
// /peregrine/rudp/conn,A.B.C.D:PORT: one connection by its client's endpoint.
int cmd_conn(const char*, const char* params, rte_tel_data* d)
{
    if (!params)
        return -EINVAL;
    const std::string p = params;
    const size_t colon = p.rfind(':');
    in_addr a{};
    char* end = nullptr;
    const unsigned long port = colon == std::string::npos ? 0 : std::strtoul(p.c_str() + colon + 1, &end, 10);
    if (colon == std::string::npos || inet_pton(AF_INET, p.substr(0, colon).c_str(), &a) != 1 || !end || *end ||
        port == 0 || port > 65535)
        return -EINVAL;
    rte_tel_data_start_dict(d);
    std::lock_guard<std::mutex> lk(*g.tel->mu);
    if (!g.svc)
        return -ENODEV;
    const engine::rcu_reader rd(*g.tel);
    const conn* c = g.svc->tab_->find(endpoint_key(a.s_addr, rte_cpu_to_be_16(uint16_t(port))));
    const uint64_t now = rte_rdtsc();
    rte_tel_data_add_dict_string(d, "endpoint", params);
    rte_tel_data_add_dict_u64(d, "open", c != nullptr && !c->expired(now, g.svc->cfg_.timeout_tsc));
    if (c) {
        engine::add_endpoint(d, c->ip_be, c->port_be, c->port_id);
        engine::add_u64s(d, {{"number", c->number},
                             {"client_highest_seq", c->rx.top},
                             {"server_next_seq", std::atomic_ref<const uint64_t>(c->tx_seq).load()},
                             {"owner_lcore", c->owner},
                             {"idle_ms", engine::ms_since(now, c->seen())}});
    }
    return 0;
}
} // namespace

service::~service()
{
    g.detach();
    mod_.reset();
    rt_.reset();  // frees the frames it kept
    if (sent_ring_) {
        rte_mbuf* m;
        while (rte_ring_dequeue(sent_ring_, reinterpret_cast<void**>(&m)) == 0)
            rte_pktmbuf_free(m);
    }
    rte_ring_free(sent_ring_);
    rte_ring_free(ack_ring_);
}

std::string service::describe() const
{
    return "RUDP on UDP " + std::to_string(opt_.port) + ": app " + std::string(app_->name()) +
           ", X25519 + AES-128-GCM" + (id_.der.empty() ? ", no certificate" : ", certificate") +
           (client_ca_ ? ", client certificates required" : "") + ", timeout " + std::to_string(opt_.timeout_s) +
           " s, up to " + std::to_string(opt_.max_connections) + " connections";
}

void register_telemetry(const engine::telemetry_env* t)
{
    g.tel = t;
    rte_telemetry_register_cmd("/peregrine/rudp", cmd_rudp, "RUDP counters, handshakes and connections. No parameters");
    rte_telemetry_register_cmd("/peregrine/rudp/conn", cmd_conn, "One RUDP connection. Parameters: A.B.C.D:PORT of its client");
}

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note)
{
    (void)note;
    if (o.off)
        return nullptr;
    auto svc = std::make_unique<service>(o);
    if (o.cert.empty() != o.key.empty()) {
        *err = "--rudp-cert and --rudp-key go together";
        return nullptr;
    }
    if (!o.cert.empty()) {
        if (!load_identity(o.cert, o.key, &svc->id_, err))
            return nullptr;
        uint8_t th[32] = {}, sig[128];
        const size_t sl = sign_transcript(svc->id_, th, sig, 80);
        if (!sl || answer_len(svc->id_.der.size(), 80) > base_header + max_body) {
            *err = "--rudp-cert: the certificate (" + std::to_string(svc->id_.der.size()) +
                   " bytes DER) and its signature must fit the answer to a padded AUTH: use an ECDSA P-256 or "
                   "Ed25519 key and a certificate under " +
                   std::to_string(base_header + max_body - answer_len(0, 80)) + " bytes";
            return nullptr;
        }
    }
    if (!o.client_ca.empty()) {
        svc->client_ca_ = load_ca(o.client_ca, err);
        if (!svc->client_ca_)
            return nullptr;
    }
    table::params tp;
    tp.capacity = o.max_connections;
    tp.rcu = e.ctx->rcu;
    tp.socket_id = e.socket;
    svc->tab_.reset(table::create(tp));
    if (!svc->tab_) {
        *err = "cannot create an RUDP connection table for " + std::to_string(o.max_connections) +
               " connections: " + rte_strerror(rte_errno) + " (more hugepages, or a smaller --rudp-max-connections)";
        return nullptr;
    }
    config& c = svc->cfg_;
    if (e.ctx->inspect)
        c.inspect = e.ctx->inspect->point("rudp");
    for (unsigned l : e.lcores) {
        auto mb = crypto::mb_context::create();
        auto def = crypto::deflater::create(1);
        auto inf = crypto::inflater::create();
        if (!mb || !def || !inf) {
            *err = "cannot create the RUDP crypto and compression contexts of lcore " + std::to_string(l);
            return nullptr;
        }
        std::unique_ptr<uint8_t[]> b0(new (std::nothrow) uint8_t[max_message + tag_len + 64]);
        std::unique_ptr<uint8_t[]> b1(new (std::nothrow) uint8_t[max_message + tag_len + 64]);
        if (!b0 || !b1) {
            *err = "cannot allocate the RUDP message buffers of lcore " + std::to_string(l);
            return nullptr;
        }
        c.lc[l] = {mb.get(), def.get(), inf.get(), {b0.get(), b1.get()}};
        svc->big_.push_back(std::move(b0));
        svc->big_.push_back(std::move(b1));
        svc->mb_.push_back(std::move(mb));
        svc->def_.push_back(std::move(def));
        svc->inf_.push_back(std::move(inf));
    }
    const uint64_t hz = rte_get_tsc_hz();
    handshake_config hc;
    hc.id = svc->id_.der.empty() ? nullptr : &svc->id_;
    hc.client_ca = svc->client_ca_.get();
    hc.max_half_open = o.max_half_open;
    hc.half_open_tsc = uint64_t(o.handshake_timeout_s) * hz;
    svc->hs_ = std::make_unique<handshaker>(hc);
    svc->limit_.init(o.auth_rate, 2 * uint64_t(o.auth_rate), o.auth_global_rate, 2 * uint64_t(o.auth_global_rate), hz);
    reassembly::params rp;
    rp.contexts = static_cast<uint32_t>(uint64_t(o.reassembly_mb) * 1024 * 1024 / reassembly::buffer_bytes);
    rp.contexts = std::max<uint32_t>(rp.contexts, 1);
    rp.timeout_tsc = uint64_t(o.reassembly_timeout_s) * hz;
    if (!svc->reasm_.init(rp)) {
        *err = "cannot allocate " + std::to_string(o.reassembly_mb) + " MiB for RUDP reassembly";
        return nullptr;
    }
    c.reasm = &svc->reasm_;
    if (o.max_unacked) {
        // Rings a tick's worth of traffic fits in; what does not fit is sent untracked (counted).
        svc->sent_ring_ = rte_ring_create("pg_rudp_sent", 8192, e.socket, RING_F_SC_DEQ);
        svc->ack_ring_ = rte_ring_create_elem("pg_rudp_acks", sizeof(ack_event), 8192, e.socket, RING_F_SC_DEQ);
        if (!svc->sent_ring_ || !svc->ack_ring_) {
            *err = std::string("cannot create the RUDP retransmission rings: ") + rte_strerror(rte_errno);
            return nullptr;
        }
        retransmitter::params xp;
        xp.initial_rto = uint64_t(o.rto_ms) * hz / 1000;
        xp.min_rto = hz / 100;  // 10 ms: below that a descheduled client looks lost
        xp.max_rto = std::max<uint64_t>(xp.initial_rto, 2 * hz);
        xp.max_tries = o.max_tries;
        xp.max_pending = o.max_unacked;
        svc->rt_ = std::make_unique<retransmitter>(xp);
        c.sent_ring = svc->sent_ring_;
        c.ack_ring = svc->ack_ring_;
    }
    c.udp_port = o.port;
    c.timeout_tsc = uint64_t(o.timeout_s) * hz;
    svc->app_ = app::make_app(o.app == 0 ? "echo" : "discard");
    c.app = svc->app_.get();
    c.auth_limit = &svc->limit_;
    svc->mod_ = std::make_unique<rudp::module>(c, *svc->tab_, *svc->hs_, svc->rt_.get(), e.pool);
    engine::module& mod = *svc->mod_;
    return engine::plug(std::move(svc), mod, e, g, err);
}

} // namespace peregrine::rudp
