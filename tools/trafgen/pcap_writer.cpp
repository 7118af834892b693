#include "pcap_writer.hpp"

#include <pcap/pcap.h>

namespace peregrine::trafgen {

bool pcap_writer::open(const std::string& path, double rate_pps, std::string* err)
{
    close();
    p_ = pcap_open_dead(DLT_EN10MB, 65535);
    if (!p_) {
        *err = "pcap_open_dead failed";
        return false;
    }
    d_ = pcap_dump_open(p_, path.c_str());
    if (!d_) {
        *err = path + ": " + pcap_geterr(p_);
        pcap_close(p_);
        p_ = nullptr;
        return false;
    }
    gap_us_ = rate_pps > 0 ? 1e6 / rate_pps : 1.0;
    n_ = 0;
    return true;
}

void pcap_writer::write(const uint8_t* frame, uint16_t len)
{
    const auto us = static_cast<uint64_t>(double(n_) * gap_us_);
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(us / 1000000);
    h.ts.tv_usec = static_cast<suseconds_t>(us % 1000000);
    h.caplen = h.len = len;
    pcap_dump(reinterpret_cast<u_char*>(d_), &h, frame);
    ++n_;
}

void pcap_writer::close()
{
    if (d_) {
        pcap_dump_close(d_);
        d_ = nullptr;
    }
    if (p_) {
        pcap_close(p_);
        p_ = nullptr;
    }
}

} // namespace peregrine::trafgen
