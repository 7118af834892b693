#pragma once

// The session module as the daemon starts it: the session table (on the engine's RCU
// variable), one IPsec-MB manager per lcore, the application, the keyed mode's key, its config,
// the module, and /peregrine/session telemetry.

#include <memory>
#include <string>
#include <vector>

#include "crypto/sha256.hpp"
#include "engine/service.hpp"
#include "session/module.hpp"
#include "session/options.hpp"

namespace peregrine::session {

class service final : public engine::service {
public:
    explicit service(const options& o) : opt_(o) {}
    ~service() override;
    std::string describe() const override;

    const table& sessions() const { return *tab_; }
    const config& cfg() const { return cfg_; }
    const options& opts() const { return opt_; }

    // Set up by start(), in this order; torn down in reverse.
    struct table_delete {
        void operator()(table* t) const { delete t; }
    };

    options opt_;
    std::unique_ptr<table, table_delete> tab_;
    std::vector<std::unique_ptr<crypto::mb_context>> mb_;
    std::unique_ptr<application> app_;
    crypto::hmac_key key_{};
    config cfg_;
    source_limiter control_limit_;
    std::unique_ptr<session::module> mod_;
};

// Registers /peregrine/session...: they answer null while the module is not running. Once, after the EAL.
void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::session
