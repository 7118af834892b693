#include "lekt/membership.hpp"

#include <algorithm>

#include "lekt/codec.hpp"

namespace peregrine::lekt {

namespace {

// Writes update packets of one kind, cut so that none exceeds max_update_len.
class update_writer {
public:
    update_writer(std::string& out, int64_t stamp, char kind) : out_(out), stamp_(stamp), kind_(kind) {}

    void record(const char* d, std::size_t n)
    {
        if (open_ && out_.size() - start_ + n > max_update_len)
            close();
        if (!open_)
            open();
        out_.append(d, n);
        ++count_;
    }

    // Writes the packet in progress; with force, an empty packet if none is open.
    void close(bool force = false)
    {
        if (!open_ && force)
            open();
        if (!open_)
            return;
        out_[start_ + 17] = char(count_ >> 16);
        out_[start_ + 18] = char(count_ >> 8);
        out_[start_ + 19] = char(count_);
        open_ = false;
    }

    uint64_t packets = 0;

private:
    void open()
    {
        start_ = out_.size();
        put_header(out_, 'H');
        put_u64(out_, static_cast<uint64_t>(stamp_));
        out_.push_back(kind_);
        out_.append(3, '\0');
        count_ = 0;
        open_ = true;
        ++packets;
    }

    std::string& out_;
    int64_t stamp_;
    char kind_;
    std::size_t start_ = 0;
    uint32_t count_ = 0;
    bool open_ = false;
};

void put_ip(char (&b)[4], uint32_t ip)
{
    b[0] = char(ip >> 24);
    b[1] = char(ip >> 16);
    b[2] = char(ip >> 8);
    b[3] = char(ip);
}

} // namespace

uint64_t membership::add(uint32_t ip, uint16_t tcp_port, std::string record)
{
    const uint64_t id = ++head_;
    members_.emplace(id, member{ip, tcp_port, id, std::move(record)});
    by_ip_[ip].push_back(id);
    log_.push_back({true, ip, id});
    return id;
}

void membership::remove(uint64_t id)
{
    auto it = members_.find(id);
    if (it == members_.end())
        return;
    const uint32_t ip = it->second.ip;
    members_.erase(it);
    auto b = by_ip_.find(ip);
    if (b != by_ip_.end()) {
        auto& v = b->second;
        v.erase(std::remove(v.begin(), v.end(), id), v.end());
        if (v.empty())
            by_ip_.erase(b);
    }
    ++head_;
    log_.push_back({false, ip, id});
}

const membership::member* membership::find(uint64_t id) const
{
    auto it = members_.find(id);
    return it == members_.end() ? nullptr : &it->second;
}

void membership::emit_snapshot(int64_t stamp, std::string& out, answer_stats* st) const
{
    // 'R' with no IP: forget everything; the 'A' packets that follow are the whole membership.
    update_writer r(out, stamp, 'R');
    r.close(true);
    update_writer a(out, stamp, 'A');
    for (const auto& [id, m] : members_)
        a.record(m.record.data(), m.record.size());
    a.close();
    st->packets += r.packets + a.packets;
    st->added += members_.size();
    st->snapshot = true;
}

void membership::answer(uint64_t* pos, int64_t stamp, std::string& out, answer_stats* st) const
{
    if (*pos == 0 || *pos < base_) {
        emit_snapshot(stamp, out, st);
    } else if (*pos < head_) {
        const uint64_t seen = *pos;
        std::vector<uint32_t> gone;
        std::vector<const member*> adds;
        for (std::size_t i = seen - base_; i < log_.size(); ++i) {
            const entry& e = log_[i];
            if (!e.add) {
                // A member that joined and left since the last answer was never announced.
                if (e.member <= seen)
                    gone.push_back(e.ip);
            } else if (const member* m = find(e.member)) {
                adds.push_back(m);
            }
        }
        std::sort(gone.begin(), gone.end());
        gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
        // The client forgets everyone at a removed IP: re-announce those still there. Members
        // that joined since `seen` are in adds already.
        for (uint32_t ip : gone) {
            auto b = by_ip_.find(ip);
            if (b == by_ip_.end())
                continue;
            for (uint64_t id : b->second)
                if (id <= seen)
                    adds.push_back(find(id));
        }
        update_writer r(out, stamp, 'R');
        for (uint32_t ip : gone) {
            char b[4];
            put_ip(b, ip);
            r.record(b, 4);
        }
        r.close();
        update_writer a(out, stamp, 'A');
        for (const member* m : adds)
            a.record(m->record.data(), m->record.size());
        a.close();
        st->packets += r.packets + a.packets;
        st->added += adds.size();
        st->removed += gone.size();
    }
    // The empty 'A' that ends every answer.
    update_writer end(out, stamp, 'A');
    end.close(true);
    st->packets += end.packets;
    *pos = head_;
}

void membership::compact(uint64_t min_pos)
{
    while (!log_.empty() && (base_ + 1 <= min_pos || log_.size() > max_log_)) {
        log_.pop_front();
        ++base_;
    }
}

} // namespace peregrine::lekt
