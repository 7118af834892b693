// A kernel-socket router-protocol server: the baseline a user would run without kernel bypass
// (perf/compare.py runs it in a network namespace behind a veth pair). Same semantics as
// Peregrine (docs/protocols/router.md): Register Client -> response (moves and displacement as
// in the engine, nothing when full), Heartbeat from a registered endpoint -> response,
// Individual Message -> forwarded unchanged to the recipient's endpoint or Unknown Recipient.
// Tuned the way one would tune it honestly: one socket, recvmmsg/sendmmsg in batches of 64,
// a large SO_RCVBUF/SO_SNDBUF, optional SO_BUSY_POLL, registry in hash maps reserved up
// front (no rehash under load). One thread: pin it with taskset.
//
//   router_server --addr 198.18.0.1 [--port 7100] [--max-clients N] [--busy-poll US]
//                 [--rcvbuf BYTES] [--batch N]
// Prints its counters on SIGINT/SIGTERM and exits 0.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr unsigned max_batch = 256;
constexpr size_t max_dgram = 1405;
constexpr size_t buf_size = 2048;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

uint64_t ep_key(const sockaddr_in& a) { return (uint64_t(a.sin_addr.s_addr) << 16) | a.sin_port; }

struct counters {
    uint64_t rx = 0, tx = 0, registered = 0, reregistered = 0, moved = 0, displaced = 0, full = 0;
    uint64_t hb = 0, hb_unregistered = 0, forwarded = 0, unknown = 0, invalid = 0, send_fail = 0;
};

uint32_t read_id(const uint8_t* p)
{
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

} // namespace

