#include "lb/maglev.hpp"

#include <algorithm>

namespace peregrine::lb {

void build(table* t, const endpoint* nodes, uint32_t n)
{
    t->n_nodes = n;
    t->size = n ? maglev_size : 0;
    if (!n)
        return;
    std::copy(nodes, nodes + n, t->nodes);
    std::sort(t->nodes, t->nodes + n, [](const endpoint& a, const endpoint& b) { return key_of(a) < key_of(b); });

    constexpr uint32_t M = maglev_size;
    // Per node: offset and skip of its permutation, and how far along it it is.
    std::vector<uint32_t> offset(n), skip(n), next(n, 0);
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t k = key_of(t->nodes[i]);
        const uint32_t h1 = rte_hash_crc_8byte(k, 0x243f6a88u);
        const uint32_t h2 = rte_hash_crc_8byte(k, 0x85a308d3u);
        offset[i] = h1 % M;
        skip[i] = h2 % (M - 1) + 1;
    }
    static constexpr uint16_t empty = UINT16_MAX;
    std::fill(t->slot, t->slot + M, empty);
    uint32_t filled = 0;
    while (true) {
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t c = static_cast<uint32_t>((offset[i] + uint64_t(next[i]) * skip[i]) % M);
            while (t->slot[c] != empty) {
                ++next[i];
                c = static_cast<uint32_t>((offset[i] + uint64_t(next[i]) * skip[i]) % M);
            }
            t->slot[c] = static_cast<uint16_t>(i);
            ++next[i];
            if (++filled == M)
                return;
        }
    }
}

} // namespace peregrine::lb
