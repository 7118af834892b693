#!/usr/bin/env python3
"""The Wireshark dissectors (tools/wireshark/, docs/wireshark.md) on real captures: tcpdump in
the test's namespace records what clients of every protocol send the real engine and what it
answers, malformed datagrams included; tshark with the plugin dissects the file; the fields are
checked against what the test sent, every frame against its protocol, malformed frames for their
expert info, and every frame for the absence of a Lua error. peregrine-trafgen's --pcap-out
files are dissected too. Skipped (exit 77) without tshark or tcpdump."""

import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import peregrine_e2e as h
from peregrine_e2e import EngineTestCase, main, pkt_message, pkt_register, wait_for, PKT_HEARTBEAT
from test_session import DATA_ACK, HELLO, PING, SESSION_PORT, SessionClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import lekt_client as L  # noqa: E402
import rudp_client as R  # noqa: E402

PLUGIN = os.path.join(ROOT, 'tools', 'wireshark', 'peregrine.lua')


def tshark(pcap, *extra):
    """Every frame of pcap as tshark's JSON (two passes, the plugin loaded)."""
    p = subprocess.run(['tshark', '-r', pcap, '-2', '-X', 'lua_script:' + PLUGIN, '-T', 'json', '--no-duplicate-keys']
                       + list(extra), capture_output=True, text=True, errors='replace', timeout=120)
    if p.returncode != 0:
        raise AssertionError('tshark failed (%d): %s' % (p.returncode, p.stderr))
    if 'Lua' in p.stderr and 'rror' in p.stderr:
        raise AssertionError('tshark: %s' % p.stderr)
    return json.loads(p.stdout), p.stdout


def layers(frame):
    return frame['_source']['layers']


