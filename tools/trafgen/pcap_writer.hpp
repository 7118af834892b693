#pragma once

// Writes frames to a classic pcap file (libpcap, DLT_EN10MB) for replay by pktgen
// (-s P:file.pcap), tcpreplay or DPDK's net_pcap. Timestamps are synthetic: frame i at i/rate
// seconds (1 us apart when rate is 0), so tools that honour them replay at the generator's rate.

#include <cstdint>
#include <string>

struct pcap;
struct pcap_dumper;

namespace peregrine::trafgen {

class pcap_writer {
public:
    pcap_writer() = default;
    ~pcap_writer() { close(); }
    pcap_writer(const pcap_writer&) = delete;
    pcap_writer& operator=(const pcap_writer&) = delete;

    // false with *err set when the file cannot be created.
    bool open(const std::string& path, double rate_pps, std::string* err);
    void write(const uint8_t* frame, uint16_t len);
    void close();
    uint64_t frames() const { return n_; }

private:
    pcap* p_ = nullptr;
    pcap_dumper* d_ = nullptr;
    double gap_us_ = 1.0;
    uint64_t n_ = 0;
};

} // namespace peregrine::trafgen
