#include "engine/context.hpp"

#include <rte_errno.h>

namespace peregrine::engine {

int module_field_offset = -1;

bool register_module_field()
{
    if (module_field_offset >= 0)
        return true;
    static const rte_mbuf_dynfield desc = {"peregrine_module", sizeof(uint8_t), alignof(uint8_t), 0};
    module_field_offset = rte_mbuf_dynfield_register(&desc);
    return module_field_offset >= 0;
}

bool context::add(module* m, std::string* err)
{
    auto fail = [&](const std::string& why) {
        if (err)
            *err = why;
        return false;
    };
    if (n_modules >= max_modules)
        return fail(std::string("module ") + m->name() + ": more than " + std::to_string(max_modules) + " modules");
    if (!register_module_field())
        return fail(std::string("cannot register the module mbuf field: ") + rte_strerror(rte_errno));
    const std::vector<uint16_t> claimed = m->udp_ports();
    for (uint16_t p : claimed)
        if (udp_module[p] != no_module)
            return fail(std::string("module ") + m->name() + ": UDP port " + std::to_string(p) + " is taken by " +
                        modules[udp_module[p]]->name());
    m->index_ = static_cast<uint8_t>(n_modules);
    staged[n_modules] = m->has_stage();
    modules[n_modules++] = m;
    for (uint16_t p : claimed)
        udp_module[p] = m->index_;
    return true;
}

module* context::find(const char* name) const
{
    for (unsigned i = 0; i < n_modules; ++i)
        if (std::strcmp(modules[i]->name(), name) == 0)
            return modules[i];
    return nullptr;
}

} // namespace peregrine::engine