def values(layer, name):
    """Every value of field `name` anywhere under layer (tshark nests subtrees), as a list."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == name:
                    out.extend(v if isinstance(v, list) else [v])
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(layer)
    return out


def one(layer, name):
    v = values(layer, name)
    if len(v) != 1:
        raise AssertionError('%s: %d values (%r) in %s' % (name, len(v), v, json.dumps(layer)[:800]))
    return v[0]


def experts(layer):
    return values(layer, '_ws.expert.message')


@unittest.skipUnless(shutil.which('tshark') and shutil.which('tcpdump'), 'tshark and tcpdump needed')
class CaptureCase(EngineTestCase):
    """An engine whose wire tcpdump records from the namespace side for the whole test."""
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024']}

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='pgws-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pcap = os.path.join(self.dir, 'wire.pcap')
        self.dump = subprocess.Popen(['ip', 'netns', 'exec', self.eng.netns, 'tcpdump', '-i', self.eng.wire, '-U', '--immediate-mode',
                                      '-s', '0', '-w', self.pcap, 'udp or tcp'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(self.stop_dump)
        # tcpdump says "listening on" once its socket is bound. Immediate mode: without it the last
        # packets wait in a ring block that SIGINT does not drain.
        line = self.dump.stderr.readline()
        self.assertIn('listening', line)

    def stop_dump(self):
        if self.dump.poll() is None:
            time.sleep(0.3)
            self.dump.send_signal(signal.SIGINT)
            self.dump.wait(10)

    def frames(self, *extra):
        self.stop_dump()
        keep = os.environ.get('PG_WS_KEEP')  # a folder to keep the captures in (debugging)
        if keep:
            shutil.copy(self.pcap, os.path.join(keep, self.id().split('.')[-1] + '.pcap'))
        got, raw = tshark(self.pcap, *extra)
        self.assertFalse('Lua Error' in raw, 'a dissector raised a Lua error')
        return got

    def by_proto(self, frames, proto):
        return [layers(f)[proto] for f in frames if proto in layers(f)]

    def frame_of(self, frames, layer):
        for f in frames:
            if any(v is layer for v in layers(f).values()):
                return layers(f)['frame']['frame.number']
        raise AssertionError('layer not in any frame')


class WiresharkTest(CaptureCase):

    # ---------------------------------------------------------------------------------------
    def test_router_lb_and_session(self):
        eng = self.eng
        # Router: two clients, a message between them, one to nobody, heartbeats, malformed.
        a, b = eng.client(), eng.client()
        self.register(a, 42)
        self.register(b, 7)
        self.heartbeat_ok(a)
        a.send(pkt_message(7, b'hello seven'))
        self.assertEqual(b.recv(), pkt_message(7, b'hello seven'))
        self.assertEqual(a.request(pkt_message(99)), bytes([3]) + struct.pack('<I', 99))
        for bad in (b'\x00\x01\x02', b'\x09\x00', b'\x02' + b'\0' * 1500):
            a.send(bad)
        # Load balancer: a serving node registers (Ack), a client asks for it (Response), malformed.
        node = eng.udp_socket()
        node.settimeout(2)
        lb = (eng.ip, 7200)
        node.sendto(struct.pack('>BH4sH', 0, 501, socket.inet_aton('198.18.77.1'), 9100), lb)
        ack, _ = node.recvfrom(100)
        self.assertEqual(ack, struct.pack('>BH', 3, 501))
        cl = eng.udp_socket()
        cl.settimeout(2)
        cl.sendto(struct.pack('>BH', 6, 777) + bytes(6), lb)  # padded: answered at once
        resp, _ = cl.recvfrom(100)
        self.assertEqual(resp[:3], struct.pack('>BH', 7, 777))
        cl.sendto(b'\x06\x00', lb)
        cl.sendto(struct.pack('>BH', 8, 1), lb)
        # Session: HELLO, PING, DATA_ACK (ACK + echo), a corrupt digest, a short datagram.
        s = SessionClient(eng.udp_socket(), (eng.ip, SESSION_PORT), b'\xab' * 16)
        self.assertIsNotNone(s.request(s.hello(custom=11)))
        self.assertIsNotNone(s.request(s.packet(PING, b'ping!', custom=12)))
        s.send(s.packet(DATA_ACK, b'data for the echo', custom=13))
        self.assertEqual(len(s.drain(0.4)), 2)
        bad = bytearray(s.packet(DATA_ACK, b'corrupt'))
        bad[-1] ^= 1
        s.send(bytes(bad))
        s.send(b'short')
        time.sleep(0.3)

        fr = self.frames()
        # Every frame to or from a port of ours is dissected as its protocol.
        for f in fr:
            ly = layers(f)
            if 'udp' not in ly:
                continue
            ports = {int(ly['udp']['udp.srcport']), int(ly['udp']['udp.dstport'])}
            for port, proto in ((7100, 'router'), (7200, 'lb'), (7300, 'session'), (7400, 'pgrudp')):
                if port in ports:
                    self.assertIn(proto, ly, 'frame %s to/from %d' % (ly['frame']['frame.number'], port))

        rt = self.by_proto(fr, 'router')
        regs = [r for r in rt if one(r, 'router.type') == '0x00' and not experts(r)]
        self.assertEqual(sorted(int(one(r, 'router.client_id')) for r in regs), [7, 42])
        msgs = [r for r in rt if one(r, 'router.type') == '0x02' and not experts(r)]
        # The message as sent and as forwarded, the one to 99; the ID little-endian on the wire.
        self.assertEqual(sorted(int(one(r, 'router.client_id')) for r in msgs), [7, 7, 99])
        sent = [r for r in msgs if one(r, 'router.client_id') == '7']
        self.assertEqual(one(sent[0], 'router.payload').replace(':', ''), b'hello seven'.hex())
        self.assertEqual(int(one(sent[0], 'router.payload_len')), 11)
        unknown = [r for r in rt if one(r, 'router.type') == '0x03']
        self.assertEqual([int(one(r, 'router.client_id')) for r in unknown], [99])
        self.assertTrue(any(one(r, 'router.type') == '0x05' for r in rt), 'Heartbeat Response')
        bad = [r for r in rt if experts(r)]
        self.assertEqual(len(bad), 3, 'short Register, unknown type, oversize message')
        self.assertTrue(any('Unknown packet identifier 0x09' in m for r in bad for m in experts(r)))

        lbs = self.by_proto(fr, 'lb')
        reg = [x for x in lbs if one(x, 'lb.type') == '0']
        self.assertEqual(one(reg[0], 'lb.request_id'), '501')
        self.assertEqual(one(reg[0], 'lb.endpoint'), '198.18.77.1:9100')
        self.assertEqual(one(reg[0], 'lb.endpoint.ip'), '198.18.77.1')
        acks = [x for x in lbs if one(x, 'lb.type') == '3' and one(x, 'lb.request_id') == '501']
        # Request/response tracking both ways.
        self.assertEqual(values(reg[0], 'lb.response_in'), [acks[0]['lb.response_to'] and
                                                           self.frame_of(fr, acks[0])])
        rsn = [x for x in lbs if one(x, 'lb.type') == '6' and not experts(x)]
        rsp = [x for x in lbs if one(x, 'lb.type') == '7']
        self.assertEqual(one(rsp[0], 'lb.request_id'), '777')
        self.assertEqual(one(rsp[0], 'lb.response_to'), self.frame_of(fr, rsn[0]))
        self.assertEqual(one(rsp[0], 'lb.endpoint'), '198.18.77.1:9100')
        self.assertEqual(len(values(rsn[0], 'lb.padding')), 1, 'the padded request shows its padding')
        probe = [x for x in lbs if one(x, 'lb.type') == '9' and not any('alformed' in m for m in experts(x))]
        self.assertEqual([one(x, 'lb.nodes') for x in probe][:1], ['0'], 'the probe: an empty list, not malformed')
        self.assertEqual(len([x for x in lbs if any('shorter than the 3-byte header' in m for m in experts(x))]), 1)
        self.assertEqual(len([x for x in lbs if any('Unknown type 8' in m for m in experts(x))]), 1)

        ses = self.by_proto(fr, 'session')
        good = [x for x in ses if values(x, 'session.digest.status') == ['good']]
        types = sorted(int(one(x, 'session.packet_id'), 16) for x in good)
        # HELLO, ACCEPT, PING, PONG, DATA_ACK, ACK, DATA_NOACK (the echo), and the BAD_ACK that
        # answers the corrupt DATA_ACK (itself signed).
        self.assertEqual(types, [1, 2, 4, 5, 6, 7, 8, 9])
        hello = [x for x in good if one(x, 'session.packet_id') == '0x01'][0]
        self.assertEqual(one(hello, 'session.custom_id'), '11')
        self.assertEqual(one(hello, 'session.client_id').replace(':', ''), 'ab' * 16)
        self.assertEqual(one(hello, 'session.order'), '1')
        ack = [x for x in good if one(x, 'session.packet_id') == '0x08'][0]
        data = [x for x in good if one(x, 'session.packet_id') == '0x06'][0]
        self.assertEqual(one(ack, 'session.acked_frame'), self.frame_of(fr, data), 'ACK names the frame it acknowledges')
        accept = [x for x in good if one(x, 'session.packet_id') == '0x02'][0]
        self.assertNotEqual(int(one(accept, 'session.token'), 16), 0, 'ACCEPT hands out a token')
        self.assertEqual(one(data, 'session.token'), one(accept, 'session.token'), 'the client echoes it')
        corrupt = [x for x in ses if values(x, 'session.digest.status') == ['bad']]
        self.assertEqual(len(corrupt), 1)
        self.assertTrue(experts(corrupt[0]))
        short = [x for x in ses if any('shorter than the 64-byte header' in m for m in experts(x))]
        self.assertEqual(len(short), 1)

        # The same capture with the port preference moved: nothing on 7100 is the router's now.
        got, _ = tshark(self.pcap, '-o', 'router.port:7101')
        self.assertFalse(any('router' in layers(f) for f in got))
        # "Decode As": the session port's frames read as the router's (each an unknown type).
        got, _ = tshark(self.pcap, '-d', 'udp.port==7300,router')
        self.assertEqual(len([f for f in got if 'router' in layers(f)]), len(rt) + len(self.by_proto(fr, 'session')))

    # ---------------------------------------------------------------------------------------
    def test_rudp(self):
        eng = self.eng
        c = R.RudpClient(eng.udp_socket(), (eng.ip, 7400))
        c.connect()
        c.send(R.DEFAULT, b'checksummed in clear', R.CHECKSUM)
        self.assertEqual([m.data for m in c.drain(0.3)], [b'checksummed in clear'])
        big = bytes(range(256)) * 12  # 3072 bytes: 4 fragments each way
        c.send(R.DEFAULT, big, R.CHECKSUM | R.RELIABLE)
        got = [m.data for m in c.drain(0.5) if m.type == R.DEFAULT]
        self.assertEqual(got, [big])
        text = b'compress me ' * 40
        c.send(R.DEFAULT, text, R.CHECKSUM | R.COMPRESSED, force_compress=True)
        self.assertEqual([m.data for m in c.drain(0.3)], [text])
        c.send(R.DEFAULT, b'secret', R.ENCRYPTED | R.CHECKSUM)
        self.assertEqual([m.data for m in c.drain(0.3)], [b'secret'])
        c.send_raw(b'\x00\x00')                 # shorter than a header
        # Type 7 from a stranger: ERROR 3/2 comes back in clear (to a connection it is encrypted).
        stranger = eng.udp_socket()
        stranger.sendto(bytes([0x07, 0, 0, 50]) + bytes(8), (eng.ip, 7400))
        time.sleep(0.3)

        fr = self.frames()
        ru = self.by_proto(fr, 'pgrudp')
        ru_all = ru
        ru = [x for x in ru if values(x, 'pgrudp.type')]
        auth = [x for x in ru if one(x, 'pgrudp.type') == '2']
        self.assertEqual(len(auth), 2, 'the client AUTH and the server AUTH')
        self.assertEqual(one(auth[0], 'pgrudp.auth.key_size'), '32')
        clear = [x for x in ru if values(x, 'pgrudp.crc.status') == ['good']]
        self.assertGreaterEqual(len(clear), 4, 'message and echo, in clear and compressed, CRC checked')
        self.assertTrue(any(one(x, 'pgrudp.data').replace(':', '') == b'checksummed in clear'.hex() for x in clear
                            if values(x, 'pgrudp.data')))
        comp = [x for x in ru if values(x, 'pgrudp.flags.compressed') == ['1']]
        self.assertEqual([one(x, 'pgrudp.crc.status') for x in comp], ['good', 'good'], 'inflated, then checked')
        # The fragmented message, reassembled in each direction, CRC-32 good.
        whole = [x for x in ru if values(x, 'pgrudp.message_len')]
        self.assertEqual(sorted(one(x, 'pgrudp.message_len') for x in whole), ['3072', '3072'])
        for x in whole:
            self.assertEqual(one(x, 'pgrudp.crc.status'), 'good')
            self.assertEqual(len(values(x, 'pgrudp.fragment')), 4)
        parts = [x for x in ru if values(x, 'pgrudp.reassembled_in')]
        self.assertEqual(len(parts), 6, 'three fragments each way point at the frame that completes them')
        # The server's ACKs of the RELIABLE fragments: ACK bits listed as sequence IDs.
        acks = [x for x in ru if one(x, 'pgrudp.type') == '1' and values(x, 'pgrudp.ack_id')]
        frag_seqs = {one(x, 'pgrudp.seq') for x in ru if values(x, 'pgrudp.frag_id') and
                     values(x, 'pgrudp.flags.reliable') == ['1'] and one(x, 'udp.srcport' if False else 'pgrudp.type') == '0'}
        acked = set(v for x in acks for v in values(x, 'pgrudp.acked'))
        self.assertTrue(acked, 'ACK bits expanded')
        self.assertTrue({one(x, 'pgrudp.ack_id') for x in acks} & frag_seqs)
        enc = [x for x in ru if values(x, 'pgrudp.flags.encrypted') == ['1'] and one(x, 'pgrudp.type') == '0']
        self.assertTrue(enc and all(values(x, 'pgrudp.encrypted_data') and values(x, 'pgrudp.tag') for x in enc))
        self.assertTrue(all(one(x, 'pgrudp.crc.status') == 'unverifiable (encrypted)' for x in enc))
        # Filterable as the docs say.
        got, _ = tshark(self.pcap, '-Y', 'pgrudp.flags.encrypted == 1')
        self.assertTrue(got and all('pgrudp' in layers(f) for f in got))
        mal = [x for x in ru_all if any('shorter than the 4-byte header' in m for m in experts(x))]
        self.assertEqual(len(mal), 1)
        self.assertTrue(any('reserved' in m for x in ru for m in experts(x)))
        errs = [x for x in ru if one(x, 'pgrudp.type') == '4' and values(x, 'pgrudp.error')]
        self.assertIn('0x32', [one(x, 'pgrudp.error') for x in errs], 'the stranger\'s ERROR 3/2, in clear')

    # ---------------------------------------------------------------------------------------
    def test_lekt(self):
        eng = self.eng

        def connect():
            s = eng.tcp_socket()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.settimeout(5)
            s.connect((eng.ip, 7500))
            return s

        # Client one: its handshake split over two segments.
        s1 = connect()
        hs = L.pkt_handshake([1, 2])
        s1.sendall(hs[:6])
        time.sleep(0.2)
        s1.sendall(hs[6:])
        c1 = L.LektClient(s1)
        c1.join({1: L.info_udp('198.18.5.1', 4001), 2: L.info_relay(4242, 7100)}, handshake=b'')
        c1.heartbeat()
        # Client two joins; client one's next answer lists it.
        c2 = L.LektClient(connect())
        c2.join({4: L.info_rudp('198.18.5.2', 7400, bytes(range(32)))})
        c2.heartbeat()
        # Two heartbeats in one segment.
        s1.sendall(L.pkt_heartbeat(1000) + L.pkt_heartbeat(1001))
        for _ in range(2):
            while True:
                ev = c1._next()
                if ev[0] == 'update' and ev[1] == 'A' and not ev[3]:
                    break
        c2.close()
        time.sleep(0.2)
        c1.heartbeat()
        # A malformed one: a Response for a method that does not exist.
        s3 = connect()
        s3.sendall(L.pkt_handshake([1]) + L.header(b'T') + struct.pack('>I', 9) + b'x' * 6)
        time.sleep(0.3)
        c1.close()
        s3.close()
        time.sleep(0.3)

        fr = self.frames()
        lk = [(layers(f), x) for f in fr for x in (layers(f).get('lekt'),) if x is not None]
        flat = []
        for ly, x in lk:
            flat.extend(x if isinstance(x, list) else [x])
        infos = [layers(f)['_ws.col.Info'] if '_ws.col.Info' in layers(f) else '' for f in fr]
        handshakes = [x for x in flat if values(x, 'lekt.method_count')]
        self.assertEqual(sorted(one(x, 'lekt.method_count') for x in handshakes), ['1', '2', '4'])
        split = [ly for ly, x in lk if values(ly, 'tcp.reassembled.length') and values(x, 'lekt.method_count')]
        self.assertTrue(split, 'the split handshake was reassembled from two segments')
        two = [x for ly, x in lk if isinstance(x, list) and len(x) >= 2 and
               all(values(y, 'lekt.time') for y in x)]
        self.assertTrue(two, 'two heartbeats in one segment, two LEKT packets in one frame')
        sup = sorted(v for x in handshakes for v in values(x, 'lekt.supported'))
        self.assertEqual(sup, ['1', '1', '2', '4'])
        # Membership deltas: client two added with its RUDP method, then removed.
        members = [x for x in flat if values(x, 'lekt.member')]
        added = [v for x in members for v in values(x, 'lekt.member')]
        self.assertIn(eng.client_ips[0], added)
        self.assertTrue(any(values(x, 'lekt.key') for x in members), 'the RUDP method decoded')
        self.assertTrue(any(values(x, 'lekt.client_id') == ['4242'] for x in members), 'the router relay')
        removed = [v for x in flat for v in values(x, 'lekt.removed')]
        self.assertIn(eng.client_ips[0], removed)
        self.assertTrue(any(values(x, 'lekt.update.reset') for x in flat), 'the first answer resets')
        mal = [x for x in flat if any('Response for method 9' in m for m in experts(x))]
        self.assertEqual(len(mal), 1)


class KeyedSessionCaptureTest(CaptureCase):
    """Keyed mode: unverifiable without the key (said so), checked with it as a preference."""
    KEY = b'wireshark-keyed-session-key-0123'

    def setUp(self):
        fd, path = tempfile.mkstemp(prefix='pgkey-')
        with os.fdopen(fd, 'wb') as f:
            f.write(self.KEY)
        self.addCleanup(os.unlink, path)
        self.ENGINE_ARGS = {'app': ['--session-key-file', path]}
        super().setUp()

    def test_keyed_digests(self):
        s = SessionClient(self.eng.udp_socket(), (self.eng.ip, SESSION_PORT), b'\x0c' * 16, self.KEY)
        self.assertIsNotNone(s.request(s.hello()))
        s.send(s.packet(DATA_ACK, b'keyed data'))
        self.assertEqual(len(s.drain(0.4)), 2)
        fr = self.frames()
        ses = self.by_proto(fr, 'session')
        self.assertEqual(len(ses), 5, 'HELLO, ACCEPT, DATA_ACK, ACK, the echo')
        self.assertEqual({one(x, 'session.digest.status') for x in ses}, {'bad'}, 'plain SHA-256 does not match')
        got, _ = tshark(self.pcap, '-o', 'session.keyed:TRUE')
        st = [one(layers(f)['session'], 'session.digest.status') for f in got if 'session' in layers(f)]
        self.assertEqual(set(st), {'unverified (keyed, no key given)'})
        got, _ = tshark(self.pcap, '-o', 'session.key:' + self.KEY.hex())
        st = [one(layers(f)['session'], 'session.digest.status') for f in got if 'session' in layers(f)]
        self.assertEqual(st, ['good (HMAC-SHA-256)'] * 5)
        got, _ = tshark(self.pcap, '-o', 'session.key:' + bytes(32).hex())
        st = [one(layers(f)['session'], 'session.digest.status') for f in got if 'session' in layers(f)]
        self.assertEqual(set(st), {'bad (HMAC-SHA-256)'}, 'the wrong key')


def write_pcap(path, frames):
    """frames: Ethernet frames (bytes), written as a pcap file one millisecond apart."""
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack('<IIII', i // 1000, (i % 1000) * 1000, len(fr), len(fr)) + fr)


def ip_frame(proto, sport, dport, l4):
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, socket.inet_aton('198.18.1.2'),
                     socket.inet_aton('198.18.1.1'))
    if sport > dport:  # client to server: keep the addresses; server to client: swap them
        pass
    else:
        ip = ip[:12] + ip[16:20] + ip[12:16]
    return b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip + l4


def udp_frame(sport, dport, payload):
    return ip_frame(17, sport, dport, struct.pack('>HHHH', sport, dport, 8 + len(payload), 0) + payload)


def tcp_frame(sport, dport, seq, ack, flags, payload=b''):
    return ip_frame(6, sport, dport, struct.pack('>HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
                    + payload)


@unittest.skipUnless(shutil.which('tshark'), 'tshark needed')
class DissectorRobustnessTest(unittest.TestCase):
    """Thousands of random and mutated datagrams and TCP segments at every dissector: none may
    raise a Lua error, and every one is its protocol's."""

    def test_random_and_mutated_input(self):
        import random
        rng = random.Random(7)
        seeds = {
            7100: [b'\x00\x2a\0\0\0', b'\x02\x07\0\0\0hello', b'\x04', b'\x03\x63\0\0\0'],
            7200: [struct.pack('>BH4sH', 0, 1, b'\xc6\x12\0\1', 9000), struct.pack('>BH', 6, 2),
                   struct.pack('>BH', 9, 3) + bytes(12), struct.pack('>BHHH', 2, 4, 5, 6)],
            7300: [bytes(32) + b'\xab' * 16 + bytes([k]) + bytes(3) + struct.pack('>HHQ', 8, 0, 1) + bytes(8)
                   for k in (1, 6, 8)],
            7400: [bytes([0, 0xF8, 0, 1, 0, 3, 0, 0, 1, 2, 3, 4]) + bytes(20), bytes([1, 0x40, 0, 2, 0, 0, 0, 0, 0, 5, 0, 1]),
                   bytes([2, 0x80, 0, 0, 0, 32]) + bytes(34), bytes([4, 0, 0, 3, 0x10, 0, 40])],
        }
        frames = []
        for port, ss in seeds.items():
            for i in range(1500):
                d = bytearray(rng.choice(ss))
                for _ in range(rng.randrange(1, 4)):
                    op = rng.randrange(4)
                    if op == 0 and d:
                        d[rng.randrange(len(d))] = rng.randrange(256)
                    elif op == 1:
                        del d[rng.randrange(len(d) + 1):]
                    elif op == 2:
                        d += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                    elif d:
                        d[rng.randrange(len(d))] ^= 1 << rng.randrange(8)
                if i % 10 == 0:
                    d = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 1200)))
                frames.append(udp_frame(40000, port, bytes(d)) if i % 2 else udp_frame(port, 40000, bytes(d)))
        # LEKT: streams of mutated packets cut at random points, both directions.
        pk = [L.pkt_handshake([1, 2, 3]), L.pkt_heartbeat(5), L.pkt_response(1, L.info_udp('198.18.0.9', 9)),
              b'LEKTA\x01\x00\x00', b'LEKTT\x01\x00\x00\x00\x00\x00\x02', b'LEKTR\x01\x00\x00no\x00',
              b'LEKTH\x01\x00\x00' + bytes(8) + b'A\x00\x00\x01' + struct.pack('>II', 10, 0x0a000001)
              + struct.pack('>I', 1) + bytes(6)]
        for conn in range(60):
            cport = 41000 + conn
            seq = {True: 1000, False: 5000}
            frames.append(tcp_frame(cport, 7500, 999, 0, 0x02))
            frames.append(tcp_frame(7500, cport, 4999, 1000, 0x12))
            data = {True: b'', False: b''}
            for _ in range(12):
                to_server = rng.random() < 0.5
                d = bytearray(rng.choice(pk))
                if rng.random() < 0.5 and d:
                    d[rng.randrange(len(d))] = rng.randrange(256)
                data[to_server] += bytes(d)
            for to_server in (True, False):
                b = data[to_server]
                while b:
                    n = rng.randrange(1, 40)
                    src, dst = (cport, 7500) if to_server else (7500, cport)
                    frames.append(tcp_frame(src, dst, seq[to_server], seq[not to_server], 0x18, b[:n]))
                    seq[to_server] += len(b[:n])
                    b = b[n:]
        d = tempfile.mkdtemp(prefix='pgfuzz-')
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, 'fuzz.pcap')
        write_pcap(path, frames)
        got, raw = tshark(path)
        self.assertEqual(len(got), len(frames))
        self.assertNotIn('\ufffd', raw.replace('\\ufffd', ''), 'invalid UTF-8 in a label (raw packet bytes)')
        self.assertFalse('Lua Error' in raw, 'a dissector raised a Lua error')
        lekt = [layers(f)['lekt'] for f in got if 'lekt' in layers(f)]
        self.assertGreater(len(lekt), 100, 'the TCP streams reach the LEKT dissector')
        self.assertTrue(any(experts(x) for x in lekt), 'mutated LEKT packets are flagged')
        names = {7100: 'router', 7200: 'lb', 7300: 'session', 7400: 'pgrudp'}
        for f in got:
            ly = layers(f)
            if 'udp' in ly and int(ly['udp']['udp.length']) > 8:  # no payload: no subdissector
                port = min(int(ly['udp']['udp.srcport']), int(ly['udp']['udp.dstport']))
                self.assertIn(names[port], ly, 'frame %s' % ly['frame']['frame.number'])


