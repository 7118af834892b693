#!/usr/bin/env python3
"""LEKT rendezvous client and load generator for Peregrine (Python 3 standard library only).

Wire format: shared/specs/lekt-protocol.md with Peregrine's decisions in docs/protocols/lekt.md.
Every packet starts with 'LEKT', a type byte and the version (1.0.0); integers are big-endian.
  client 'H' handshake (method count + bitfield)   -> server 'A' accept | 'R' reason\\0 (then close)
  server 'T' k (k = each method we support)         -> client 'T' k + information; server 'T' 0 ends setup
  client 'H' heartbeat (Unix time)                  -> server: update packets 'H' time 'R'|'A' count records,
                                                       ending with an empty 'A'
Connection methods (information layout):
  1 udp      IPv4(4) port(2)                 direct UDP endpoint (0.0.0.0: the address the server sees)
  2 relay    client-id(4) router-port(2)     Peregrine router protocol, by Client ID
  3 session  IPv4(4) port(2) client-id(16)   Peregrine session protocol
  4 rudp     IPv4(4) port(2) public-key(32)  Peregrine RUDP

By hand (where the engine's address is reachable, e.g. `ip netns exec pgdemo ...`):
  lekt_client.py --server 198.18.99.1 join --udp 0.0.0.0:5000 --relay 42:7100
      joins, heartbeats every --interval seconds and prints every membership change:
        + 198.18.99.2 udp=198.18.99.2:5000 relay=42@7100
        - 198.18.99.2
  lekt_client.py --server 198.18.99.1 load --clients 1000 --duration 10
      N concurrent clients (each its own TCP connection), heartbeating every --interval seconds;
      prints heartbeats answered per second and the answer latency (p50/p99/p99.9), a summary at
      the end (also as JSON with --json). Exit status 1 if clients were refused or dropped, or
      heartbeats went unanswered beyond --max-loss percent.
"""

import argparse
import collections
import ipaddress
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

MAGIC = b'LEKT'
VERSION = (1, 0, 0)
HEADER = struct.Struct('>4sc3B')          # magic, type, major, minor, extra
U32 = struct.Struct('>I')
I64 = struct.Struct('>q')

METHODS = {1: 'udp', 2: 'relay', 3: 'session', 4: 'rudp'}
METHOD_LEN = {1: 6, 2: 6, 3: 22, 4: 38}
MAX_UPDATE_LEN = 4096


def header(t, major=VERSION[0]):
    return HEADER.pack(MAGIC, t, major, VERSION[1], VERSION[2])


