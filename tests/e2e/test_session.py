#!/usr/bin/env python3
"""Session protocol end to end (docs/protocols/session.md): a kernel UDP socket in the namespace
speaks the protocol to the real engine; Python computes every digest with hashlib/hmac."""

import hashlib
import hmac
import os
import signal
import socket
import struct
import tempfile
import time

from peregrine_e2e import EngineTestCase, main, wait_for

SESSION_PORT = 7300
HELLO, ACCEPT, REJECT, PING, PONG, DATA_ACK, DATA_NOACK, ACK, BAD_ACK, DISCONNECT = range(1, 11)
HDR = struct.Struct('>16sB3sHHQ')  # after the 32-byte digest


def now_ms():
    return int(time.time() * 1000)


class Reply:
    def __init__(self, raw, key):
        self.raw = raw
        self.digest = raw[:32]
        self.cid, self.type, tok, self.length, self.custom, self.order = HDR.unpack_from(raw, 32)
        self.token = tok
        self.payload = raw[64:]
        self.digest_ok = self.digest == sign(raw[32:], key)


def sign(rest, key):
    if key:
        return hmac.new(key, rest, hashlib.sha256).digest()
    return hashlib.sha256(rest).digest()


class SessionClient:
    def __init__(self, sock, server, cid, key=None):
        self.sock, self.server, self.cid, self.key = sock, server, cid, key
        self.order = 0
        self.token = b'\0\0\0'  # ACCEPT's, echoed in every later packet (return routability)

    def packet(self, ptype, payload=b'', order=None, custom=0, length=None, key=None, token=None):
        if order is None:
            self.order += 1
            order = self.order
        tok = self.token if token is None else token
        rest = HDR.pack(self.cid, ptype, tok, len(payload) if length is None else length, custom, order) + payload
        return sign(rest, self.key if key is None else key) + rest

    def hello(self, ts=None, order=None, custom=0):
        return self.packet(HELLO, struct.pack('>Q', now_ms() if ts is None else ts), order, custom)

    def send(self, raw):
        self.sock.sendto(raw, self.server)

    def recv(self, timeout=1.0):
        self.sock.settimeout(timeout)
        try:
            while True:
                data, src = self.sock.recvfrom(65535)
                if src == self.server:
                    r = Reply(data, self.key)
                    if r.type == ACCEPT and r.digest_ok:
                        self.token = r.token
                    return r
        except socket.timeout:
            return None

    def request(self, raw, timeout=1.0):
        self.send(raw)
        return self.recv(timeout)

    def drain(self, wait=0.3):
        out = []
        while True:
            r = self.recv(wait)
            if r is None:
                return out
            out.append(r)


class SessionCase(EngineTestCase):
    ENGINE_ARGS = {'app': ['--max-sessions', '4096']}
    KEY = None

    def client(self, n=0, ip=None):
        s = self.eng.udp_socket(ip)
        return SessionClient(s, (self.eng.ip, SESSION_PORT), bytes([n]) * 8 + os.urandom(8), self.KEY)

    def session(self):
        return self.eng.query('/peregrine/session')

    def open(self, c):
        r = c.request(c.hello(custom=0x77))
        self.assertIsNotNone(r, 'no answer to HELLO')
        self.assertEqual(r.type, ACCEPT, 'HELLO answered with type %d' % r.type)
        self.assertTrue(r.digest_ok, 'ACCEPT digest')
        self.assertEqual(r.cid, c.cid)
        self.assertEqual(r.custom, 0x77)
        (ts,) = struct.unpack('>Q', r.payload)
        self.assertLess(abs(ts - now_ms()), 5000, 'ACCEPT timestamp is the server clock')
        return r

    def prove(self, c):
        """The session's first packet with ACCEPT's token proves the endpoint (a PING: its PONG
        is no larger)."""
        self.expect(c, c.packet(PING, b'proof'), PONG, 'the PING that proves the session')

    def expect(self, c, raw, ptype, what):
        r = c.request(raw)
        self.assertIsNotNone(r, 'no answer to %s' % what)
        self.assertEqual(r.type, ptype, '%s answered with type %d, expected %d' % (what, r.type, ptype))
        self.assertTrue(r.digest_ok, 'digest of the answer to %s' % what)
        self.assertEqual(r.cid, c.cid)
        return r

    def silent(self, c, raw, what, wait=0.4):
        c.send(raw)
        got = c.drain(wait)
        self.assertEqual([(r.type, r.length) for r in got], [], 'expected no answer to %s' % what)


