-- Peregrine LEKT rendezvous (docs/protocols/lekt.md): TCP 7500, big-endian. Every packet has
-- an 8-byte header ('LEKT', type, version major.minor.extra); a TCP segment may hold part of
-- one, or several: each is reassembled across segments (desegment) and dissected whole. The
-- client's first 'H' of a connection is its Handshake, every later one a Heartbeat.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local pg = dofile(here .. "peregrine_common.lua")
if pg.once("lekt") then
    return
end

local p = Proto("lekt", "Peregrine LEKT Rendezvous")
local header_len = 8
local methods = {[0] = "end of setup", [1] = "direct UDP", [2] = "router relay", [3] = "session", [4] = "RUDP"}
local method_len = {[1] = 6, [2] = 6, [3] = 22, [4] = 38}
local max_methods, max_reason = 4096, 200

local f = {
    magic = ProtoField.string("lekt.magic", "Magic"),
    type = ProtoField.string("lekt.type", "Type"),
    kind = ProtoField.string("lekt.packet", "Packet"),
    version = ProtoField.string("lekt.version", "Version"),
    method_count = ProtoField.uint32("lekt.method_count", "Method count", base.DEC),
    bitfield = ProtoField.bytes("lekt.methods_bits", "Supported methods (bits)"),
    supported = ProtoField.uint32("lekt.supported", "Supports method", base.DEC, methods),
    index = ProtoField.uint32("lekt.method", "Method", base.DEC, methods),
    endpoint = ProtoField.string("lekt.endpoint", "Endpoint"),
    ip = ProtoField.ipv4("lekt.ip", "IPv4"),
    port = ProtoField.uint16("lekt.port", "Port", base.DEC),
    client_id = ProtoField.uint32("lekt.client_id", "Router Client ID", base.DEC),
    session_id = ProtoField.bytes("lekt.session_id", "Session Client ID"),
    key = ProtoField.bytes("lekt.key", "Public key"),
    reason = ProtoField.string("lekt.reason", "Reason"),
    time = ProtoField.int64("lekt.time", "Time (Unix s)", base.DEC),
    update_kind = ProtoField.string("lekt.update.kind", "Update"),
    count = ProtoField.uint32("lekt.update.count", "Records", base.DEC),
    member = ProtoField.ipv4("lekt.member", "Member added"),
    member_size = ProtoField.uint32("lekt.member.size", "Record size", base.DEC),
    removed = ProtoField.ipv4("lekt.removed", "Members removed at"),
    reset = ProtoField.bool("lekt.update.reset", "Forget everything"),
}
p.fields = pg.field_list(f)
local e = {
    malformed = ProtoExpert.new("lekt.malformed", "Malformed LEKT packet", expert.group.MALFORMED,
        expert.severity.ERROR),
    version = ProtoExpert.new("lekt.version_refused", "Major version other than 1", expert.group.PROTOCOL,
        expert.severity.WARN),
    reject = ProtoExpert.new("lekt.rejected", "Connection rejected", expert.group.RESPONSE_CODE,
        expert.severity.NOTE),
}
p.experts = {e.malformed, e.version, e.reject}

-- The handshake's place (frame, offset) in each connection (by its endpoints), from the first
-- whole client packet dissected: the first pass, or the first linear pass after a reload.
local handshake_at = {}
function p.init()
    handshake_at = {}
end

-- Bytes a packet needs (nil: cannot tell yet, need more; false: malformed, with why).
local function client_pdu_len(tvb, off, avail, is_handshake)
    local ty = pg.printable(tvb:raw(off + 4, 1))
    if ty == "H" and is_handshake then
        if avail < 12 then
            return nil
        end
        local n = tvb(off + 8, 4):uint()
        if n > max_methods then
            return false, string.format("method count %d over %d", n, max_methods)
        end
        return 12 + 4 * math.floor((n + 31) / 32)
    elseif ty == "H" then
        return 16
    elseif ty == "T" then
        if avail < 12 then
            return nil
        end
        local k = tvb(off + 8, 4):uint()
        if not method_len[k] then
            return false, string.format("Response for method %d (not 1-4)", k)
        end
        return 12 + method_len[k]
    end
    return false, string.format("type '%s' from a client", ty)
end

