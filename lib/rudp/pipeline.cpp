#include "rudp/pipeline.hpp"

#include <algorithm>
#include <cstring>

#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "common/app.hpp"
#include "crypto/aes_gcm.hpp"
#include "crypto/crc32.hpp"
#include "net/rewrite.hpp"
#include "net/source.hpp"

namespace peregrine::rudp {

static_assert(burst_size <= RTE_HASH_LOOKUP_BULK_MAX, "one bulk lookup per burst");
static_assert(burst_size + max_extra <= 2 * burst_size + engine::max_extra_frames, "fits the burst's outputs");

namespace {

// Inflating one datagram's body happens here (a message's goes to lcore_ctx::big).
alignas(64) thread_local uint8_t scratch[max_datagram + 64];

// Sequence distance ahead of the highest accepted beyond which a packet is refused (ERROR 3/4):
// half the 16-bit space, where an unencrypted sequence ID stops being unambiguous.
static constexpr uint64_t max_ahead = 1u << 15;

inline unsigned room(const rte_mbuf* m, const net::udp_view& v)
{
    const uint8_t* frame_end = rte_pktmbuf_mtod(m, const uint8_t*) + m->data_len;
    return static_cast<unsigned>(rte_pktmbuf_tailroom(m) + (frame_end - (v.data + v.len)));
}

// The ACK bits for ack: bit i says whether ack - 1 - i was accepted, from the window.
uint16_t ack_bits_of(const seq_window& w, uint64_t ack)
{
    uint16_t out = 0;
    for (unsigned i = 0; i < rudp::ack_bits && ack >= 1 + i; ++i)
        if (w.has(ack - 1 - i))
            out = static_cast<uint16_t>(out | 1u << i);
    return out;
}

// A second frame for the same client: the received headers copied (make_reply swaps them).
rte_mbuf* second_frame(rte_mbuf* src, const net::udp_view& sv, net::udp_view* v)
{
    rte_mbuf* m = rte_pktmbuf_alloc(src->pool);
    if (PG_UNLIKELY(!m))
        return nullptr;
    const uint8_t* base = rte_pktmbuf_mtod(src, const uint8_t*);
    const auto hdr = static_cast<uint32_t>(sv.data - base);
    if (PG_UNLIKELY(hdr + max_datagram > rte_pktmbuf_tailroom(m))) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    std::memcpy(d, base, hdr);
    m->data_len = static_cast<uint16_t>(hdr);
    m->pkt_len = hdr;
    m->port = src->port;
    v->eth = reinterpret_cast<rte_ether_hdr*>(d);
    v->ip = reinterpret_cast<rte_ipv4_hdr*>(d + (reinterpret_cast<const uint8_t*>(sv.ip) - base));
    v->udp = reinterpret_cast<rte_udp_hdr*>(d + (reinterpret_cast<const uint8_t*>(sv.udp) - base));
    v->data = d + hdr;
    v->len = 0;
    v->dst_port = sv.dst_port;
    return m;
}

// One burst of one worker: the passes of handle_burst and what they share.
struct burst {
    const config& cfg;
    const lcore_ctx& lc;
    lcore_stats& st;
    const net::port_addr& pa;
    uint16_t rx_port;
    rte_mbuf* const* m;
    net::udp_view* v;
    outcome* out;
    uint64_t now;
    rte_mbuf** extra;
    unsigned* n_extra;

    // Answers whose plaintext body is in place at v->data + header_len(flags), encoded in flag
    // order once the burst is decided: sequence number, CRC-32, deflate, AES-GCM, addresses.
    struct reply {
        rte_mbuf* m;
        net::udp_view* v;
        conn* c;   // nullptr: an ERROR to an endpoint with no connection (sequence 0, clear)
        int oi;    // index into the burst's outcomes, or -1 for a frame of our own
        type t;
        uint8_t flags;
        uint32_t plen;
    };
    reply r[burst_size * 2];
    unsigned n_r = 0;
    net::udp_view own_v[max_extra];  // views of frames of our own
    unsigned n_own = 0;
    bool ok_reliable = false;        // the server may send RELIABLE (a retransmitter runs)

