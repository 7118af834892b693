// LEKT microbenchmarks (Google Benchmark): what answering a heartbeat costs the control lcore.
//
//  BM_answer_idle/M        a heartbeat with nothing new, M members: the 20-byte terminator.
//  BM_answer_churn/M       one join and one leave, each followed by an answer to a connection
//                          that is up to date (then compaction): cost per join+leave cycle.
//                          Flat in M is the change log's point: an answer costs the changes.
//  BM_snapshot/M           the first answer to a new connection: the whole membership.
//  BM_server_heartbeats/N  the real lekt::server over loopback TCP: N connected members each
//                          send a heartbeat, the server polls until all are answered, each
//                          client reads its answer. items/s = heartbeats answered per second,
//                          including the clients' send/recv system calls in the same thread
//                          (the server's own share is lower).

#include <benchmark/benchmark.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "lekt/codec.hpp"
#include "lekt/membership.hpp"
#include "lekt/server.hpp"

namespace {

using namespace peregrine::lekt;

std::string record(uint32_t ip)
{
    std::string r;
    put_u32(r, 14);
    put_u32(r, ip);
    put_u32(r, 1);
    put_u32(r, ip);
    put_u16(r, 5000);
    return r;
}

void fill(membership& m, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        m.add(0x0A000000 + uint32_t(i), 1, record(0x0A000000 + uint32_t(i)));
}

void BM_answer_idle(benchmark::State& st)
{
    membership m;
    fill(m, st.range(0));
    uint64_t pos = m.head();
    std::string out;
    membership::answer_stats as;
    for (auto _ : st) {
        out.clear();
        m.answer(&pos, 1, out, &as);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_answer_idle)->Arg(1000)->Arg(10000)->Arg(100000);

void BM_answer_churn(benchmark::State& st)
{
    membership m;
    fill(m, st.range(0));
    uint64_t pos = m.head();
    std::string out;
    membership::answer_stats as;
    uint32_t ip = 0x0B000000;
    for (auto _ : st) {
        const uint64_t id = m.add(ip, 1, record(ip));
        out.clear();
        m.answer(&pos, 1, out, &as);
        m.remove(id);
        out.clear();
        m.answer(&pos, 1, out, &as);
        m.compact(pos);
        ++ip;
        benchmark::DoNotOptimize(out.data());
    }
    st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_answer_churn)->Arg(1000)->Arg(10000)->Arg(100000);

void BM_snapshot(benchmark::State& st)
{
    membership m;
    fill(m, st.range(0));
    std::string out;
    membership::answer_stats as;
    for (auto _ : st) {
        uint64_t pos = 0;
        out.clear();
        m.answer(&pos, 1, out, &as);
        benchmark::DoNotOptimize(out.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(out.size()));
    st.counters["bytes"] = double(out.size());
}
BENCHMARK(BM_snapshot)->Arg(1000)->Arg(10000)->Arg(100000);

uint64_t now_ms()
{
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count());
}

void BM_server_heartbeats(benchmark::State& st)
{
    const int n = int(st.range(0));
    server_params p;
    p.addrs = {0x7F000001};
    p.port = 0;
    p.max_clients = uint32_t(n) + 16;
    p.max_per_ip = uint32_t(n) + 16;
    p.heartbeat_timeout_ms = 600000;
    p.handshake_timeout_ms = 600000;
    server srv(p);
    std::string err;
    if (!srv.start(&err)) {
        st.SkipWithError(err.c_str());
        return;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(srv.bound_port());
    sa.sin_addr.s_addr = htonl(0x7F000001);
    std::vector<int> fds;
    std::string hs;
    encode_handshake(hs, version_major, 0, nullptr, 0);
    for (int i = 0; i < n; ++i) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
            st.SkipWithError("connect failed (ulimit -n?)");
            for (int f : fds)
                close(f);
            return;
        }
        fds.push_back(fd);
        send(fd, hs.data(), hs.size(), 0);
        srv.poll(now_ms());
    }
    char buf[1 << 16];
    // Accept + 'T' 0 (20 bytes) for everyone.
    for (int fd : fds) {
        std::size_t got = 0;
        while (got < 20) {
            srv.poll(now_ms());
            const ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0)
                got += std::size_t(r);
        }
    }
    std::string hb;
    encode_heartbeat(hb, 1);
    // Reads one complete answer (ends with the 20-byte empty 'A') from fd.
    auto read_answer = [&](int fd, bool first) {
        std::string acc;
        for (;;) {
            const ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (r > 0) {
                acc.append(buf, std::size_t(r));
                if (acc.size() >= update_header_len &&
                    std::memcmp(acc.data() + acc.size() - 4, "A\0\0\0", 4) == 0 && (!first || acc.size() > 40))
                    return;
            } else {
                srv.poll(now_ms());
            }
        }
    };
    for (int fd : fds) {
        send(fd, hb.data(), hb.size(), 0);
        read_answer(fd, true);  // the snapshot
    }
    for (auto _ : st) {
        for (int fd : fds)
            send(fd, hb.data(), hb.size(), 0);
        for (int fd : fds)
            read_answer(fd, false);
    }
    st.SetItemsProcessed(int64_t(st.iterations()) * n);
    st.counters["members"] = double(srv.counters().members.load());
    for (int fd : fds)
        close(fd);
}
BENCHMARK(BM_server_heartbeats)->Arg(100)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
