#include "lekt/server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace peregrine::lekt {

namespace {

// Refused clients being told why, at most: beyond this a refusal is a bare close, so a flood of
// connections cannot grow this set without bound.
constexpr std::size_t max_closing = 4096;

std::string ip_str(uint32_t ip)
{
    in_addr a{htonl(ip)};
    char b[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, b, sizeof(b));
    return b;
}

} // namespace

server::server(server_params p) : p_(std::move(p)), m_(p_.max_log) {}

server::~server()
{
    {
        std::lock_guard<std::mutex> lk(mu_);
        for (auto& [fd, c] : conns_)
            ::close(fd);
        conns_.clear();
    }
    for (int l : listeners_)
        ::close(l);
    if (ep_ >= 0)
        ::close(ep_);
}

bool server::start(std::string* err)
{
    // One descriptor per connection, plus refused ones lingering, plus the engine's own: the
    // usual soft limit of 1024 would cap LEKT far below --lekt-max-clients.
    rlimit rl{};
    const rlim_t want = rlim_t(p_.max_clients) + max_closing + 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    fd_limit_ = rl.rlim_cur;
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        *err = std::string("lekt: epoll_create1: ") + std::strerror(errno);
        return false;
    }
    for (uint32_t ip : p_.addrs) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *err = std::string("lekt: socket: ") + std::strerror(errno);
            return false;
        }
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        // The address lives on the TAP, which may still be coming up.
        setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(p_.port);
        sa.sin_addr.s_addr = htonl(ip);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd, 4096) != 0) {
            *err = "lekt: cannot listen on " + ip_str(ip) + ":" + std::to_string(p_.port) + ": " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = uint32_t(fd);  // generation 0: a listener
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            *err = std::string("lekt: epoll_ctl: ") + std::strerror(errno);
            ::close(fd);
            return false;
        }
        listeners_.push_back(fd);
    }
    return true;
}

uint16_t server::bound_port() const
{
    if (listeners_.empty())
        return 0;
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    if (getsockname(listeners_[0], reinterpret_cast<sockaddr*>(&sa), &len) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

bool server::poll(uint64_t now)
{
    epoll_event ev[max_events];
    write_budget_ = max_write_per_poll;
    const int n = epoll_wait(ep_, ev, max_events, 0);
    for (int i = 0; i < n; ++i) {
        const int fd = int(uint32_t(ev[i].data.u64));
        const uint32_t gen = uint32_t(ev[i].data.u64 >> 32);
        if (gen == 0) {
            accept_some(fd, now);
            continue;
        }
        auto it = conns_.find(fd);
        // Destroyed earlier in this round, and maybe its number already reused by an accept.
        if (it == conns_.end() || it->second->gen != gen)
            continue;
        conn& c = *it->second;
        const uint32_t e = ev[i].events;
        if ((e & (EPOLLERR | EPOLLHUP)) && !(e & EPOLLIN)) {
            // Reset or fully closed with nothing left to read: nobody to answer.
            if (!c.closing)
                inc(c_.disconnects);
            destroy(fd);
            continue;
        }
        if (e & EPOLLOUT) {
            if (!flush(c, now))
                continue;
            if (c.out.empty()) {
                process(c, now);  // packets that arrived while the answer was going out
                if (!conns_.count(fd))
                    continue;
            }
        }
        if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
            on_readable(c, now);
    }
    if (now >= next_tick_) {
        next_tick_ = now + tick_ms;
        housekeeping(now);
    }
    return n > 0;
}

void server::accept_some(int lfd, uint64_t now)
{
    for (unsigned k = 0; k < max_accepts; ++k) {
        sockaddr_in sa{};
        socklen_t len = sizeof(sa);
        const int fd = accept4(lfd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;  // EAGAIN, or a connection that died in the queue
        const uint32_t ip = ntohl(sa.sin_addr.s_addr);
        const uint16_t port = ntohs(sa.sin_port);
        inc(c_.accepted);
        if (c_.open.load(std::memory_order_relaxed) >= p_.max_clients) {
            refuse(fd, ip, port, reject::server_full, now);
            continue;
        }
        uint32_t& n_ip = per_ip_[ip];
        if (n_ip >= p_.max_per_ip) {
            refuse(fd, ip, port, reject::ip_full, now);
            continue;
        }
        ++n_ip;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        auto c = std::make_unique<conn>(m_, fd, ip, port);
        c->opened_ms = now;
        c->events = EPOLLIN;
        c->gen = next_gen();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = uint64_t(c->gen) << 32 | uint32_t(fd);
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            --n_ip;
            if (n_ip == 0)
                per_ip_.erase(ip);
            ::close(fd);
            continue;
        }
        inc(c_.open);
        conns_.emplace(fd, std::move(c));
    }
}

void server::refuse(int fd, uint32_t ip, uint16_t port, reject why, uint64_t now)
{
    count_reject(why);
    if (closing_ >= max_closing) {
        ::close(fd);
        return;
    }
    auto c = std::make_unique<conn>(m_, fd, ip, port);
    c->counted = false;
    c->opened_ms = now;
    c->gen = next_gen();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = uint64_t(c->gen) << 32 | uint32_t(fd);
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        return;
    }
    c->events = EPOLLIN;
    conn& r = *c;
    conns_.emplace(fd, std::move(c));
    r.s.fail(why, r.out);
    start_closing(r, now);
}

void server::uncount(conn& c)
{
    if (!c.counted)
        return;
    c.counted = false;
    inc(c_.open, uint64_t(-1));
    auto it = per_ip_.find(c.s.ip());
    if (it != per_ip_.end() && --it->second == 0)
        per_ip_.erase(it);
}

void server::set_events(conn& c, uint32_t ev)
{
    if (c.events == ev)
        return;
    epoll_event e{};
    e.events = ev;
    e.data.u64 = uint64_t(c.gen) << 32 | uint32_t(c.fd);
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e);
    c.events = ev;
}

