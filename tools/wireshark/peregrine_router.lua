-- Peregrine router protocol (docs/protocols/router.md): UDP 7100. One type byte; Client IDs are
-- 32-bit little-endian (the origin's x86 host order).
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local pg = dofile(here .. "peregrine_common.lua")
if pg.once("router") then
    return
end

local p = Proto("router", "Peregrine Router Protocol")
local types = {
    [0] = "Register Client", [1] = "Register Client Response", [2] = "Individual Message",
    [3] = "Unknown Recipient", [4] = "Heartbeat", [5] = "Heartbeat Response",
}
-- Exact lengths, or {min, max} for the Individual Message.
local lengths = {[0] = 5, [1] = 1, [3] = 5, [4] = 1, [5] = 1}
local max_message = 1405

local f = {
    type = ProtoField.uint8("router.type", "Packet identifier", base.HEX, types),
    client_id = ProtoField.uint32("router.client_id", "Client ID", base.DEC),
    payload = ProtoField.bytes("router.payload", "Payload"),
    payload_len = ProtoField.uint16("router.payload_len", "Payload length", base.DEC),
}
p.fields = {f.type, f.client_id, f.payload, f.payload_len}
local e = {
    malformed = ProtoExpert.new("router.malformed", "Malformed router datagram", expert.group.MALFORMED,
        expert.severity.ERROR),
    unknown = ProtoExpert.new("router.unknown_type", "Unknown router packet identifier", expert.group.MALFORMED,
        expert.severity.ERROR),
}
p.experts = {e.malformed, e.unknown}

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "ROUTER"
    local t = tree:add(p, tvb())
    if len == 0 then
        t:add_proto_expert_info(e.malformed, "Empty datagram (no packet identifier)")
        pinfo.cols.info = "Empty"
        return len
    end
    local ty = tvb(0, 1):uint()
    t:add(f.type, tvb(0, 1))
    local name = types[ty]
    if not name then
        t:add_proto_expert_info(e.unknown, string.format("Unknown packet identifier 0x%02x", ty))
        pinfo.cols.info = string.format("Unknown type 0x%02x", ty)
        return len
    end
    local info = name
    local want = lengths[ty]
    local bad
    if want and len ~= want then
        bad = string.format("%s is %d bytes, not %d", name, len, want)
    elseif ty == 2 and (len < 5 or len > max_message) then
        bad = string.format("Individual Message of %d bytes (5 to %d)", len, max_message)
    end
    if len >= 5 and (ty == 0 or ty == 2 or ty == 3) then
        local id = tvb(1, 4):le_uint()
        t:add_le(f.client_id, tvb(1, 4))
        info = string.format("%s, Client ID %u", name, id)
        t:append_text(string.format(", %s, Client ID %u", name, id))
    else
        t:append_text(", " .. name)
    end
    if ty == 2 and len >= 5 then
        t:add(f.payload_len, len - 5):set_generated()
        if len > 5 then
            t:add(f.payload, tvb(5))
        end
        info = info .. string.format(", %d bytes", len - 5)
    end
    if bad then
        t:add_proto_expert_info(e.malformed, bad)
        info = info .. " [malformed]"
    end
    pinfo.cols.info = info
    return len
end

pg.port_pref(p, "udp.port", 7100, "UDP port of the router protocol")
