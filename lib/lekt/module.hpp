#pragma once

// LEKT as an engine module: TCP on the engine's addresses, so its packets reach the kernel
// through the exception path like any TCP; the module's share is its control half, which
// polls the server's sockets (lekt::server) from the control lcore. It claims no UDP port and
// has no worker half.

#include "engine/module.hpp"
#include "lekt/server.hpp"

namespace peregrine::lekt {

class module final : public engine::module {
public:
    explicit module(server& srv);

    const char* name() const override { return "lekt"; }
    bool poll(uint64_t now) override;
    int wait_fd() const override { return srv_.wait_fd(); }

private:
    server& srv_;
    uint64_t idle_gap_;   // TSC between polls of an idle server
    uint64_t next_ = 0;   // TSC of the next poll
};

} // namespace peregrine::lekt
