#pragma once

// The router module as the daemon starts it: the registry (on the engine's RCU variable), its
// config, the module, and /peregrine/router telemetry.

#include <memory>
#include <string>

#include "engine/service.hpp"
#include "router/module.hpp"
#include "router/options.hpp"

namespace peregrine::router {

class service final : public engine::service {
public:
    service(const options& o, registry* reg, uint64_t tsc_hz);
    ~service() override;
    std::string describe() const override;
    std::string status(const lcore_stats& s) const override;

    registry& reg() const { return *reg_; }
    router::module& mod() { return mod_; }
    const options& opts() const { return opt_; }
    // Before the module is plugged in: the inspection point its workers use.
    void set_inspection(const engine::inspection_point* p) { cfg_.inspect = p; }

private:
    options opt_;
    std::unique_ptr<registry> reg_;
    config cfg_;
    source_limiter register_limit_;
    router::module mod_;
};

// Registers /peregrine/router...: they answer null while the module is not running. Once, after the EAL.
void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::router
