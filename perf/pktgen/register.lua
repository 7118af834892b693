-- Replays the registration pcap (peregrine-trafgen --pcap-register) at a low rate for
-- PG_DURATION seconds, so every client is registered (pktgen loops the file: later passes are
-- harmless re-registrations, and they retry the ones the first pass lost). Peregrine answers
-- each Register Client; the answers counted here say how many arrived.
package.path = package.path .. ";" .. (os.getenv("PG_LUA_DIR") or ".") .. "/?.lua"
local pe = require "peregrine"

local cfg = pe.config()
local p = cfg.port
pktgen.stop(p)
pktgen.pcap(p, "on")
pktgen.set(p, "count", 0)
pktgen.clr()
local r = pe.trial(pktgen, cfg, cfg.rate)
print(string.format("register: sent %d Register Client, %d answers", r.tx, r.rx))
if os.getenv("PG_QUIT") ~= "0" then pktgen.quit() end