def pkt_handshake(methods, method_count=None, words=None, major=VERSION[0]):
    """Handshake announcing the method indexes in `methods` (bit k-1 is method k)."""
    if method_count is None:
        method_count = max(methods, default=0)
    if words is None:
        words = [0] * ((method_count + 31) // 32)
        for k in methods:
            words[(k - 1) // 32] |= 1 << ((k - 1) % 32)
    return header(b'H', major) + U32.pack(method_count) + b''.join(U32.pack(w) for w in words)


def pkt_response(index, info):
    return header(b'T') + U32.pack(index) + info


def pkt_heartbeat(t=None):
    return header(b'H') + I64.pack(int(time.time()) if t is None else t)


def info_udp(ip, port):
    return socket.inet_aton(ip) + struct.pack('>H', port)


def info_relay(client_id, router_port):
    return U32.pack(client_id) + struct.pack('>H', router_port)


def info_session(ip, port, cid):
    assert len(cid) == 16
    return info_udp(ip, port) + cid


def info_rudp(ip, port, key):
    assert len(key) == 32
    return info_udp(ip, port) + key


def describe_method(k, d):
    if k == 1:
        return 'udp=%s:%d' % (socket.inet_ntoa(d[:4]), struct.unpack('>H', d[4:6])[0])
    if k == 2:
        return 'relay=%d@%d' % (U32.unpack(d[:4])[0], struct.unpack('>H', d[4:6])[0])
    if k == 3:
        return 'session=%s:%d/%s' % (socket.inet_ntoa(d[:4]), struct.unpack('>H', d[4:6])[0], d[6:].hex())
    if k == 4:
        return 'rudp=%s:%d/%s' % (socket.inet_ntoa(d[:4]), struct.unpack('>H', d[4:6])[0], d[6:].hex())
    return '%d=%s' % (k, d.hex())


class ProtocolError(Exception):
    pass


class Rejected(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def parse_server_packet(buf):
    """One server packet at the start of buf: (length, event) or None if incomplete.

    Events: ('reject', reason), ('accept', version), ('request', index),
    ('update', kind, stamp, records) with records a list of IPs ('R') or (ip, {index: info}) ('A').
    Raises ProtocolError on anything malformed."""
    if len(buf) < 8:
        if MAGIC[:len(buf)] != bytes(buf[:4]):
            raise ProtocolError('bad magic %r' % bytes(buf[:4]))
        return None
    magic, t, major, minor, extra = HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise ProtocolError('bad magic %r' % magic)
    if t == b'R':
        end = buf.find(b'\0', 8)
        if end < 0:
            if len(buf) > 8 + 1024:
                raise ProtocolError('reject reason not terminated')
            return None
        return end + 1, ('reject', bytes(buf[8:end]).decode(errors='replace'))
    if t == b'A':
        return 8, ('accept', (major, minor, extra))
    if t == b'T':
        if len(buf) < 12:
            return None
        return 12, ('request', U32.unpack_from(buf, 8)[0])
    if t != b'H':
        raise ProtocolError('unexpected packet type %r' % t)
    if len(buf) < 20:
        return None
    stamp = I64.unpack_from(buf, 8)[0]
    kind = bytes(buf[16:17])
    count = int.from_bytes(buf[17:20], 'big')
    off = 20
    records = []
    if kind == b'R':
        if len(buf) < off + 4 * count:
            return None
        records = [socket.inet_ntoa(bytes(buf[off + 4 * i:off + 4 * i + 4])) for i in range(count)]
        off += 4 * count
    elif kind == b'A':
        for _ in range(count):
            if len(buf) < off + 4:
                return None
            size = U32.unpack_from(buf, off)[0]
            if size < 4 or size > MAX_UPDATE_LEN:
                raise ProtocolError('client object size %d' % size)
            if len(buf) < off + 4 + size:
                return None
            rec = bytes(buf[off + 4:off + 4 + size])
            ip = socket.inet_ntoa(rec[:4])
            methods = {}
            p = 4
            while p < len(rec):
                if p + 4 > len(rec):
                    raise ProtocolError('truncated method index')
                k = U32.unpack_from(rec, p)[0]
                n = METHOD_LEN.get(k)
                if n is None or p + 4 + n > len(rec):
                    raise ProtocolError('method %d does not fit its client object' % k)
                methods[k] = rec[p + 4:p + 4 + n]
                p += 4 + n
            records.append((ip, methods))
            off += 4 + size
    else:
        raise ProtocolError('update kind %r' % kind)
    if off > MAX_UPDATE_LEN:
        raise ProtocolError('update packet of %d bytes' % off)
    return off, ('update', kind.decode(), stamp, records)


class LektClient:
    """One LEKT connection over a connected TCP socket (blocking, with timeouts)."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.timeout = timeout
        self.buf = bytearray()
        self.members = []        # [(ip, {index: info})], the membership as the server told it
        self.requested = []      # method indexes the server asked for
        self.version = None

    def _next(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            got = parse_server_packet(self.buf)
            if got:
                n, ev = got
                del self.buf[:n]
                return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no complete packet from the server within the timeout')
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError('server closed the connection')
            self.buf += data

    def join(self, methods, handshake=None):
        """Handshake + setup. methods: {index: info bytes}. Raises Rejected with the reason."""
        self.sock.sendall(handshake if handshake is not None else pkt_handshake(sorted(methods)))
        ev = self._next()
        if ev[0] == 'reject':
            raise Rejected(ev[1])
        if ev[0] != 'accept':
            raise ProtocolError('expected Accept, got %r' % (ev,))
        self.version = ev[1]
        while True:
            ev = self._next()
            if ev[0] == 'reject':
                raise Rejected(ev[1])
            if ev[0] != 'request':
                raise ProtocolError('expected a request, got %r' % (ev,))
            k = ev[1]
            if k == 0:
                return self.requested
            self.requested.append(k)
            if k not in methods:
                raise ProtocolError('server asked for method %d we did not announce' % k)
            self.sock.sendall(pkt_response(k, methods[k]))

    def apply(self, kind, records):
        """Applies one update packet; returns the changes as ('+'|'-'|'reset', ...)."""
        changes = []
        if kind == 'R':
            if not records:
                self.members = []
                changes.append(('reset',))
            for ip in records:
                self.members = [m for m in self.members if m[0] != ip]
                changes.append(('-', ip))
        else:
            for ip, methods in records:
                self.members.append((ip, methods))
                changes.append(('+', ip, methods))
        return changes

    def heartbeat(self, t=None, timeout=None):
        """Sends a heartbeat and reads the whole answer; returns the list of changes."""
        stamp = int(time.time()) if t is None else t
        self.sock.sendall(pkt_heartbeat(stamp))
        changes = []
        while True:
            ev = self._next(timeout)
            if ev[0] == 'reject':
                raise Rejected(ev[1])
            if ev[0] != 'update':
                raise ProtocolError('expected an update, got %r' % (ev,))
            _, kind, got_stamp, records = ev
            if got_stamp != stamp:
                raise ProtocolError('update stamped %d answers heartbeat %d' % (got_stamp, stamp))
            if kind == 'A' and not records:
                return changes
            changes += self.apply(kind, records)

    def member_ips(self):
        return sorted(m[0] for m in self.members)

    def close(self):
        self.sock.close()


def parse_endpoint(s):
    ip, _, port = s.rpartition(':')
    ipaddress.IPv4Address(ip)
    return ip, int(port)


def methods_from_args(args):
    m = {}
    if args.udp:
        m[1] = info_udp(*parse_endpoint(args.udp))
    if args.relay:
        cid, _, port = args.relay.partition(':')
        m[2] = info_relay(int(cid, 0), int(port or 7100))
    if args.session:
        ep, _, cid = args.session.rpartition('/')
        m[3] = info_session(*parse_endpoint(ep), bytes.fromhex(cid))
    if args.rudp:
        ep, _, key = args.rudp.rpartition('/')
        m[4] = info_rudp(*parse_endpoint(ep), bytes.fromhex(key))
    return m


def cmd_join(args):
    s = socket.create_connection((args.server, args.port), timeout=5)
    c = LektClient(s)
    try:
        asked = c.join(methods_from_args(args))
    except Rejected as e:
        print('rejected: %s' % e.reason)
        return 1
    print('joined %s:%d (version %d.%d.%d), server asked for methods %s' %
          (args.server, args.port, *c.version, asked or 'none'), flush=True)
    end = time.monotonic() + args.duration if args.duration else None
    while end is None or time.monotonic() < end:
        try:
            for ch in c.heartbeat():
                if ch[0] == '+':
                    print('+ %s %s' % (ch[1], ' '.join(describe_method(k, d) for k, d in sorted(ch[2].items()))))
                elif ch[0] == '-':
                    print('- %s' % ch[1])
                else:
                    print('= membership reset (full list follows)')
            sys.stdout.flush()
        except Rejected as e:
            print('dropped: %s' % e.reason)
            return 1
        time.sleep(args.interval)
    print('members: %d' % len(c.members))
    c.close()
    return 0


# ---------------------------------------------------------------------------------------------
# Load generator: many non-blocking connections on one selector.

def percentile(sorted_vals, p):
    if not sorted_vals:
        return float('nan')
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


class LoadConn:
    __slots__ = ('sock', 'state', 'buf', 'sent_at', 'stamp', 'next_hb', 'term', 'scan', 'index', 'measured')

    def __init__(self, sock, index):
        self.sock = sock
        self.index = index
        self.state = 'connecting'
        self.buf = bytearray()
        self.sent_at = None      # monotonic time of the outstanding heartbeat
        self.stamp = 0
        self.next_hb = 0.0
        self.term = b''
        self.scan = 0
        self.measured = False    # the outstanding heartbeat was sent inside the measured window


class Load:
    def __init__(self, args):
        self.a = args
        self.sel = selectors.DefaultSelector()
        self.conns = []
        self.due = collections.deque()  # joined connections in heartbeat order (same interval for all)
        self.lat = []            # seconds, heartbeats answered in the measured window
        self.window_lat = []
        self.n = dict(connected=0, joined=0, refused=0, dropped=0, hb_sent=0, hb_answered=0,
                      hb_skipped=0, bytes_in=0, errors=0)
        self.reasons = {}
        self.measuring = False
        self.sending = True

    def method_info(self, i):
        if self.a.methods == 'none':
            return {}
        # Every client announces a direct UDP endpoint: the address the server sees, its own port.
        return {1: info_udp('0.0.0.0', 10000 + i % 50000)}

    def open(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if self.a.source:
            srcs = self.a.source.split(',')
            s.bind((srcs[i % len(srcs)], 0))
        err = s.connect_ex((self.a.server, self.a.port))
        c = LoadConn(s, i)
        self.conns.append(c)
        self.sel.register(s, selectors.EVENT_WRITE, c)

    def fail(self, c, why, reason=None):
        if c.state == 'dead':
            return
        self.n[why] += 1
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1
        c.state = 'dead'
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def on_event(self, c, mask, now):
        if c.state == 'connecting':
            err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self.fail(c, 'errors', os.strerror(err))
            self.n['connected'] += 1
            c.state = 'accept'
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            methods = self.method_info(c.index)
            c.sock.send(pkt_handshake(sorted(methods)))
            return
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            return self.fail(c, 'dropped', str(e))
        if not data:
            return self.fail(c, 'dropped' if c.state == 'hb' else 'refused', 'closed by server')
        self.n['bytes_in'] += len(data)
        c.buf += data
        while c.state in ('accept', 'setup'):
            try:
                got = parse_server_packet(c.buf)
            except ProtocolError as e:
                return self.fail(c, 'errors', str(e))
            if not got:
                return
            n, ev = got
            del c.buf[:n]
            if ev[0] == 'reject':
                return self.fail(c, 'refused' if c.state == 'accept' else 'dropped', ev[1])
            if c.state == 'accept' and ev[0] == 'accept':
                c.state = 'setup'
            elif c.state == 'setup' and ev[0] == 'request':
                if ev[1] == 0:
                    c.state = 'hb'
                    c.next_hb = now
                    self.due.append(c)
                    self.n['joined'] += 1
                else:
                    c.sock.send(pkt_response(ev[1], self.method_info(c.index)[ev[1]]))
            else:
                return self.fail(c, 'errors', 'unexpected %r' % (ev,))
        if c.state == 'hb' and c.sent_at is not None:
            # The answer ends with an empty 'A' carrying our stamp: find it without decoding the
            # records (a snapshot of 10,000 members is too much to decode in Python per client).
            i = c.buf.find(c.term, c.scan)
            if i < 0:
                if len(c.buf) > 64:
                    # Keep only what may hold the start of the terminator.
                    del c.buf[:len(c.buf) - len(c.term)]
                c.scan = 0
                return
            del c.buf[:i + len(c.term)]
            c.scan = 0
            dt = now - c.sent_at
            c.sent_at = None
            self.n['hb_answered'] += 1
            if c.measured:
                self.lat.append(dt)
            self.window_lat.append(dt)

    def send_heartbeats(self, now):
        # Everyone has the same interval, so the queue stays in next_hb order: only the due
        # connections are touched (10,000 clients must not cost a scan per loop).
        while self.due and self.due[0].next_hb <= now:
            c = self.due.popleft()
            if c.state != 'hb':
                continue
            c.next_hb += self.a.interval
            if c.next_hb < now:
                c.next_hb = now + self.a.interval
            self.due.append(c)
            if c.sent_at is not None:
                self.n['hb_skipped'] += 1  # previous one unanswered
                continue
            c.stamp = int(time.time())
            pkt = pkt_heartbeat(c.stamp)
            c.term = pkt[:16] + b'A\0\0\0'
            try:
                c.sock.send(pkt)
            except OSError as e:
                self.fail(c, 'dropped', str(e))
                continue
            c.sent_at = now
            c.measured = self.measuring
            self.n['hb_sent'] += 1

    def run(self):
        a = self.a
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = a.clients + 256
        if soft < need:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard) if hard != resource.RLIM_INFINITY else need, hard))
            except (ValueError, OSError):
                pass
            if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
                print('load: need %d file descriptors, have %d (ulimit -n)' %
                      (need, resource.getrlimit(resource.RLIMIT_NOFILE)[0]), file=sys.stderr)
                return 2
        print('load: %d clients to %s:%d, heartbeat every %.1f s, %.0f s measured after all joined' %
              (a.clients, a.server, a.port, a.interval, a.duration), flush=True)
        start = time.monotonic()
        opened = 0
        joined_at = None
        measure_end = None
        draining = None
        next_report = start + 1
        last = dict(self.n)
        while True:
            now = time.monotonic()
            # Open connections at --connect-rate, so the join storm stays a ramp.
            want = min(a.clients, int((now - start) * a.connect_rate) + 1)
            while opened < want:
                self.open(opened)
                opened += 1
            for key, mask in self.sel.select(timeout=0.005):
                self.on_event(key.data, mask, time.monotonic())
            now = time.monotonic()
            if self.sending:
                self.send_heartbeats(now)
            settled = self.n['joined'] + self.n['refused'] + self.n['errors'] >= a.clients
            if joined_at is None and settled:
                joined_at = now
                self.measuring_from = now + a.warmup
            if joined_at is not None and not self.measuring and now >= self.measuring_from:
                self.measuring = True
                self.m_start = now
                self.m_n = dict(self.n)
                measure_end = now + a.duration
            if now >= next_report:
                next_report += 1
                w = sorted(self.window_lat)
                self.window_lat = []
                print('[%6.1fs] conns %d joined %d refused %d dropped %d | hb/s %d answered/s %d | '
                      'latency p50 %.2f ms p99 %.2f ms max %.2f ms | in %.1f MB/s%s' %
                      (now - start, self.n['connected'], self.n['joined'], self.n['refused'], self.n['dropped'],
                       self.n['hb_sent'] - last['hb_sent'], self.n['hb_answered'] - last['hb_answered'],
                       percentile(w, 50) * 1e3, percentile(w, 99) * 1e3, (w[-1] if w else float('nan')) * 1e3,
                       (self.n['bytes_in'] - last['bytes_in']) / 1e6, ' (measuring)' if self.measuring else ''),
                      flush=True)
                last = dict(self.n)
            if measure_end is not None and now >= measure_end:
                if draining is None:
                    # Stop sending; heartbeats still in flight are waited for, not counted lost.
                    draining = now + a.drain
                    self.sending = False
                    self.m_end = now
                if now >= draining or not any(c.sent_at is not None for c in self.due):
                    break
            if now - start > a.timeout:
                print('load: not all clients joined within %.0f s' % a.timeout, file=sys.stderr)
                break
        return self.summary(time.monotonic())

    def summary(self, now):
        a = self.a
        lat = sorted(self.lat)
        m = getattr(self, 'm_n', None) or dict((k, 0) for k in self.n)
        sent = self.n['hb_sent'] - m['hb_sent']
        answered = len(self.lat)
        elapsed = min(now, getattr(self, 'm_end', now)) - getattr(self, 'm_start', now)
        res = {
            'clients': a.clients, 'joined': self.n['joined'], 'refused': self.n['refused'],
            'dropped': self.n['dropped'], 'errors': self.n['errors'], 'reasons': self.reasons,
            'measured_s': round(elapsed, 2), 'heartbeats_sent': sent, 'heartbeats_answered': len(lat),
            'heartbeats_per_s': round(len(lat) / elapsed, 1) if elapsed > 0 else 0,
            'skipped': self.n['hb_skipped'] - m['hb_skipped'],
            'p50_ms': round(percentile(lat, 50) * 1e3, 3), 'p99_ms': round(percentile(lat, 99) * 1e3, 3),
            'p999_ms': round(percentile(lat, 99.9) * 1e3, 3), 'max_ms': round((lat[-1] if lat else float('nan')) * 1e3, 3),
        }
        print('summary: %d/%d joined, %d refused, %d dropped, %d errors; %d heartbeats answered in %.1f s '
              '(%.0f/s); latency p50 %.2f ms p99 %.2f ms p99.9 %.2f ms max %.2f ms%s' %
              (res['joined'], a.clients, res['refused'], res['dropped'], res['errors'], res['heartbeats_answered'],
               elapsed, res['heartbeats_per_s'], res['p50_ms'], res['p99_ms'], res['p999_ms'], res['max_ms'],
               ('; reasons %r' % self.reasons) if self.reasons else ''), flush=True)
        if a.json:
            print(json.dumps(res), flush=True)
        for c in self.conns:
            if c.state != 'dead':
                c.sock.close()
        loss = 100.0 * (sent - answered) / sent if sent else 100.0
        bad = res['refused'] or res['dropped'] or res['errors'] or loss > a.max_loss or not lat
        return 1 if bad else 0


def cmd_load(args):
    return Load(args).run()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument('--server', required=True, help="the engine's address")
    ap.add_argument('--port', type=int, default=7500, help='LEKT TCP port (default 7500)')
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('join', help='join with chosen methods and print membership changes')
    p.add_argument('--udp', metavar='IP:PORT', help='method 1, direct UDP endpoint (0.0.0.0: as the server sees us)')
    p.add_argument('--relay', metavar='ID[:ROUTER_PORT]', help='method 2, router relay by Client ID')
    p.add_argument('--session', metavar='IP:PORT/HEX16', help='method 3, session endpoint and 16-byte client ID')
    p.add_argument('--rudp', metavar='IP:PORT/HEX32', help='method 4, RUDP endpoint and 32-byte public key')
    p.add_argument('--interval', type=float, default=1.0, help='seconds between heartbeats (default 1)')
    p.add_argument('--duration', type=float, default=0, help='seconds to stay (default: until interrupted)')
    p.set_defaults(func=cmd_join)
    p = sub.add_parser('load', help='N concurrent heartbeating clients; heartbeat latency percentiles')
    p.add_argument('--clients', type=int, default=1000)
    p.add_argument('--interval', type=float, default=1.0, help='seconds between heartbeats per client (default 1)')
    p.add_argument('--duration', type=float, default=10.0, help='seconds measured once all joined (default 10)')
    p.add_argument('--warmup', type=float, default=2.0, help='seconds after the last join before measuring (default 2)')
    p.add_argument('--connect-rate', type=float, default=2000.0, help='new connections per second (default 2000)')
    p.add_argument('--drain', type=float, default=10.0,
                   help='seconds to wait for answers still in flight when the measurement ends (default 10)')
    p.add_argument('--methods', choices=['udp', 'none'], default='udp',
                   help='what each client announces (default: a direct UDP endpoint)')
    p.add_argument('--source', help='comma-separated source addresses, used round-robin')
    p.add_argument('--timeout', type=float, default=120.0, help='give up after this many seconds (default 120)')
    p.add_argument('--max-loss', type=float, default=1.0, help='percent of heartbeats allowed unanswered (default 1)')
    p.add_argument('--json', action='store_true', help='also print the summary as one JSON line')
    p.set_defaults(func=cmd_load)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
