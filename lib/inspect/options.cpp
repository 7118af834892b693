#include "inspect/options.hpp"

#include "inspect/database.hpp"

namespace peregrine::inspect {

bool check_rules_file(const std::string& path, std::string* err)
{
    std::vector<rule> rules;
    if (!read_rules(path, &rules, err))
        return false;
    std::string why;
    if (!database::compile(std::move(rules), {}, 0, &why)) {
        *err = path + ": " + why;
        return false;
    }
    return true;
}

engine::option_section option_section(options& o)
{
    engine::option_section s;
    s.title = "Payload inspection (Hyperscan; docs/inspection.md):";
    s.options = {
        {"inspect-rules", "FILE",
         "inspect payloads against the rules in FILE, one `ID:/regex/flags [drop|count]`\n"
         "a line; reloaded on SIGHUP and /peregrine/inspect/reload",
         [&o](const char* v, std::string* err) {
             if (!*v)
                 return *err = "--inspect-rules: empty path", false;
             if (!check_rules_file(v, err))
                 return *err = "--inspect-rules: " + *err, false;
             o.rules = v;
             return true;
         }},
        {"inspect", "LIST",
         "the modules whose payloads are inspected, comma-separated (router, session,\n"
         "rudp), or all (default) or none",
         [&o](const char* v, std::string* err) {
             const std::string s = v;
             o.only.clear();
             o.all = s == "all";
             if (o.all || s == "none")
                 return true;
             size_t at = 0;
             while (at <= s.size()) {
                 const size_t comma = std::min(s.find(',', at), s.size());
                 const std::string name = s.substr(at, comma - at);
                 if (name.empty())
                     return *err = "--inspect: empty module name in '" + s + "'", false;
                 o.only.push_back(name);
                 at = comma + 1;
             }
             return true;
         }},
    };
    return s;
}

} // namespace peregrine::inspect
