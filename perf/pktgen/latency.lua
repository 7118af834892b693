-- Fixed-rate run against a Peregrine host with pktgen-DPDK (PG_RATE percent of line rate for
-- PG_DURATION seconds): offered and answered rates and loss, in the result table format.
-- pktgen's own latency probes (UDP to port 1028 with its timestamp) are not router datagrams,
-- so Peregrine does not answer them: per-answer latency percentiles come from peregrine-trafgen,
-- which runs on the same port (docs/perf.md, "pktgen"). Run it through perf/pktgen/run.sh.
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
pktgen.set(p, "count", 0)
pktgen.clr()
local r = pe.trial(pktgen, cfg, cfg.rate)
pe.report(cfg, {pe.row(cfg, string.format("fixed %.1f%% of line", cfg.rate), r)})
if os.getenv("PG_QUIT") ~= "0" then pktgen.quit() end
