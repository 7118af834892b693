#pragma once

// Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4): every backend walks its
// own permutation of the M slots of a lookup table, and the backends take turns claiming their
// next free slot until the table is full. Each backend then owns floor(M/N) or ceil(M/N) slots
// (even spread), and when one backend leaves, mostly its own slots change hands (minimal
// disruption). A client is hashed to a slot: it keeps its serving node while the set is stable.
//
// A table is immutable once published: the control lcore builds a new one and swaps the pointer
// the workers read (see lb::directory); the old one is freed after an RCU grace period.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <rte_hash_crc.h>

#include "lb/codec.hpp"

namespace peregrine::lb {

// Slots in the lookup table: a prime (the permutation's skip must be coprime with it) about
// 64 times the largest node count, so every node's share is within ~1.6% of the mean (M/N slots
// +-1); 64K two-byte slots = 128 KiB, which stays in L2.
static constexpr uint32_t maglev_size = 65537;
// Largest serving-node set a table holds: slot entries are uint16_t, and the balance above.
static constexpr uint32_t max_nodes = 1024;

struct table {
    uint32_t n_nodes;
    uint32_t size;                  // maglev_size, or 0 when n_nodes == 0
    endpoint nodes[max_nodes];      // the endpoints clients are given, in node-index order
    uint16_t slot[maglev_size];     // node index of each slot
};

// The requester's hash: its source address and port (what a client keeps across requests).
inline uint32_t requester_hash(uint32_t ip_be, uint16_t port_be)
{
    return rte_hash_crc_4byte(ip_be, rte_hash_crc_2byte(port_be, 0x9e3779b9u));
}

// The node for a requester; t->n_nodes must be > 0.
inline const uint16_t* slot_of(const table* t, uint32_t h) { return &t->slot[h % maglev_size]; }
inline const endpoint& pick(const table* t, uint32_t h) { return t->nodes[*slot_of(t, h)]; }

// Fills t for nodes (n <= max_nodes; order does not matter for the result: nodes are sorted
// by their endpoint first, so every rebuild of the same set gives the same table).
void build(table* t, const endpoint* nodes, uint32_t n);

} // namespace peregrine::lb
