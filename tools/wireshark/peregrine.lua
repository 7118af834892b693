-- Wireshark plugin for Peregrine's protocols (docs/wireshark.md): loads one dissector per
-- protocol from this file's folder. Install: copy tools/wireshark/*.lua into the personal Lua
-- plugin folder (Wireshark: Help > About > Folders > Personal Lua Plugins; on Linux
-- ~/.local/lib/wireshark/plugins/), or for one run: tshark -X lua_script:tools/wireshark/peregrine.lua
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
for _, name in ipairs({"router", "lb", "session", "rudp", "lekt"}) do
    dofile(here .. "peregrine_" .. name .. ".lua")
end
