#pragma once

// The router protocol's fast path: one call per burst of router datagrams on a worker lcore.
// Heartbeats and Individual Messages are answered or forwarded in place; Register Client is
// handed to the control lcore (the registry's single writer), which answers it once the
// registration is visible to every worker.

#include <cstdint>

#include <rte_mbuf.h>

#include "common/compiler.hpp"
#include "common/stats.hpp"
#include "common/gcra.hpp"
#include "engine/inspection.hpp"
#include "engine/module.hpp"
#include "net/classify.hpp"
#include "router/registry.hpp"

namespace peregrine::router {

class remote;

struct config {
    uint16_t udp_port = 7100;           // host order
    uint64_t heartbeat_timeout_tsc = 0; // registrations unrefreshed this long expire
    // Payload inspection of the Individual Messages about to be forwarded, or nullptr.
    const engine::inspection_point* inspect = nullptr;
    // Register Client rates per source and in all (workers share it, lock-free), or nullptr.
    source_limiter* register_limit = nullptr;
    // Where IDs registered on other routers of a cluster live (lib/cluster), or nullptr.
    class remote* remote = nullptr;
};

// A router of a cluster: where a Client ID that is not registered here lives. Implemented by
// lib/cluster; the worker asks only for IDs its registry misses.
struct remote_target {
    rte_ether_addr next_hop;
    uint32_t ip_be;
    uint16_t port_be;
    uint16_t port_id;  // the ethdev port that reaches it
};
class remote {
public:
    // peer: forward to *t (registered there); nowhere: answer Unknown Recipient; ask: hand the
    // message to the control lcore (resolve()); from_peer: the message came from a peer router,
    // which already forwarded it once: never forwarded again, answered Unknown Recipient (so
    // that router forgets where it thought the ID was).
    enum class where : uint8_t { peer, nowhere, ask, from_peer };

    virtual ~remote() = default;
    // Workers.
    virtual where locate(uint32_t id, uint32_t src_ip_be, remote_target* t) const = 0;
    // Starts bringing what locate(id) reads into the cache: a burst's misses overlap.
    virtual void prefetch(uint32_t id) const = 0;
    virtual bool is_peer(uint32_t ip_be) const = 0;
    // The control lcore; each takes m. An Individual Message a worker could not place:
    virtual void resolve(rte_mbuf* m, uint32_t id, uint64_t now, lcore_stats& st, engine::control_io& io) = 0;
    // A peer's Unknown Recipient for id: its client left it.
    virtual void not_there(rte_mbuf* m, uint32_t id, lcore_stats& st) = 0;
};

using engine::action;
using engine::outcome;

// A burst between its two halves: parsed, its registry keys hashed and their bucket lines on
// their way to the cache. Holds bucket numbers only, no pointer into the registry, so a
// worker may report a quiescent state while a burst is pending.
struct pending {
    uint32_t ids[burst_size];      // Individual Messages: recipient ID, probe, packet index
    probe id_probe[burst_size];
    uint8_t id_pkt[burst_size];
    uint64_t eps[burst_size];      // Heartbeats: sender endpoint key, probe, packet index
    probe ep_probe[burst_size];
    uint8_t ep_pkt[burst_size];
    uint8_t n_ids;
    uint8_t n_eps;
};

// First half: parses m[i]/v[i] (n <= burst_size router datagrams, single-segment, located by
// net::classify, received on rx_port; ports[] is indexed by ethdev port id), sets out[i] for the
// ones it settles (drops, Register Client to the control lcore), and starts the registry
// lookups of the others: hashes their keys and prefetches the bucket lines into *p.
void begin_burst(const config& cfg, const registry& reg, lcore_stats& st, const net::port_addr* ports, uint16_t rx_port,
                 rte_mbuf* const* m, const net::udp_view* v, unsigned n, outcome* out, pending* p);

// Second half, on the same m, v, out and p (consumed: its probes advance): compares the keys
// (their lines should have arrived by now), answers Heartbeats, forwards Individual Messages or
// answers Unknown Recipient, and sets the remaining out[i].
void end_burst(const config& cfg, const registry& reg, lcore_stats& st, const net::port_addr* ports,
               uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, uint64_t now, outcome* out,
               pending& p);

// Control lcore: applies a Register Client that a worker handed over (m was received on
// m->port, whose address is pa) and rewrites m into the Register Client Response.
// Returns the registry's verdict; on upsert_result::full the caller drops m (no response, so
// the client retries).
// What a Register Client changed, for whoever reports registrations (a cluster).
struct registered {
    uint32_t id = 0;
    endpoint ep{};
    std::optional<uint32_t> displaced;  // the ID the endpoint held before, now unregistered
};
upsert_result apply_register(registry& reg, rte_mbuf* m, const net::port_addr& pa, uint64_t now,
                             registered* what = nullptr);

// Hears the registry's changes on the control lcore (lib/cluster reports them to a Controlling
// Function). Called after each change; never on a worker.
class registration_listener {
public:
    virtual ~registration_listener() = default;
    // A new registration, or an ID that moved to a new endpoint.
    virtual void registered(uint32_t id, const endpoint& ep, uint64_t now, lcore_stats& st) = 0;
    // A registration that ended: expired, or displaced by another ID at its endpoint.
    virtual void unregistered(uint32_t id, uint64_t now, lcore_stats& st) = 0;
};

} // namespace peregrine::router