local function server_pdu_len(tvb, off, avail)
    local ty = pg.printable(tvb:raw(off + 4, 1))
    if ty == "A" then
        return 8
    elseif ty == "T" then
        return 12
    elseif ty == "R" then
        for i = header_len, math.min(avail, header_len + max_reason + 1) - 1 do
            if tvb(off + i, 1):uint() == 0 then
                return i + 1
            end
        end
        if avail >= header_len + max_reason + 1 then
            return false, "Reject reason over 200 bytes without its NUL"
        end
        return nil
    elseif ty == "H" then
        if avail < 20 then
            return nil
        end
        local kind, n = pg.printable(tvb:raw(off + 16, 1)), tvb(off + 17, 3):uint()
        if kind == "R" then
            return 20 + 4 * n
        elseif kind ~= "A" then
            return false, string.format("update kind '%s'", kind)
        end
        local at = 20
        for _ = 1, n do
            if avail < at + 4 then
                return nil
            end
            at = at + 4 + tvb(off + at, 4):uint()
        end
        return at
    end
    return false, string.format("type '%s' from the server", ty)
end

-- One method's information: index k at `at` in pkt (a TvbRange); returns its text.
local function add_method(t, pkt, at, k)
    local mt = t:add(f.index, pkt(at, 4))
    local info = pkt(at + 4, method_len[k])
    local text
    if k == 1 or k == 3 or k == 4 then
        text = pg.endpoint_text(info(0, 6))
        local ep = mt:add(f.endpoint, info(0, 6), text)
        ep:add(f.ip, info(0, 4))
        ep:add(f.port, info(4, 2))
        if k == 3 then
            mt:add(f.session_id, info(6, 16))
        elseif k == 4 then
            mt:add(f.key, info(6, 32))
        end
        text = methods[k] .. " " .. text
    else
        mt:add(f.client_id, info(0, 4))
        mt:add(f.port, info(4, 2))
        text = string.format("router relay ID %u port %d", info(0, 4):uint(), info(4, 2):uint())
    end
    mt:append_text(": " .. text)
    return text
end

