#!/usr/bin/env python3
"""Short acts of the load-balancer, session and RUDP protocols against a running Peregrine, for
tools/demo.sh: each step prints what the client saw, then the engine's own counters read from
its telemetry socket. Independent of the engine's C++: the standard library, and for RUDP
tools/rudp_client.py (python3-cryptography).

  demo_protocols.py --server 198.18.99.1 --bind 198.18.99.2 --prefix pgdemo lb
  demo_protocols.py --server 198.18.99.1 --bind 198.18.99.2 --prefix pgdemo session
  demo_protocols.py --server 198.18.99.1 --bind 198.18.99.2 --prefix pgdemo rudp

Exit status 0 when every step saw what the protocol promises, 1 otherwise.
"""

import argparse
import collections
import hashlib
import json
import os
import socket
import struct
import sys
import time

LB_PORT, SESSION_PORT, R_PORT = 7200, 7300, 7400


class Telemetry:
    """The engine's DPDK telemetry socket (the engine runs in the root namespace)."""

    def __init__(self, prefix):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect('/var/run/dpdk/%s/dpdk_telemetry.v2' % prefix)
        self.s.recv(4096)

    def q(self, cmd):
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(1 << 20))[cmd.split(',')[0]]

    def show(self, cmd, keys):
        d = self.q(cmd)
        print('    engine | %s %s' % (cmd, ' '.join('%s=%s' % (k, d[k]) for k in keys)))


def fail(msg):
    print('    FAILED: %s' % msg)
    return False


# ---- load balancer ------------------------------------------------------------------------

def ep_bytes(ip, port):
    return socket.inet_aton(ip) + struct.pack('>H', port)


def ep_str(b):
    return '%s:%d' % (socket.inet_ntoa(b[:4]), struct.unpack('>H', b[4:6])[0])