@unittest.skipUnless(shutil.which('tshark'), 'tshark needed')
class TrafgenPcapTest(unittest.TestCase):
    """peregrine-trafgen --pcap-out: what it would send, dissected."""

    def test_router_profile(self):
        tg = os.environ.get('PEREGRINE_TRAFGEN') or os.path.join(os.path.dirname(os.environ['PEREGRINE']), '..',
                                                                 'tools', 'trafgen', 'peregrine-trafgen')
        if not os.path.exists(tg):
            self.skipTest('peregrine-trafgen not built')
        d = tempfile.mkdtemp(prefix='pgtg-')
        self.addCleanup(shutil.rmtree, d, True)
        out, reg = os.path.join(d, 'm.pcap'), os.path.join(d, 'reg.pcap')
        p = subprocess.run([tg, '-l', '0', '--no-pci', '--no-huge', '-m', '256', '--file-prefix=pgtg%d' % os.getpid(),
                            '--', '--addr', '198.18.0.1', '--dst-mac', '02:00:00:00:00:01', '--clients', '50',
                            '--pcap-out', out, '--pcap-register', reg, '--pcap-count', '200'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        got, raw = tshark(reg)
        self.assertFalse('Lua Error' in raw, 'a dissector raised a Lua error')
        self.assertEqual(len(got), 50)
        ids = [int(one(layers(f)['router'], 'router.client_id')) for f in got]
        self.assertEqual(len(set(ids)), 50, 'one Register Client per client, each its own ID')
        self.assertTrue(all(one(layers(f)['router'], 'router.type') == '0x00' for f in got))
        got, raw = tshark(out)
        self.assertFalse('Lua Error' in raw, 'a dissector raised a Lua error')
        self.assertEqual(len(got), 200)
        self.assertTrue(all('router' in layers(f) and not experts(layers(f)['router']) for f in got))


if __name__ == '__main__':
    main()
