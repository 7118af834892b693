// libFuzzer target for RUDP reassembly (DPDK-free). The input is a list of operations on a
// small reassembly pool (3 contexts, 2 per connection, timeout 50 ticks):
//   fragment: [0][key 0-3][base][id][count][len][len bytes]   (len from one byte, up to 255)
//   time:     [1][ticks]                                      (then expire())
//   forget:   [2][key 0-3]
// A shadow model keeps every fragment accepted, per message; a completed message must equal its
// fragments in ID order, each of them the length the layout allows, and the pool's bounds must
// hold after every operation. A failed check aborts.

#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <tuple>
#include <vector>

#include "fuzz_check.hpp"
#include "rudp/reassembly.hpp"

using namespace peregrine::rudp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n)
{
    reassembly r;
    reassembly::params p;
    p.contexts = 3;
    p.per_conn = 2;
    p.timeout_tsc = 50;
    FUZZ_CHECK(r.init(p));
    using msg_key = std::pair<uint64_t, uint64_t>;
    struct message {
        uint64_t created;
        std::map<uint8_t, std::vector<uint8_t>> parts;
    };
    std::map<msg_key, message> shadow;
    uint64_t now = 0;
    size_t i = 0;
    while (i < n) {
        const uint8_t op = d[i++] % 3;
        if (op == 1) {
            if (i >= n)
                break;
            now += d[i++];
            r.expire(now);
            for (auto it = shadow.begin(); it != shadow.end();)
                it = now - it->second.created > p.timeout_tsc ? shadow.erase(it) : std::next(it);
            continue;
        }
        if (op == 2) {
            if (i >= n)
                break;
            const uint64_t key = d[i++] % 4;
            r.forget(key);
            for (auto it = shadow.begin(); it != shadow.end();)
                it = it->first.first == key ? shadow.erase(it) : std::next(it);
            continue;
        }
        if (n - i < 5)
            break;
        const uint64_t key = d[i] % 4, base = d[i + 1];
        const uint8_t id = d[i + 2], count = d[i + 3];
        const size_t len = d[i + 4];
        i += 5;
        if (n - i < len)
            break;
        std::vector<uint8_t> body(d + i, d + i + len);  // exact size: ASan sees over-reads
        i += len;
        if (count < 2 || id >= count)
            continue;  // the header parser refuses these before reassembly
        unsigned slot = 0;
        const auto s = r.add(key, base, id, count, body.data(), uint32_t(body.size()), now, &slot);
        const bool known = shadow.count(msg_key(key, base)) != 0;
        if (s == reassembly::status::stored) {
            if (!known)
                shadow[msg_key(key, base)].created = now;
            shadow[msg_key(key, base)].parts[id] = body;
        } else if (s == reassembly::status::complete) {
            FUZZ_CHECK(known);
            auto& parts = shadow[msg_key(key, base)].parts;
            parts[id] = body;
            std::vector<uint8_t> want;
            size_t first_len = 0;
            for (unsigned k = 0; k < count; ++k) {
                FUZZ_CHECK(parts.count(uint8_t(k)));  // every fragment was accepted
                const auto& f = parts[uint8_t(k)];
                if (k == 0)
                    first_len = f.size();
                if (k + 1 < count)
                    FUZZ_CHECK(f.size() == first_len);
                else
                    FUZZ_CHECK(f.size() >= 1 && f.size() <= first_len);
                want.insert(want.end(), f.begin(), f.end());
            }
            FUZZ_CHECK(r.length(slot) == want.size());
            FUZZ_CHECK(std::memcmp(r.data(slot), want.data(), want.size()) == 0);
            r.release(slot);
            shadow.erase(msg_key(key, base));
        } else if (s == reassembly::status::duplicate) {
            FUZZ_CHECK(known && shadow[msg_key(key, base)].parts.count(id));
        }
        FUZZ_CHECK(r.in_use() == shadow.size() && r.in_use() <= r.contexts());
    }
    return 0;
}
