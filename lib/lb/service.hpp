#pragma once

// The load-balancer module as the daemon starts it: lb::state (on the engine's RCU variable),
// its config, the module, and /peregrine/lb telemetry.

#include <memory>
#include <string>

#include "common/gcra.hpp"
#include "engine/service.hpp"
#include "lb/module.hpp"
#include "lb/options.hpp"

namespace peregrine::lb {

class service final : public engine::service {
public:
    service(const options& o, const engine::env& e);
    ~service() override;
    std::string describe() const override;

    const state& lb_state() const { return *state_; }
    lb::module& mod() { return *mod_; }
    const options& opts() const { return opt_; }

private:
    options opt_;
    config cfg_;
    source_limiter control_limit_;
    std::unique_ptr<state> state_;
    std::unique_ptr<lb::module> mod_;
};

// Registers /peregrine/lb...: they answer null while the module is not running. Once, after the EAL.
void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::lb
