-- Tests the search and table code of peregrine.lua under plain Lua (lua5.4), with a simulated
-- pktgen: a device answering up to `capacity` percent of line rate and dropping the rest.
-- Exit status 0 when every check holds. Run by meson (suite perf, test pktgen-search-sim).
package.path = package.path .. ";" .. (arg and arg[0]:match("(.*/)") or "./") .. "?.lua"
local pe = require "peregrine"

local function sim(capacity, line_pps, old_api)
    local s = {rate = 0, sending = false, t = 0, tx = 0, rx = 0}
    local pg = {}
    function pg.set(_, what, v) if what == "rate" then s.rate = v end end
    function pg.start() s.sending = true end
    function pg.stop() s.sending = false end
    function pg.delay(ms)
        if s.sending then
            local dt = ms / 1000
            s.tx = s.tx + line_pps * s.rate / 100 * dt
            s.rx = s.rx + line_pps * math.min(s.rate, capacity) / 100 * dt
        end
    end
    function pg.portStats(port, kind)
        if old_api and kind == "port" then
            return {[tonumber(port)] = {ipackets = s.rx, opackets = s.tx, ibytes = s.rx * 64, obytes = s.tx * 64}}
        end
        if not old_api and kind ~= nil then error("portStats, wrong number of arguments") end
        return {[tonumber(port)] = {curr = {ipackets = s.rx, opackets = s.tx, ibytes = s.rx * 64, obytes = s.tx * 64}}, n = 1}
    end
    return pg
end

local failures = 0
local function check(cond, what)
    if not cond then
        failures = failures + 1
        print("FAIL: " .. what)
    end
end

local cfg = {port = "0", duration = 1, loss = 0.001, low = 0.1, high = 100, precision = 0.5,
             settle_ms = 0, clients = "1000", label = "sim", mode = "pcap"}
for _, case in ipairs({{37.3, false}, {37.3, true}, {100, false}, {3.2, true}}) do
    local cap, old = case[1], case[2]
    local best, trials = pe.search(sim(cap, 14.88e6, old), cfg)
    check(best ~= nil, "capacity " .. cap .. ": found a rate")
    if best then
        check(best.pct <= cap and best.pct >= cap - cfg.precision, string.format(
            "capacity %.1f%%: found %.2f%% (within %.1f%% below)", cap, best.pct, cfg.precision))
        check(best.loss <= cfg.loss, "passing trial has loss within the threshold")
        check(math.abs(best.tx_mpps - 14.88 * best.pct / 100) < 1e-6, "offered Mpps from the counters")
    end
    check(#trials <= 2 + math.ceil(math.log(100 / cfg.precision, 2)), "binary search, not a scan")
end
-- A device that answers nothing: no rate passes.
local best = pe.search(sim(0, 1e6, false), cfg)
check(best == nil, "nothing passes when nothing is answered")
-- The row has the trafgen table's ten columns.
local row = pe.row(cfg, "throughput", {tx_mpps = 1.5, rx_mpps = 1.5, rx_gbps = 0.768, loss = 0})
local _, bars = row:gsub("|", "")
check(bars == 11, "ten columns: " .. row)
local _, hbars = pe.header:match("^[^\n]*"):gsub("|", "")
check(hbars == 11, "header has ten columns")

if failures > 0 then os.exit(1) end
print("test_search: all checks passed")