int main(int argc, char** argv)
{
    std::string addr;
    unsigned port = 7100, batch = 64, busy_poll = 0;
    size_t max_clients = 1u << 20;
    int rcvbuf = 64 << 20;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "router_server: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--addr")
            addr = val();
        else if (a == "--port")
            port = unsigned(std::strtoul(val(), nullptr, 10));
        else if (a == "--max-clients")
            max_clients = std::strtoull(val(), nullptr, 10);
        else if (a == "--busy-poll")
            busy_poll = unsigned(std::strtoul(val(), nullptr, 10));
        else if (a == "--rcvbuf")
            rcvbuf = int(std::strtol(val(), nullptr, 10));
        else if (a == "--batch")
            batch = unsigned(std::strtoul(val(), nullptr, 10));
        else {
            std::fprintf(stderr, "usage: router_server --addr A.B.C.D [--port N] [--max-clients N] [--busy-poll US] "
                                 "[--rcvbuf BYTES] [--batch N]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    if (batch == 0 || batch > max_batch || port == 0 || port > 65535 || max_clients == 0) {
        std::fprintf(stderr, "router_server: bad --batch (1..%u), --port or --max-clients\n", max_batch);
        return 2;
    }
    sockaddr_in me{};
    me.sin_family = AF_INET;
    me.sin_port = htons(uint16_t(port));
    if (inet_pton(AF_INET, addr.empty() ? "0.0.0.0" : addr.c_str(), &me.sin_addr) != 1) {
        std::fprintf(stderr, "router_server: --addr '%s' is not an IPv4 address\n", addr.c_str());
        return 2;
    }
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&me), sizeof(me)) != 0) {
        std::perror("router_server: socket/bind");
        return 1;
    }
    // SO_*BUFFORCE (root) goes past net.core.rmem_max; fall back to the capped call.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof(rcvbuf));
    if (busy_poll) {
        const int bp = int(busy_poll);
        if (setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &bp, sizeof(bp)) != 0)
            std::perror("router_server: SO_BUSY_POLL (ignored)");
    }
    timeval tv{0, 200000};  // wake up to notice signals
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    struct entry {
        sockaddr_in ep;
    };
    std::unordered_map<uint32_t, entry> by_id;
    std::unordered_map<uint64_t, uint32_t> by_ep;
    by_id.reserve(max_clients);
    by_ep.reserve(max_clients);

    std::vector<uint8_t> bufs(size_t(batch) * buf_size);
    std::vector<uint8_t> out_small(size_t(batch) * 8);
    std::vector<mmsghdr> in(batch), out(batch);
    std::vector<iovec> in_iov(batch), out_iov(batch);
    std::vector<sockaddr_in> from(batch), to(batch);
    for (unsigned i = 0; i < batch; ++i) {
        in_iov[i] = {bufs.data() + size_t(i) * buf_size, buf_size};
        in[i].msg_hdr = {};
        in[i].msg_hdr.msg_iov = &in_iov[i];
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &from[i];
        in[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    counters c;
    std::printf("router_server: listening on %s:%u, batch %u, up to %zu clients\n", addr.c_str(), port, batch,
                max_clients);
    std::fflush(stdout);

    while (!g_stop) {
        for (unsigned i = 0; i < batch; ++i)
            in[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        const int n = recvmmsg(fd, in.data(), batch, MSG_WAITFORONE, nullptr);
        if (n <= 0)
            continue;
        c.rx += unsigned(n);
        unsigned m = 0;
        for (int i = 0; i < n; ++i) {
            uint8_t* d = bufs.data() + size_t(i) * buf_size;
            const size_t len = in[i].msg_len;
            const sockaddr_in& src = from[i];
            uint8_t* reply = out_small.data() + size_t(m) * 8;
            size_t rlen = 0;
            const sockaddr_in* dst = &src;
            if (len == 0) {
                ++c.invalid;
                continue;
            }
            switch (d[0]) {
            case 0x00: {  // Register Client
                if (len != 5) {
                    ++c.invalid;
                    break;
                }
                const uint32_t id = read_id(d + 1);
                const uint64_t k = ep_key(src);
                auto e = by_ep.find(k);
                if (e != by_ep.end() && e->second != id) {  // this endpoint held another ID: displaced
                    by_id.erase(e->second);
                    by_ep.erase(e);
                    ++c.displaced;
                }
                auto it = by_id.find(id);
                if (it != by_id.end()) {
                    if (ep_key(it->second.ep) != k) {  // moved
                        by_ep.erase(ep_key(it->second.ep));
                        it->second.ep = src;
                        by_ep[k] = id;
                        ++c.moved;
                    } else {
                        ++c.reregistered;
                    }
                } else {
                    if (by_id.size() >= max_clients) {
                        ++c.full;
                        break;
                    }
                    by_id.emplace(id, entry{src});
                    by_ep[k] = id;
                    ++c.registered;
                }
                reply[0] = 0x01;
                rlen = 1;
                break;
            }
            case 0x04:  // Heartbeat
                if (len != 1) {
                    ++c.invalid;
                    break;
                }
                if (by_ep.find(ep_key(src)) == by_ep.end()) {
                    ++c.hb_unregistered;
                    break;
                }
                ++c.hb;
                reply[0] = 0x05;
                rlen = 1;
                break;
            case 0x02: {  // Individual Message
                if (len < 5 || len > max_dgram) {
                    ++c.invalid;
                    break;
                }
                const uint32_t id = read_id(d + 1);
                auto it = by_id.find(id);
                if (it == by_id.end()) {
                    ++c.unknown;
                    reply[0] = 0x03;
                    std::memcpy(reply + 1, d + 1, 4);
                    rlen = 5;
                } else {
                    ++c.forwarded;
                    to[m] = it->second.ep;
                    dst = &to[m];
                    out_iov[m] = {d, len};  // unchanged, from our socket
                    out[m].msg_hdr = {};
                    out[m].msg_hdr.msg_iov = &out_iov[m];
                    out[m].msg_hdr.msg_iovlen = 1;
                    out[m].msg_hdr.msg_name = const_cast<sockaddr_in*>(dst);
                    out[m].msg_hdr.msg_namelen = sizeof(sockaddr_in);
                    ++m;
                    continue;
                }
                break;
            }
            default:
                ++c.invalid;
                break;
            }
            if (!rlen)
                continue;
            to[m] = *dst;
            out_iov[m] = {reply, rlen};
            out[m].msg_hdr = {};
            out[m].msg_hdr.msg_iov = &out_iov[m];
            out[m].msg_hdr.msg_iovlen = 1;
            out[m].msg_hdr.msg_name = &to[m];
            out[m].msg_hdr.msg_namelen = sizeof(sockaddr_in);
            ++m;
        }
        unsigned done = 0;
        while (done < m) {
            const int s = sendmmsg(fd, out.data() + done, m - done, 0);
            if (s <= 0) {
                if (s < 0 && errno == EINTR)
                    continue;
                c.send_fail += m - done;  // ENOBUFS and friends: the datagrams are lost
                break;
            }
            done += unsigned(s);
        }
        c.tx += done;
    }
    std::printf("router_server: rx %lu tx %lu registered %lu reregistered %lu moved %lu displaced %lu full %lu "
                "heartbeat %lu hb_unregistered %lu forwarded %lu unknown %lu invalid %lu send_fail %lu clients %zu\n",
                c.rx, c.tx, c.registered, c.reregistered, c.moved, c.displaced, c.full, c.hb, c.hb_unregistered,
                c.forwarded, c.unknown, c.invalid, c.send_fail, by_id.size());
    close(fd);
    return 0;
}