local function dissect_pdu(pkt, pinfo, tree, from_client, is_handshake)
    local t = tree:add(p, pkt)
    t:add(f.magic, pkt(0, 4))
    local ty = pg.printable(pkt:raw(4, 1))
    t:add(f.type, pkt(4, 1))
    local major = pkt(5, 1):uint()
    local vt = t:add(f.version, pkt(5, 3), string.format("%d.%d.%d", major, pkt(6, 1):uint(), pkt(7, 1):uint()))
    if major ~= 1 then
        vt:add_proto_expert_info(e.version)
    end
    local name
    if from_client then
        if ty == "H" and is_handshake then
            name = "Handshake"
            local n = pkt(8, 4):uint()
            t:add(f.method_count, pkt(8, 4))
            local words = math.floor((n + 31) / 32)
            local list = {}
            if words > 0 then
                local bt = t:add(f.bitfield, pkt(12, 4 * words))
                for k = 1, n do
                    local w = pkt(12 + 4 * math.floor((k - 1) / 32), 4):uint()
                    if bit32.band(w, bit32.lshift(1, (k - 1) % 32)) ~= 0 then
                        bt:add(f.supported, pkt(12 + 4 * math.floor((k - 1) / 32), 4), k):set_generated()
                        list[#list + 1] = methods[k] or tostring(k)
                    end
                end
            end
            name = name .. string.format(", %d method(s): %s", n, table.concat(list, ", "))
        elseif ty == "H" then
            t:add(f.time, pkt(8, 8))
            name = "Heartbeat, time " .. tostring(pkt(8, 8):int64())
        else
            local k = pkt(8, 4):uint()
            name = "Response, " .. add_method(t, pkt, 8, k)
        end
    else
        if ty == "A" then
            name = "Accept"
        elseif ty == "T" then
            t:add(f.index, pkt(8, 4))
            local k = pkt(8, 4):uint()
            name = k == 0 and "Request 0 (setup done)" or ("Request for method " .. (methods[k] or tostring(k)))
        elseif ty == "R" then
            local r = pg.printable(pkt:raw(8, pkt:len() - 9))
            t:add(f.reason, pkt(8, pkt:len() - 8), r):add_proto_expert_info(e.reject, "Rejected: " .. r)
            name = "Reject: " .. r
        else
            t:add(f.time, pkt(8, 8))
            local kind, n = pg.printable(pkt:raw(16, 1)), pkt(17, 3):uint()
            t:add(f.update_kind, pkt(16, 1), kind == "A" and "A (members added)" or "R (members removed)")
            t:add(f.count, pkt(17, 3))
            local deltas = {}
            if kind == "R" then
                if n == 0 then
                    t:add(f.reset, pkt(17, 3), true):set_generated()
                    deltas[1] = "reset"
                end
                for i = 0, n - 1 do
                    t:add(f.removed, pkt(20 + 4 * i, 4))
                    deltas[#deltas + 1] = "-" .. pg.ipv4_text(pkt(20 + 4 * i, 4))
                end
            else
                local at = 20
                for _ = 1, n do
                    local size = pkt(at, 4):uint()
                    local rec = pkt(at, 4 + size)
                    if size < 4 then
                        t:add_proto_expert_info(e.malformed, string.format("record of %d bytes: no IPv4", size))
                        break
                    end
                    local ip = pg.ipv4_text(rec(4, 4))
                    local mt = t:add(f.member, rec(4, 4))
                    mt:add(f.member_size, rec(0, 4))
                    local m_at, texts = 8, {}
                    while m_at + 4 <= 4 + size do
                        local k = rec(m_at, 4):uint()
                        if not method_len[k] or m_at + 4 + method_len[k] > 4 + size then
                            mt:add(f.index, rec(m_at, 4)):append_text(" (unknown: the rest of the record skipped)")
                            break
                        end
                        texts[#texts + 1] = add_method(mt, rec, m_at, k)
                        m_at = m_at + 4 + method_len[k]
                    end
                    mt:append_text(": " .. (#texts > 0 and table.concat(texts, "; ") or "no methods"))
                    deltas[#deltas + 1] = "+" .. ip .. (#texts > 0 and (" (" .. table.concat(texts, "; ") .. ")") or "")
                    at = at + 4 + size
                end
            end
            name = string.format("Update %s, %d record(s), time %s%s", kind, n, tostring(pkt(8, 8):int64()),
                #deltas > 0 and (": " .. table.concat(deltas, ", ")) or "")
        end
    end
    t:append_text(", " .. name)
    return name
end

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    local from_client = pinfo.dst_port == p.prefs.port
    local stream = tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    local off, infos = 0, {}
    while off < len do
        local avail = len - off
        if avail < header_len then
            pinfo.desegment_offset = off
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        if tvb:raw(off, 4) ~= "LEKT" then
            local t = tree:add(p, tvb(off))
            t:add_proto_expert_info(e.malformed, "No 'LEKT' magic: not the start of a packet")
            infos[#infos + 1] = "[malformed]"
            off = len
            break
        end
        -- The stream's first whole client packet is the handshake; where it was is kept for
        -- later passes (recorded once it is whole: a split one is first seen in part).
        local is_handshake = false
        if from_client then
            local at = handshake_at[stream]
            if at then
                is_handshake = at[1] == pinfo.number and at[2] == off
            else
                is_handshake = true
            end
        end
        local need, why
        if from_client then
            need, why = client_pdu_len(tvb, off, avail, is_handshake)
        else
            need, why = server_pdu_len(tvb, off, avail)
        end
        if need == false then
            local t = tree:add(p, tvb(off))
            t:add_proto_expert_info(e.malformed, why)
            infos[#infos + 1] = "[malformed: " .. why .. "]"
            off = len
            break
        end
        if need == nil then
            pinfo.desegment_offset = off
            pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
            break
        end
        if need > avail then
            pinfo.desegment_offset = off
            pinfo.desegment_len = need - avail
            break
        end
        if is_handshake and not handshake_at[stream] then
            handshake_at[stream] = {pinfo.number, off}
        end
        infos[#infos + 1] = dissect_pdu(tvb(off, need), pinfo, tree, from_client, is_handshake)
        off = off + need
    end
    pinfo.cols.protocol = "LEKT"
    if #infos > 0 then
        pinfo.cols.info = table.concat(infos, " | ")
    end
    return len
end

pg.port_pref(p, "tcp.port", 7500, "TCP port of LEKT")
