#pragma once

// A compiled rule set: one Hyperscan block-mode database of every rule (pattern id = the rule's
// index, so a match finds its action and counter without a lookup), a scratch and a row of
// match counters for each lcore that scans, all made before the set is published to the
// workers and freed only after their grace period (inspect::inspector).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rte_lcore.h>

#include "inspect/rules.hpp"

struct hs_database;
struct hs_scratch;

namespace peregrine::inspect {

class database {
public:
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    // Compiles rules (an empty set compiles to a database that matches nothing) with a scratch
    // and counters for each of lcores. nullptr with *err = "line N: rule ID: Hyperscan's
    // message" for a rule that does not compile, or what else failed.
    static std::unique_ptr<database> compile(std::vector<rule> rules, const std::vector<unsigned>& lcores,
                                             uint64_t generation, std::string* err);

    struct verdict {
        bool matched = false;
        bool drop = false;
        bool error = false;  // Hyperscan refused the scan: the payload passes (counted)
    };
    // One block-mode scan on lcore's scratch, counting each matching rule once. Worker-safe.
    verdict scan(unsigned lcore, const uint8_t* data, uint32_t len) const;

    const std::vector<rule>& rules() const { return rules_; }
    uint64_t generation() const { return generation_; }
    std::size_t bytes() const { return bytes_; }   // the compiled database
    // Matches of rule index i since this set was published, over every lcore (relaxed reads).
    uint64_t matches(std::size_t i) const;
    // Whether lcore has a scratch here.
    bool has_lcore(unsigned lcore) const { return lcore < RTE_MAX_LCORE && scratch_[lcore] != nullptr; }

private:
    database() = default;

    std::vector<rule> rules_;
    std::vector<uint8_t> drop_;          // rules_[i].action == drop, one byte each for the callback
    hs_database* db_ = nullptr;          // null for an empty set
    hs_scratch* scratch_[RTE_MAX_LCORE] = {};
    uint64_t* counts_[RTE_MAX_LCORE] = {};  // one row of rules_.size() counters per lcore
    std::vector<unsigned> lcores_;
    std::unique_ptr<uint64_t[]> count_mem_;
    uint64_t generation_ = 0;
    std::size_t bytes_ = 0;
};

// Hyperscan's flags for a rule's (rule_flag bits; single match always on).
unsigned hs_flags(uint8_t flags);

} // namespace peregrine::inspect
