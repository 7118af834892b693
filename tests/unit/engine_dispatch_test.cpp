// The engine core without any protocol: context::add claims UDP ports (and refuses a taken
// one), stage_burst sorts a burst by module in arrival order, including bursts that switch
// module from packet to packet (the view is copied into the new module's share), runs stage()
// one burst before finish() and only for modules that have packets, and sends ports no
// module claims to the kernel. Two test modules stand in for protocols.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/dispatch.hpp"
#include "test_env.hpp"

namespace peregrine::engine {
namespace {

using namespace pgtest;

// Answers everything on the port it came from, after recording what it was given.
class recorder final : public module {
public:
    recorder(const char* name, std::vector<uint16_t> ports, bool staged) : name_(name), ports_(std::move(ports)), staged_(staged) {}
    const char* name() const override { return name_; }
    std::vector<uint16_t> udp_ports() const override { return ports_; }
    bool has_stage() const override { return staged_; }
    void stage(const burst_in& b, lcore_stats&, void* scratch) const override
    {
        ++stages;
        *static_cast<unsigned*>(scratch) = b.n;  // what finish() must find again
    }
    void finish(const burst_in& b, lcore_stats& st, uint64_t, void* scratch, burst_out& out) const override
    {
        ++finishes;
        if (staged_) {
            EXPECT_EQ(*static_cast<unsigned*>(scratch), b.n) << "finish() gets stage()'s scratch";
        }
        outcome oc[burst_size];
        for (unsigned i = 0; i < b.n; ++i) {
            // The view must describe this very mbuf (it may have been copied between shares).
            const uint8_t* data = rte_pktmbuf_mtod_offset(b.m[i], uint8_t*, headers_len);
            EXPECT_EQ(b.v[i].data, data);
            seen.push_back(b.v[i].data == data ? data[0] : 0xff);
            oc[i] = {action::tx, b.rx_port, drop::count_};
        }
        emit(out, st, b.rx_port, index(), b.m, oc, b.n);
    }
    mutable std::vector<uint8_t> seen;  // first payload byte of each packet, in order
    mutable unsigned stages = 0, finishes = 0;

private:
    const char* name_;
    std::vector<uint16_t> ports_;
    bool staged_;
};

class EngineDispatch : public ::testing::Test {
protected:
    EngineDispatch()
    {
        ctx.ports[0] = {mac(1), ip4(198, 18, 0, 1), 24};
        EXPECT_TRUE(ctx.add(&a));
        EXPECT_TRUE(ctx.add(&b));
        std::memset(&st, 0, sizeof(st));
        init(out);
    }

    rte_mbuf* frame(uint16_t port, uint8_t tag)
    {
        udp_frame f;
        f.dst_mac = ctx.ports[0].mac;
        f.src_mac = mac(0x33);
        f.src_ip_be = ip4(198, 18, 0, 9);
        f.dst_ip_be = ctx.ports[0].ip_be;
        f.src_port = 40000;
        f.dst_port = port;
        f.payload = {tag, 0, 0, 0};
        return make_mbuf(build(f), 0).release();
    }

    void free_out()
    {
        rte_pktmbuf_free_bulk(out.tx[0], out.n_tx[0]);
        rte_pktmbuf_free_bulk(out.exc, out.n_exc);
        rte_pktmbuf_free_bulk(out.drop, out.n_drop);
        out.reset();
    }

    context ctx;
    recorder a{"a", {9001, 9003}, true};
    recorder b{"b", {9002}, false};
    lcore_stats st;
    burst_out out;
};

TEST_F(EngineDispatch, AddClaimsPortsAndRefusesATakenOne)
{
    EXPECT_EQ(ctx.udp_module[9001], a.index());
    EXPECT_EQ(ctx.udp_module[9003], a.index());
    EXPECT_EQ(ctx.udp_module[9002], b.index());
    EXPECT_EQ(ctx.udp_module[9004], no_module);
    recorder c{"c", {9002}, false};
    std::string err;
    EXPECT_FALSE(ctx.add(&c, &err));
    EXPECT_NE(err.find("9002"), std::string::npos) << err;
    EXPECT_NE(err.find("taken by b"), std::string::npos) << err;
    EXPECT_EQ(ctx.n_modules, 2u);
    EXPECT_EQ(ctx.find("b"), &b);
    EXPECT_EQ(ctx.find("c"), nullptr);
}

TEST_F(EngineDispatch, BurstSwitchingModulesKeepsEachModulesOrder)
{
    // a, b, a (other port of a), unknown port, b, b, a
    const std::vector<std::pair<uint16_t, uint8_t>> burst = {{9001, 1}, {9002, 2}, {9003, 3}, {9004, 4},
                                                             {9002, 5}, {9002, 6}, {9001, 7}};
    std::vector<rte_mbuf*> m;
    for (const auto& [port, tag] : burst)
        m.push_back(frame(port, tag));
    process_burst(ctx, st, 0, m.data(), static_cast<uint16_t>(m.size()), 0, out);
    EXPECT_EQ(a.seen, (std::vector<uint8_t>{1, 3, 7}));
    EXPECT_EQ(b.seen, (std::vector<uint8_t>{2, 5, 6}));
    EXPECT_EQ(out.n_tx[0], 6u);
    EXPECT_EQ(out.n_exc, 1u) << "port 9004: no module, the kernel's";
    EXPECT_EQ(st.exceptions[unsigned(exc::udp_other_port)], 1u);
    EXPECT_EQ(st.rx_packets, 7u);
    EXPECT_EQ(a.stages, 1u);
    EXPECT_EQ(a.finishes, 1u);
    EXPECT_EQ(b.stages, 0u) << "stage() only for a module that has one";
    EXPECT_EQ(b.finishes, 1u);
    free_out();
}

TEST_F(EngineDispatch, ModuleWithoutPacketsIsNotCalled)
{
    rte_mbuf* m = frame(9002, 1);
    process_burst(ctx, st, 0, &m, 1, 0, out);
    EXPECT_EQ(a.stages + a.finishes, 0u);
    EXPECT_EQ(b.finishes, 1u);
    free_out();
}

TEST_F(EngineDispatch, ControlFramesAreTaggedWithTheirModule)
{
    rte_mbuf* m = frame(9002, 1);
    outcome oc{action::control, 0, drop::count_};
    emit(out, st, 0, b.index(), &m, &oc, 1);
    ASSERT_EQ(out.n_ctl, 1u);
    EXPECT_EQ(module_of(out.ctl[0]), b.index());
    rte_pktmbuf_free(out.ctl[0]);
    out.reset();
}

} // namespace
} // namespace peregrine::engine