void server::destroy(int fd)
{
    auto it = conns_.find(fd);
    if (it == conns_.end())
        return;
    conn& c = *it->second;
    uncount(c);
    if (c.closing)
        --closing_;
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (c.s.member_id()) {
            inc(c_.left);
            c.s.leave();
            c_.members.store(m_.size(), std::memory_order_relaxed);
        }
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_.erase(it);
}

void server::start_closing(conn& c, uint64_t now)
{
    if (!c.closing) {
        c.closing = true;
        ++closing_;
    }
    uncount(c);
    c.close_at_ms = now + linger_ms;
    c.in_len = 0;
    flush(c, now);
}

void server::fail(conn& c, reject why, uint64_t now)
{
    count_reject(why);
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (c.s.member_id())
            inc(c_.left);
        // A Reject replaces anything unsent: the client learns why, not a half answer.
        if (c.out_off == 0)
            c.out.clear();
        c.s.fail(why, c.out);
        c_.members.store(m_.size(), std::memory_order_relaxed);
    }
    start_closing(c, now);
}

void server::on_readable(conn& c, uint64_t now)
{
    if (c.closing) {
        // Refused: drain what the client still sends so the close is a FIN, not a reset that
        // could destroy the Reject before the client reads it.
        uint8_t sink[in_buf];
        const ssize_t r = ::read(c.fd, sink, sizeof(sink));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
            destroy(c.fd);
        return;
    }
    if (!c.out.empty())
        return;  // the previous answer first
    const ssize_t r = ::read(c.fd, c.in + c.in_len, in_buf - c.in_len);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        inc(c_.disconnects);
        destroy(c.fd);
        return;
    }
    if (r < 0)
        return;
    inc(c_.bytes_in, uint64_t(r));
    if (c.in_len == 0)
        c.partial_since_ms = now;
    c.in_len += std::size_t(r);
    process(c, now);
}

void server::process(conn& c, uint64_t now)
{
    while (c.out.empty() && c.in_len > 0 && !c.closing) {
        session::result r;
        const auto before = c.s.state();
        {
            std::lock_guard<std::mutex> lk(mu_);
            r = c.s.feed(c.in, c.in_len, c.out);
        }
        if (r.close) {
            count_reject(r.why);
            start_closing(c, now);
            return;
        }
        if (r.consumed == 0)
            break;  // partial packet: partial_since_ms holds when it started
        std::memmove(c.in, c.in + r.consumed, c.in_len - r.consumed);
        c.in_len -= r.consumed;
        c.partial_since_ms = now;
        if (before != session::phase::heartbeat && c.s.state() == session::phase::heartbeat) {
            c.last_hb_ms = now;
            inc(c_.joined);
            c_.members.store(m_.size(), std::memory_order_relaxed);
            c_.log_entries.store(m_.log_size(), std::memory_order_relaxed);
        }
        if (r.heartbeat) {
            c.last_hb_ms = now;
            inc(c_.heartbeats);
            inc(c_.update_packets, r.answer.packets);
            inc(c_.records_added, r.answer.added);
            inc(c_.records_removed, r.answer.removed);
            if (r.answer.snapshot)
                inc(c_.snapshots);
        }
        if (!flush(c, now))
            return;
    }
}

