#!/usr/bin/env python3
"""RUDP end to end (docs/protocols/rudp.md): tools/rudp_client.py, which shares nothing with the
engine's C++ (python3-cryptography for X25519, HKDF, AES-GCM), speaks the protocol to the real
engine from a kernel UDP socket in the test's namespace."""

import os
import signal
import struct
import sys
import time

from peregrine_e2e import EngineTestCase, main, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools'))
import rudp_client as R  # noqa: E402

RUDP_PORT = 7400
ALL = [R.RELIABLE, R.CHECKSUM, R.COMPRESSED, R.ENCRYPTED]


class RudpCase(EngineTestCase):
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024']}

    def client(self, ip=None, **kw):
        return R.RudpClient(self.eng.udp_socket(ip), (self.eng.ip, RUDP_PORT), **kw)

    def rudp(self):
        return self.eng.query('/peregrine/rudp')

    def connected(self, ip=None, **kw):
        c = self.client(ip, **kw)
        c.connect()
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] >= 1, 2.0), 'connection not open')
        return c

    def errors(self, msgs):
        return [(m.code >> 4, m.code & 15) for m in msgs if m.type == R.ERROR]


class RudpHandshakeTest(RudpCase):

    def test_handshake_opens_a_connection(self):
        c = self.client()
        c.connect()
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] == 1, 2.0))
        t = self.rudp()
        self.assertEqual((t['handshake_answered'], t['handshake_finished'], t['opened']), (1, 1, 1))
        c.send(R.HEARTBEAT, bytes([R.PING]) + b'beat', R.ENCRYPTED)
        m = c.recv()
        self.assertIsNotNone(m, 'no PONG')
        self.assertEqual((m.type, m.beat, m.data), (R.HEARTBEAT, R.PONG, b'beat'))
        self.assertTrue(m.flags & R.ENCRYPTED)

    def test_short_auth_is_refused_with_the_size_it_needs(self):
        c = self.client()
        c.send_raw(c.auth_packet(pad_to=60))
        m = c.recv()
        self.assertIsNotNone(m)
        self.assertEqual(self.errors([m]), [(1, 0)])
        (need,) = struct.unpack('>H', m.data)
        self.assertLessEqual(len(c.auth_raw), need)
        # Padded to that size it works, and the answer is no longer than the AUTH.
        c2 = self.client()
        c2.send_raw(c2.auth_packet(pad_to=need))
        got = c2.drain(0.5)
        self.assertEqual(sorted(x.type for x in got), [R.ACK, R.AUTH])
        self.assertLessEqual(sum(len(x.body) + R.header_len(x.flags) for x in got), need)

    def test_tampered_handshake_fails(self):
        # The server's key altered on the way: the client's finished no longer matches.
        def flip(name, raw):
            if name != 'server_auth':
                return raw
            b = bytearray(raw)
            b[10] ^= 1
            return bytes(b)
        c = self.client()
        with self.assertRaises(R.RudpError):
            c.connect(tamper=flip)  # the client sees the server's finished fail
        # The client's finished altered: ERROR 1/3, no connection.
        def bad_fin(name, raw):
            if name != 'finished':
                return raw
            b = bytearray(raw)
            b[-1] ^= 0x80
            return bytes(b)
        c = self.client()
        c.connect(tamper=bad_fin)
        m = c.recv()
        self.assertEqual(self.errors([m]), [(1, 3)])
        self.assertEqual(self.rudp()['connections'], 0)
        self.assertEqual(self.rudp()['error_1_3'], 1)

    def test_packets_without_a_connection(self):
        c = self.client()
        c.send_raw(R.pack_header(R.DEFAULT, 0, 1) + b'hello')
        self.assertEqual(self.errors(c.drain(0.3)), [(1, 0)])
        # Too short to answer without amplifying: dropped.
        d0 = self.eng.drops()
        c.send_raw(R.pack_header(R.DEFAULT, 0, 1))
        self.assertEqual(c.drain(0.3), [])
        self.assertEqual(self.drop_delta(d0, self.eng.drops()), {'rudp_no_connection': 1})


