-- Peregrine load-balancer protocol (docs/protocols/lb.md): UDP 7200. Type byte, 16-bit Request
-- ID; every multi-byte field big-endian; an endpoint is IPv4 then a port. Acks and Serving Node
-- Responses are matched to the request they answer (same Request ID, the opposite direction).
local here = debug.getinfo(1, "S").source:match("^@(.*[/\\])") or ""
local pg = dofile(here .. "peregrine_common.lua")
if pg.once("lb") then
    return
end

local p = Proto("lb", "Peregrine Load-Balancer Protocol")
local types = {
    [0] = "Register Serving Node", [1] = "Register Call Controller", [2] = "Start Call", [3] = "Ack",
    [4] = "Registration Update", [5] = "Registration Removed", [6] = "Request Serving Node",
    [7] = "Serving Node Response", [9] = "Serving Nodes", [10] = "Serving Node Removed",
}
local lengths = {[0] = 9, [1] = 9, [2] = 7, [3] = 3, [4] = 15, [5] = 9, [6] = 3, [7] = 9, [10] = 9}
local is_answer = {[3] = true, [7] = true}
-- Types a sender may pad with zero bytes (up to 64 in all) to buy the byte budget of its answers.
local paddable = {[0] = true, [1] = true, [6] = true}
local max_padded = 64

local f = {
    type = ProtoField.uint8("lb.type", "Type", base.DEC, types),
    request_id = ProtoField.uint16("lb.request_id", "Request ID", base.DEC),
    endpoint = ProtoField.string("lb.endpoint", "Endpoint"),
    ip = ProtoField.ipv4("lb.endpoint.ip", "IPv4"),
    port = ProtoField.uint16("lb.endpoint.port", "Port", base.DEC),
    call_id = ProtoField.uint16("lb.call_id", "Call ID", base.DEC),
    group_id = ProtoField.uint16("lb.group_id", "Group ID", base.DEC),
    user_id = ProtoField.uint32("lb.user_id", "User ID", base.DEC),
    nodes = ProtoField.uint16("lb.nodes", "Endpoints listed", base.DEC),
    padding = ProtoField.bytes("lb.padding", "Padding (zeros: pays for the answer)"),
    response_in = ProtoField.framenum("lb.response_in", "Response in", base.NONE, frametype.RESPONSE),
    response_to = ProtoField.framenum("lb.response_to", "Response to", base.NONE, frametype.REQUEST),
}
p.fields = {f.type, f.request_id, f.endpoint, f.ip, f.port, f.call_id, f.group_id, f.user_id, f.nodes, f.padding,
    f.response_in, f.response_to}
local e = {
    malformed = ProtoExpert.new("lb.malformed", "Malformed load-balancer datagram", expert.group.MALFORMED,
        expert.severity.ERROR),
    unknown = ProtoExpert.new("lb.unknown_type", "Unknown load-balancer type", expert.group.MALFORMED,
        expert.severity.ERROR),
    unanswered = ProtoExpert.new("lb.unanswered", "No answer to this request in the capture",
        expert.group.SEQUENCE, expert.severity.NOTE),
}
p.experts = {e.malformed, e.unknown, e.unanswered}

-- First frame of each request and of each answer, by "src>dst#id" (the request's direction).
local requests, answers = {}, {}
function p.init()
    requests, answers = {}, {}
end

local function add_endpoint(t, tvb, off, label)
    local sub = t:add(f.endpoint, tvb(off, 6), pg.endpoint_text(tvb(off, 6)))
    if label then
        sub:prepend_text(label .. " ")
    end
    sub:add(f.ip, tvb(off, 4))
    sub:add(f.port, tvb(off + 4, 2))
    return pg.endpoint_text(tvb(off, 6))
end

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "LB"
    local t = tree:add(p, tvb())
    if len < 3 then
        t:add_proto_expert_info(e.malformed, string.format("%d bytes: shorter than the 3-byte header", len))
        if len >= 1 then
            t:add(f.type, tvb(0, 1))
        end
        pinfo.cols.info = "Malformed (short)"
        return len
    end
    local ty, id = tvb(0, 1):uint(), tvb(1, 2):uint()
    t:add(f.type, tvb(0, 1))
    t:add(f.request_id, tvb(1, 2))
    local name = types[ty]
    if not name then
        t:add_proto_expert_info(e.unknown, string.format("Unknown type %d", ty))
        pinfo.cols.info = string.format("Unknown type %d, Request ID %d", ty, id)
        return len
    end
    t:append_text(string.format(", %s, Request ID %d", name, id))
    local info = string.format("%s, Request ID %d", name, id)
    local want = lengths[ty]
    local padded = want and paddable[ty] and len > want and len <= max_padded
    if padded then
        for k = want, len - 1 do
            if tvb(k, 1):uint() ~= 0 then
                padded = false
            end
        end
    end
    -- An empty Serving Nodes (N = 0) is the Controlling Function's probe of a new node.
    local ok = (want and len == want) or padded or (ty == 9 and len >= 3 and (len - 3) % 6 == 0)
    if not ok then
        t:add_proto_expert_info(e.malformed, want and string.format("%s is %d bytes, not %d", name, len, want) or
            string.format("Serving Nodes of %d bytes: not 3 + 6 x N", len))
        pinfo.cols.info = info .. " [malformed]"
        return len
    end
    if padded then
        t:add(f.padding, tvb(want, len - want))
        info = info .. string.format(", padded to %d bytes", len)
    end

    if ty == 0 or ty == 1 or ty == 7 or ty == 10 then
        info = info .. ", " .. add_endpoint(t, tvb, 3)
    elseif ty == 2 then
        t:add(f.call_id, tvb(3, 2))
        t:add(f.group_id, tvb(5, 2))
        info = info .. string.format(", Call ID %d, Group ID %d", tvb(3, 2):uint(), tvb(5, 2):uint())
    elseif ty == 4 or ty == 5 then
        t:add(f.group_id, tvb(3, 2))
        t:add(f.user_id, tvb(5, 4))
        info = info .. string.format(", Group %d, User %u", tvb(3, 2):uint(), tvb(5, 4):uint())
        if ty == 4 then
            info = info .. ", " .. add_endpoint(t, tvb, 9)
        end
    elseif ty == 9 then
        local n = (len - 3) / 6
        t:add(f.nodes, n):set_generated()
        for k = 0, n - 1 do
            add_endpoint(t, tvb, 3 + 6 * k, string.format("[%d]", k))
        end
        info = info .. (n == 0 and ", none (a probe)" or string.format(", %d endpoint(s)", n))
    end

    -- Request/response tracking.
    local fwd = tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port
    local rev = tostring(pinfo.dst) .. ":" .. pinfo.dst_port .. ">" .. tostring(pinfo.src) .. ":" .. pinfo.src_port
    if is_answer[ty] then
        local key = rev .. "#" .. id
        if not pinfo.visited and not answers[key] then
            answers[key] = pinfo.number
        end
        if requests[key] then
            t:add(f.response_to, requests[key]):set_generated()
        end
    else
        local key = fwd .. "#" .. id
        if not pinfo.visited and not requests[key] then
            requests[key] = pinfo.number
        end
        if answers[key] then
            t:add(f.response_in, answers[key]):set_generated()
        elseif pinfo.visited then
            t:add_proto_expert_info(e.unanswered)
        end
    end
    pinfo.cols.info = info
    return len
end

pg.port_pref(p, "udp.port", 7200, "UDP port of the load-balancer protocol")
