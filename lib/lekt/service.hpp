#pragma once

// LEKT as the daemon starts it: the server's listening sockets on the engine's addresses (which
// live on the TAPs, so no exception path, no LEKT), the module, and /peregrine/lekt telemetry.

#include <memory>
#include <string>

#include "engine/service.hpp"
#include "lekt/module.hpp"
#include "lekt/options.hpp"
#include "lekt/server.hpp"

namespace peregrine::lekt {

class service final : public engine::service {
public:
    explicit service(const options& o, server_params p) : opt_(o), srv_(std::move(p)), mod_(srv_) {}
    ~service() override;
    std::string describe() const override;

    const server& srv() const { return srv_; }
    server& srv() { return srv_; }
    lekt::module& mod() { return mod_; }

private:
    options opt_;
    server srv_;
    lekt::module mod_;
};

// Registers /peregrine/lekt...: /peregrine/lekt says "enabled": 0 while LEKT is
// not running. Once, after the EAL.
void register_telemetry(const engine::telemetry_env* t);

std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::lekt
