#!/usr/bin/env python3
"""Router protocol client and traffic generator for Peregrine (Python 3 standard library only).

Wire format (shared/specs/router-protocol.md, docs/protocols/router.md): one type byte, then
for some types a Client ID as a little-endian uint32.
  0x00+ID Register Client -> 0x01        0x02+ID+payload Individual Message (forwarded unchanged)
  0x03+ID Unknown Recipient (reply)      0x04 Heartbeat -> 0x05 (registered endpoints only)

By hand (run it where the engine's address is reachable, e.g. `ip netns exec pgdemo ...`):
  router_client.py --server 198.18.99.1 register 42            # register ID 42, print the reply
  router_client.py --server 198.18.99.1 listen 42              # register, heartbeat, print messages
  router_client.py --server 198.18.99.1 send 42 'hello'        # Individual Message to ID 42
Traffic generator:
  router_client.py --server 198.18.99.1 load --clients 32 --rate 2000 --duration 20
    N clients register IDs base..base+N-1 from their own UDP sockets, heartbeat every
    --heartbeat-interval seconds, and send messages to random other clients at --rate per second
    in total. Every second it prints messages sent and delivered per second, replies per second
    (Register/Heartbeat responses, Unknown Recipient) and the delivery latency (p50/p99/max).
    Exit status 1 if more than --max-loss percent of messages or heartbeats went unanswered.
"""

import argparse
import os
import random
import selectors
import socket
import struct
import sys
import time

REGISTER, REGISTER_RESPONSE, MESSAGE, UNKNOWN_RECIPIENT, HEARTBEAT, HEARTBEAT_RESPONSE = range(6)
MAX_PAYLOAD = 1400
ID = struct.Struct('<I')
# Load-test payload header: magic, sender index, sequence, send time (ns, CLOCK_MONOTONIC).
LOAD_HDR = struct.Struct('<4sIIQ')
LOAD_MAGIC = b'PGLT'


def pkt_register(cid):
    return bytes([REGISTER]) + ID.pack(cid)


def pkt_message(cid, payload=b''):
    return bytes([MESSAGE]) + ID.pack(cid) + payload


PKT_HEARTBEAT = bytes([HEARTBEAT])


def describe(data):
    if not data:
        return 'empty datagram'
    t = data[0]
    if t == REGISTER_RESPONSE and len(data) == 1:
        return 'Register Client Response (0x01)'
    if t == HEARTBEAT_RESPONSE and len(data) == 1:
        return 'Heartbeat Response (0x05)'
    if t == UNKNOWN_RECIPIENT and len(data) == 5:
        return 'Unknown Recipient (0x03) for ID %d' % ID.unpack_from(data, 1)[0]
    if t == MESSAGE and len(data) >= 5:
        payload = data[5:]
        try:
            shown = repr(payload.decode())
        except UnicodeDecodeError:
            shown = payload.hex()
        return 'Individual Message (0x02) to ID %d, %d-byte payload %s' % (ID.unpack_from(data, 1)[0], len(payload), shown)
    return 'unexpected %d-byte datagram %s' % (len(data), data[:32].hex())


def parse_id(s):
    v = int(s, 0)
    if not 0 <= v <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError('client ID must fit in 32 bits')
    return v


