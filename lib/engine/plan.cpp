#include "engine/plan.hpp"

#include <algorithm>
#include <iterator>

namespace peregrine::engine {

bool make_plan(const std::vector<uint16_t>& ports, const std::vector<queue_map>& config, unsigned main_lcore,
               const std::vector<unsigned>& enabled, plan* out, std::string* err)
{
    auto fail = [&](const std::string& why) {
        *err = why;
        return false;
    };
    auto is_enabled = [&](unsigned l) { return std::find(enabled.begin(), enabled.end(), l) != enabled.end(); };
    auto driven = [&](uint16_t p) { return std::find(ports.begin(), ports.end(), p) != ports.end(); };
    plan pl;
    pl.config = config;
    if (pl.config.empty()) {
        auto first = std::find_if(enabled.begin(), enabled.end(), [&](unsigned l) { return l != main_lcore; });
        if (first == enabled.end())
            return fail("no worker lcore: give the EAL at least two lcores (e.g. -l 0-1); the main lcore is the "
                        "control lcore");
        for (uint16_t p : ports)
            pl.config.push_back({p, 0, *first});
    }
    std::map<uint16_t, std::vector<uint16_t>> queues_of;
    for (const auto& q : pl.config) {
        if (!driven(q.port))
            return fail("--config: port " + std::to_string(q.port) + " is not driven (not in -p or not probed)");
        if (!is_enabled(q.lcore))
            return fail("--config: lcore " + std::to_string(q.lcore) + " is not enabled in the EAL lcore list (-l/--lcores)");
        if (q.lcore == main_lcore)
            return fail("--config: lcore " + std::to_string(q.lcore) + " is the main lcore, which runs the control loop");
        queues_of[q.port].push_back(q.queue);
        pl.rx_of_lcore[q.lcore].push_back({q.port, q.queue});
    }
    for (uint16_t p : ports) {
        auto& qs = queues_of[p];
        if (qs.empty())
            return fail("--config: port " + std::to_string(p) + " has no queue");
        std::sort(qs.begin(), qs.end());
        for (size_t i = 0; i < qs.size(); ++i)
            if (qs[i] != i)
                return fail("--config: queues of port " + std::to_string(p) + " must be numbered 0.." +
                            std::to_string(qs.size() - 1));
        pl.n_rxq[p] = static_cast<uint16_t>(qs.size());
    }
    if (pl.n_workers() + 1 > max_workers)
        return fail("too many worker lcores (at most " + std::to_string(max_workers - 1) + ")");
    for (const auto& [lcore, rxqs] : pl.rx_of_lcore)
        if (rxqs.size() > std::size(worker_conf{}.rx))
            return fail("lcore " + std::to_string(lcore) + " polls too many RX queues");
    *out = std::move(pl);
    return true;
}

uint32_t mbufs_needed(const plan& p, bool with_taps)
{
    const uint64_t nw = p.n_workers();
    uint64_t n = 0;
    for (const auto& [port, nrx] : p.n_rxq)
        n += uint64_t(nrx) * ring_descriptors + nw * ring_descriptors + (with_taps ? ring_descriptors : 0);
    n += nw * (exception_ring_size + control_ring_size + tx_ring_size + 4 * burst_size);
    n += (nw + 1) * mempool_cache * 2 + 4096;
    return static_cast<uint32_t>(std::max<uint64_t>(n, 8192));
}

} // namespace peregrine::engine