    void add(rte_mbuf* mb, net::udp_view* vw, conn* c, int oi, type t, uint8_t flags, uint32_t plen)
    {
        r[n_r++] = {mb, vw, c, oi, t, flags, plen};
    }
    bool fits(unsigned i, unsigned bytes) const { return bytes <= v[i].len + room(m[i], v[i]); }

    // A frame of our own beside packet i, or nullptr (counted) when none is left.
    rte_mbuf* own(unsigned i, net::udp_view** vw)
    {
        if (PG_UNLIKELY(n_own >= max_extra)) {
            st.count(drop::rudp_no_mbuf);
            return nullptr;
        }
        rte_mbuf* a = second_frame(m[i], v[i], &own_v[n_own]);
        if (PG_UNLIKELY(!a)) {
            st.count(drop::rudp_no_mbuf);
            return nullptr;
        }
        *vw = &own_v[n_own++];
        return a;
    }

    // An ERROR in packet i's place: in clear to a stranger (never more bytes than it sent),
    // encrypted to a connection.
    void error(unsigned i, conn* c, uint8_t code)
    {
        const uint8_t fl = c ? flag::encrypted : 0;
        const unsigned len = header_len(fl) + 1 + (c ? tag_len : 0);
        if (!c && v[i].len < len) {
            out[i] = {action::drop, 0, drop::rudp_malformed};
            return;
        }
        if (PG_UNLIKELY(!fits(i, len))) {
            out[i] = {action::drop, 0, drop::rudp_no_room};
            return;
        }
        v[i].data[header_len(fl)] = code;
        add(m[i], &v[i], c, int(i), type::error, fl, 1);
        out[i] = {action::tx, rx_port, drop::count_};
        st.count(error_sent(code));
    }

    // An ACK of packet i (sequence ID seq, full number full) in its place.
    void ack_in_place(unsigned i, conn* c, uint8_t keep, uint16_t seq, uint64_t full)
    {
        const unsigned hl = header_len(keep);
        if (PG_UNLIKELY(!fits(i, hl + ack_fields + tag_len))) {
            out[i] = {action::drop, 0, drop::rudp_no_room};
            return;
        }
        write_ack(v[i].data + hl, seq, ack_bits_of(c->rx, full));
        add(m[i], &v[i], c, int(i), type::ack, keep, ack_fields);
        out[i] = {action::tx, rx_port, drop::count_};
        st.count(rdp::acks_sent);
    }

    void consume(unsigned i)
    {
        out[i] = {action::consume, 0, drop::count_};
        st.count(rdp::consumed);
    }

    // A client's ACK: to the retransmitter, if one runs.
    void client_ack(const conn* c, const ack_body& a)
    {
        st.count(rdp::acks_rx);
        if (!cfg.ack_ring)
            return;
        ack_event e{c->key, a.ack_id, a.bits, 0};
        if (PG_UNLIKELY(rte_ring_mp_enqueue_elem(cfg.ack_ring, &e, sizeof(e)) != 0))
            st.count(rdp::ack_ring_full);
    }

    void handle_fragment(unsigned i, conn* c, const header& p);
    uint8_t open_message(conn* c, const header& p, uint8_t* buf, uint32_t len, const uint8_t** plain,
                         uint32_t* plain_len);
    void deliver(unsigned i, conn* c, const header& p, const uint8_t* plain, uint32_t len);
    bool send_message(unsigned i, conn* c, uint8_t flags, const uint8_t* plain, uint32_t len);
    void encode();
};

// The application's answers on connection c (app::reply), for the message packet i delivered.
class app_reply final : public app::reply {
public:
    app_reply(burst& b, unsigned i, conn* c, uint8_t flags, const uint8_t* delivered, uint32_t len, bool in_place_ok)
        : b_(b), i_(i), c_(c), flags_(flags), delivered_(delivered), len_(len), in_place_ok_(in_place_ok)
    {
    }
    bool send(const uint8_t* data, uint32_t len, bool reliable) override
    {
        const uint8_t f = static_cast<uint8_t>((flags_ & (flag::checksum | flag::compressed | flag::encrypted)) |
                                               (reliable ? flag::reliable : 0));
        const bool ok = b_.send_message(i_, c_, f, data, len);
        if (ok)
            b_.st.count(rdp::app_sent);
        return ok;
    }
    // With the message's own flags; the message itself, unchanged, is echoed in its own mbuf.
    bool echo(const uint8_t* data, uint32_t len) override
    {
        if (in_place_ok_ && !in_place && data == delivered_ && len == len_) {
            in_place = true;
        } else if (!b_.send_message(i_, c_, flags_, data, len)) {
            return false;
        }
        b_.st.count(rdp::echoed);
        return true;
    }