def make_socket(args):
    """A UDP socket connected to the router: only the router's datagrams reach it, and its
    local address is the one the router sees (without NAT)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.bind, args.port))
    s.connect(args.server)
    return s


def recv_from_router(s, server, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            data, src = s.recvfrom(65535)
        except socket.timeout:
            return None
        if src == server:
            return data


# ---------------------------------------------------------------------------------------------
# By hand

def cmd_register(args):
    s = make_socket(args)
    s.sendto(pkt_register(args.id), args.server)
    reply = recv_from_router(s, args.server, args.timeout)
    print('%s:%d -> register %d: %s' % (*s.getsockname(), args.id, describe(reply) if reply is not None else 'no reply'))
    return 0 if reply == bytes([REGISTER_RESPONSE]) else 1


def cmd_send(args):
    s = make_socket(args)
    payload = bytes.fromhex(args.payload) if args.hex else args.payload.encode()
    if len(payload) > MAX_PAYLOAD:
        print('warning: %d-byte payload is over the router maximum of %d: it will be dropped' % (len(payload), MAX_PAYLOAD))
    s.sendto(pkt_message(args.id, payload), args.server)
    reply = recv_from_router(s, args.server, args.timeout)
    if reply is None:
        print('sent %d bytes to ID %d (no reply: the router forwarded it or dropped it)' % (len(payload), args.id))
        return 0
    print('reply: %s' % describe(reply))
    return 1 if reply[:1] == bytes([UNKNOWN_RECIPIENT]) else 0


def cmd_listen(args):
    s = make_socket(args)
    s.sendto(pkt_register(args.id), args.server)
    reply = recv_from_router(s, args.server, args.timeout)
    if reply != bytes([REGISTER_RESPONSE]):
        print('register %d: %s' % (args.id, describe(reply) if reply is not None else 'no reply'))
        return 1
    print('registered ID %d from %s:%d; heartbeat every %.0f s; Ctrl-C to stop' %
          (args.id, *s.getsockname(), args.heartbeat_interval), flush=True)
    end = time.monotonic() + args.duration if args.duration else None
    next_hb = time.monotonic() + args.heartbeat_interval
    try:
        while end is None or time.monotonic() < end:
            now = time.monotonic()
            if now >= next_hb:
                s.sendto(PKT_HEARTBEAT, args.server)
                next_hb = now + args.heartbeat_interval
            wait = next_hb - now
            if end is not None:
                wait = min(wait, end - now)
            s.settimeout(max(wait, 0.01))
            try:
                data, src = s.recvfrom(65535)
            except socket.timeout:
                continue
            if src != args.server:
                print('%s from %s:%d (not the router)' % (describe(data), *src), flush=True)
            elif data == bytes([HEARTBEAT_RESPONSE]) and not args.verbose:
                continue
            else:
                print(describe(data), flush=True)
    except KeyboardInterrupt:
        pass
    return 0


# ---------------------------------------------------------------------------------------------
# Traffic generator

def percentile(sorted_vals, p):
    if not sorted_vals:
        return float('nan')
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def fmt_us(ns):
    return '-' if ns != ns else ('%.0fus' % (ns / 1000.0) if ns < 10_000_000 else '%.1fms' % (ns / 1e6))


class Load:
    def __init__(self, args):
        self.a = args
        self.ids = [args.base_id + i for i in range(args.clients)]
        self.socks = []
        self.sel = selectors.DefaultSelector()
        for i in range(args.clients):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((args.bind, 0))
            s.connect(args.server)
            s.setblocking(False)
            self.socks.append(s)
            self.sel.register(s, selectors.EVENT_READ, i)
        self.seq = 0
        self.rng = random.Random(args.seed)
        self.pad = b'\0' * max(0, args.size - LOAD_HDR.size)
        self.hb_sent_at = [None] * args.clients
        # totals and the current one-second interval
        self.tot = dict(sent=0, delivered=0, reg_ok=0, hb_sent=0, hb_ok=0, unknown=0, other=0, send_err=0)
        self.iv = dict(self.tot)
        self.lat = []          # delivery latency, this interval (ns)
        self.all_lat = []      # sample of every latency, for the summary
        self.hb_rtt = []

    def count(self, k, n=1):
        self.tot[k] += n
        self.iv[k] += n

    def send(self, i, data):
        try:
            self.socks[i].sendto(data, self.a.server)
            return True
        except (BlockingIOError, OSError):
            self.count('send_err')
            return False

    def on_datagram(self, i, data, now_ns):
        if not data:
            self.count('other')
            return
        t = data[0]
        if t == MESSAGE and len(data) >= 5 + LOAD_HDR.size:
            magic, _, _, sent_ns = LOAD_HDR.unpack_from(data, 5)
            if magic == LOAD_MAGIC and ID.unpack_from(data, 1)[0] == self.ids[i]:
                self.count('delivered')
                self.lat.append(now_ns - sent_ns)
                return
        elif t == HEARTBEAT_RESPONSE and len(data) == 1:
            self.count('hb_ok')
            if self.hb_sent_at[i] is not None:
                self.hb_rtt.append(now_ns - self.hb_sent_at[i])
                self.hb_sent_at[i] = None
            return
        elif t == REGISTER_RESPONSE and len(data) == 1:
            self.count('reg_ok')
            return
        elif t == UNKNOWN_RECIPIENT and len(data) == 5:
            self.count('unknown')
            return
        self.count('other')

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            s, i = key.fileobj, key.data
            while True:
                try:
                    data, src = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if src == self.a.server:
                    self.on_datagram(i, data, time.monotonic_ns())
                else:
                    self.count('other')

    def register_all(self):
        for i, cid in enumerate(self.ids):
            self.send(i, pkt_register(cid))
        deadline = time.monotonic() + 3
        while self.tot['reg_ok'] < len(self.ids) and time.monotonic() < deadline:
            self.poll(0.05)
        return self.tot['reg_ok']

    def report(self, t, dt):
        lat = sorted(self.lat)
        self.all_lat.extend(lat if len(lat) < 2000 else lat[::max(1, len(lat) // 2000)])
        iv = self.iv
        print('[%5.1fs] sent %6.0f/s delivered %6.0f/s | replies %5.0f/s (hb %d/%d, reg %d, unknown %d) | '
              'latency p50 %s p99 %s max %s' %
              (t, iv['sent'] / dt, iv['delivered'] / dt, (iv['hb_ok'] + iv['reg_ok'] + iv['unknown']) / dt,
               iv['hb_ok'], iv['hb_sent'], iv['reg_ok'], iv['unknown'],
               fmt_us(percentile(lat, 50)), fmt_us(percentile(lat, 99)), fmt_us(lat[-1] if lat else float('nan'))),
              flush=True)
        self.iv = {k: 0 for k in self.tot}
        self.lat = []

    def run(self):
        a = self.a
        n = len(self.ids)
        print('load: %d clients (IDs %d..%d) from %s, %d messages/s of %d bytes, heartbeat every %.1f s, %.0f s' %
              (n, self.ids[0], self.ids[-1], a.bind, a.rate, LOAD_HDR.size + len(self.pad) + 5,
               a.heartbeat_interval, a.duration), flush=True)
        got = self.register_all()
        print('registered %d/%d clients' % (got, n), flush=True)
        if got < n and n > 1:
            print('warning: %d registrations unanswered' % (n - got), flush=True)
        self.iv = {k: 0 for k in self.tot}
        start = time.monotonic()
        end = start + a.duration
        next_report = start + 1.0
        last_report = start
        # Heartbeats spread over the interval so they do not all go at once.
        hb_next = [start + a.heartbeat_interval * (i + 1) / n for i in range(n)]
        interval = 1.0 / a.rate if a.rate > 0 else None
        next_send = start
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if interval is not None:
                # Catch up in small batches if the scheduler was late, never more than 50 ms worth.
                budget = min(int((now - next_send) / interval) + 1, max(1, int(a.rate * 0.05)))
                while budget > 0 and next_send <= now:
                    src = self.rng.randrange(n)
                    dst = self.rng.randrange(n - 1) if n > 1 else 0
                    if n > 1 and dst >= src:
                        dst += 1
                    self.seq += 1
                    payload = LOAD_HDR.pack(LOAD_MAGIC, src, self.seq & 0xFFFFFFFF, time.monotonic_ns()) + self.pad
                    if self.send(src, pkt_message(self.ids[dst], payload)):
                        self.count('sent')
                    next_send += interval
                    budget -= 1
                if next_send < now - 0.05:
                    next_send = now  # fell too far behind: do not burst
            for i in range(n):
                if now >= hb_next[i]:
                    if self.send(i, PKT_HEARTBEAT):
                        self.count('hb_sent')
                        self.hb_sent_at[i] = time.monotonic_ns()
                    hb_next[i] += a.heartbeat_interval
            if now >= next_report:
                self.report(now - start, now - last_report)
                last_report = now
                next_report += 1.0
            wait = min(next_report, end, min(hb_next)) - time.monotonic()
            if interval is not None:
                wait = min(wait, next_send - time.monotonic())
            self.poll(max(0.0, min(wait, 0.05)))
        # Let the last messages land.
        drain_end = time.monotonic() + 0.5
        while time.monotonic() < drain_end:
            self.poll(0.05)
        self.report(time.monotonic() - start, max(time.monotonic() - last_report, 1e-3))
        return self.summary(time.monotonic() - start)

    def summary(self, elapsed):
        t = self.tot
        lat = sorted(self.all_lat)
        loss = 100.0 * (t['sent'] - t['delivered']) / t['sent'] if t['sent'] else 0.0
        hb_loss = 100.0 * (t['hb_sent'] - t['hb_ok']) / t['hb_sent'] if t['hb_sent'] else 0.0
        rtt = sorted(self.hb_rtt)
        print('summary: %.1f s, %d messages sent, %d delivered (%.2f%% lost), %.0f delivered/s; '
              '%d/%d heartbeats answered; %d Unknown Recipient; %d other; %d send errors' %
              (elapsed, t['sent'], t['delivered'], loss, t['delivered'] / elapsed, t['hb_ok'], t['hb_sent'],
               t['unknown'], t['other'], t['send_err']))
        print('latency (message, sender to recipient): p50 %s p90 %s p99 %s max %s; heartbeat RTT p50 %s p99 %s' %
              (fmt_us(percentile(lat, 50)), fmt_us(percentile(lat, 90)), fmt_us(percentile(lat, 99)),
               fmt_us(lat[-1] if lat else float('nan')), fmt_us(percentile(rtt, 50)), fmt_us(percentile(rtt, 99))),
              flush=True)
        bad = loss > self.a.max_loss or hb_loss > self.a.max_loss or t['unknown'] > 0
        if bad:
            print('FAIL: loss %.2f%% / heartbeat loss %.2f%% over --max-loss %.2f%%, or Unknown Recipient replies' %
                  (loss, hb_loss, self.a.max_loss))
        return 1 if bad else 0


def cmd_load(args):
    if args.clients < 2:
        print('load needs at least 2 clients', file=sys.stderr)
        return 2
    if args.size > MAX_PAYLOAD or args.size < LOAD_HDR.size:
        print('--size must be in [%d, %d]' % (LOAD_HDR.size, MAX_PAYLOAD), file=sys.stderr)
        return 2
    return Load(args).run()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                 epilog=__doc__.split('\n', 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--server', default=os.environ.get('PEREGRINE_SERVER', '198.18.99.1'),
                    help='engine address (default $PEREGRINE_SERVER or 198.18.99.1)')
    ap.add_argument('--server-port', type=int, default=7100, help='router UDP port (default 7100)')
    ap.add_argument('--bind', default='0.0.0.0', help='local address to bind (default any)')
    ap.add_argument('--port', type=int, default=0, help='local UDP port for register/send/listen (default any)')
    ap.add_argument('--timeout', type=float, default=2.0, help='seconds to wait for a reply (default 2, as the origin client)')
    sub = ap.add_subparsers(dest='cmd', required=True)

    p = sub.add_parser('register', help='register a Client ID and print the reply')
    p.add_argument('id', type=parse_id)
    p.set_defaults(fn=cmd_register)

    p = sub.add_parser('send', help='send an Individual Message to a Client ID')
    p.add_argument('id', type=parse_id)
    p.add_argument('payload', nargs='?', default='')
    p.add_argument('--hex', action='store_true', help='payload is hexadecimal')
    p.set_defaults(fn=cmd_send)

    p = sub.add_parser('listen', help='register, keep heartbeating, print what arrives')
    p.add_argument('id', type=parse_id)
    p.add_argument('--heartbeat-interval', type=float, default=30.0, help='seconds (default 30, as the origin)')
    p.add_argument('--duration', type=float, default=0, help='stop after S seconds (default: until Ctrl-C)')
    p.add_argument('-v', '--verbose', action='store_true', help='print Heartbeat Responses too')
    p.set_defaults(fn=cmd_listen)

    p = sub.add_parser('load', help='N clients: register, heartbeat, exchange messages; report rates and latency')
    p.add_argument('--clients', type=int, default=32)
    p.add_argument('--base-id', type=parse_id, default=100000)
    p.add_argument('--rate', type=float, default=2000.0, help='messages per second, all clients together')
    p.add_argument('--size', type=int, default=64, help='payload bytes (default 64)')
    p.add_argument('--duration', type=float, default=20.0)
    p.add_argument('--heartbeat-interval', type=float, default=1.0)
    p.add_argument('--max-loss', type=float, default=1.0, help='percent of messages/heartbeats that may go unanswered')
    p.add_argument('--seed', type=int, default=None)
    p.set_defaults(fn=cmd_load)

    args = ap.parse_args(argv)
    args.server = (args.server, args.server_port)
    return args.fn(args)


if __name__ == '__main__':
    sys.exit(main())