class SessionLifecycleTest(SessionCase):

    def test_whole_life_cycle(self):
        c = self.client(1)
        self.open(c)
        info = self.eng.query('/peregrine/session/id,' + c.cid.hex())
        self.assertEqual(info['open'], 1, 'telemetry lookup of the open session')
        self.assertEqual(info['udp_port'], c.sock.getsockname()[1])

        p = self.expect(c, c.packet(PING, b'ping!', custom=5), PONG, 'PING')
        self.assertEqual((p.payload, p.custom, p.order), (b'ping!', 5, c.order))

        for size in (0, 1, 100, 1400):
            body = os.urandom(size)
            sent = c.packet(DATA_ACK, body, custom=size)
            c.send(sent)
            got = {r.type: r for r in c.drain(0.5)}
            self.assertEqual(sorted(got), [DATA_NOACK, ACK], 'answers to a %d-byte DATA_ACK' % size)
            ack = got[ACK]
            self.assertTrue(ack.digest_ok)
            self.assertEqual(ack.payload, hashlib.sha256(sent[32:]).digest(), 'ACK carries the packet SHA-256')
            self.assertEqual((ack.order, ack.custom), (c.order, size))
            self.assertTrue(got[DATA_NOACK].digest_ok)
            self.assertEqual(got[DATA_NOACK].payload, body, 'echo application')

        c.send(c.packet(DATA_NOACK, b'no ack please'))
        got = c.drain(0.5)
        self.assertEqual([(r.type, r.payload) for r in got], [(DATA_NOACK, b'no ack please')],
                         'DATA_NOACK: the echo only, no ACK')

        r = self.expect(c, c.packet(DISCONNECT, custom=9), REJECT, 'DISCONNECT')
        self.assertEqual(r.custom, 9)
        self.assertEqual(r.payload, b'')
        # Retries (the same packet, and a new one) are answered too.
        self.expect(c, c.packet(DISCONNECT, order=c.order), REJECT, 'repeated DISCONNECT')
        self.expect(c, c.packet(DISCONNECT), REJECT, 'second DISCONNECT')
        self.expect(c, c.packet(PING), REJECT, 'PING after DISCONNECT')
        s = self.session()
        self.assertEqual(s['sessions'], 0)
        self.assertEqual(s['opened'], 1)
        self.assertEqual(s['closed'], 1)
        self.assertEqual(s['pong'], 1)
        self.assertEqual(s['ack'], 4)
        self.assertEqual(s['data_noack'], 1)
        self.assertEqual(s['app_sent'], 5)
        # The first DISCONNECT closed the session (its REJECT came from the control lcore); the
        # retries found no session.
        self.assertEqual(s['rejected_disconnect'], 1)
        self.assertEqual(s['rejected_no_session'], 3)
        info = self.eng.query('/peregrine/session/id,' + c.cid.hex())
        self.assertEqual(info['open'], 0)

    def test_corruption_replays_and_malformed(self):
        c = self.client(2)
        self.open(c)
        self.prove(c)
        d0 = self.eng.drops()

        # A corrupted DATA_ACK gets BAD_ACK with the SHA-256 of what arrived.
        good = c.packet(DATA_ACK, b'precious data', custom=3)
        bad = bytearray(good)
        bad[70] ^= 0x40
        bad = bytes(bad)
        r = self.expect(c, bad, BAD_ACK, 'corrupted DATA_ACK')
        self.assertEqual(r.payload, hashlib.sha256(bad[32:]).digest())
        self.assertEqual((r.order, r.custom), (c.order, 3))
        # Resent intact with the same count: accepted (the corrupt one consumed nothing).
        c.send(good)
        self.assertEqual(sorted(x.type for x in c.drain(0.5)), [DATA_NOACK, ACK])

        # Other corrupted packets are dropped silently.
        for ptype in (PING, DATA_NOACK, DISCONNECT):
            raw = bytearray(c.packet(ptype, b'x'))
            raw[0] ^= 1
            self.silent(c, bytes(raw), 'corrupted type %d' % ptype, 0.2)

        # Replays: the same DATA_ACK again, and a count behind the 64-wide window.
        self.silent(c, good, 'replayed DATA_ACK')
        c.order += 100
        self.expect(c, c.packet(PING), PONG, 'PING far ahead')
        self.silent(c, c.packet(PING, order=c.order - 64), 'count behind the window', 0.2)
        self.expect(c, c.packet(PING, order=c.order - 63), PONG, 'out of order, inside the window')
        self.silent(c, c.packet(PING, order=c.order - 63), 'out-of-order duplicate', 0.2)

        # Malformed lengths, each counted.
        self.silent(c, b'', 'empty datagram', 0.1)
        self.silent(c, good[:63], 'one byte short of a header', 0.1)
        self.silent(c, c.packet(PING, b'abc', length=4), 'length field one too long', 0.1)
        self.silent(c, c.packet(PING, b'abc', length=2), 'length field one too short', 0.1)
        self.silent(c, c.packet(ACK, b'x' * 31), 'ACK without a whole digest', 0.1)
        self.silent(c, c.packet(99), 'unknown packet ID', 0.1)
        self.silent(c, c.packet(PONG), 'a server-only type', 0.1)

        # HELLO: stale timestamp and bad timestamp length get REJECT.
        other = self.client(3)
        self.expect(other, other.hello(ts=now_ms() - 120_000), REJECT, 'stale HELLO')
        self.expect(other, other.packet(HELLO, b'1234'), REJECT, 'HELLO with a 4-byte timestamp')

        drops = self.drop_delta(d0, self.eng.drops())
        self.assertEqual(drops, {'session_bad_digest': 3, 'session_duplicate': 2, 'session_too_old': 1,
                                 'session_short': 2, 'session_bad_len': 3, 'session_unknown_type': 1,
                                 'session_reply_type': 1}, 'drop counters')
        s = self.session()
        self.assertEqual(s['bad_ack'], 1)
        self.assertEqual(s['rejected_stale_hello'], 1)
        self.assertEqual(s['rejected_bad_hello'], 1)