    bool in_place = false;  // the pipeline writes the echo over the message

private:
    burst& b_;
    unsigned i_;
    conn* c_;
    uint8_t flags_;
    const uint8_t* delivered_;
    uint32_t len_;
    bool in_place_ok_;
};

// A DEFAULT message of any length to connection c, as frames of our own beside packet i: CRC-32
// of the plaintext, deflate (only if it saves bytes), AES-GCM over the whole, then fragments.
// False (counted) if it does not fit in what is left of the burst.
bool burst::send_message(unsigned i, conn* c, uint8_t flags, const uint8_t* plain, uint32_t len)
{
    header h;
    h.t = type::data;
    h.flags = flags & (flag::reliable | flag::checksum | flag::compressed | flag::encrypted);
    if (!ok_reliable)
        h.flags &= static_cast<uint8_t>(~flag::reliable);
    if (h.has(flag::checksum))
        h.crc = crypto::crc32(plain, len);
    const uint32_t plain_len = len;
    uint8_t* buf = lc.big[1];
    const uint8_t* src = plain;
    if (h.has(flag::compressed)) {
        const long z = lc.def->compress(plain, len, buf, len);
        if (z > 0 && uint32_t(z) < len) {
            src = buf;
            len = uint32_t(z);
        } else {
            h.flags &= static_cast<uint8_t>(~flag::compressed);
        }
    }
    const bool enc = h.has(flag::encrypted);
    const uint32_t total = len + (enc ? tag_len : 0);
    // One datagram holds at most 988 bytes of body and, inflated, of plaintext: a longer message
    // is fragmented even when it compresses into one.
    const unsigned k = total <= max_body && plain_len <= max_body ? 1 : std::max(2u, (total + max_body - 1) / max_body);
    if (PG_UNLIKELY(k > max_fragments || n_own + k > max_extra)) {
        st.count(rdp::send_failed);
        return false;
    }
    if (k > 1) {
        h.flags |= flag::frag;
        h.frag_count = static_cast<uint8_t>(k);
    }
    uint64_t base;
    if (enc ? PG_UNLIKELY(!c->take_encrypted(k, &base)) : (base = c->take_seq(k), false)) {
        st.count(drop::rudp_counter_exhausted);
        return false;
    }
    h.seq = static_cast<uint16_t>(base);
    h.iv = static_cast<uint16_t>(base >> 16);
    if (enc) {
        if (src != buf)
            std::memcpy(buf, src, len);
        uint8_t aad[max_header], nonce[crypto::gcm_iv_len];
        const unsigned al = message_aad(h, aad);
        make_nonce(c->tx_salt, message_counter(h), nonce);
        const crypto::gcm_op op{buf, buf, len, nonce, aad, al, buf + len};
        crypto::aes_gcm_encrypt_burst(*lc.mb, c->tx_key, &op, 1);
        src = buf;
        len = total;
    }
    const uint32_t chunk = (len + k - 1) / k;  // every fragment but the last this long
    for (unsigned f = 0; f < k; ++f) {
        net::udp_view* vw;
        rte_mbuf* a = own(i, &vw);
        if (!a)
            return false;  // the fragments sent so far: the client's reassembly times them out
        header fh = h;
        fh.seq = static_cast<uint16_t>(base + f);
        fh.frag_id = static_cast<uint8_t>(f);
        const unsigned hl = write_header(vw->data, &fh);
        const uint32_t off = f * chunk;
        const uint32_t n = std::min(chunk, len - off);
        std::memcpy(vw->data + hl, src + off, n);
        net::make_reply(a, *vw, static_cast<uint16_t>(hl + n), pa.mac);
        extra[(*n_extra)++] = a;
        st.count(rdp::extra);
        if (fh.has(flag::reliable) && cfg.sent_ring) {
            rte_mbuf* copy = rte_pktmbuf_clone(a, a->pool);
            if (!copy || rte_ring_mp_enqueue(cfg.sent_ring, copy) != 0) {
                rte_pktmbuf_free(copy);
                st.count(rdp::untracked);
            }
        }
    }
    return true;
}

// A reassembled message in buf: decrypt, inflate, check. Returns 0 with the plaintext in
// *plain, *plain_len, or the ERROR code to answer with.
uint8_t burst::open_message(conn* c, const header& p, uint8_t* buf, uint32_t len, const uint8_t** plain_out,
                            uint32_t* plain_len)
{
    if (p.has(flag::encrypted)) {
        if (len < tag_len)
            return err::init_vector;
        len -= tag_len;
        uint8_t aad[max_header], nonce[crypto::gcm_iv_len];
        const unsigned al = message_aad(p, aad);
        make_nonce(c->rx_salt, message_counter(p), nonce);
        const crypto::gcm_op op{buf, buf, len, nonce, aad, al, buf + len};
        bool ok = false;
        crypto::aes_gcm_decrypt_burst(*lc.mb, c->rx_key, &op, 1, &ok);
        if (!ok)
            return err::init_vector;
    }
    const uint8_t* plain = buf;
    if (p.has(flag::compressed)) {
        const crypto::inflate_result r = lc.inf->decompress(buf, len, lc.big[0], max_message);
        if (r.status != crypto::inflate_status::ok)
            return err::compression;
        plain = lc.big[0];
        len = r.out_len;
    }
    if (p.has(flag::checksum) && crypto::crc32(plain, len) != p.crc)
        return err::checksum;
    *plain_out = plain;
    *plain_len = len;
    return 0;
}

// An opened message, to the application.
void burst::deliver(unsigned i, conn* c, const header& p, const uint8_t* plain, uint32_t len)
{
    st.count(rdp::delivered);
    c->touch(now);
    if (cfg.app) {
        app_reply rep(*this, i, c, p.flags, plain, len, false);
        cfg.app->on_data({plain, len, p.has(flag::reliable), nullptr, 0, message_counter(p)}, rep);
    }
}

void burst::handle_fragment(unsigned i, conn* c, const header& p)
{
    const bool enc = p.has(flag::encrypted);
    const uint64_t top = c->rx.top;
    uint64_t full, base;
    if (enc) {
        base = message_counter(p);
        full = base + p.frag_id;
    } else {
        full = extend_seq(top, p.seq);
        if (full < p.frag_id) {
            error(i, c, err::fragment_id);
            return;
        }
        base = full - p.frag_id;
    }
    if (full > top + max_ahead) {
        error(i, c, err::sequence_id);
        return;
    }
    const uint8_t keep = p.flags & (flag::checksum | flag::encrypted);
    const bool reliable = p.has(flag::reliable);
    // The window is only peeked: fragments are not authenticated until the message is whole,
    // so a forged one must not take a sequence number from the real one.
    const replay seen = c->rx.peek(full);
    if (seen == replay::too_old) {
        error(i, c, err::sequence_id);
        return;
    }
    unsigned slot = 0;
    const reassembly::status r =
        seen == replay::duplicate ? reassembly::status::duplicate
                                  : cfg.reasm->add(c->key, base, p.frag_id, p.frag_count, v[i].data + p.len,
                                                   v[i].len - p.len, now, &slot);
    switch (r) {
    case reassembly::status::duplicate:
        if (reliable) {
            st.count(rdp::reacked);
            ack_in_place(i, c, keep, p.seq, full);
        } else {
            out[i] = {action::drop, 0, drop::rudp_duplicate};
        }
        return;
    case reassembly::status::bad_count:
        error(i, c, err::fragment_number);
        return;
    case reassembly::status::bad_length:
        error(i, c, err::fragment_id);
        return;
    case reassembly::status::full:
        error(i, c, err::no_space);
        return;
    case reassembly::status::stored:
        st.count(rdp::fragments_rx);
        if (reliable)
            ack_in_place(i, c, keep, p.seq, full);
        else
            consume(i);
        return;
    case reassembly::status::complete:
        break;
    }
    st.count(rdp::fragments_rx);
    // Any fragment's number already in the window makes the message a replay.
    bool fresh = true;
    for (unsigned f = 0; f < p.frag_count; ++f)
        fresh &= c->rx.peek(base + f) == replay::fresh;
    if (!fresh) {
        cfg.reasm->release(slot);
        out[i] = {action::drop, 0, drop::rudp_duplicate};
        return;
    }
    const uint8_t* plain = nullptr;
    uint32_t plain_len = 0;
    uint8_t code = open_message(c, p, cfg.reasm->data(slot), cfg.reasm->length(slot), &plain, &plain_len);
    if (!code && cfg.inspect) {
        // One message, scanned whole: a drop takes none of its numbers and gets no ACK.
        bool refuse = false;
        cfg.inspect->scan(&plain, &plain_len, 1, &refuse);
        if (refuse) {
            cfg.reasm->release(slot);
            out[i] = {action::drop, 0, drop::rudp_inspect_drop};
            return;
        }
    }
    // Every fragment's number into the window now.
    for (unsigned f = 0; f < p.frag_count; ++f)
        c->rx.check_and_set(base + f);
    if (!code)
        deliver(i, c, p, plain, plain_len);
    cfg.reasm->release(slot);
    st.count(rdp::reassembled);
    if (code && !reliable) {
        error(i, c, code);
        return;
    }
    if (code) {  // the fragment's own place holds its ACK: the ERROR goes in a frame of its own
        net::udp_view* vw;
        if (rte_mbuf* a = own(i, &vw)) {
            vw->data[header_len(flag::encrypted)] = code;
            add(a, vw, c, -1, type::error, flag::encrypted, 1);
            st.count(error_sent(code));
        }
    }
    if (reliable)
        ack_in_place(i, c, keep, p.seq, full);
    else
        consume(i);
}

void burst::encode()
{
    uint8_t nonce[burst_size * 2][crypto::gcm_iv_len];
    crypto::gcm_op ops[burst_size * 2];
    const crypto::gcm_key* keys[burst_size * 2];
    unsigned n_ops = 0;
    bool keep[burst_size * 2];
    auto refuse = [&](const reply& x, drop why) {
        if (x.oi >= 0) {
            out[x.oi] = {action::drop, 0, why};
        } else {
            st.count(why);
            rte_pktmbuf_free(x.m);
        }
    };
    for (unsigned k = 0; k < n_r; ++k) {
        reply& x = r[k];
        keep[k] = false;
        header h;
        h.t = x.t;
        h.flags = x.flags;
        const unsigned hl = header_len(x.flags);
        uint8_t* body = x.v->data + hl;
        uint64_t full = 0;
        if (x.c) {
            if (!h.has(flag::encrypted)) {
                full = x.c->take_seq(1);
            } else if (PG_UNLIKELY(!x.c->take_encrypted(1, &full))) {
                refuse(x, drop::rudp_counter_exhausted);
                continue;
            }
        }
        h.seq = static_cast<uint16_t>(full);
        h.iv = static_cast<uint16_t>(full >> 16);
        if (h.has(flag::checksum))
            h.crc = crypto::crc32(body, x.plen);
        if (h.has(flag::compressed)) {
            // Only when it saves bytes; otherwise the flag goes (the header keeps its length).
            const long z = lc.def->compress(body, x.plen, scratch, x.plen);
            if (z > 0 && uint32_t(z) < x.plen) {
                std::memcpy(body, scratch, size_t(z));
                x.plen = uint32_t(z);
            } else {
                h.flags &= static_cast<uint8_t>(~flag::compressed);
            }
        }
        write_header(x.v->data, &h);
        if (h.has(flag::encrypted)) {
            make_nonce(x.c->tx_salt, message_counter(h), nonce[n_ops]);
            ops[n_ops] = {body, body, x.plen, nonce[n_ops], x.v->data, h.len, body + x.plen};
            keys[n_ops++] = &x.c->tx_key;
            x.plen += tag_len;
        }
        x.plen += hl;
        keep[k] = true;
    }
    // One AES-GCM call per run of answers on the same connection (usually the whole burst).
    for (unsigned a = 0; a < n_ops;) {
        unsigned b = a + 1;
        while (b < n_ops && keys[b] == keys[a])
            ++b;
        crypto::aes_gcm_encrypt_burst(*lc.mb, *keys[a], ops + a, b - a);
        a = b;
    }
    for (unsigned k = 0; k < n_r; ++k) {
        if (!keep[k])
            continue;
        net::make_reply(r[k].m, *r[k].v, static_cast<uint16_t>(r[k].plen), pa.mac);
        if (r[k].oi < 0) {
            extra[(*n_extra)++] = r[k].m;
            st.count(rdp::extra);
        }
    }
}

// Scans the DEFAULT messages of pass 3 that the window has not seen (duplicates are only ACKed
// again); refused[i] for each a drop rule matched.
PG_NOINLINE void inspect_messages(const engine::inspection_point& pt, const header* h, conn* const* cs,
                                  const uint64_t* full, const net::udp_view* v, const uint32_t* plen,
                                  const bool* live, unsigned n, bool* refused)
{
    engine::inspection_batch b;
    for (unsigned i = 0; i < n; ++i)
        if (live[i] && h[i].t == type::data && cs[i]->rx.peek(full[i]) == replay::fresh)
            b.add(v[i].data + h[i].len, plen[i], i);
    b.scan(pt, refused);
}

} // namespace

void handle_burst(const config& cfg, const table& tab, lcore_stats& st, const net::port_addr* ports,
                  uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, unsigned n, uint64_t now, outcome* out,
                  rte_mbuf** extra, unsigned* n_extra)
{
    *n_extra = 0;
    const lcore_ctx* lc = cfg.lcore();
    if (PG_UNLIKELY(!lc)) {
        for (unsigned i = 0; i < n; ++i)
            out[i] = {action::drop, 0, drop::rudp_no_crypto};
        return;
    }
    burst b{cfg, *lc, st, ports[rx_port], rx_port, m, v, out, now, extra, n_extra};
    b.ok_reliable = cfg.sent_ring != nullptr;
    const uint32_t our_ip = ports[rx_port].ip_be;
    const auto lcore = static_cast<uint16_t>(rte_lcore_id());

    uint64_t keys[burst_size];
    for (unsigned i = 0; i < n; ++i)
        keys[i] = endpoint_key(v[i].ip->src_addr, v[i].udp->src_port);
    conn* cs[burst_size];
    tab.lookup(keys, n, cs);
    // The connections' first line, window and both keys (round keys and the first GHASH powers):
    // with a million connections each is a DRAM miss; started together, they overlap.
    for (unsigned i = 0; i < n; ++i)
        if (conn* c = cs[i]) {
            rte_prefetch0(c);
            rte_prefetch0(&c->rx);
            const auto* rk = reinterpret_cast<const uint8_t*>(&c->rx_key);
            const auto* tk = reinterpret_cast<const uint8_t*>(&c->tx_key);
            for (unsigned l = 0; l < 4; ++l) {
                rte_prefetch0(rk + l * RTE_CACHE_LINE_SIZE);
                rte_prefetch0(tk + l * RTE_CACHE_LINE_SIZE);
            }
        }

    // Pass 1: headers; handshakes to the control lcore; fragments to reassembly; gather what to
    // decrypt.
    header h[burst_size];
    uint64_t full[burst_size];
    uint32_t plen[burst_size];
    bool live[burst_size];
    uint8_t nonce[burst_size][crypto::gcm_iv_len];
    crypto::gcm_op ops[burst_size];
    uint8_t op_of[burst_size];
    unsigned n_ops = 0;
    auto auth_allowed = [&](unsigned i) {
        return !cfg.auth_limit || cfg.auth_limit->allow(v[i].ip->src_addr, now) == source_limiter::verdict::ok;
    };
    for (unsigned i = 0; i < n; ++i) {
        live[i] = false;
        if (PG_UNLIKELY(net::check_source(v[i], our_ip) != net::source::ok)) {
            out[i] = {action::drop, 0, drop::rudp_bad_source};
            continue;
        }
        conn* c = cs[i];
        uint8_t why;
        if (PG_UNLIKELY(!parse_header(v[i].data, v[i].len, &h[i], &why))) {
            b.error(i, c, why);
            continue;
        }
        const header& p = h[i];
        if (p.t == type::auth) {
            // A new handshake (on a live connection: the client started again; the new one
            // replaces it when it finishes).
            if (!auth_allowed(i)) {
                out[i] = {action::drop, 0, drop::rudp_rate_limited};
            } else if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
                out[i] = {action::drop, 0, drop::udp_bad_cksum};
            } else {
                st.count(rdp::auth_rx);
                out[i] = {action::control, 0, drop::count_};
            }
            continue;
        }
        if (!c) {
            if (p.t == type::ack && !p.has(flag::encrypted)) {
                if (PG_UNLIKELY(!net::udp_cksum_ok(m[i], v[i]))) {
                    out[i] = {action::drop, 0, drop::udp_bad_cksum};
                    continue;
                }
                st.count(rdp::finished_rx);
                out[i] = {action::control, 0, drop::count_};
            } else if (v[i].len >= header_len(0) + 1) {
                b.error(i, nullptr, err::connection);
            } else {
                out[i] = {action::drop, 0, drop::rudp_no_connection};
            }
            continue;
        }
        if (PG_UNLIKELY(c->closing_state() != 0)) {
            out[i] = {action::drop, 0, drop::rudp_closing};
            continue;
        }
        if (PG_UNLIKELY(!c->owned_by(lcore))) {
            out[i] = {action::drop, 0, drop::rudp_other_lcore};
            continue;
        }
        if (p.has(flag::frag)) {
            b.handle_fragment(i, c, p);
            continue;
        }
        const uint32_t blen = v[i].len - p.len;
        uint8_t* body = v[i].data + p.len;
        if (p.has(flag::encrypted)) {
            if (blen < tag_len) {
                b.error(i, c, err::init_vector);
                continue;
            }
            plen[i] = blen - tag_len;
            full[i] = message_counter(p);
            make_nonce(c->rx_salt, message_counter(p), nonce[n_ops]);
            ops[n_ops] = {body, body, plen[i], nonce[n_ops], v[i].data, p.len, body + plen[i]};
            op_of[n_ops++] = static_cast<uint8_t>(i);
        } else {
            plen[i] = blen;
            full[i] = extend_seq(c->rx.top, p.seq);
        }
        live[i] = true;
    }

