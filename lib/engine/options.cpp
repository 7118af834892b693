#include "engine/options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <getopt.h>

namespace peregrine::engine {

namespace {
// Where the help text starts: "  --name ARG" is padded to this column.
static constexpr std::size_t help_column = 25;
} // namespace

bool parse_u64(const char* s, int base, uint64_t lo, uint64_t hi, uint64_t* out)
{
    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, base);
    if (errno || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool range_error(std::string* err, const std::string& name, const char* value, uint64_t lo, uint64_t hi)
{
    *err = "--" + name + ": '" + (value ? value : "") + "' is not an integer in [" + std::to_string(lo) + ", " +
           std::to_string(hi) + "]";
    return false;
}

option flag(std::string name, std::string help, bool* out)
{
    return {std::move(name), "", std::move(help), [out](const char*, std::string*) {
                *out = true;
                return true;
            }};
}

option integer(std::string name, std::string arg, uint64_t lo, uint64_t hi, std::string help, uint32_t* out)
{
    std::string n = name;
    return {std::move(name), std::move(arg), std::move(help), [n, lo, hi, out](const char* v, std::string* err) {
                uint64_t x;
                if (!parse_u64(v, 10, lo, hi, &x))
                    return range_error(err, n, v, lo, hi);
                *out = static_cast<uint32_t>(x);
                return true;
            }};
}

option udp_port(std::string name, std::string help, uint16_t* out)
{
    std::string n = name;
    return {std::move(name), "N", std::move(help), [n, out](const char* v, std::string* err) {
                uint64_t x;
                if (!parse_u64(v, 10, 1, 65535, &x))
                    return range_error(err, n, v, 1, 65535);
                *out = static_cast<uint16_t>(x);
                return true;
            }};
}

option ipv4(std::string name, std::string help, uint32_t* ip_be)
{
    std::string n = name;
    return {std::move(name), "A.B.C.D", std::move(help), [n, ip_be](const char* v, std::string* err) {
                in_addr a{};
                if (inet_pton(AF_INET, v, &a) != 1 || a.s_addr == 0) {
                    *err = "--" + n + ": '" + v + "' is not an IPv4 address";
                    return false;
                }
                *ip_be = a.s_addr;
                return true;
            }};
}

option ipv4_endpoint(std::string name, std::string help, uint32_t* ip_be, uint16_t* port_be)
{
    std::string n = name;
    return {std::move(name), "A.B.C.D:PORT", std::move(help), [n, ip_be, port_be](const char* v, std::string* err) {
                const std::string s = v;
                const auto colon = s.rfind(':');
                in_addr a{};
                uint64_t port;
                if (colon == std::string::npos || inet_pton(AF_INET, s.substr(0, colon).c_str(), &a) != 1 ||
                    a.s_addr == 0 || !parse_u64(s.c_str() + colon + 1, 10, 1, 65535, &port)) {
                    *err = "--" + n + ": '" + s + "' is not A.B.C.D:PORT";
                    return false;
                }
                *ip_be = a.s_addr;
                *port_be = htons(static_cast<uint16_t>(port));
                return true;
            }};
}

option choice(std::string name, std::string arg, std::vector<std::string> choices, std::string help, unsigned* out)
{
    std::string n = name;
    return {std::move(name), std::move(arg), std::move(help), [n, choices, out](const char* v, std::string* err) {
                for (unsigned i = 0; i < choices.size(); ++i)
                    if (choices[i] == v) {
                        *out = i;
                        return true;
                    }
                std::string list;
                for (const auto& c : choices)
                    list += (list.empty() ? "" : ", ") + c;
                *err = "--" + n + ": '" + v + "' is not one of " + list;
                return false;
            }};
}

bool parse(int argc, char** argv, const std::vector<option_section>& sections, const char* short_opts,
           const std::function<bool(int opt, const char* value, std::string* err)>& on_short, bool* help,
           std::string* err)
{
    // Long options get ids from 256 up, in section order.
    std::vector<const option*> by_id;
    std::vector<::option> table;
    for (const auto& s : sections)
        for (const auto& o : s.options) {
            table.push_back({o.name.c_str(), o.arg.empty() ? no_argument : required_argument, nullptr,
                             256 + static_cast<int>(by_id.size())});
            by_id.push_back(&o);
        }
    table.push_back({"help", no_argument, nullptr, 'h'});
    table.push_back({nullptr, 0, nullptr, 0});
    const std::string shorts = std::string(":h") + short_opts;

    // 0, not 1: glibc (and musl) then reset all getopt state, including the position inside a
    // group of short options, which otherwise still points into a previous call's argv.
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts.c_str(), table.data(), nullptr)) != -1) {
        if (c == 'h') {
            *help = true;
            return true;
        }
        if (c == ':') {
            *err = std::string("option '") + argv[optind - 1] + "' needs a value";
            return false;
        }
        if (c == '?') {
            *err = std::string("unknown option '") + argv[optind - 1] + "' (see --help)";
            return false;
        }
        if (c >= 256) {
            if (!by_id[static_cast<std::size_t>(c - 256)]->apply(optarg, err))
                return false;
            continue;
        }
        if (!on_short(c, optarg, err))
            return false;
    }
    if (optind < argc) {
        *err = std::string("unexpected argument '") + argv[optind] + "'";
        return false;
    }
    std::vector<std::pair<std::string, uint16_t>> ports;
    for (const auto& s : sections)
        for (const auto& [name, p] : s.udp_ports) {
            for (const auto& [other, q] : ports)
                if (q == *p) {
                    *err = "UDP port " + std::to_string(*p) + " is given to two protocols (--" + other + ", --" +
                           name + ")";
                    return false;
                }
            ports.push_back({name, *p});
        }
    return true;
}

std::string format(const std::vector<option_section>& sections)
{
    std::string out;
    for (const auto& s : sections) {
        out += "\n" + s.title + "\n";
        for (const auto& o : s.options) {
            std::string head = "  --" + o.name + (o.arg.empty() ? "" : " " + o.arg);
            std::string pad(help_column, ' ');
            if (head.size() + 1 >= help_column) {
                out += head + "\n" + pad;
            } else {
                out += head + std::string(help_column - head.size(), ' ');
            }
            for (char ch : o.help) {
                out += ch;
                if (ch == '\n')
                    out += pad;
            }
            out += "\n";
        }
    }
    return out;
}

} // namespace peregrine::engine
