// libFuzzer target: cluster::member, the serving node's side of the load-balancer protocol, and
// cluster::peering, the directory among routers, driven by a record sequence: each record is
// one byte of kind and what follows it:
//   0 LEN DATA...    a datagram from the Controlling Function (LEN bytes, at most 64)
//   1 ID(4)          the router registered ID (client endpoint derived from it)
//   2 ID(4)          the router's registration of ID ended
//   3 MS(2)          time passes (milliseconds, big-endian), then a tick
//   4 P LEN DATA...  a datagram from peer router 1 + P % 3 (LEN bytes, at most 64)
//   5 MASK           the peer set becomes the routers of MASK's low 3 bits (at most 4 times)
//   6 ID(4)          a message for ID the workers could not place (Locate)
// Invariants: nothing read out of bounds (ASan); every payload sent is one of the messages a
// serving node or a router sends, with that message's exact length; a datagram is answered by
// at most one message, never longer than it (Ack only for what asks one, with its Request ID;
// Location only for a Locate); the peer list never holds the node itself; the retransmission,
// question and directory state stays bounded; an answer is resolved only for an ID asked.

#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "cluster/member.hpp"
#include "cluster/peering.hpp"
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
        if (d[0] == uint8_t(cluster::peer_type::locate) || d[0] == uint8_t(cluster::peer_type::location)) {
            FUZZ_CHECK(d.size() == cluster::locate_len);
            break;
        }
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
    // Routers 198.18.9.1-4 on port 7100; the first is this one.
    lb::endpoint routers[4];
    for (unsigned r = 0; r < 4; ++r)
        routers[r] = {0x010912c6u + (r << 24), 0x9c1b};
    cluster::peering_params pp;
    pp.self = routers[0];
    pp.group = 3;
    pp.tsc_hz = hz;
    pp.rate = 1000;
    pp.max_share = 64;
    pp.first_request_id = 0xfff8;
    sent ps;
    std::set<uint32_t> asked;
    cluster::peering pr(
        pp,
        [&](const lb::endpoint& to, const uint8_t* d, std::size_t n) {
            FUZZ_CHECK(!(to == pp.self));
            ps.out.emplace_back(d, d + n);
            return true;
        },
        [&](uint32_t id, cluster::peering::answer a, const lb::endpoint&) {
            FUZZ_CHECK(asked.count(id));
            FUZZ_CHECK(a != cluster::peering::answer::asked);
            asked.erase(id);
        });
    static lcore_stats st;
    unsigned rebuilds = 0;
    uint64_t now = 1;
    std::size_t i = 0;
    while (i < size) {
        const uint8_t kind = data[i++] & 7;
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
            if (kind == 1) {
                m.registered(id, {id, static_cast<uint16_t>(id >> 7)}, now, st);
                pr.registered(id, {id, 7}, st);
            } else {
                m.unregistered(id, now, st);
                pr.unregistered(id, st);
            }
        } else if (kind == 4) {
            if (size - i < 2)
                break;
            const lb::endpoint& from = routers[1 + data[i++] % 3];  // the module hears peers only
            const std::size_t len = std::min<std::size_t>(data[i++] & 63, size - i);
            std::vector<uint8_t> d(data + i, data + i + len);
            i += len;
            const std::size_t before = ps.out.size();
            pr.on_datagram(from, d.data(), d.size(), now, st);
            FUZZ_CHECK(ps.out.size() <= before + 1);
            if (ps.out.size() == before + 1) {
                const auto& a = ps.out.back();
                FUZZ_CHECK(a.size() <= len);  // never more bytes than the question
                FUZZ_CHECK(a[1] == d[1] && a[2] == d[2]);
                if (a[0] == uint8_t(lb::type::ack))
                    FUZZ_CHECK(d[0] == uint8_t(lb::type::registration_update) ||
                               d[0] == uint8_t(lb::type::registration_removed));
                else
                    FUZZ_CHECK(a[0] == uint8_t(cluster::peer_type::location) &&
                               d[0] == uint8_t(cluster::peer_type::locate));
            }
        } else if (kind == 5) {
            // A Maglev build each (~1 ms under ASan): a few per input keep the runs fast.
            if (i >= size || ++rebuilds > 4)
                break;
            const uint8_t mask = data[i++];
            std::set<uint64_t> peers;
            for (unsigned r = 0; r < 3; ++r)
                if (mask & (1u << r))
                    peers.insert(lb::key_of(routers[r + 1]));
            if (mask & 8)
                peers.insert(lb::key_of(routers[0]));  // a list that names this router too
            pr.set_peers(peers, st);
            FUZZ_CHECK(pr.routers() == 1 + std::size_t(__builtin_popcount(mask & 7)));
        } else if (kind == 6) {
            if (size - i < 4)
                break;
            const uint32_t id = lb::rd32(data + i);
            i += 4;
            lb::endpoint owner;
            const auto a = pr.locate(id, &owner, now, st);
            if (a == cluster::peering::answer::asked)
                asked.insert(id);
            if (a == cluster::peering::answer::owner)
                FUZZ_CHECK(!(owner == pp.self));
        } else if (kind == 3) {
            if (size - i < 2)
                break;
            now += uint64_t(lb::rd16(data + i)) * hz / 1000;
            i += 2;
            m.tick(now, st);
            pr.tick(now, st);
        }
        FUZZ_CHECK(!m.peers().count(lb::key_of(p.advertise)));
        FUZZ_CHECK(m.in_flight() <= cluster::member::max_in_flight);
        FUZZ_CHECK(m.queued() <= p.report_queue);
        FUZZ_CHECK(pr.share() <= pp.max_share);
        FUZZ_CHECK(pr.asking() <= cluster::peering::max_asking && pr.asking() <= asked.size());
        FUZZ_CHECK(pr.in_flight() <= cluster::peering::max_in_flight);
    }
    for (const auto& d : s.out)
        check_payload(d);
    for (const auto& d : ps.out)
        check_payload(d);
    return 0;
}
