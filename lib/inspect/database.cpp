#include "inspect/database.hpp"

#include <cstring>

#include <hs/hs.h>

namespace peregrine::inspect {

namespace {

// Counter rows start on their own cache line: two lcores never write one line.
static constexpr std::size_t row_align = 64 / sizeof(uint64_t);

struct match_ctx {
    const uint8_t* drop;
    uint64_t* counts;
    bool matched;
    bool dropped;
};

int on_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* p)
{
    auto* c = static_cast<match_ctx*>(p);
    ++c->counts[id];
    c->matched = true;
    c->dropped |= c->drop[id] != 0;
    return 0;  // go on: every matching rule is counted
}

} // namespace

unsigned hs_flags(uint8_t f)
{
    unsigned h = HS_FLAG_SINGLEMATCH;
    if (f & caseless)
        h |= HS_FLAG_CASELESS;
    if (f & multiline)
        h |= HS_FLAG_MULTILINE;
    if (f & dotall)
        h |= HS_FLAG_DOTALL;
    if (f & allow_empty)
        h |= HS_FLAG_ALLOWEMPTY;
    if (f & utf8)
        h |= HS_FLAG_UTF8;
    if (f & ucp)
        h |= HS_FLAG_UCP;
    return h;
}

database::~database()
{
    for (unsigned l : lcores_)
        hs_free_scratch(scratch_[l]);
    hs_free_database(db_);
}

std::unique_ptr<database> database::compile(std::vector<rule> rules, const std::vector<unsigned>& lcores,
                                            uint64_t generation, std::string* err)
{
    std::unique_ptr<database> d(new database());
    d->generation_ = generation;
    d->rules_ = std::move(rules);
    const std::size_t n = d->rules_.size();
    d->drop_.resize(n);
    for (std::size_t i = 0; i < n; ++i)
        d->drop_[i] = d->rules_[i].action == rule_action::drop;

    if (n) {
        std::vector<const char*> exprs(n);
        std::vector<unsigned> flags(n), ids(n);
        for (std::size_t i = 0; i < n; ++i) {
            exprs[i] = d->rules_[i].expr.c_str();
            flags[i] = hs_flags(d->rules_[i].flags);
            ids[i] = static_cast<unsigned>(i);
        }
        hs_compile_error_t* ce = nullptr;
        if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(n), HS_MODE_BLOCK, nullptr,
                             &d->db_, &ce) != HS_SUCCESS) {
            if (ce && ce->expression >= 0 && static_cast<std::size_t>(ce->expression) < n) {
                const rule& r = d->rules_[ce->expression];
                *err = "line " + std::to_string(r.line) + ": rule " + std::to_string(r.id) + ": " + ce->message;
            } else {
                *err = std::string("Hyperscan: ") + (ce ? ce->message : "compile failed");
            }
            hs_free_compile_error(ce);
            d->db_ = nullptr;
            return nullptr;
        }
        hs_database_size(d->db_, &d->bytes_);
    }

    const std::size_t stride = (n + row_align - 1) / row_align * row_align;
    d->count_mem_.reset(new (std::nothrow) uint64_t[stride * lcores.size() + row_align]());
    if (!d->count_mem_) {
        *err = "out of memory for the rules' counters";
        return nullptr;
    }
    // The first row on a cache line of its own.
    uint64_t* base = d->count_mem_.get();
    base += (row_align - (reinterpret_cast<uintptr_t>(base) / sizeof(uint64_t)) % row_align) % row_align;
    hs_scratch_t* proto = nullptr;
    if (d->db_ && hs_alloc_scratch(d->db_, &proto) != HS_SUCCESS) {
        *err = "Hyperscan: cannot allocate scratch";
        return nullptr;
    }
    for (std::size_t k = 0; k < lcores.size(); ++k) {
        const unsigned l = lcores[k];
        if (l >= RTE_MAX_LCORE || d->counts_[l])
            continue;
        d->counts_[l] = base + k * stride;
        d->lcores_.push_back(l);
        if (!d->db_)
            continue;
        if (hs_clone_scratch(proto, &d->scratch_[l]) != HS_SUCCESS) {
            hs_free_scratch(proto);
            *err = "Hyperscan: cannot allocate scratch";
            return nullptr;
        }
    }
    hs_free_scratch(proto);
    return d;
}

database::verdict database::scan(unsigned lcore, const uint8_t* data, uint32_t len) const
{
    verdict v;
    if (!db_ || lcore >= RTE_MAX_LCORE || !scratch_[lcore])
        return v;
    match_ctx c{drop_.data(), counts_[lcore], false, false};
    const hs_error_t r = hs_scan(db_, reinterpret_cast<const char*>(data), len, 0, scratch_[lcore], on_match, &c);
    v.matched = c.matched;
    v.drop = c.dropped;
    v.error = r != HS_SUCCESS;
    return v;
}

uint64_t database::matches(std::size_t i) const
{
    uint64_t s = 0;
    for (unsigned l : lcores_)
        s += __atomic_load_n(&counts_[l][i], __ATOMIC_RELAXED);
    return s;
}

} // namespace peregrine::inspect
