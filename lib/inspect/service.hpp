#pragma once

// Payload inspection as the daemon starts it: the inspector (its first load refused before the
// workers start when the file does not compile), the context's inspection set to it so that
// the modules after it find their points, a thread that reloads on SIGHUP, and
// /peregrine/inspect, /peregrine/inspect/rules, /peregrine/inspect/reload.

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <semaphore.h>

#include "engine/service.hpp"
#include "inspect/inspector.hpp"
#include "inspect/options.hpp"

namespace peregrine::inspect {

class service final : public engine::service {
public:
    explicit service(const options& o) : opt_(o) {}
    ~service() override;
    std::string describe() const override;
    // Reloads now and logs the outcome (SIGHUP's thread, telemetry).
    bool reload(std::string* err);

    options opt_;
    std::unique_ptr<inspector> insp_;
    engine::context* ctx_ = nullptr;
    sem_t hup_;
    bool hup_ready_ = false;
    std::atomic<bool> quit_{false};
    std::thread hup_thread_;
};

void register_telemetry(const engine::telemetry_env* t);

// Nothing (no error) without --inspect-rules; a must be first in the daemon's list of modules.
std::unique_ptr<engine::service> start(const options& o, const engine::env& e, std::string* err, std::string* note);

} // namespace peregrine::inspect
