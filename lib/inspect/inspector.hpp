#pragma once

// The engine's payload inspection (engine::inspection): the rule set in force, published to the
// workers RCU-style, and one point per inspecting module with its counters.
//
// Reload: read the file, compile it and make its scratch on the calling thread (never a
// worker), swap the pointer the workers read (they pick it up at their next burst), wait one
// grace period on the engine's QSBR variable (each worker reports once a loop), fold the old
// set's match counts into the totals by rule ID, and free it. A file that does not parse or
// compile leaves the rules in force untouched.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>

#include "engine/inspection.hpp"
#include "inspect/database.hpp"

namespace peregrine::inspect {

class inspector;

// Counters of one point on one lcore, written by that lcore only.
struct alignas(64) point_counters {
    uint64_t scanned = 0;  // payloads
    uint64_t bytes = 0;
    uint64_t matched = 0;  // payloads at least one rule matched
    uint64_t dropped = 0;  // payloads a drop rule matched
    uint64_t errors = 0;   // scans Hyperscan refused (the payload passed)
};

class point final : public engine::inspection_point {
public:
    point(const inspector& owner, std::string name) : owner_(owner), name_(std::move(name)) {}
    unsigned scan(const uint8_t* const* data, const uint32_t* len, unsigned n, bool* drop) const override;
    const std::string& name() const { return name_; }
    point_counters sum() const;

private:
    const inspector& owner_;
    std::string name_;
    mutable std::array<point_counters, RTE_MAX_LCORE> c_{};
};

class inspector final : public engine::inspection {
public:
    struct config {
        std::string path;                  // the rules file
        bool all = true;                   // every module that asks inspects...
        std::vector<std::string> only;     // ...or only these
        std::vector<unsigned> lcores;      // the lcores that scan (a scratch each)
        rte_rcu_qsbr* rcu = nullptr;       // the workers' QSBR variable (null: no reader runs)
    };
    explicit inspector(config c) : cfg_(std::move(c)) {}
    ~inspector() override;

    // Reads, compiles and publishes the file (the first load, or a reload). False with *err
    // (also kept for telemetry) when it fails: the rules in force stay.
    bool load(std::string* err);
    // Publishes an already parsed set (load's second half; tests).
    bool publish(std::vector<rule> rules, std::string* err);

    const engine::inspection_point* point(const char* name) override;
    std::vector<std::string> unclaimed() const override;

    // The set in force: workers read it once a burst.
    const database* current() const { return cur_.load(std::memory_order_acquire); }

    // For telemetry (under the caller's lock against tear-down).
    struct status {
        uint64_t generation = 0, rules = 0, db_bytes = 0;
        uint64_t reloads = 0, failures = 0;
        uint64_t last_at = 0;  // Unix time of the last attempt
        bool last_ok = true;
        std::string last_error, path;
    };
    status state() const;
    const std::vector<std::unique_ptr<inspect::point>>& points() const { return points_; }
    // Matches per rule ID, since start (over reloads; a rule that left the file keeps its total).
    struct rule_matches {
        uint32_t id;
        uint64_t matches;
        bool loaded;
        rule_action action;
    };
    std::vector<rule_matches> matches() const;

private:
    config cfg_;
    std::atomic<const database*> cur_{nullptr};
    std::vector<std::unique_ptr<inspect::point>> points_;
    std::vector<std::string> claimed_;
    mutable std::mutex mu_;  // reloads (telemetry thread, SIGHUP thread) and status
    std::unique_ptr<database> owned_;
    std::map<uint32_t, uint64_t> retired_;  // rule ID -> matches in sets no longer in force
    uint64_t generation_ = 0, reloads_ = 0, failures_ = 0, last_at_ = 0;
    bool last_ok_ = true;
    std::string last_error_;
};

} // namespace peregrine::inspect