bool server::flush(conn& c, uint64_t now)
{
    // Rejects (a few bytes) go out even when the poll's budget is spent.
    std::size_t budget = std::min(max_write, std::max<std::size_t>(write_budget_, c.closing ? 256 : 0));
    while (c.out_off < c.out.size() && budget > 0) {
        const std::size_t n = std::min(budget, c.out.size() - c.out_off);
        const ssize_t w = ::send(c.fd, c.out.data() + c.out_off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            inc(c_.disconnects);
            destroy(c.fd);
            return false;
        }
        inc(c_.bytes_out, uint64_t(w));
        c.out_off += std::size_t(w);
        budget -= std::size_t(w);
        write_budget_ -= std::min(write_budget_, std::size_t(w));
        c.stuck_since_ms = now;
    }
    if (c.out_off == c.out.size()) {
        c.out.clear();
        c.out_off = 0;
        c.stuck_since_ms = 0;
        if (c.closing) {
            ::shutdown(c.fd, SHUT_WR);
            set_events(c, EPOLLIN);
            return true;
        }
        set_events(c, EPOLLIN);
        return true;
    }
    if (!c.stuck_since_ms)
        c.stuck_since_ms = now;
    set_events(c, EPOLLOUT);
    return true;
}

void server::housekeeping(uint64_t now)
{
    std::vector<std::pair<int, reject>> expired;
    uint64_t min_pos = m_.head();
    for (auto& [fd, cp] : conns_) {
        conn& c = *cp;
        if (c.closing) {
            if (now >= c.close_at_ms)
                expired.push_back({fd, reject::count_});
            continue;
        }
        const auto ph = c.s.state();
        if (!c.out.empty() && c.stuck_since_ms && now - c.stuck_since_ms > p_.heartbeat_timeout_ms)
            expired.push_back({fd, reject::slow_reader});
        else if (ph != session::phase::heartbeat && now - c.opened_ms > p_.handshake_timeout_ms)
            expired.push_back({fd, reject::handshake_timeout});
        else if (c.in_len > 0 && c.out.empty() && now - c.partial_since_ms > p_.handshake_timeout_ms)
            // (With an answer still going out, the buffered bytes wait for us, not for the client.)
            expired.push_back({fd, reject::stalled});
        else if (ph == session::phase::heartbeat && now - c.last_hb_ms > p_.heartbeat_timeout_ms)
            expired.push_back({fd, reject::heartbeat_timeout});
        else if (ph == session::phase::heartbeat && c.s.position() != 0)
            min_pos = std::min(min_pos, c.s.position());
    }
    for (auto [fd, why] : expired) {
        auto it = conns_.find(fd);
        if (it == conns_.end())
            continue;
        if (why == reject::count_) {
            destroy(fd);
        } else if (why == reject::slow_reader) {
            count_reject(why);  // its socket is full: no room to say why
            destroy(fd);
        } else {
            fail(*it->second, why, now);
        }
    }
    std::lock_guard<std::mutex> lk(mu_);
    m_.compact(min_pos);
    c_.log_entries.store(m_.log_size(), std::memory_order_relaxed);
}

std::vector<server::member_info> server::members(std::size_t offset, std::size_t limit, std::size_t* total) const
{
    std::vector<member_info> out;
    std::lock_guard<std::mutex> lk(mu_);
    *total = m_.size();
    std::size_t i = 0;
    m_.for_each([&](const membership::member& m) {
        if (i++ < offset || out.size() >= limit)
            return;
        member_info mi{m.ip, m.tcp_port, {}};
        // The record: size, IP, then index + information per method.
        const auto* r = reinterpret_cast<const uint8_t*>(m.record.data());
        std::size_t off = 8;
        while (off + 4 <= m.record.size()) {
            const uint32_t k = get_u32(r + off);
            mi.methods.push_back(k);
            off += 4 + method_data_len(k);
        }
        out.push_back(std::move(mi));
    });
    return out;
}

} // namespace peregrine::lekt
