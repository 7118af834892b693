#pragma once

// Payload inspection as the engine core knows it: an interface, not an implementation. A
// protocol module asks the context's inspection (lib/inspect, when --inspect-rules is given)
// for its point at start, and its worker half hands that point the payloads it is about to
// forward or deliver, one call per burst. The core names no protocol and no rule engine.

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::engine {

class inspection_point {
public:
    virtual ~inspection_point() = default;
    // Scans n payloads back to back on the calling lcore with the rules in force; drop[k]:
    // whether a drop rule matched payload k. Returns how many are to be dropped. Worker-safe:
    // no allocation, lock, syscall or log.
    virtual unsigned scan(const uint8_t* const* data, const uint32_t* len, unsigned n, bool* drop) const = 0;
};

class inspection {
public:
    virtual ~inspection() = default;
    // The point of module `name`, or nullptr when its inspection is off (--inspect). Call from
    // the module's start; the point lives as long as the inspection.
    virtual const inspection_point* point(const char* name) = 0;
    // Names --inspect gave that no module asked for: checked once every module has started.
    virtual std::vector<std::string> unclaimed() const = 0;
};

} // namespace peregrine::engine
