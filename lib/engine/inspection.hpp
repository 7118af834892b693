#pragma once

// Payload inspection as the engine core knows it: an interface, not an implementation. A
// protocol module asks the context's inspection (lib/inspect, when --inspect-rules is given)
// for its point at start, and its worker half hands that point the payloads it is about to
// forward or deliver, one call per burst. The core names no protocol and no rule engine.

#include <cstdint>
#include <string>
#include <vector>

#include "common/compiler.hpp"

namespace peregrine::engine {

class inspection_point {
public:
    virtual ~inspection_point() = default;
    // Scans n payloads back to back on the calling lcore with the rules in force; drop[k]:
    // whether a drop rule matched payload k. Returns how many are to be dropped. Worker-safe:
    // no allocation, lock, syscall or log.
    virtual unsigned scan(const uint8_t* const* data, const uint32_t* len, unsigned n, bool* drop) const = 0;
};

// A module's payloads of one burst, gathered for one scan() call, each with the index (its
// packet, or its place in the module's list) that its verdict goes to.
struct inspection_batch {
    const uint8_t* data[burst_size];
    uint32_t len[burst_size];
    uint8_t which[burst_size];
    unsigned n = 0;

    void add(const uint8_t* d, uint32_t l, unsigned index)
    {
        data[n] = d;
        len[n] = l;
        which[n++] = static_cast<uint8_t>(index);
    }
    // Scans them on pt; drop[which[k]] = true for each payload k a drop rule matched (the other
    // entries of drop are left as they are).
    void scan(const inspection_point& pt, bool* drop) const
    {
        bool v[burst_size];
        if (n && pt.scan(data, len, n, v))
            for (unsigned k = 0; k < n; ++k)
                drop[which[k]] |= v[k];
    }
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