class RudpDataTest(RudpCase):

    def test_every_flag_combination_is_echoed_with_its_flags(self):
        c = self.connected()
        payloads = [b'', b'x', b'hello world ' * 20, os.urandom(700), b'z' * 900]
        for mask in range(16):
            flags = 0
            for i, f in enumerate(ALL):
                if mask & (1 << i):
                    flags |= f
            for p in payloads:
                if flags & R.ENCRYPTED and len(p) + R.TAG > R.MAX_BODY:
                    continue
                sent = c.send(R.DEFAULT, p, flags)
                got = c.drain(0.2)
                what = 'flags 0x%02x, %d bytes' % (flags, len(p))
                data = [m for m in got if m.type == R.DEFAULT]
                acks = [m for m in got if m.type == R.ACK]
                self.assertEqual(len(data), 1, what + ': ' + repr(got))
                self.assertEqual(data[0].data, p, what)
                want = flags & (R.CHECKSUM | R.ENCRYPTED)
                self.assertEqual(data[0].flags & (R.CHECKSUM | R.ENCRYPTED), want, what)
                if flags & R.COMPRESSED and len(R.deflate(p)) < len(p):
                    self.assertTrue(data[0].flags & R.COMPRESSED, what + ': echo not compressed')
                if flags & R.RELIABLE:
                    self.assertEqual(len(acks), 1, what)
                    self.assertEqual(acks[0].ack_id, R.Header(sent[0]).seq, what)
                else:
                    self.assertEqual(acks, [], what)
        t = self.rudp()
        self.assertGreater(t['delivered'], 0)
        self.assertEqual(t['delivered'], t['echoed'])

    def test_ack_bits_list_the_packets_before(self):
        c = self.connected()
        for i in range(5):
            c.send(R.DEFAULT, b'r%d' % i, R.RELIABLE | R.ENCRYPTED)
        acks = [m for m in c.drain(0.3) if m.type == R.ACK]
        self.assertEqual(len(acks), 5)
        last = acks[-1]
        # Sequence IDs 2..6 (0 AUTH, 1 finished): the last ACK says 5, 4, 3, 2 and 1 arrived.
        self.assertEqual(last.ack_id, 6)
        self.assertEqual(last.ack_bits & 0x3f, 0x1f)  # seq 0, the AUTH, is not data

    def test_replays_and_corruption(self):
        c = self.connected()
        sent = c.send(R.DEFAULT, b'once', R.RELIABLE | R.ENCRYPTED)
        got = c.drain(0.3)
        self.assertEqual(sorted(m.type for m in got), [R.DEFAULT, R.ACK])
        d0 = self.eng.drops()
        # The same datagram again: acknowledged again, not delivered again.
        c.send_raw(sent[0])
        got = c.drain(0.3)
        self.assertEqual([m.type for m in got], [R.ACK])
        # Unreliable replays are dropped and counted.
        sent = c.send(R.DEFAULT, b'noack', R.ENCRYPTED)
        self.assertEqual(len(c.drain(0.3)), 1)
        c.send_raw(sent[0])
        self.assertEqual(c.drain(0.3), [])
        self.assertEqual(self.drop_delta(d0, self.eng.drops()), {'rudp_duplicate': 1})
        # A flipped ciphertext byte: ERROR 3/7. A flipped byte under CRC-32: ERROR 3/9.
        raw = bytearray(c.build(R.DEFAULT, b'secret', R.ENCRYPTED)[0])
        raw[-20] ^= 1
        c.send_raw(bytes(raw))
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 7)])
        raw = bytearray(c.build(R.DEFAULT, b'checked', R.CHECKSUM)[0])
        raw[-1] ^= 1
        c.send_raw(bytes(raw))
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 9)])
        # A deflate stream that is not one: ERROR 3/8.
        c.send_raw(R.pack_header(R.DEFAULT, R.COMPRESSED, c.take()) + b'\xff\xff\xff')
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 8)])
        # A sequence ID far behind the window: ERROR 3/4.
        for _ in range(100):
            c.send(R.DEFAULT, b'x', 0)
        c.drain(0.3)
        c.send_raw(c.build(R.DEFAULT, b'old', R.ENCRYPTED, seq=3)[0])
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 4)])
        self.assertEqual(self.rudp()["delivered"], 102)

    def test_malformed_headers_get_their_error(self):
        c = self.connected()
        cases = [
            (bytes([0x10, 0, 0, 9]) + b'v1', (3, 1)),            # version 1
            (bytes([0x07, 0, 0, 9]) + b'ty', (3, 2)),            # type 7
            (bytes([0x00, 0x01, 0, 9]) + b'fl', (3, 3)),         # a reserved flag
            (bytes([0x01, 0x80, 0, 9]) + b'\0\0\0\0', (3, 3)),   # RELIABLE on an ACK
            (bytes([0x00, 0x08, 0, 9, 0, 1]) + b'f', (3, 6)),    # fragment number 1
            (bytes([0x00, 0x08, 0, 9, 5, 3]) + b'f', (3, 5)),    # fragment ID 5 of 3
            (bytes([0x00, 0x00, 0, 9]) + b'\0' * 989, (3, 0)),   # data over 988 bytes
        ]
        for raw, want in cases:
            c.send_raw(raw)
            self.assertEqual(self.errors(c.drain(0.3)), [want], raw[:8].hex())
        self.assertTrue(all(m.flags & R.ENCRYPTED for m in []))

    def test_client_disconnect_closes(self):
        c = self.connected()
        c.close()
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] == 0, 2.0))
        self.assertEqual(self.rudp()['disconnects'], 1)
        c.send(R.DEFAULT, b'after', 0)
        self.assertEqual(self.errors(c.drain(0.3)), [(1, 0)])


class RudpShutdownTest(RudpCase):
    CHECK_LEAK = False

    def test_shutdown_sends_server_disconnect(self):
        clients = [self.connected(self.eng.client_ips[i % 2]) for i in range(3)]
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] == 3, 2.0))
        self.eng.tel.close()
        self.assertEqual(self.eng.stop(signal.SIGTERM), 0)
        for c in clients:
            m = c.recv(2.0)
            self.assertIsNotNone(m, 'no SERVER DISCONNECT')
            self.assertEqual((m.type, m.code), (R.ERROR, 0x21))
            self.assertTrue(m.flags & R.ENCRYPTED, 'authenticated: encrypted with the connection key')
        self.assertIn('sent SERVER DISCONNECT to 3 of 3 RUDP connection(s)', self.eng.stderr())

    def assert_clean_exit(self, eng):
        if eng.rc is None:
            super().assert_clean_exit(eng)


if __name__ == '__main__':
    main()
