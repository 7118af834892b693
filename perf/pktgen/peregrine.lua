-- Shared code of the Peregrine pktgen-DPDK scripts (throughput.lua, latency.lua, register.lua):
-- configuration from the environment (run.sh sets it), one measured trial at a given rate, the
-- RFC 2544-style binary search, and the result table in peregrine-trafgen's format.
--
-- Every function takes the pktgen object as `pg`, so test_search.lua can drive the same code
-- with a simulated device under plain Lua. Works with the pktgen Lua API of the 21.x-24.x
-- releases: portStats(port) -> {[n] = {curr = {...}}} (newer) or portStats(port, "port") ->
-- {[n] = {ipackets = ...}} (older); both are tried.

local M = {}

local function num(name, default)
    local v = os.getenv(name)
    if v == nil or v == "" then return default end
    local n = tonumber(v)
    if n == nil then error(name .. "='" .. v .. "' is not a number") end
    return n
end

function M.config()
    return {
        port = os.getenv("PG_PORT") or "0",
        duration = num("PG_DURATION", 10),        -- seconds per trial
        loss = num("PG_LOSS", 0.001),             -- highest acceptable loss (fraction) in the search
        low = num("PG_LOW", 0.1),                 -- search bounds, percent of line rate
        high = num("PG_HIGH", 100),
        precision = num("PG_PRECISION", 0.5),     -- stop when the bounds are this close (percent)
        rate = num("PG_RATE", 10),                -- latency.lua: fixed rate, percent of line rate
        settle_ms = num("PG_SETTLE_MS", 500),     -- wait for answers in flight after each trial
        clients = os.getenv("PG_CLIENTS") or "-",
        label = os.getenv("PG_LABEL") or "peregrine",
        mode = os.getenv("PG_MODE") or "pcap",
        out = os.getenv("PG_OUT"),
    }
end

-- Port counters as {i = ipackets, o = opackets, ib = ibytes, ob = obytes}.
function M.stats(pg, port)
    local ok, t = pcall(pg.portStats, port, "port")
    if not ok or t == nil then t = pg.portStats(port) end
    local s = t[tonumber(port)] or t[port] or t
    s = s.curr or s
    return {i = s.ipackets or 0, o = s.opackets or 0, ib = s.ibytes or 0, ob = s.obytes or 0}
end

-- Sends at pct percent of line rate for cfg.duration seconds; answers are what comes back on
-- the same port (every router datagram the scripts send has exactly one answer).
function M.trial(pg, cfg, pct)
    local p = cfg.port
    pg.stop(p)
    pg.set(p, "rate", pct)
    pg.delay(cfg.settle_ms)
    local s0 = M.stats(pg, p)
    pg.start(p)
    pg.delay(math.floor(cfg.duration * 1000))
    pg.stop(p)
    pg.delay(cfg.settle_ms)
    local s1 = M.stats(pg, p)
    local tx, rx = s1.o - s0.o, s1.i - s0.i
    local r = {
        pct = pct, tx = tx, rx = rx,
        loss = tx > 0 and math.max(0, (tx - rx) / tx) or 1,
        tx_mpps = tx / cfg.duration / 1e6,
        rx_mpps = rx / cfg.duration / 1e6,
        rx_gbps = (s1.ib - s0.ib) * 8 / cfg.duration / 1e9,
    }
    print(string.format("trial %.2f%% of line rate: offered %.3f Mpps, answered %.3f Mpps, loss %.4f%%",
        pct, r.tx_mpps, r.rx_mpps, r.loss * 100))
    return r
end

-- RFC 2544 throughput: the highest rate whose loss is at most cfg.loss, by binary search
-- between cfg.low and cfg.high percent. Returns the best passing trial (nil if even cfg.low
-- fails) and the list of trials.
function M.search(pg, cfg)
    local trials = {}
    local function run(pct)
        local r = M.trial(pg, cfg, pct)
        trials[#trials + 1] = r
        return r
    end
    local top = run(cfg.high)
    if top.loss <= cfg.loss then return top, trials end
    local lo, hi, best = cfg.low, cfg.high, nil
    local bottom = run(lo)
    if bottom.loss > cfg.loss then return nil, trials end
    best = bottom
    while hi - lo > cfg.precision do
        local mid = (lo + hi) / 2
        local r = run(mid)
        if r.loss <= cfg.loss then lo, best = mid, r else hi = mid end
    end
    return best, trials
end

-- The table of peregrine-trafgen (tools/trafgen/report.cpp), so results line up. pktgen cannot
-- time router answers (its latency probes are not router datagrams): latency columns are "-".
M.header = "| system | mode | clients | offered Mpps | answered Mpps | answered Gbps | loss % | p50 us | p99 us | p99.9 us |\n" ..
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"

function M.row(cfg, mode, r)
    return string.format("| %s | %s | %s | %.3f | %.3f | %.3f | %.3f | - | - | - |",
        cfg.label, mode, cfg.clients, r.tx_mpps, r.rx_mpps, r.rx_gbps, r.loss * 100)
end

function M.report(cfg, lines)
    local text = M.header .. "\n" .. table.concat(lines, "\n") .. "\n"
    io.write(text)
    if cfg.out then
        local f = assert(io.open(cfg.out, "w"))
        f:write(text)
        f:close()
    end
end

return M
