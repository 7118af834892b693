// libFuzzer target: cluster::member, the serving node's side of the load-balancer protocol,
// driven by a record sequence: each record is one byte of kind and what follows it:
//   0 LEN DATA...  a datagram from the Controlling Function (LEN bytes, at most 64)
//   1 ID(4)        the router registered ID (client endpoint derived from it)
//   2 ID(4)        the router's registration of ID ended
//   3 MS(2)        time passes (milliseconds, big-endian), then a tick
// Invariants: nothing read out of bounds (ASan); every payload sent is one of the messages a
// serving node sends, with that message's exact length; a datagram is answered by at most one
// Ack, and only a Serving Nodes, Serving Node Removed or Start Call, with its Request ID; the
// peer list never holds the node itself; the retransmission state stays bounded.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cluster/member.hpp"
#include "fuzz_check.hpp"

using namespace peregrine;

namespace {

constexpr uint64_t hz = 1'000'000;

struct sent {
    std::vector<std::vector<uint8_t>> out;
};

void check_payload(const std::vector<uint8_t>& d)
{
    FUZZ_CHECK(!d.empty());
    switch (static_cast<lb::type>(d[0])) {
    case lb::type::register_serving_node:
        FUZZ_CHECK(d.size() == lb::register_len);
        break;
    case lb::type::ack:
        FUZZ_CHECK(d.size() == lb::ack_len);
        break;
    case lb::type::registration_update:
        FUZZ_CHECK(d.size() == lb::registration_update_len);
        break;
    case lb::type::registration_removed:
        FUZZ_CHECK(d.size() == lb::registration_removed_len);
        break;
    default:
        FUZZ_CHECK(!"a message a serving node never sends");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size)
{
    cluster::member_params p;
    p.advertise = {0x0205a8c0, 0x9c1b};
    p.group = 3;
    p.tsc_hz = hz;
    p.report_rate = 1000;
    p.report_queue = 64;
    p.first_request_id = 0xfff0;  // wraps within a run
    sent s;
    cluster::member m(p, [&](const uint8_t* d, std::size_t n) {
        s.out.emplace_back(d, d + n);
        return true;
    });
    static lcore_stats st;
    uint64_t now = 1;
    std::size_t i = 0;
    while (i < size) {
        const uint8_t kind = data[i++] & 3;
        if (kind == 0) {
            if (i >= size)
                break;
            const std::size_t want = data[i++] & 63;
            const std::size_t len = std::min<std::size_t>(want, size - i);
            // Exactly len bytes, in a buffer of its own: ASan sees any read past it.
            std::vector<uint8_t> d(data + i, data + i + len);
            i += len;
            const std::size_t before = s.out.size();
            m.on_datagram(d.data(), d.size(), now, st);
            FUZZ_CHECK(s.out.size() <= before + 1);
            if (s.out.size() == before + 1) {
                const auto& a = s.out.back();
                FUZZ_CHECK(a.size() == lb::ack_len && a[0] == uint8_t(lb::type::ack));
                FUZZ_CHECK(len >= lb::header_len && a[1] == d[1] && a[2] == d[2]);
                FUZZ_CHECK(d[0] == uint8_t(lb::type::serving_nodes) || d[0] == uint8_t(lb::type::serving_node_removed) ||
                           d[0] == uint8_t(lb::type::start_call));
            }
        } else if (kind == 1 || kind == 2) {
            if (size - i < 4)
                break;
            const uint32_t id = lb::rd32(data + i);
            i += 4;
            if (kind == 1)
                m.registered(id, {id, static_cast<uint16_t>(id >> 7)}, now, st);
            else
                m.unregistered(id, now, st);
        } else {
            if (size - i < 2)
                break;
            now += uint64_t(lb::rd16(data + i)) * hz / 1000;
            i += 2;
            m.tick(now, st);
        }
        FUZZ_CHECK(!m.peers().count(lb::key_of(p.advertise)));
        FUZZ_CHECK(m.in_flight() <= cluster::member::max_in_flight);
        FUZZ_CHECK(m.queued() <= p.report_queue);
    }
    for (const auto& d : s.out)
        check_payload(d);
    return 0;
}
