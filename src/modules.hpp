#pragma once

// The list of modules (src/modules.cpp): what the daemon serves, in dispatch order, one line per
// module naming its options field, --help section, start and telemetry.

#include <memory>
#include <string>
#include <vector>

#include "engine/service.hpp"
#include "options.hpp"

namespace peregrine {

// Every module's --help section and parsers (the core's sections around them).
std::vector<engine::option_section> module_sections(options* o);

// Starts every module that is on, plugging each into e.ctx: the services in order, or false
// with *err. *notes collects what the modules have to say (one log line each).
bool start_modules(const options& o, const engine::env& e, std::vector<std::unique_ptr<engine::service>>* out,
                   std::vector<std::string>* notes, std::string* err);

// Every module's telemetry commands (registered whether the module runs or not).
void register_module_telemetry(const engine::telemetry_env* t);

} // namespace peregrine
