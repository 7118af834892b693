-- What the Peregrine dissectors share: load-once guards, endpoints as text, CRC-32 and
-- SHA-256/HMAC-SHA-256 (Wireshark's Lua has no hash functions), the UDP/TCP port preference.
-- Loaded by each peregrine_*.lua; harmless when Wireshark loads it on its own.
if _G.peregrine_common then
    return _G.peregrine_common
end

local M = {}
local band, bor, bxor, bnot = bit32.band, bit32.bor, bit32.bxor, bit32.bnot
local rshift, lshift, rrotate = bit32.rshift, bit32.lshift, bit32.rrotate

-- True the second time a protocol file is loaded (the loader and Wireshark's plugin scan both
-- load it when the files are installed together).
local loaded = {}
function M.once(name)
    if loaded[name] then
        return true
    end
    loaded[name] = true
    return false
end

-- "A.B.C.D:PORT" of 4 address bytes and a 2-byte big-endian port.
function M.endpoint_text(range)
    return string.format("%d.%d.%d.%d:%d", range(0, 1):uint(), range(1, 1):uint(), range(2, 1):uint(),
        range(3, 1):uint(), range(4, 2):uint())
end

function M.ipv4_text(range)
    return string.format("%d.%d.%d.%d", range(0, 1):uint(), range(1, 1):uint(), range(2, 1):uint(), range(3, 1):uint())
end

-- ---- CRC-32 (IEEE 802.3, zlib's) ----
local crc_table = {}
for i = 0, 255 do
    local c = i
    for _ = 1, 8 do
        if band(c, 1) ~= 0 then
            c = bxor(0xEDB88320, rshift(c, 1))
        else
            c = rshift(c, 1)
        end
    end
    crc_table[i] = c
end

-- CRC-32 of a Lua string.
function M.crc32(s)
    local c = 0xFFFFFFFF
    for i = 1, #s do
        c = bxor(crc_table[band(bxor(c, s:byte(i)), 0xFF)], rshift(c, 8))
    end
    return bxor(c, 0xFFFFFFFF)
end

-- ---- SHA-256 (FIPS 180-4) ----
local K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function add32(...)
    local s = 0
    for _, v in ipairs({...}) do
        s = s + v
    end
    return band(s, 0xFFFFFFFF)
end

-- SHA-256 of a Lua string, as a 32-byte Lua string.
function M.sha256(msg)
    local h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
    local len = #msg
    msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64)
    local bits = len * 8
    local hi, lo = math.floor(bits / 2 ^ 32), bits % 2 ^ 32
    msg = msg .. string.char(band(rshift(hi, 24), 0xFF), band(rshift(hi, 16), 0xFF), band(rshift(hi, 8), 0xFF),
        band(hi, 0xFF), band(rshift(lo, 24), 0xFF), band(rshift(lo, 16), 0xFF), band(rshift(lo, 8), 0xFF),
        band(lo, 0xFF))
    local w = {}
    for chunk = 1, #msg, 64 do
        for i = 0, 15 do
            local a, b, c, d = msg:byte(chunk + 4 * i, chunk + 4 * i + 3)
            w[i] = bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
        end
        for i = 16, 63 do
            local s0 = bxor(rrotate(w[i - 15], 7), rrotate(w[i - 15], 18), rshift(w[i - 15], 3))
            local s1 = bxor(rrotate(w[i - 2], 17), rrotate(w[i - 2], 19), rshift(w[i - 2], 10))
            w[i] = add32(w[i - 16], s0, w[i - 7], s1)
        end
        local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
        for i = 0, 63 do
            local S1 = bxor(rrotate(e, 6), rrotate(e, 11), rrotate(e, 25))
            local ch = bxor(band(e, f), band(bnot(e), g))
            local t1 = add32(hh, S1, ch, K[i + 1], w[i])
            local S0 = bxor(rrotate(a, 2), rrotate(a, 13), rrotate(a, 22))
            local maj = bxor(band(a, b), band(a, c), band(b, c))
            local t2 = add32(S0, maj)
            hh, g, f, e, d, c, b, a = g, f, e, add32(d, t1), c, b, a, add32(t1, t2)
        end
        h[1], h[2], h[3], h[4] = add32(h[1], a), add32(h[2], b), add32(h[3], c), add32(h[4], d)
        h[5], h[6], h[7], h[8] = add32(h[5], e), add32(h[6], f), add32(h[7], g), add32(h[8], hh)
    end
    local out = {}
    for i = 1, 8 do
        out[i] = string.char(band(rshift(h[i], 24), 0xFF), band(rshift(h[i], 16), 0xFF), band(rshift(h[i], 8), 0xFF),
            band(h[i], 0xFF))
    end
    return table.concat(out)
end

-- HMAC-SHA-256 (RFC 2104) of msg under key, both Lua strings.
function M.hmac_sha256(key, msg)
    if #key > 64 then
        key = M.sha256(key)
    end
    key = key .. string.rep("\0", 64 - #key)
    local ipad, opad = {}, {}
    for i = 1, 64 do
        ipad[i] = string.char(bxor(key:byte(i), 0x36))
        opad[i] = string.char(bxor(key:byte(i), 0x5c))
    end
    return M.sha256(table.concat(opad) .. M.sha256(table.concat(ipad) .. msg))
end

-- Hex text (spaces and colons allowed) to a Lua string; nil if it is not hex.
function M.unhex(s)
    s = s:gsub("[%s:]", "")
    if #s % 2 ~= 0 or s:find("[^%x]") then
        return nil
    end
    return (s:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

-- The values of a table of ProtoFields, for Proto.fields.
function M.field_list(fields)
    local out = {}
    for _, v in pairs(fields) do
        out[#out + 1] = v
    end
    return out
end

-- Bytes from a packet made fit for a label: printable ASCII kept, every other byte '?' (a raw
-- byte would make invalid UTF-8 in Wireshark's output).
function M.printable(s)
    return (s:gsub("[^\32-\126]", "?"))
end

-- The string of a TvbRange's bytes (empty for an empty range).
function M.bytes(tvb, offset, len)
    if len <= 0 then
        return ""
    end
    return tvb:raw(offset, len)
end

-- A port preference on `table_name` ("udp.port", "tcp.port") for proto p: registers the
-- default now and moves the registration when the preference changes.
function M.port_pref(p, table_name, default, what)
    p.prefs.port = Pref.uint("Port", default, what .. " (the engine's --" .. p.name .. "-port)")
    local current = default
    DissectorTable.get(table_name):add(default, p)
    -- Offered in Decode As (and tshark -d) for any port.
    DissectorTable.get(table_name):add_for_decode_as(p)
    function p.prefs_changed()
        if p.prefs.port ~= current then
            DissectorTable.get(table_name):remove(current, p)
            current = p.prefs.port
            DissectorTable.get(table_name):add(current, p)
        end
    end
end

_G.peregrine_common = M
return M