class SessionTimeoutTest(SessionCase):
    ENGINE_ARGS = {'app': ['--max-sessions', '4096', '--session-timeout', '1']}

    def test_missed_pings_end_the_session(self):
        c = self.client(4)
        self.open(c)
        self.expect(c, c.packet(PING), PONG, 'PING within the timeout')
        time.sleep(0.6)
        self.expect(c, c.packet(PING), PONG, 'PING 0.6 s later (refreshes)')
        time.sleep(1.5)
        self.expect(c, c.packet(DATA_ACK, b'late'), REJECT, 'DATA_ACK after the timeout')
        self.expect(c, c.packet(PING), REJECT, 'PING after the timeout')
        s = wait_for(lambda: (lambda x: x if x['expired'] == 1 else None)(self.session()), 8.0)
        self.assertIsNotNone(s, 'the control lcore never swept the timed-out session out')
        self.assertEqual(s['sessions'], 0)
        self.assertEqual(s['rejected_timed_out'] + s['rejected_no_session'], 2)
        self.assertEqual(s['delivered'], 0, 'data of a timed-out session reached the application')
        # A new HELLO opens it again.
        self.open(c)
        self.expect(c, c.packet(PING), PONG, 'PING after reopening')


class SessionAmplificationTest(SessionCase):

    def exchange(self, c, raws, wait=0.4):
        """Sends raws from c's source; returns (bytes sent, bytes received), UDP payloads."""
        for raw in raws:
            c.send(raw)
        return sum(map(len, raws)), sum(len(r.raw) for r in c.drain(wait))

    def every_kind(self, c):
        """One of each packet a client may send, some malformed, for c's session."""
        corrupt = bytearray(c.packet(DATA_ACK, b'x' * 10))
        corrupt[70] ^= 1
        return [c.packet(DATA_ACK), c.packet(DATA_ACK, b'0123456789'), c.packet(DATA_NOACK, b'n' * 200),
                c.packet(PING, b'p'), c.packet(ACK, bytes(32)), bytes(corrupt), c.packet(DATA_ACK, b'\0' * 31),
                c.hello(ts=now_ms() - 10**6), c.packet(HELLO, b'short')]

    def test_unproven_endpoints_never_get_more_bytes_than_they_sent(self):
        """Sources that open a session and never echo ACCEPT's token (a spoofer cannot: it never
        sees the ACCEPT) send every kind of packet; bytes back are summed per source."""
        for n, ip in enumerate(self.eng.client_ips):
            c = self.client(30 + n, ip)
            sent, got = self.exchange(c, [c.hello()])
            self.assertEqual(got, sent, 'ACCEPT is the size of HELLO')
            wrong = c.token
            c.token = bytes([wrong[0] ^ (n + 1)]) + wrong[1:]  # a blind guess
            # Datagram by datagram: no answer longer than what it answers...
            for raw in self.every_kind(c):
                more_sent, more_got = self.exchange(c, [raw], 0.2)
                self.assertLessEqual(more_got, more_sent, '%s: answer to type %d' % (ip, raw[48]))
                sent, got = sent + more_sent, got + more_got
            # ...and in all, the session closed last.
            more_sent, more_got = self.exchange(c, self.every_kind(c) * 2 + [c.packet(DISCONNECT)])
            sent, got = sent + more_sent, got + more_got
            self.assertLessEqual(got, sent, '%s: amplification %.2f' % (ip, got / sent))
        self.assertGreaterEqual(self.eng.drops()['session_unproven'], 3 * 3 * 6)
        self.assertEqual(self.session()['delivered'], 0)
        # A client that echoes its token gets its ACKs and echoes: the same traffic is then
        # answered with more than it sent, which is what the token guards.
        c = self.client(40)
        self.open(c)
        sent, got = self.exchange(c, [c.packet(DATA_ACK) for _ in range(5)])
        self.assertGreater(got, 2 * sent, 'a proven session is answered in full')
        self.assertEqual(self.session()['proven'], 1)