    // Pass 2: every ENCRYPTED packet, one AES-GCM call per run of the same connection.
    bool ok[burst_size];
    for (unsigned a = 0; a < n_ops;) {
        unsigned e = a + 1;
        while (e < n_ops && cs[op_of[e]] == cs[op_of[a]])
            ++e;
        crypto::aes_gcm_decrypt_burst(*lc->mb, cs[op_of[a]]->rx_key, ops + a, e - a, ok + a);
        a = e;
    }
    for (unsigned k = 0; k < n_ops; ++k)
        if (PG_UNLIKELY(!ok[k])) {
            live[op_of[k]] = false;
            b.error(op_of[k], cs[op_of[k]], err::init_vector);
        }

    // Pass 3: inflate, CRC-32, the sequence number's range.
    for (unsigned i = 0; i < n; ++i) {
        if (!live[i])
            continue;
        conn* c = cs[i];
        const header& p = h[i];
        uint8_t* body = v[i].data + p.len;
        if (p.has(flag::compressed)) {
            const crypto::inflate_result r = lc->inf->decompress(body, plen[i], scratch, max_body);
            if (r.status != crypto::inflate_status::ok || !b.fits(i, p.len + r.out_len + tag_len)) {
                b.error(i, c, err::compression);
                live[i] = false;
                continue;
            }
            std::memcpy(body, scratch, r.out_len);
            plen[i] = r.out_len;
        }
        if (p.has(flag::checksum) && crypto::crc32(body, plen[i]) != p.crc) {
            b.error(i, c, err::checksum);
            live[i] = false;
            continue;
        }
        if (full[i] > c->rx.top + max_ahead) {
            b.error(i, c, err::sequence_id);
            live[i] = false;
        }
    }

