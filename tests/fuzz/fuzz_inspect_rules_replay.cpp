// Replay hooks (replay.hpp) for the --inspect-rules parser: mutants of rule files (the
// delimiters and keywords the parser looks for inserted, bytes flipped and set, lines
// duplicated, truncations, splices).
//
//   fuzz_inspect_rules_replay --write-corpus DIR   (regenerates corpus/inspect_rules)

#include <string>

#include "replay.hpp"

using fuzz_replay::bytes;

namespace {

bytes text(const std::string& s) { return bytes(s.begin(), s.end()); }

fuzz_replay::named_inputs seeds()
{
    return {
        {"basic", text("# rules\n1:/evil/ drop\n2:/note/i count\n3:/^GET \\/admin/s\n")},
        {"flags", text("10:/a.b/ismH8WV drop\n11:/\\x00\\xff/ count\n")},
        {"hsbench", text("1:/foo[0-9]+bar/i\n2:/(abc|def)ghi/s\n3:/\\bword\\b/m\n")},
        {"blanks-crlf", text("\r\n  \t# c\r\n 7 : /x y/ \t drop \r\n\n")},
        {"slashes", text("5:/a\\/b\\/c/ drop\n6:/http:\\/\\//i count\n")},
        {"errors", text("1:/a/\n1:/b/\nx:/c/\n2:/d\n3://\n4:/e/q\n5:/f/ nope\n")},
        {"large-id", text("4294967295:/max/ drop\n4294967296:/over/\n")},
        {"empty", {}},
    };
}

class rules_mutator : public fuzz_replay::mutator {
public:
    using mutator::mutator;

    bytes next() override
    {
        bytes f = seeds_[pick(seeds_.size())];
        for (unsigned r = 0, rounds = 1 + pick(4); r < rounds; ++r)
            mutate(f);
        return f;
    }

private:
    void insert(bytes& f, const std::string& s)
    {
        const std::size_t at = pick(f.size() + 1);
        f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), s.begin(), s.end());
    }

    void mutate(bytes& f)
    {
        static const char* tokens[] = {":", "/", "\n", "#", " ", "\t", "\r", "drop", "count", "i", "H",
                                       "0", "4294967295", ""};  // "": a NUL byte
        switch (pick(7)) {
        case 0:
            flip_bit(f);
            break;
        case 1:
            set_byte(f);
            break;
        case 2: {
            const char* t = tokens[pick(std::size(tokens))];
            insert(f, *t ? std::string(t) : std::string(1, '\0'));
            break;
        }
        case 3: {  // a line duplicated (a repeated ID)
            const std::size_t nl = std::string(f.begin(), f.end()).find('\n');
            if (nl != std::string::npos)
                f.insert(f.end(), f.begin(), f.begin() + static_cast<std::ptrdiff_t>(nl + 1));
            break;
        }
        case 4:
            truncate(f);
            break;
        case 5:
            splice(f);
            break;
        default:
            extend(f, 8);
            break;
        }
    }
};

} // namespace

const fuzz_replay::target fuzz_replay::replay_target = {
    .iterations = 100000,
    .seed = 0x5eed,
    .seeds = seeds,
    .builtin_seeds = true,
    .new_mutator = fuzz_replay::make_mutator<rules_mutator>,
    .check = nullptr,
};
