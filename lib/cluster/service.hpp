#pragma once

// The cluster module as the daemon starts it (with --lb-server): the member, its module plugged
// in after the router's, the router's registry changes pointed at it, /peregrine/cluster.

#include <memory>
#include <string>

#include "cluster/module.hpp"
#include "cluster/options.hpp"
#include "engine/service.hpp"

namespace peregrine::cluster {

class service final : public engine::service {
public:
    service(const options& o, const config& c, const member_params& mp, const peering_params& pp);
    ~service() override;
    std::string describe() const override;
    std::string status(const lcore_stats& s) const override;

    cluster::module& mod() { return mod_; }
    const cluster::module& mod() const { return mod_; }
    const options& opts() const { return opt_; }

private:
    options opt_;
    cluster::module mod_;
};

void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::cluster
