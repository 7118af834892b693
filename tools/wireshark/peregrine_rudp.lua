-- Peregrine RUDP (docs/protocols/rudp.md): UDP 7400. Wireshark already has a protocol named
-- "rudp" (Cisco's Reliable UDP), and two cannot share a name: this one is "pgrudp". A 4-12
-- byte header (big-endian; optional fields only when flagged), a body of at most 988 bytes.
-- Fragments are reassembled here: Wireshark 4.0 gives Lua no access to its reassembly API.
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local pg = dofile(here .. "peregrine_common.lua")
if pg.once("rudp") then
    return
end

local p = Proto("pgrudp", "Peregrine RUDP")
local types = {[0] = "DEFAULT", [1] = "ACK", [2] = "AUTH", [3] = "HEARTBEAT", [4] = "ERROR"}
local RELIABLE, CHECKSUM, COMPRESSED, ENCRYPTED, FRAG = 0x80, 0x40, 0x20, 0x10, 0x08
-- Flags each type may carry (docs/protocols/rudp.md, "Which flags each type may carry").
local allowed = {[0] = 0xF8, [1] = 0x70, [2] = 0xC0, [3] = 0x70, [4] = 0x70}
local max_body, tag_len = 988, 16
local errors = {
    [0x10] = "CONNECTION", [0x11] = "NO SPACE", [0x12] = "CERTIFICATE INVALID", [0x13] = "FINISH INVALID",
    [0x20] = "DISCONNECT", [0x21] = "SERVER DISCONNECT", [0x22] = "CLIENT DISCONNECT", [0x30] = "PACKET",
    [0x31] = "VERSION", [0x32] = "PACKET TYPE", [0x33] = "FLAGS", [0x34] = "SEQUENCE ID", [0x35] = "FRAGMENT ID",
    [0x36] = "FRAGMENT NUMBER", [0x37] = "INIT VECTOR", [0x38] = "COMPRESSION", [0x39] = "CHECKSUM",
}
local error_names = {}
for code, name in pairs(errors) do
    error_names[code] = string.format("%d/%d %s", math.floor(code / 16), code % 16, name)
end

local f = {
    version = ProtoField.uint8("pgrudp.version", "Version", base.DEC, nil, 0xF0),
    type = ProtoField.uint8("pgrudp.type", "Type", base.DEC, types, 0x0F),
    flags = ProtoField.uint8("pgrudp.flags", "Flags", base.HEX),
    reliable = ProtoField.bool("pgrudp.flags.reliable", "RELIABLE", 8, nil, RELIABLE),
    checksum = ProtoField.bool("pgrudp.flags.checksum", "CHECKSUM", 8, nil, CHECKSUM),
    compressed = ProtoField.bool("pgrudp.flags.compressed", "COMPRESSED", 8, nil, COMPRESSED),
    encrypted = ProtoField.bool("pgrudp.flags.encrypted", "ENCRYPTED", 8, nil, ENCRYPTED),
    frag = ProtoField.bool("pgrudp.flags.frag", "FRAG", 8, nil, FRAG),
    reserved = ProtoField.uint8("pgrudp.flags.reserved", "Reserved", base.HEX, nil, 0x07),
    seq = ProtoField.uint16("pgrudp.seq", "Sequence ID", base.DEC),
    frag_id = ProtoField.uint8("pgrudp.frag_id", "Fragment ID", base.DEC),
    frag_count = ProtoField.uint8("pgrudp.frag_count", "Fragment number", base.DEC),
    iv = ProtoField.uint16("pgrudp.iv", "Init vector", base.DEC),
    counter = ProtoField.uint32("pgrudp.counter", "Message counter (nonce)", base.DEC),
    crc = ProtoField.uint32("pgrudp.crc", "CRC-32", base.HEX),
    crc_status = ProtoField.string("pgrudp.crc.status", "CRC-32 status"),
    data = ProtoField.bytes("pgrudp.data", "Data"),
    ciphertext = ProtoField.bytes("pgrudp.encrypted_data", "Encrypted data (AES-128-GCM)"),
    tag = ProtoField.bytes("pgrudp.tag", "GCM tag"),
    ack_id = ProtoField.uint16("pgrudp.ack_id", "ACK ID", base.DEC),
    ack_bits = ProtoField.uint16("pgrudp.ack_bits", "ACK bits", base.HEX),
    acked = ProtoField.uint16("pgrudp.acked", "Acknowledged sequence ID", base.DEC),
    finished = ProtoField.bytes("pgrudp.finished", "Data (finished)"),
    key_size = ProtoField.uint8("pgrudp.auth.key_size", "Key size", base.DEC),
    auth_reserved = ProtoField.uint8("pgrudp.auth.reserved", "Reserved", base.HEX),
    key = ProtoField.bytes("pgrudp.auth.key", "Public key (X25519)"),
    cert_size = ProtoField.uint16("pgrudp.auth.cert_size", "Certificate size", base.DEC),
    cert = ProtoField.bytes("pgrudp.auth.cert", "Certificate (DER)"),
    padding = ProtoField.bytes("pgrudp.auth.padding", "Padding"),
    heartbeat = ProtoField.uint8("pgrudp.heartbeat", "Heartbeat", base.DEC, {[0] = "PING", [1] = "PONG"}),
    error = ProtoField.uint8("pgrudp.error", "Error", base.HEX, error_names),
    error_major = ProtoField.uint8("pgrudp.error.major", "Major", base.DEC, nil, 0xF0),
    error_minor = ProtoField.uint8("pgrudp.error.minor", "Minor", base.DEC, nil, 0x0F),
    needed = ProtoField.uint16("pgrudp.error.needed", "AUTH length needed", base.DEC),
    reassembled_in = ProtoField.framenum("pgrudp.reassembled_in", "Reassembled in", base.NONE),
    fragment = ProtoField.framenum("pgrudp.fragment", "Fragment in frame", base.NONE),
    message_len = ProtoField.uint32("pgrudp.message_len", "Reassembled message length", base.DEC),
}
p.fields = pg.field_list(f)
local e = {
    malformed = ProtoExpert.new("pgrudp.malformed", "Malformed RUDP datagram", expert.group.MALFORMED,
        expert.severity.ERROR),
    unknown = ProtoExpert.new("pgrudp.unknown_type", "Reserved RUDP type (5-15)", expert.group.MALFORMED,
        expert.severity.ERROR),
    flags = ProtoExpert.new("pgrudp.bad_flags", "Flag this type may not carry, or a reserved flag",
        expert.group.PROTOCOL, expert.severity.WARN),
    bad_crc = ProtoExpert.new("pgrudp.bad_crc", "CRC-32 does not match", expert.group.CHECKSUM, expert.severity.ERROR),
    error = ProtoExpert.new("pgrudp.error_sent", "RUDP ERROR", expert.group.RESPONSE_CODE, expert.severity.NOTE),
}
p.experts = {e.malformed, e.unknown, e.flags, e.bad_crc, e.error}

-- Fragments by message: key -> {count, parts = {id -> bytes}, frames = {id -> frame}, done}.
local messages = {}
function p.init()
    messages = {}
end

-- The plaintext of a (whole) message body: inflated when COMPRESSED, nil for ENCRYPTED.
local function plaintext(range, flags)
    if bit32.band(flags, ENCRYPTED) ~= 0 then
        return nil
    end
    if bit32.band(flags, COMPRESSED) ~= 0 then
        if range:len() == 0 then
            return nil
        end
        local ok, inflated = pcall(function() return range:uncompress("Inflated RUDP message") end)
        return ok and inflated or nil
    end
    return range
end

-- The body of a type (after FRAG and decryption), as far as it can be read in clear.
local function dissect_body(ty, flags, range, t, crc, has_crc, pinfo)
    local len = range:len()
    if bit32.band(flags, ENCRYPTED) ~= 0 then
        if len < tag_len then
            t:add_proto_expert_info(e.malformed, string.format("Encrypted body of %d bytes: shorter than its tag", len))
        else
            if len > tag_len then
                t:add(f.ciphertext, range(0, len - tag_len))
            end
            t:add(f.tag, range(len - tag_len, tag_len))
        end
        if has_crc then
            t:add(f.crc_status, "unverifiable (encrypted)"):set_generated()
        end
        return "encrypted"
    end
    local plain = plaintext(range, flags)
    if not plain then
        if has_crc then
            t:add(f.crc_status, "unverifiable (not inflated)"):set_generated()
        end
        t:add(f.data, range)
        return "compressed"
    end
    if has_crc then
        local s = plain:len() > 0 and plain:raw() or ""
        local good = pg.crc32(s) == crc
        local item = t:add(f.crc_status, good and "good" or "bad"):set_generated()
        if not good then
            item:add_proto_expert_info(e.bad_crc, string.format("CRC-32 of the message is 0x%08x", pg.crc32(s)))
        end
    end
    local n = plain:len()
    if ty == 0 then
        if n > 0 then
            t:add(f.data, plain)
        end
        return string.format("%d bytes", n)
    elseif ty == 1 then
        if n < 4 then
            t:add_proto_expert_info(e.malformed, string.format("ACK of %d bytes: shorter than ACK ID and bits", n))
            return "malformed"
        end
        local id, bits = plain(0, 2):uint(), plain(2, 2):uint()
        t:add(f.ack_id, plain(0, 2))
        local bt = t:add(f.ack_bits, plain(2, 2))
        local list = {tostring(id)}
        for i = 0, 15 do
            if bit32.band(bits, bit32.lshift(1, i)) ~= 0 then
                local s = (id - 1 - i) % 65536
                bt:add(f.acked, plain(2, 2), s):set_generated()
                list[#list + 1] = tostring(s)
            end
        end
        bt:append_text(" (acknowledges " .. table.concat(list, ", ") .. ")")
        if n > 4 then
            t:add(f.finished, plain(4, n - 4))
        end
        return "ACK " .. table.concat(list, ",")
    elseif ty == 2 then
        if n < 2 then
            t:add_proto_expert_info(e.malformed, "AUTH shorter than its key size")
            return "malformed"
        end
        t:add(f.auth_reserved, plain(0, 1))
        local ks = plain(1, 1):uint()
        t:add(f.key_size, plain(1, 1))
        if 2 + ks > n then
            t:add_proto_expert_info(e.malformed, string.format("Key size %d, but %d bytes follow", ks, n - 2))
            return "malformed"
        end
        if ks > 0 then
            t:add(f.key, plain(2, ks))
        end
        local at = 2 + ks
        if at + 2 <= n then
            local cs = plain(at, 2):uint()
            t:add(f.cert_size, plain(at, 2))
            at = at + 2
            if at + cs > n then
                t:add_proto_expert_info(e.malformed, string.format("Certificate size %d, but %d bytes follow", cs, n - at))
                return "malformed"
            end
            if cs > 0 then
                t:add(f.cert, plain(at, cs))
            end
            at = at + cs
        end
        if at < n then
            t:add(f.padding, plain(at, n - at))
        end
        return string.format("AUTH, key %d bytes, %d bytes", ks, n)
    elseif ty == 3 then
        if n < 1 or plain(0, 1):uint() > 1 then
            t:add_proto_expert_info(e.malformed, "HEARTBEAT must start with 0 (PING) or 1 (PONG)")
            return "malformed"
        end
        t:add(f.heartbeat, plain(0, 1))
        if n > 1 then
            t:add(f.data, plain(1, n - 1))
        end
        return plain(0, 1):uint() == 0 and "PING" or "PONG"
    elseif ty == 4 then
        if n < 1 then
            t:add_proto_expert_info(e.malformed, "Empty ERROR")
            return "malformed"
        end
        local code = plain(0, 1):uint()
        local et = t:add(f.error, plain(0, 1))
        et:add(f.error_major, plain(0, 1))
        et:add(f.error_minor, plain(0, 1))
        local name = error_names[code] or string.format("%d/%d", math.floor(code / 16), code % 16)
        et:add_proto_expert_info(e.error, "ERROR " .. name)
        if code == 0x10 and n >= 3 then
            t:add(f.needed, plain(1, 2))
        elseif n > 1 then
            t:add(f.data, plain(1, n - 1))
        end
        return "ERROR " .. name
    end
    return ""
end

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "PGRUDP"
    local t = tree:add(p, tvb())
    if len < 4 then
        t:add_proto_expert_info(e.malformed, string.format("%d bytes: shorter than the 4-byte header", len))
        pinfo.cols.info = "Malformed (short)"
        return len
    end
    local b0, flags, seq = tvb(0, 1):uint(), tvb(1, 1):uint(), tvb(2, 2):uint()
    local ver, ty = math.floor(b0 / 16), b0 % 16
    t:add(f.version, tvb(0, 1))
    t:add(f.type, tvb(0, 1))
    local ft = t:add(f.flags, tvb(1, 1))
    for _, k in ipairs({"reliable", "checksum", "compressed", "encrypted", "frag", "reserved"}) do
        ft:add(f[k], tvb(1, 1))
    end
    t:add(f.seq, tvb(2, 2))
    local hl = 4 + (bit32.band(flags, FRAG) ~= 0 and 2 or 0) + (bit32.band(flags, ENCRYPTED) ~= 0 and 2 or 0) +
        (bit32.band(flags, CHECKSUM) ~= 0 and 4 or 0)
    local name = types[ty] or string.format("Reserved type %d", ty)
    local info = string.format("%s seq %d", name, seq)
    if len < hl then
        t:add_proto_expert_info(e.malformed, string.format("%d bytes: the flags need a %d-byte header", len, hl))
        pinfo.cols.info = info .. " [malformed]"
        return len
    end
    if ver ~= 0 then
        t:add_proto_expert_info(e.malformed, string.format("Version %d (only 0 exists)", ver))
    end
    if not types[ty] then
        t:add_proto_expert_info(e.unknown, string.format("Type %d is reserved", ty))
        pinfo.cols.info = info
        return len
    end
    if bit32.band(flags, bit32.bnot(allowed[ty])) ~= 0 then
        ft:add_proto_expert_info(e.flags, string.format("%s may not carry flags 0x%02x", name,
            bit32.band(flags, bit32.bnot(allowed[ty]))))
    end
    local off = 4
    local frag_id, frag_count
    if bit32.band(flags, FRAG) ~= 0 then
        frag_id, frag_count = tvb(4, 1):uint(), tvb(5, 1):uint()
        t:add(f.frag_id, tvb(4, 1))
        t:add(f.frag_count, tvb(5, 1))
        off = 6
        info = info .. string.format(", fragment %d/%d", frag_id, frag_count)
    end
    local base = (seq - (frag_id or 0)) % 65536
    local iv = 0
    if bit32.band(flags, ENCRYPTED) ~= 0 then
        iv = tvb(off, 2):uint()
        t:add(f.iv, tvb(off, 2))
        t:add(f.counter, iv * 65536 + base):set_generated()
        off = off + 2
    end
    local crc, has_crc = 0, false
    if bit32.band(flags, CHECKSUM) ~= 0 then
        crc, has_crc = tvb(off, 4):uint(), true
        t:add(f.crc, tvb(off, 4))
        off = off + 4
    end
    local body = len - off
    if body > max_body then
        t:add_proto_expert_info(e.malformed, string.format("Body of %d bytes: over 988", body))
    end
    local marks = {}
    for _, m in ipairs({{RELIABLE, "R"}, {CHECKSUM, "C"}, {COMPRESSED, "Z"}, {ENCRYPTED, "E"}, {FRAG, "F"}}) do
        if bit32.band(flags, m[1]) ~= 0 then
            marks[#marks + 1] = m[2]
        end
    end
    info = info .. " [" .. table.concat(marks) .. "]"
    t:append_text(", " .. info)

    if not frag_id then
        local what = dissect_body(ty, flags, tvb(off, body), t, crc, has_crc, pinfo)
        pinfo.cols.info = info .. " " .. what
        return len
    end

    -- A fragment: kept on the first pass; the frame that completes the message shows it.
    if frag_count < 2 or frag_id >= frag_count then
        t:add_proto_expert_info(e.malformed, string.format("Fragment %d of %d", frag_id, frag_count))
        pinfo.cols.info = info .. " [malformed]"
        return len
    end
    local key = tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" ..
        pinfo.dst_port .. "#" .. iv .. ":" .. base .. "/" .. frag_count
    local m = messages[key]
    if not pinfo.visited then
        if not m then
            m = {parts = {}, frames = {}, have = 0}
            messages[key] = m
        end
        if not m.parts[frag_id] and not m.done then
            m.parts[frag_id] = pg.bytes(tvb, off, body)
            m.frames[frag_id] = pinfo.number
            m.have = m.have + 1
            if m.have == frag_count then
                m.done = pinfo.number
            end
        end
    end
    if m and m.done then
        if m.done ~= pinfo.number then
            t:add(f.reassembled_in, m.done):set_generated()
            pinfo.cols.info = info .. " (reassembled in " .. m.done .. ")"
            return len
        end
        local parts = {}
        for i = 0, frag_count - 1 do
            parts[#parts + 1] = m.parts[i]
            t:add(f.fragment, m.frames[i]):set_generated()
        end
        local whole = table.concat(parts)
        local mt = ByteArray.new(whole, true):tvb("Reassembled RUDP message")
        t:add(f.message_len, #whole):set_generated()
        local what = dissect_body(ty, flags, mt(), t, crc, has_crc, pinfo)
        pinfo.cols.info = info .. " reassembled " .. what
        return len
    end
    t:add(f.data, tvb(off, body))
    pinfo.cols.info = info
    return len
end

pg.port_pref(p, "udp.port", 7400, "UDP port of RUDP")
