#include "inspect/inspector.hpp"

#include <algorithm>
#include <ctime>

#include "common/compiler.hpp"

namespace peregrine::inspect {

unsigned point::scan(const uint8_t* const* data, const uint32_t* len, unsigned n, bool* drop) const
{
    const unsigned lcore = rte_lcore_id();
    const database* d = owner_.current();
    point_counters& c = c_[lcore < RTE_MAX_LCORE ? lcore : 0];
    unsigned matched = 0, dropped = 0, errors = 0;
    uint64_t bytes = 0;
    if (PG_UNLIKELY(!d)) {
        for (unsigned k = 0; k < n; ++k)
            drop[k] = false;
    } else {
        // Back to back on one scratch: the database's tables stay in cache across the burst.
        for (unsigned k = 0; k < n; ++k) {
            const database::verdict v = d->scan(lcore, data[k], len[k]);
            drop[k] = v.drop;
            matched += v.matched;
            dropped += v.drop;
            errors += v.error;
            bytes += len[k];
        }
    }
    // Once per burst: a counter in memory per payload is a store-to-load chain.
    c.scanned += n;
    c.bytes += bytes;
    c.matched += matched;
    c.dropped += dropped;
    c.errors += errors;
    return dropped;
}

point_counters point::sum() const
{
    point_counters s;
    for (const auto& c : c_) {
        s.scanned += __atomic_load_n(&c.scanned, __ATOMIC_RELAXED);
        s.bytes += __atomic_load_n(&c.bytes, __ATOMIC_RELAXED);
        s.matched += __atomic_load_n(&c.matched, __ATOMIC_RELAXED);
        s.dropped += __atomic_load_n(&c.dropped, __ATOMIC_RELAXED);
        s.errors += __atomic_load_n(&c.errors, __ATOMIC_RELAXED);
    }
    return s;
}

inspector::~inspector()
{
    // The workers have stopped.
    cur_.store(nullptr);
}

bool inspector::load(std::string* err)
{
    std::vector<rule> rules;
    if (!read_rules(cfg_.path, &rules, err)) {
        std::lock_guard<std::mutex> lk(mu_);
        ++failures_;
        last_at_ = static_cast<uint64_t>(std::time(nullptr));
        last_ok_ = false;
        last_error_ = *err;
        return false;
    }
    return publish(std::move(rules), err);
}

bool inspector::publish(std::vector<rule> rules, std::string* err)
{
    std::lock_guard<std::mutex> lk(mu_);
    last_at_ = static_cast<uint64_t>(std::time(nullptr));
    auto next = database::compile(std::move(rules), cfg_.lcores, generation_ + 1, err);
    if (!next) {
        ++failures_;
        last_ok_ = false;
        last_error_ = *err;
        return false;
    }
    ++generation_;
    ++reloads_;
    last_ok_ = true;
    last_error_.clear();
    cur_.store(next.get(), std::memory_order_release);
    // Every worker has finished the burst that may have read the old set once each has
    // reported a quiescent state after the swap.
    if (cfg_.rcu)
        rte_rcu_qsbr_synchronize(cfg_.rcu, RTE_QSBR_THRID_INVALID);
    if (owned_) {
        for (std::size_t i = 0; i < owned_->rules().size(); ++i)
            retired_[owned_->rules()[i].id] += owned_->matches(i);
    }
    owned_ = std::move(next);
    return true;
}

const engine::inspection_point* inspector::point(const char* name)
{
    if (!cfg_.all && std::find(cfg_.only.begin(), cfg_.only.end(), name) == cfg_.only.end())
        return nullptr;
    claimed_.emplace_back(name);
    points_.push_back(std::make_unique<inspect::point>(*this, name));
    return points_.back().get();
}

std::vector<std::string> inspector::unclaimed() const
{
    std::vector<std::string> out;
    for (const auto& n : cfg_.only)
        if (std::find(claimed_.begin(), claimed_.end(), n) == claimed_.end())
            out.push_back(n);
    return out;
}

inspector::status inspector::state() const
{
    std::lock_guard<std::mutex> lk(mu_);
    status s;
    s.generation = generation_;
    s.rules = owned_ ? owned_->rules().size() : 0;
    s.db_bytes = owned_ ? owned_->bytes() : 0;
    s.reloads = reloads_;
    s.failures = failures_;
    s.last_at = last_at_;
    s.last_ok = last_ok_;
    s.last_error = last_error_;
    s.path = cfg_.path;
    return s;
}

std::vector<inspector::rule_matches> inspector::matches() const
{
    std::lock_guard<std::mutex> lk(mu_);
    std::map<uint32_t, rule_matches> by_id;
    for (const auto& [id, n] : retired_)
        by_id[id] = {id, n, false, rule_action::count};
    if (owned_) {
        for (std::size_t i = 0; i < owned_->rules().size(); ++i) {
            const rule& r = owned_->rules()[i];
            rule_matches& m = by_id[r.id];
            m.id = r.id;
            m.matches += owned_->matches(i);
            m.loaded = true;
            m.action = r.action;
        }
    }
    std::vector<rule_matches> out;
    for (const auto& [id, m] : by_id)
        out.push_back(m);
    return out;
}

} // namespace peregrine::inspect
