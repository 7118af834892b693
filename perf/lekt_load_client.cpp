// LEKT load client in C++ for 10,000+ connections (tools/lekt_client.py load does the same in
// Python, which cannot keep up with 10,000 on a small machine). One thread, epoll, non-blocking
// sockets: opens N connections at a given rate (round-robin over source addresses), joins each
// (no methods, or a direct UDP endpoint), then heartbeats each every interval and measures the
// time from sending a heartbeat to receiving the end of its answer (the empty 'A' packet carrying
// that heartbeat's stamp; records are skipped by scanning for it, not decoded). After every
// client joined and a warm-up, it measures for the given duration, waits for answers still in
// flight, and prints one JSON line with the same keys as lekt_client.py load --json.
//
//   lekt_load_client SERVER PORT CLIENTS DURATION_S [--interval S] [--warmup S]
//       [--connect-rate N] [--source IP,IP,...] [--methods none|udp] [--timeout S]

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "lekt/codec.hpp"

using namespace peregrine::lekt;

namespace {

double now_s()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

enum class st : uint8_t { connecting, accept, setup, hb, dead };

struct conn {
    int fd = -1;
    st state = st::connecting;
    std::string buf;
    double sent_at = -1;   // outstanding heartbeat
    bool measured = false;
    double next_hb = 0;
    char term[update_header_len];
};

struct args {
    std::string server;
    uint16_t port = 7500;
    int clients = 10000;
    double duration = 10, interval = 1, warmup = 3, rate = 1000, timeout = 900;
    std::vector<std::string> sources;
    bool udp = false;
};

double pct(std::vector<double>& v, double p)
{
    if (v.empty())
        return 0;
    const std::size_t k = std::min(v.size() - 1, std::size_t(p / 100.0 * double(v.size() - 1) + 0.5));
    return v[k];
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s SERVER PORT CLIENTS DURATION_S [--interval S] [--warmup S] [--connect-rate N] "
                             "[--source IP,...] [--methods none|udp] [--timeout S]\n", argv[0]);
        return 2;
    }
    args a;
    a.server = argv[1];
    a.port = uint16_t(std::atoi(argv[2]));
    a.clients = std::atoi(argv[3]);
    a.duration = std::atof(argv[4]);
    for (int i = 5; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--interval") a.interval = std::atof(v.c_str());
        else if (k == "--warmup") a.warmup = std::atof(v.c_str());
        else if (k == "--connect-rate") a.rate = std::atof(v.c_str());
        else if (k == "--timeout") a.timeout = std::atof(v.c_str());
        else if (k == "--methods") a.udp = v == "udp";
        else if (k == "--source") {
            std::size_t s = 0;
            while (s <= v.size()) {
                const std::size_t c = v.find(',', s);
                a.sources.push_back(v.substr(s, c == std::string::npos ? std::string::npos : c - s));
                if (c == std::string::npos) break;
                s = c + 1;
            }
        } else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    const rlim_t need = rlim_t(a.clients) + 64;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = std::min(std::max(need, rl.rlim_cur), rl.rlim_max);
        if (rl.rlim_max < need) rl.rlim_max = rl.rlim_cur = need;  // root may raise the hard limit
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < need) {
            std::fprintf(stderr, "need %lu file descriptors, have %lu (ulimit -n)\n", (unsigned long)need, (unsigned long)rl.rlim_cur);
            return 2;
        }
    }
    sockaddr_in srv{};
    srv.sin_family = AF_INET;
    srv.sin_port = htons(a.port);
    inet_pton(AF_INET, a.server.c_str(), &srv.sin_addr);

    std::string hello, udp_resp;
    if (a.udp) {
        const uint32_t w = 1;
        encode_handshake(hello, version_major, 1, &w, 1);
        uint8_t info[6] = {0, 0, 0, 0, 0x13, 0x88};  // 0.0.0.0:5000, "as the server sees me"
        encode_response(udp_resp, 1, info, sizeof(info));
    } else {
        encode_handshake(hello, version_major, 0, nullptr, 0);
    }

    const int ep = epoll_create1(0);
    std::vector<conn> conns(std::size_t(a.clients));
    std::deque<int> due;
    std::vector<double> lat;
    lat.reserve(std::size_t(a.clients) * std::size_t(a.duration / a.interval + 2));
    std::map<std::string, long> reasons;
    long connected = 0, joined = 0, refused = 0, dropped = 0, errors = 0, sent = 0, answered = 0, skipped = 0,
         m_sent = 0;
    unsigned long long bytes_in = 0;
    bool measuring = false, sending = true;
    double joined_at = -1, m_start = 0, m_end = -1, drain_until = -1;
    const double start = now_s();
    double next_report = start + 1;
    long last_sent = 0, last_ans = 0;
    int opened = 0;
    std::vector<double> window;

    auto fail = [&](int i, long& counter, const std::string& why) {
        conn& c = conns[std::size_t(i)];
        if (c.state == st::dead) return;
        ++counter;
        ++reasons[why];
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.state = st::dead;
    };

    epoll_event evs[512];
    static char rbuf[1 << 18];
    for (;;) {
        double now = now_s();
        const int want = std::min(a.clients, int((now - start) * a.rate) + 1);
        while (opened < want) {
            conn& c = conns[std::size_t(opened)];
            c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            const int one = 1;
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            if (!a.sources.empty()) {
                sockaddr_in src{};
                src.sin_family = AF_INET;
                inet_pton(AF_INET, a.sources[std::size_t(opened) % a.sources.size()].c_str(), &src.sin_addr);
                bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof(src));
            }
            connect(c.fd, reinterpret_cast<sockaddr*>(&srv), sizeof(srv));
            epoll_event e{};
            e.events = EPOLLOUT;
            e.data.u32 = uint32_t(opened);
            epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
            ++opened;
        }
        const int n = epoll_wait(ep, evs, 512, 2);
        now = now_s();
        for (int k = 0; k < n; ++k) {
            const int i = int(evs[k].data.u32);
            conn& c = conns[std::size_t(i)];
            if (c.state == st::dead) continue;
            if (c.state == st::connecting) {
                int err = 0;
                socklen_t l = sizeof(err);
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) { fail(i, errors, std::strerror(err)); continue; }
                ++connected;
                c.state = st::accept;
                epoll_event e{};
                e.events = EPOLLIN;
                e.data.u32 = uint32_t(i);
                epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
                send(c.fd, hello.data(), hello.size(), MSG_NOSIGNAL);
                continue;
            }
            const ssize_t r = recv(c.fd, rbuf, sizeof(rbuf), 0);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                fail(i, c.state == st::hb ? dropped : refused, "closed by server");
                continue;
            }
            if (r < 0) continue;
            bytes_in += std::size_t(r);
            c.buf.append(rbuf, std::size_t(r));
            while (c.state == st::accept || c.state == st::setup) {
                if (c.buf.size() < 8) break;
                if (c.buf[4] == 'R') {
                    const auto z = c.buf.find('\0', 8);
                    if (z == std::string::npos) break;
                    fail(i, c.state == st::accept ? refused : dropped, c.buf.substr(8, z - 8));
                    break;
                }
                if (c.state == st::accept && c.buf[4] == 'A') {
                    c.buf.erase(0, 8);
                    c.state = st::setup;
                } else if (c.state == st::setup && c.buf[4] == 'T') {
                    if (c.buf.size() < 12) break;
                    const uint32_t idx = get_u32(reinterpret_cast<const uint8_t*>(c.buf.data()) + 8);
                    c.buf.erase(0, 12);
                    if (idx == 0) {
                        c.state = st::hb;
                        c.next_hb = now;
                        due.push_back(i);
                        ++joined;
                    } else {
                        send(c.fd, udp_resp.data(), udp_resp.size(), MSG_NOSIGNAL);
                    }
                } else {
                    fail(i, errors, "unexpected packet");
                }
            }
            if (c.state == st::hb && c.sent_at >= 0) {
                const auto pos = c.buf.find(std::string_view(c.term, sizeof(c.term)));
                if (pos == std::string::npos) {
                    if (c.buf.size() > sizeof(c.term)) c.buf.erase(0, c.buf.size() - sizeof(c.term));
                    continue;
                }
                c.buf.erase(0, pos + sizeof(c.term));
                const double dt = now - c.sent_at;
                c.sent_at = -1;
                ++answered;
                window.push_back(dt);
                if (c.measured) lat.push_back(dt);
            }
        }
        // Heartbeats due (same interval for all: the queue stays in order).
        while (sending && !due.empty() && conns[std::size_t(due.front())].next_hb <= now) {
            const int i = due.front();
            due.pop_front();
            conn& c = conns[std::size_t(i)];
            if (c.state != st::hb) continue;
            c.next_hb = std::max(c.next_hb + a.interval, now);
            due.push_back(i);
            if (c.sent_at >= 0) { ++skipped; continue; }
            std::string hb;
            const int64_t stamp = int64_t(time(nullptr));
            encode_heartbeat(hb, stamp);
            std::memcpy(c.term, hb.data(), 16);
            std::memcpy(c.term + 16, "A\0\0\0", 4);
            if (send(c.fd, hb.data(), hb.size(), MSG_NOSIGNAL) != ssize_t(hb.size())) {
                fail(i, dropped, "send failed");
                continue;
            }
            c.sent_at = now;
            c.measured = measuring;
            ++sent;
            if (measuring) ++m_sent;
        }
        if (joined_at < 0 && joined + refused + errors >= a.clients) joined_at = now;
        if (joined_at >= 0 && !measuring && m_end < 0 && now >= joined_at + a.warmup) {
            measuring = true;
            m_start = now;
        }
        if (measuring && now >= m_start + a.duration) {
            measuring = false;
            sending = false;
            m_end = now;
            drain_until = now + 10;
        }
        if (now >= next_report) {
            next_report += 1;
            std::sort(window.begin(), window.end());
            std::fprintf(stderr, "[%6.1fs] conns %ld joined %ld refused %ld dropped %ld | hb/s %ld answered/s %ld | "
                                 "latency p50 %.2f ms p99 %.2f ms | in %.1f MB total%s\n",
                         now - start, connected, joined, refused, dropped, sent - last_sent, answered - last_ans,
                         pct(window, 50) * 1e3, pct(window, 99) * 1e3, double(bytes_in) / 1e6,
                         measuring ? " (measuring)" : "");
            window.clear();
            last_sent = sent;
            last_ans = answered;
        }
        if (m_end >= 0) {
            bool pending = false;
            for (int i : due)
                if (conns[std::size_t(i)].state == st::hb && conns[std::size_t(i)].sent_at >= 0 && conns[std::size_t(i)].measured) {
                    pending = true;
                    break;
                }
            if (!pending || now >= drain_until) break;
        }
        if (now - start > a.timeout) {
            std::fprintf(stderr, "timeout: not done after %.0f s\n", a.timeout);
            break;
        }
    }
    std::sort(lat.begin(), lat.end());
    const double el = m_end > 0 ? m_end - m_start : 0;
    std::string rs = "{";
    for (const auto& [k, v] : reasons)
        rs += (rs.size() > 1 ? ", \"" : "\"") + k + "\": " + std::to_string(v);
    rs += "}";
    std::printf("{\"clients\": %d, \"joined\": %ld, \"refused\": %ld, \"dropped\": %ld, \"errors\": %ld, \"reasons\": %s, "
                "\"measured_s\": %.2f, \"heartbeats_sent\": %ld, \"heartbeats_answered\": %zu, \"heartbeats_per_s\": %.1f, "
                "\"skipped\": %ld, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, \"max_ms\": %.3f, \"bytes_in\": %llu}\n",
                a.clients, joined, refused, dropped, errors, rs.c_str(), el, m_sent, lat.size(),
                el > 0 ? double(lat.size()) / el : 0.0, skipped, pct(lat, 50) * 1e3, pct(lat, 99) * 1e3,
                pct(lat, 99.9) * 1e3, lat.empty() ? 0.0 : lat.back() * 1e3, bytes_in);
    std::fflush(stdout);
    for (auto& c : conns)
        if (c.state != st::dead && c.fd >= 0) close(c.fd);
    const bool bad = refused || dropped || errors || lat.empty() || long(lat.size()) < m_sent;
    return bad ? 1 : 0;
}
