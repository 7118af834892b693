#pragma once

// Application options as data: each module declares its section of --help with its options and
// what each does to the module's own options struct; the daemon parses the core's sections and
// every module's in one getopt_long pass, before the EAL starts, so a bad value costs nothing.
// Parsing is pure: syntax and ranges, never a device.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace peregrine::engine {

struct option {
    std::string name;  // without "--"
    std::string arg;   // the value's placeholder in --help ("N", "S"); empty: a flag
    std::string help;  // lines separated by '\n', wrapped to fit 72 columns after the name
    // Applies the value (nullptr for a flag); false with *err naming the option when refused.
    std::function<bool(const char* value, std::string* err)> apply;
};

struct option_section {
    std::string title;           // its heading in --help
    std::vector<option> options;
    // UDP ports this section gives to a protocol, by option name: no two may be equal.
    std::vector<std::pair<std::string, const uint16_t*>> udp_ports;
};

// Strict unsigned parse: the whole string, base 10 (or 16 with 0x when base is 0), in range.
bool parse_u64(const char* s, int base, uint64_t lo, uint64_t hi, uint64_t* out);
// Sets *err to "--name: 'value' is not an integer in [lo, hi]"; returns false.
bool range_error(std::string* err, const std::string& name, const char* value, uint64_t lo, uint64_t hi);

// Builders for the common kinds.
option flag(std::string name, std::string help, bool* out);
option integer(std::string name, std::string arg, uint64_t lo, uint64_t hi, std::string help, uint32_t* out);
option udp_port(std::string name, std::string help, uint16_t* out);
// A.B.C.D (port 0 allowed only when with_port is false) or A.B.C.D:PORT; network order in *ip_be
// and *port_be.
option ipv4(std::string name, std::string help, uint32_t* ip_be);
option ipv4_endpoint(std::string name, std::string help, uint32_t* ip_be, uint16_t* port_be);
// One of `choices`; *out = its index.
option choice(std::string name, std::string arg, std::vector<std::string> choices, std::string help, unsigned* out);

// Parses argv[1..argc) (options only, no operands) against every section; -h/--help sets *help
// and stops. short_opts/on_short: the core's short options (getopt syntax) and their handler.
bool parse(int argc, char** argv, const std::vector<option_section>& sections, const char* short_opts,
           const std::function<bool(int opt, const char* value, std::string* err)>& on_short, bool* help,
           std::string* err);

// The sections as --help prints them.
std::string format(const std::vector<option_section>& sections);

} // namespace peregrine::engine
