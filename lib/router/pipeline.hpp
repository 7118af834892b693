#pragma once

// The router protocol's fast path: one call per burst of router datagrams on a worker lcore.
// Heartbeats and Individual Messages are answered or forwarded in place; Register Client is
// handed to the control lcore (the registry's single writer), which answers it once the
// registration is visible to every worker.

#include <cstdint>

#include <rte_mbuf.h>

#include "common/compiler.hpp"
#include "common/stats.hpp"
#include "net/classify.hpp"
#include "router/registry.hpp"

namespace peregrine::router {

struct config {
    uint16_t udp_port = 7100;           // host order
    uint64_t heartbeat_timeout_tsc = 0; // registrations unrefreshed this long expire
};

enum class action : uint8_t { tx, control, drop };

struct outcome {
    action a;
    uint16_t port;  // for tx: ethdev port to send on
    drop why;       // for drop
};

// m[i]/v[i]: n <= burst_size router datagrams (single-segment, located by net::classify)
// received on rx_port. ports[] is indexed by ethdev port id. Writes out[i] for each.
void handle_burst(const config& cfg, const registry& reg, lcore_stats& st, const net::port_addr* ports,
                  uint16_t rx_port, rte_mbuf* const* m, net::udp_view* v, unsigned n, uint64_t now,
                  outcome* out);

// Control lcore: applies a Register Client that a worker handed over (m was received on
// m->port, whose address is pa) and rewrites m into the Register Client Response.
// Returns the registry's verdict; on upsert_result::full the caller drops m (no response, so
// the client retries).
upsert_result apply_register(registry& reg, rte_mbuf* m, const net::port_addr& pa, uint64_t now);

} // namespace peregrine::router
