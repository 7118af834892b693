-- RFC 2544-style throughput search against a Peregrine host with pktgen-DPDK: the highest rate
-- (percent of line rate) whose loss stays at or under PG_LOSS, sending the traffic pcap that
-- pktgen was started with (-s P:traffic.pcap, made by peregrine-trafgen --pcap-out) or, with
-- PG_MODE=range, pktgen's range traffic. Run it through perf/pktgen/run.sh; see docs/perf.md.
package.path = package.path .. ";" .. (os.getenv("PG_LUA_DIR") or ".") .. "/?.lua"
local pe = require "peregrine"

local cfg = pe.config()
local p = cfg.port
pktgen.stop(p)
if cfg.mode == "range" then
    pktgen.set_range(p, "on")
else
    pktgen.pcap(p, "on")
end
pktgen.set(p, "count", 0)  -- send until stopped
pktgen.clr()

local best, trials = pe.search(pktgen, cfg)
local lines = {}
if best then
    lines[1] = pe.row(cfg, string.format("throughput (loss <= %.3f%%, %.1f%% of line)", cfg.loss * 100, best.pct), best)
else
    lines[1] = string.format("| %s | throughput | %s | - | - | - | - | - | - | - |", cfg.label, cfg.clients)
    print(string.format("no rate down to %.2f%% of line rate had loss <= %.3f%%", cfg.low, cfg.loss * 100))
end
pe.report(cfg, lines)
if os.getenv("PG_QUIT") ~= "0" then pktgen.quit() end