class SessionRateTest(SessionCase):
    ENGINE_ARGS = {'app': ['--max-sessions', '4096', '--session-control-rate', '5']}

    def test_a_hello_flood_from_one_source_is_limited_and_others_open(self):
        flood = [self.client(50 + k, self.eng.client_ips[0]) for k in range(4)]
        for k in range(200):
            c = flood[k % 4]
            c.send(c.hello(ts=now_ms() + k))  # each a newer HELLO: a reopen for the control lcore
        time.sleep(0.3)
        for c in flood:
            c.drain(0.05)
        self.assertGreater(self.eng.drops()['session_rate_limited'], 150)
        self.assertLessEqual(self.session()['hello_rx'], 20, 'the burst (2 x 5) and a few refills')
        other = self.client(60, self.eng.client_ips[1])
        self.open(other)


class SessionShutdownTest(SessionCase):
    CHECK_LEAK = False

    def test_shutdown_sends_reject_to_every_session(self):
        clients = [self.client(10 + i, self.eng.client_ips[i % 2]) for i in range(3)]
        for c in clients:
            self.open(c)
            self.prove(c)
        # A session whose endpoint never echoed its token is not sent anything it did not ask for.
        unproven = self.client(20)
        self.open(unproven)
        self.eng.tel.close()
        self.assertEqual(self.eng.stop(signal.SIGTERM), 0)
        for c in clients:
            r = c.recv(2.0)
            self.assertIsNotNone(r, 'no REJECT at shutdown')
            self.assertEqual(r.type, REJECT)
            self.assertTrue(r.digest_ok)
            self.assertEqual(r.cid, c.cid)
        self.assertIsNone(unproven.recv(0.3), 'REJECT to an unproven endpoint')
        self.assertIn('sent REJECT to 3 of 3 session(s); 1 unproven, not told', self.eng.stderr())

    def assert_clean_exit(self, eng):
        if eng.rc is None:
            super().assert_clean_exit(eng)


class SessionKeyedTest(SessionCase):
    KEY = b'peregrine-e2e-session-key-0123456789'

    def setUp(self):
        fd, self.key_path = tempfile.mkstemp(prefix='pgkey-')
        with os.fdopen(fd, 'wb') as f:
            f.write(self.KEY)
        self.addCleanup(os.unlink, self.key_path)
        self.ENGINE_ARGS = {'app': ['--max-sessions', '4096', '--session-key-file', self.key_path]}
        super().setUp()

    def test_keyed_mode(self):
        c = self.client(20)
        self.open(c)  # HMAC-signed HELLO; the ACCEPT's HMAC is checked
        d0 = self.eng.drops()
        # Plain SHA-256 and a wrong key are refused.
        self.silent(c, c.packet(PING, key=b''), 'PING with plain SHA-256', 0.2)
        self.silent(c, c.packet(PING, key=b'wrong key, same length as it is!!!!'), 'PING with a wrong key', 0.2)
        sent = c.packet(DATA_ACK, b'keyed')
        c.send(sent)
        got = {r.type: r for r in c.drain(0.5)}
        self.assertEqual(sorted(got), [DATA_NOACK, ACK])
        self.assertTrue(all(r.digest_ok for r in got.values()), 'answers carry the HMAC')
        self.assertEqual(got[ACK].payload, hmac.new(self.KEY, sent[32:], hashlib.sha256).digest())
        forged = c.packet(DATA_ACK, b'forged', key=b'')
        r = self.expect(c, forged, BAD_ACK, 'DATA_ACK without the key')
        self.assertEqual(r.payload, hmac.new(self.KEY, forged[32:], hashlib.sha256).digest())
        stranger = self.client(21)
        stranger.key = b''
        stranger.send(stranger.hello())
        self.assertEqual(stranger.drain(0.4), [], 'an unkeyed HELLO must not be answered')
        self.assertEqual(self.drop_delta(d0, self.eng.drops()), {'session_bad_digest': 3})
        self.assertEqual(self.session()['keyed'], 1)


class SessionOffTest(EngineTestCase):
    """--no-session: the protocol's port is the kernel's, as any UDP port no module owns."""
    ENGINE_ARGS = {'app': ['--no-session']}

    def test_port_goes_to_the_kernel(self):
        self.assert_port_goes_to_kernel(SESSION_PORT, b'\x00' * 64, '/peregrine/session')


if __name__ == '__main__':
    main()
