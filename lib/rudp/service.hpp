#pragma once

// The RUDP module as the daemon starts it: the connection table (on the engine's RCU
// variable), per-lcore IPsec-MB managers, deflaters and inflaters, the server's certificate and
// the client CA, the handshaker, the AUTH rate limits, its config, the module, and
// /peregrine/rudp telemetry.

#include <memory>
#include <string>
#include <vector>

#include "common/gcra.hpp"
#include "engine/service.hpp"
#include "rudp/keys.hpp"
#include "rudp/module.hpp"
#include "rudp/options.hpp"

namespace peregrine::rudp {

class service final : public engine::service {
public:
    explicit service(const options& o) : opt_(o) {}
    ~service() override;
    std::string describe() const override;

    struct table_delete {
        void operator()(table* t) const { delete t; }
    };

    options opt_;
    std::unique_ptr<table, table_delete> tab_;
    std::vector<std::unique_ptr<crypto::mb_context>> mb_;
    std::vector<std::unique_ptr<crypto::deflater>> def_;
    std::vector<std::unique_ptr<crypto::inflater>> inf_;
    identity id_;
    store_ptr client_ca_;
    std::vector<std::unique_ptr<uint8_t[]>> big_;
    std::unique_ptr<app::application> app_;
    std::unique_ptr<handshaker> hs_;
    reassembly reasm_;
    rte_ring* sent_ring_ = nullptr;
    rte_ring* ack_ring_ = nullptr;
    std::unique_ptr<retransmitter> rt_;
    source_limiter limit_;
    config cfg_;
    std::unique_ptr<rudp::module> mod_;
};

// Registers /peregrine/rudp: it answers null while the module is not running. Once, after the EAL.
void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::rudp
