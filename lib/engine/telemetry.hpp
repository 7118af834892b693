#pragma once

// Helpers for the /peregrine/... telemetry commands, the core's and every module's. Callbacks
// run on DPDK's telemetry thread: they read counters (relaxed), and take telemetry_env::mu
// while they look at a module's state (the daemon holds it while it tears modules down).

#include <array>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <utility>

#include <rte_rcu_qsbr.h>
#include <rte_telemetry.h>

#include "common/stats.hpp"

namespace peregrine::engine {

// What a module's telemetry reads of the running engine.
struct telemetry_env {
    const lcore_stats* stats = nullptr;  // one block per lcore
    unsigned n_stats = 0;
    std::mutex* mu = nullptr;            // serialises callbacks against tear-down
    rte_rcu_qsbr* rcu = nullptr;         // the engine's RCU variable...
    unsigned reader = 0;                 // ...and telemetry's reader id on it
    lcore_stats sum() const { return stats_sum(stats, n_stats); }
};

// What a module's telemetry callbacks read (DPDK's callbacks take no context pointer): its
// running service, null while it is not running, and the engine's telemetry environment.
template <typename Service>
struct telemetry_slot {
    const Service* svc = nullptr;
    const telemetry_env* tel = nullptr;
    // The service is going away: callbacks that run after this see none.
    void detach()
    {
        if (!tel) {
            svc = nullptr;
            return;
        }
        std::lock_guard<std::mutex> lk(*tel->mu);
        svc = nullptr;
    }
};

void add_u64s(rte_tel_data* d, std::initializer_list<std::pair<const char*, uint64_t>> kv);

// One key per entry of a stats.hpp X-macro list (its counter array): name(i) -> v[i].
template <typename Name, std::size_t N>
void add_named(rte_tel_data* d, Name name, const std::array<uint64_t, N>& v)
{
    for (unsigned i = 0; i < N; ++i)
        rte_tel_data_add_dict_u64(d, std::string(name(i)).c_str(), v[i]);
}

// A dict to nest with rte_tel_data_add_dict_container (null if out of memory).
rte_tel_data* new_dict();
uint64_t ms_since(uint64_t now, uint64_t then);
// "ip", "udp_port", "port_id" of an endpoint.
void add_endpoint(rte_tel_data* d, uint32_t ip_be, uint16_t udp_port_be, uint16_t port_id);
// A command's Client ID parameter: decimal or 0x-hexadecimal (never octal: "010" is ten).
bool parse_client_id(const char* params, uint32_t* id);

// The telemetry thread as an RCU reader (its own reader id) while it looks entries up.
class rcu_reader {
public:
    explicit rcu_reader(const telemetry_env& t) : v_(t.rcu), id_(t.reader)
    {
        rte_rcu_qsbr_thread_register(v_, id_);
        rte_rcu_qsbr_thread_online(v_, id_);
    }
    ~rcu_reader()
    {
        rte_rcu_qsbr_thread_offline(v_, id_);
        rte_rcu_qsbr_thread_unregister(v_, id_);
    }
    rcu_reader(const rcu_reader&) = delete;
    rcu_reader& operator=(const rcu_reader&) = delete;

private:
    rte_rcu_qsbr* v_;
    unsigned id_;
};

} // namespace peregrine::engine
