-- Peregrine session protocol (docs/protocols/session.md): UDP 7300. A 64-byte header that
-- starts with the SHA-256 (or, keyed, HMAC-SHA-256) of the rest of the datagram; big-endian.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local pg = dofile(here .. "peregrine_common.lua")
if pg.once("session") then
    return
end

local p = Proto("session", "Peregrine Session Protocol")
local types = {
    [1] = "HELLO", [2] = "ACCEPT", [3] = "REJECT", [4] = "PING", [5] = "PONG", [6] = "DATA_ACK",
    [7] = "DATA_NOACK", [8] = "ACK", [9] = "BAD_ACK", [10] = "DISCONNECT",
}
local header_len = 64

local f = {
    digest = ProtoField.bytes("session.digest", "Digest"),
    digest_status = ProtoField.string("session.digest.status", "Digest status"),
    client_id = ProtoField.bytes("session.client_id", "Client ID"),
    packet_id = ProtoField.uint8("session.packet_id", "Packet ID", base.HEX, types),
    -- ACCEPT's return-routability token, echoed by the client in every later packet.
    token = ProtoField.uint24("session.token", "Token", base.HEX),
    length = ProtoField.uint16("session.length", "Length", base.DEC),
    custom_id = ProtoField.uint16("session.custom_id", "Custom ID", base.DEC),
    order = ProtoField.uint64("session.order", "Packet order count", base.DEC),
    payload = ProtoField.bytes("session.payload", "Payload"),
    timestamp = ProtoField.uint64("session.timestamp", "Timestamp (Unix ms)", base.DEC),
    acked_digest = ProtoField.bytes("session.acked_digest", "Digest acknowledged"),
    acked_frame = ProtoField.framenum("session.acked_frame", "Acknowledges frame", base.NONE, frametype.ACK),
}
p.fields = {f.digest, f.digest_status, f.client_id, f.packet_id, f.token, f.length, f.custom_id, f.order,
    f.payload, f.timestamp, f.acked_digest, f.acked_frame}
local e = {
    malformed = ProtoExpert.new("session.malformed", "Malformed session datagram", expert.group.MALFORMED,
        expert.severity.ERROR),
    unknown = ProtoExpert.new("session.unknown_type", "Unknown session packet ID", expert.group.MALFORMED,
        expert.severity.ERROR),
    bad_digest = ProtoExpert.new("session.bad_digest", "Digest does not match the packet", expert.group.CHECKSUM,
        expert.severity.ERROR),
    unverified = ProtoExpert.new("session.unverified", "Keyed mode: the digest cannot be checked without the key",
        expert.group.CHECKSUM, expert.severity.NOTE),
}
p.experts = {e.malformed, e.unknown, e.bad_digest, e.unverified}

p.prefs.keyed = Pref.bool("Keyed mode", false, "The engine runs with --session-key-file (HMAC-SHA-256)")
p.prefs.key = Pref.string("Key (hex)", "", "The bytes of --session-key-file, in hex: keyed digests are then checked")

-- Frame that carried each digest, for "ACK acknowledges frame N".
local by_digest = {}
function p.init()
    by_digest = {}
end

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "SESSION"
    local t = tree:add(p, tvb())
    if len < header_len then
        t:add_proto_expert_info(e.malformed, string.format("%d bytes: shorter than the 64-byte header", len))
        pinfo.cols.info = "Malformed (short)"
        return len
    end
    local dg = t:add(f.digest, tvb(0, 32))
    local digest = tvb:raw(0, 32)
    local rest = tvb:raw(32, len - 32)
    local key = p.prefs.key ~= "" and pg.unhex(p.prefs.key) or nil
    if key then
        local good = pg.hmac_sha256(key, rest) == digest
        t:add(f.digest_status, tvb(0, 32), good and "good (HMAC-SHA-256)" or "bad (HMAC-SHA-256)"):set_generated()
        if not good then
            dg:add_proto_expert_info(e.bad_digest)
        end
    elseif p.prefs.keyed then
        t:add(f.digest_status, tvb(0, 32), "unverified (keyed, no key given)"):set_generated()
        dg:add_proto_expert_info(e.unverified)
    else
        local good = pg.sha256(rest) == digest
        t:add(f.digest_status, tvb(0, 32), good and "good" or "bad"):set_generated()
        if not good then
            dg:add_proto_expert_info(e.bad_digest, "SHA-256 of bytes 32.. does not match (or the engine is keyed)")
        end
    end
    if not pinfo.visited and not by_digest[digest] then
        by_digest[digest] = pinfo.number
    end

    t:add(f.client_id, tvb(32, 16))
    t:add(f.packet_id, tvb(48, 1))
    t:add(f.token, tvb(49, 3))
    local lf = t:add(f.length, tvb(52, 2))
    t:add(f.custom_id, tvb(54, 2))
    t:add(f.order, tvb(56, 8))
    local ty, plen = tvb(48, 1):uint(), tvb(52, 2):uint()
    local name = types[ty]
    local info = string.format("%s, order %s", name or string.format("Unknown 0x%02x", ty), tostring(tvb(56, 8):uint64()))
    if not name then
        t:add_proto_expert_info(e.unknown, string.format("Unknown packet ID 0x%02x", ty))
    end
    t:append_text(", " .. info)
    if plen ~= len - header_len then
        lf:add_proto_expert_info(e.malformed, string.format("Length %d, but %d bytes follow the header", plen,
            len - header_len))
        pinfo.cols.info = info .. " [malformed]"
        return len
    end
    local body = len - header_len
    if (ty == 1 or ty == 2) and body ~= 8 then
        t:add_proto_expert_info(e.malformed, string.format("%s carries %d bytes, not an 8-byte timestamp", name, body))
    elseif (ty == 8 or ty == 9) and body ~= 32 then
        t:add_proto_expert_info(e.malformed, string.format("%s carries %d bytes, not a 32-byte digest", name, body))
    elseif ty == 1 or ty == 2 then
        t:add(f.timestamp, tvb(64, 8))
    elseif ty == 8 or ty == 9 then
        t:add(f.acked_digest, tvb(64, 32))
        local n = by_digest[tvb:raw(64, 32)]
        if ty == 8 and n and n ~= pinfo.number then
            t:add(f.acked_frame, n):set_generated()
        end
    elseif body > 0 then
        t:add(f.payload, tvb(64, body))
        info = info .. string.format(", %d bytes", body)
    end
    pinfo.cols.info = info
    return len
end

pg.port_pref(p, "udp.port", 7300, "UDP port of the session protocol")
