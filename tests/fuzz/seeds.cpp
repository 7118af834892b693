// Seed frames for the router fuzz target (written to corpus/router by
// `fuzz_router_replay --write-corpus DIR`, and mutated by the replay driver).

#include "fuzz_env.hpp"

namespace fuzzenv {

using namespace pgtest;

namespace {

uint32_t ip_of(const uint8_t (&a)[4]) { return ip4(a[0], a[1], a[2], a[3]); }

// A datagram from c to the engine's router port on port 0.
bytes from(const client& c, const bytes& payload, bool cksum = true, uint16_t dst_port = router_port)
{
    udp_frame s;
    s.dst_mac = mac(ports[0].mac_lo);
    s.src_mac = mac(c.mac_lo);
    s.src_ip_be = ip_of(c.ip);
    s.dst_ip_be = ip_of(ports[0].ip);
    s.src_port = c.udp_port;
    s.dst_port = dst_port;
    s.payload = payload;
    s.udp_cksum = cksum;
    return build(s);
}

template <typename Edit>
bytes edited(bytes f, Edit&& edit)
{
    edit(f);
    fix_cksums(f);
    return f;
}

bytes truncated(bytes f, std::size_t len)
{
    f.resize(len);
    return f;
}

} // namespace

std::vector<std::pair<std::string, bytes>> seed_frames()
{
    const client& alice = registered[0];
    const client& bob = registered[1];
    const client& carol = stranger;
    const bytes hello = {'h', 'e', 'l', 'l', 'o'};
    const bytes forward = from(alice, message_payload(bob.id, hello));

    std::vector<std::pair<std::string, bytes>> s = {
        {"register-new", from(carol, register_payload(carol.id))},
        {"register-refresh", from(alice, register_payload(alice.id))},
        {"register-displace", from(alice, register_payload(carol.id))},
        {"register-move", from(carol, register_payload(bob.id))},
        {"heartbeat-registered", from(alice, heartbeat_payload())},
        {"heartbeat-unregistered", from(carol, heartbeat_payload())},
        {"message-forward", forward},
        {"message-forward-no-cksum", from(alice, message_payload(bob.id, hello), false)},
        {"message-forward-same-port", from(carol, message_payload(alice.id, hello))},
        {"message-unknown", from(carol, message_payload(0x12345678, hello))},
        {"message-empty-body", from(alice, message_payload(bob.id, {}))},
        {"message-max", from(alice, message_payload(bob.id, bytes(1400, 0x42)))},
        {"message-too-long", from(alice, message_payload(bob.id, bytes(1401, 0x42)))},
        {"router-empty", from(carol, {})},
        {"router-register-response", from(carol, {0x01})},
        {"router-unknown-recipient", from(carol, {0x03, 1, 2, 3, 4})},
        {"router-heartbeat-response", from(carol, {0x05})},
        {"router-unknown-type", from(carol, {0x07, 0})},
        {"router-bad-len", from(carol, {0x00, 1, 2})},
        {"router-self-source", edited(from(carol, heartbeat_payload()), [](bytes& f) { ipv4(f)->src_addr = ipv4(f)->dst_addr; })},
        {"bad-ip-cksum", [&] { bytes f = forward; ipv4(f)->hdr_checksum ^= 0x0101; return f; }()},
        {"bad-udp-cksum", [&] { bytes f = from(carol, register_payload(5)); payload(f)[2] ^= 1; return f; }()},
        {"padded-heartbeat", [&] { bytes f = from(alice, heartbeat_payload()); f.resize(60, 0); return f; }()},
        {"udp-other-port", from(carol, hello, true, 53)},
        {"not-our-ip", edited(forward, [](bytes& f) { ipv4(f)->dst_addr = ip4(198, 18, 0, 99); })},
        {"broadcast-mac", edited(forward, [](bytes& f) { eth(f)->dst_addr = broadcast_mac; })},
        {"other-host-mac", edited(forward, [](bytes& f) { eth(f)->dst_addr = mac(0x77); })},
        {"ip-options", with_ip_options(forward, 2)},
        {"ip-fragment", edited(forward, [](bytes& f) { ipv4(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG); })},
        {"ttl-zero", edited(forward, [](bytes& f) { ipv4(f)->time_to_live = 0; })},
        {"tcp", edited(forward, [](bytes& f) { ipv4(f)->next_proto_id = IPPROTO_TCP; })},
        {"icmp", edited(forward, [](bytes& f) { ipv4(f)->next_proto_id = IPPROTO_ICMP; })},
        {"udp-bad-len", edited(forward, [](bytes& f) { udp(f)->dgram_len = RTE_BE16(9); })},
        {"arp", [&] { bytes f = truncated(forward, 42); eth(f)->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP); eth(f)->dst_addr = broadcast_mac; return f; }()},
        {"ipv6", [&] { bytes f = forward; eth(f)->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6); return f; }()},
    };
    for (std::size_t len : {0, 10, 14, 20, 33, 34, 41, 42, 45})
        s.emplace_back("truncated-" + std::to_string(len), truncated(forward, len));
    return s;
}

} // namespace fuzzenv