    // Pass 4: inspection of the messages about to be delivered, back to back. A message a drop
    // rule matches takes no place in the window and gets no ACK (docs/inspection.md).
    bool refused[burst_size] = {};
    if (cfg.inspect)
        inspect_messages(*cfg.inspect, h, cs, full, v, plen, live, n, refused);

    // Pass 5: the replay window, then what the packet asks for.
    for (unsigned i = 0; i < n; ++i) {
        if (!live[i])
            continue;
        if (PG_UNLIKELY(refused[i])) {
            out[i] = {action::drop, 0, drop::rudp_inspect_drop};
            continue;
        }
        conn* c = cs[i];
        const header& p = h[i];
        uint8_t* body = v[i].data + p.len;
        const replay r = c->rx.check_and_set(full[i]);
        if (r == replay::too_old) {
            b.error(i, c, err::sequence_id);
            continue;
        }
        // Answers keep the request's CRC and encryption (FRAG never gets here, and the flags
        // dropped add no header field, so the body stays where it is).
        const uint8_t keep = p.flags & (flag::checksum | flag::encrypted);
        const bool reliable = p.has(flag::reliable);
        if (r == replay::duplicate) {
            // Our ACK was lost: acknowledge again, deliver nothing.
            ack_body a;
            if (p.t == type::data && reliable) {
                st.count(rdp::reacked);
                b.ack_in_place(i, c, keep, p.seq, full[i]);
            } else if (p.t == type::ack && !p.has(flag::encrypted) && parse_ack(body, plen[i], &a) && a.ack_id == 0 &&
                       a.data_len >= finished_len) {
                // The client's finished again: our confirmation was lost.
                const unsigned len = confirm_in_place(*lc, *c, v[i].data, p.seq);
                net::make_reply(m[i], v[i], static_cast<uint16_t>(len), ports[rx_port].mac);
                out[i] = {action::tx, rx_port, drop::count_};
                st.count(rdp::acks_sent);
            } else {
                out[i] = {action::drop, 0, drop::rudp_duplicate};
            }
            continue;
        }
        c->touch(now);
        switch (p.t) {
        case type::data: {
            st.count(rdp::delivered);
            const bool enc = p.has(flag::encrypted);
            // The echo of the message unchanged is written in place when it fits one datagram as
            // it is and no RELIABLE copy is kept; anything else the application sends goes
            // through send_message (new frames, which copy the bytes before the ACK takes their
            // place).
            app_reply rep(b, i, c, p.flags, body, plen[i],
                      !(reliable && b.ok_reliable) && plen[i] + (enc ? tag_len : 0) <= max_body);
            if (cfg.app)
                cfg.app->on_data({body, plen[i], reliable, nullptr, 0, full[i]}, rep);
            const bool in_place = rep.in_place;
            if (in_place) {
                if (reliable) {
                    net::udp_view* av;
                    rte_mbuf* a = b.own(i, &av);
                    if (PG_UNLIKELY(!a)) {
                        // No ACK: the client sends again and gets its echo and its ACK then.
                        out[i] = {action::drop, 0, drop::rudp_no_mbuf};
                        continue;
                    }
                    write_ack(av->data + header_len(keep), p.seq, ack_bits_of(c->rx, full[i]));
                    b.add(a, av, c, -1, type::ack, keep, ack_fields);
                    st.count(rdp::acks_sent);
                }
                b.add(m[i], &v[i], c, int(i), type::data, p.flags & (keep | flag::compressed), plen[i]);
                out[i] = {action::tx, rx_port, drop::count_};
            } else if (reliable) {
                b.ack_in_place(i, c, keep, p.seq, full[i]);
            } else {
                b.consume(i);
            }
            break;
        }
        case type::ack: {
            ack_body a;
            if (!parse_ack(body, plen[i], &a)) {
                b.error(i, c, err::packet);
                continue;
            }
            b.client_ack(c, a);
            b.consume(i);
            break;
        }
        case type::heartbeat:
            if (plen[i] < 1 || body[0] > pong) {
                b.error(i, c, err::packet);
                continue;
            }
            if (body[0] == ping) {
                body[0] = pong;  // the data is echoed
                b.add(m[i], &v[i], c, int(i), type::heartbeat, p.flags & (keep | flag::compressed), plen[i]);
                out[i] = {action::tx, rx_port, drop::count_};
                st.count(rdp::pings);
            } else {
                st.count(rdp::pongs_rx);
                b.consume(i);
            }
            break;
        case type::error:
            if (plen[i] < 1) {
                b.error(i, c, err::packet);
                continue;
            }
            if (body[0] == err::client_disconnect) {
                c->mark_closing(conn::closing_disconnect);
                out[i] = {action::control, 0, drop::count_};
            } else {
                st.count(rdp::errors_rx);
                b.consume(i);
            }
            break;
        default:
            b.error(i, c, err::packet_type);
            break;
        }
    }
    b.encode();
}

} // namespace peregrine::rudp