class LbPeer:
    def __init__(self, args, name):
        self.name = name
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((args.bind, 0))
        self.server = (args.server, LB_PORT)
        self.req = 0
        self.public = '%s:%d' % (args.bind, self.s.getsockname()[1] + 1000)  # what it advertises

    def send(self, t, body=b''):
        self.req = (self.req + 1) & 0xffff
        self.s.sendto(struct.pack('>BH', t, self.req) + body, self.server)
        return self.req

    def recv(self, timeout):
        self.s.settimeout(timeout)
        try:
            return self.s.recv(2048)
        except socket.timeout:
            return None

    def register(self):
        """Register Serving Node; a new node is then probed (an empty Serving Nodes), and its
        Ack of the probe proves it receives what the Controlling Function sends."""
        ip, port = self.public.split(':')
        req = self.send(0, ep_bytes(ip, int(port)))
        return self.until(lambda d: d[0] == 3 and struct.unpack('>H', d[1:3])[0] == req, 2.0)

    def probed(self):
        return self.until(lambda d: d[0] == 9 and len(d) == 3, 1.0)

    def until(self, pred, timeout):
        """Reads (Acking every notification) until pred(datagram); returns it or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            d = self.recv(end - time.monotonic())
            if d is None:
                return None
            if d[0] in (9, 10, 2):  # Serving Nodes, Serving Node Removed, Start Call: Ack them
                self.s.sendto(b'\x03' + d[1:3], self.server)
                what = {9: 'Serving Nodes', 10: 'Serving Node Removed', 2: 'Start Call'}[d[0]]
                if d[0] == 9 and len(d) == 3:
                    what = 'the probe (an empty Serving Nodes)'
                print('    %s | got %s %s, Acked' % (self.name, what, ' '.join(ep_str(d[i:i + 6]) for i in range(3, len(d), 6))))
            if pred(d):
                return d
        return None


def act_lb(args, tel):
    ok = True
    print('  two serving nodes register; each is probed, Acks, and learns the other')
    a, b = LbPeer(args, 'node A'), LbPeer(args, 'node B')
    if not a.register() or not a.probed() or not b.register() or not b.probed():
        return fail('a Register or its probe was not answered')
    print('    node A | registered as %s' % a.public)
    print('    node B | registered as %s' % b.public)
    b.until(lambda d: d[0] == 9 and len(d) > 3, 1.0)
    a.until(lambda d: d[0] == 9 and len(d) > 3, 1.0)
    tel.show('/peregrine/lb', ['serving_nodes', 'node_registered', 'proven', 'acked'])

    print('  24 clients ask for a serving node (Maglev on the client address, answered by a worker;')
    print("  each request padded with zeros to its answer's 9 bytes, so it is answered at once)")
    given = collections.Counter()
    for _ in range(24):
        c = LbPeer(args, 'client')
        req = c.send(6, bytes(6))
        r = c.recv(1.0)
        if not r or r[0] != 7 or struct.unpack('>H', r[1:3])[0] != req:
            ok = fail('no Serving Node Response')
            continue
        given[ep_str(r[3:9])] += 1
        c.s.close()
    print('    client | %s' % ', '.join('%s: %d clients' % (n, k) for n, k in sorted(given.items())))
    if set(given) != {a.public, b.public}:
        ok = fail('clients were not spread over both nodes')
    tel.show('/peregrine/lb', ['request_answered', 'request_no_node'])

    print('  node B goes silent; node A keeps re-registering; B expires (--lb-expiry %d) and A is told' % args.lb_expiry)
    removed = None
    end = time.monotonic() + args.lb_expiry + 4
    while removed is None and time.monotonic() < end:
        a.register()
        removed = a.until(lambda d: d[0] == 10, 1.0)
    if not removed or ep_str(removed[3:9]) != b.public:
        return fail('node A was not told that node B left')
    tel.show('/peregrine/lb', ['serving_nodes', 'expired', 'acked'])
    c = LbPeer(args, 'client')
    c.send(6, bytes(6))
    r = c.recv(1.0)
    print('    client | a new client is given %s' % (ep_str(r[3:9]) if r else 'nothing'))
    if not r or ep_str(r[3:9]) != a.public:
        ok = fail('the remaining node was not handed out')
    return ok


# ---- session protocol -----------------------------------------------------------------------

HELLO, ACCEPT, REJECT, PING, PONG, DATA_ACK, DATA_NOACK, ACK, BAD_ACK, DISCONNECT = range(1, 11)
NAMES = {1: 'HELLO', 2: 'ACCEPT', 3: 'REJECT', 4: 'PING', 5: 'PONG', 6: 'DATA_ACK', 7: 'DATA_NOACK', 8: 'ACK',
         9: 'BAD_ACK', 10: 'DISCONNECT'}
HDR = struct.Struct('>16sB3sHHQ')  # after the 32-byte SHA-256 of everything that follows it


class SessionClient:
    def __init__(self, args):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((args.bind, 0))
        self.server = (args.server, SESSION_PORT)
        self.cid = os.urandom(16)
        self.order = 0
        self.token = b'\0\0\0'  # ACCEPT's, echoed in every later packet (return routability)

    def packet(self, t, payload=b''):
        self.order += 1
        rest = HDR.pack(self.cid, t, self.token, len(payload), 0, self.order) + payload
        return hashlib.sha256(rest).digest() + rest

    def exchange(self, raw, timeout=1.0):
        """Sends raw; returns every answer within timeout as (type, payload, digest good)."""
        self.s.sendto(raw, self.server)
        out = []
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65535)
                _, t, tok, _, _, _ = HDR.unpack_from(d, 32)
                good = d[:32] == hashlib.sha256(d[32:]).digest()
                if t == ACCEPT and good:
                    self.token = tok
                out.append((t, d[64:], good))
                self.s.settimeout(0.3)
        except socket.timeout:
            return out


def act_session(args, tel):
    ok = True
    c = SessionClient(args)
    print('  HELLO opens a session (every packet carries the SHA-256 of itself)')
    got = c.exchange(c.packet(HELLO, struct.pack('>Q', int(time.time() * 1000))))
    print('    client | answers: %s' % ', '.join('%s (digest %s)' % (NAMES[t], 'good' if g else 'BAD') for t, _, g in got))
    if not got or got[0][0] != ACCEPT or not got[0][2]:
        return fail('no ACCEPT with a good digest')
    tel.show('/peregrine/session', ['sessions', 'accepted'])

    print('  DATA_ACK "hello from the demo": the ACK carries the digest of our packet; the echo')
    print('  application sends the payload back as DATA_NOACK')
    raw = c.packet(DATA_ACK, b'hello from the demo')
    got = c.exchange(raw)
    for t, p, g in got:
        extra = ''
        if t == ACK:
            extra = ', acknowledges our digest: %s' % ('yes' if p == raw[:32] else 'NO')
        elif t == DATA_NOACK:
            extra = ', payload %r' % p
        print('    client | %s (digest %s)%s' % (NAMES[t], 'good' if g else 'BAD', extra))
    if not any(t == ACK and p == raw[:32] and g for t, p, g in got):
        ok = fail('no ACK carrying our digest')
    tel.show('/peregrine/session', ['ack', 'delivered', 'app_sent'])

    print('  a DATA_ACK corrupted on the way (one payload byte flipped after signing) gets BAD_ACK')
    raw = bytearray(c.packet(DATA_ACK, b'this byte will flip'))
    raw[-1] ^= 0x20
    got = c.exchange(bytes(raw))
    print('    client | answers: %s' % (', '.join(NAMES[t] for t, _, _ in got) or 'none'))
    if [t for t, _, _ in got] != [BAD_ACK]:
        ok = fail('expected exactly one BAD_ACK')
    tel.show('/peregrine/session', ['bad_ack'])
    c.exchange(c.packet(DISCONNECT), 0.5)
    return ok


# ---- RUDP ------------------------------------------------------------------------------------

def act_rudp(args, tel):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import rudp_client as R
    ok = True
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((args.bind, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    c = R.RudpClient(s, (args.server, R_PORT))
    print('  AUTH (X25519 key, padded to 992 bytes: the server never answers with more), the')
    print("  server's AUTH and finished, our finished, its confirmation: keys from HKDF")
    try:
        c.connect()
    except R.RudpError as e:
        return fail('handshake: %s' % e)
    print('    client | connected, AES-128-GCM keys derived, finished checked both ways')
    tel.show('/peregrine/rudp', ['connections', 'handshake_answered', 'handshake_finished'])

    flags = R.RELIABLE | R.CHECKSUM | R.COMPRESSED | R.ENCRYPTED
    msg = b'hello from the demo, ' * 1000
    print('  a RELIABLE, CHECKSUMmed, COMPRESSED, ENCRYPTED message of %d bytes (fragmented when it' % len(msg))
    print('  does not fit one datagram); the echo application sends it back with the same flags')
    echoes, resent = c.exchange_reliably([msg], flags, timeout=5)
    print('    client | echo of %s bytes, %s' % (len(echoes[0]) if echoes else 0,
                                               'identical' if echoes == [msg] else 'WRONG'))
    if echoes != [msg]:
        ok = fail('no identical echo')
    time.sleep(0.1)  # our ACKs of the echo reach the retransmitter on its next tick
    tel.show('/peregrine/rudp', ['delivered', 'echoed', 'acks_sent', 'acked', 'fragments_rx', 'reassembled'])

    print('  a ciphertext byte flipped on the way: ERROR 3/7, nothing delivered')
    raw = bytearray(c.build(R.DEFAULT, b'tampered', R.ENCRYPTED)[0])
    raw[-20] ^= 1
    c.send_raw(bytes(raw))
    got = c.drain(0.5)
    print('    client | %s' % (', '.join(repr(m) for m in got) or 'nothing'))
    if [m.code for m in got if m.type == R.ERROR] != [0x37]:
        ok = fail('expected ERROR 3/7')
    tel.show('/peregrine/rudp', ['error_3_7', 'delivered'])
    c.close()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--server', required=True, help="the engine's address")
    ap.add_argument('--bind', required=True, help='our address')
    ap.add_argument('--prefix', required=True, help="the engine's --file-prefix (its telemetry socket)")
    ap.add_argument('--lb-expiry', type=int, default=4, help="the engine's --lb-expiry (default 4)")
    ap.add_argument('act', choices=['lb', 'session', 'rudp'])
    args = ap.parse_args()
    tel = Telemetry(args.prefix)
    ok = {'lb': act_lb, 'session': act_session, 'rudp': act_rudp}[args.act](args, tel)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
