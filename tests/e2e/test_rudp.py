#!/usr/bin/env python3
"""RUDP end to end (docs/protocols/rudp.md): tools/rudp_client.py, which shares nothing with the
engine's C++ (python3-cryptography for X25519, HKDF, AES-GCM), speaks the protocol to the real
engine from a kernel UDP socket in the test's namespace."""

import os
import signal
import socket
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
        ip, port = c.sock.getsockname()
        conn = self.eng.query('/peregrine/rudp/conn,%s:%d' % (ip, port))
        self.assertEqual((conn['open'], conn['udp_port'], conn['client_highest_seq']), (1, port, 2))
        self.assertEqual(self.eng.query('/peregrine/rudp/conn,%s:%d' % (ip, port + 1))['open'], 0)

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
        with self.assertRaisesRegex(R.RudpError, 'ERROR 1/3'):
            c.connect(tamper=bad_fin)
        self.assertEqual(self.rudp()['connections'], 0)
        self.assertEqual(self.rudp()['error_1_3'], 1)

    def test_auth_flood_from_one_source_is_rate_limited(self):
        # --rudp-auth-rate 20 (bursts of 40) per source: 100 AUTHs at once get about 40 answers.
        c = self.client()
        d0 = self.eng.drops()
        t0 = time.monotonic()
        for _ in range(100):
            c.send_raw(c.auth_packet())
        elapsed = time.monotonic() - t0  # the bucket refills at 20/s meanwhile
        c.drain(0.5)
        limited = self.drop_delta(d0, self.eng.drops()).get('rudp_rate_limited', 0)
        self.assertGreaterEqual(limited, 100 - 40 - int(20 * elapsed) - 1, 'sent in %.3f s' % elapsed)
        self.assertLessEqual(limited, 60)
        # Another source is not held back by that one.
        self.connected(self.eng.client_ips[1])

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
        # A sequence ID far ahead of the window, and one behind it: ERROR 3/4.
        c.send_raw(c.build(R.DEFAULT, b'ahead', R.ENCRYPTED, seq=c.next_seq + 40000)[0])
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 4)])
        # A jump of 2000 (lost packets, as far as the server knows) slides the 1024-wide window.
        jump = c.next_seq + 2000
        c.send_raw(c.build(R.DEFAULT, b'jump', 0, seq=jump)[0])
        c.next_seq = jump + 1
        self.assertEqual(len(c.drain(0.3)), 1)
        c.send_raw(c.build(R.DEFAULT, b'old', R.ENCRYPTED, seq=3)[0])
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 4)])
        self.assertEqual(self.rudp()["delivered"], 3)

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

    def test_the_clients_load_mode(self):
        # tools/rudp_client.py load, as a user runs it in the namespace: 2 connections, 300
        # encrypted and checksummed echoes a second for 2 s, a report per second, exit 0.
        tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'rudp_client.py')
        r = self.eng.ns_run([sys.executable, tool, '--server', self.eng.ip, 'load', '--clients', '2', '--rate', '300',
                             '--duration', '2', '--size', '200'], timeout=60)
        last = r.stdout.strip().splitlines()[-1]
        sent, echoed = [int(x) for x in last.split()[2:5:2]]
        self.assertGreater(sent, 500, r.stdout)
        self.assertEqual(sent, echoed, r.stdout)
        self.assertIn('rtt p50', r.stdout)
        self.assertEqual(self.rudp()['connections'], 2)

    def test_client_disconnect_closes(self):
        c = self.connected()
        c.close()
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] == 0, 2.0))
        self.assertEqual(self.rudp()['disconnects'], 1)
        c.send(R.DEFAULT, b'after', 0)
        self.assertEqual(self.errors(c.drain(0.3)), [(1, 0)])


class RudpFragmentTest(RudpCase):

    def test_messages_up_to_200000_bytes_with_every_flag_combination(self):
        c = self.client()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        c.connect()
        sizes = [989, 3000, 20000, 200000]
        for mask in range(16):
            flags = 0
            for i, f in enumerate(ALL):
                if mask & (1 << i):
                    flags |= f
            for n in sizes:
                # Half compressible text, half random bytes: deflate has work and limits.
                p = (b'peregrine rudp ' * (n // 30 + 1))[:n // 2] + os.urandom(n - n // 2)
                what = 'flags 0x%02x, %d bytes' % (flags, n)
                if flags & R.RELIABLE:
                    echoes, _ = c.exchange_reliably([p], flags, timeout=10)
                    self.assertEqual(echoes, [p], what)
                else:
                    sent = c.send(R.DEFAULT, p, flags)
                    if not flags & R.COMPRESSED:
                        self.assertGreater(len(sent), 1, what + ': not fragmented')
                    got = [m for m in c.drain(0.5) if m.type == R.DEFAULT]
                    self.assertEqual([m.data for m in got], [p], what)
                    self.assertTrue(got[0].flags & R.FRAG, what)
        t = self.rudp()
        self.assertEqual(t['reassembled'], 64)
        self.assertEqual(t['reassembling'], 0)

    def test_reassembly_refuses_inconsistent_and_times_out(self):
        c = self.connected()
        body = os.urandom(3000)
        frags = c.build(R.DEFAULT, body, R.ENCRYPTED)
        self.assertEqual(len(frags), 4)
        # A fragment number that changes within one message: ERROR 3/6.
        c.send_raw(frags[0])
        h = R.Header(frags[1])
        bad = bytearray(frags[1])
        bad[5] = 5
        c.send_raw(bytes(bad))
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 6)])
        # A middle fragment of another length than the first: ERROR 3/5.
        c.send_raw(frags[1][:-10])
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 5)])
        # Out of order and duplicated, then complete: delivered once.
        for d in (frags[3], frags[2], frags[2], frags[1]):
            c.send_raw(d)
        got = c.drain(0.5)
        self.assertEqual([m.data for m in got if m.type == R.DEFAULT], [body])
        # Fragments that never complete: dropped after --rudp-reassembly-timeout, not kept.
        c.send_raw(c.build(R.DEFAULT, os.urandom(5000), R.ENCRYPTED)[0])
        self.assertTrue(wait_for(lambda: self.rudp()['reassembling'] == 1, 1.0))
        self.assertTrue(wait_for(lambda: self.rudp()['reassembling'] == 0, 4.0), 'not timed out')
        self.assertEqual(self.rudp()['reassembly_timed_out'], 1)
        # A tampered fragment fails the message's tag: ERROR 3/7.
        frags = c.build(R.DEFAULT, os.urandom(2000), R.ENCRYPTED)
        bad = bytearray(frags[1])
        bad[-1] ^= 1
        c.send_raw(frags[0])
        c.send_raw(bytes(bad))
        c.send_raw(frags[2])
        self.assertEqual(self.errors(c.drain(0.3)), [(3, 7)])
        # Per connection, four messages in reassembly at most: the fifth gets ERROR 1/1.
        for _ in range(5):
            c.send_raw(c.build(R.DEFAULT, os.urandom(5000), R.ENCRYPTED)[0])
        self.assertEqual(self.errors(c.drain(0.3)), [(1, 1)])
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-reassembly-timeout', '1']}


class RudpReliabilityTest(RudpCase):
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-rto', '50', '--rudp-max-tries', '4']}

    def test_unacknowledged_echo_is_sent_again_then_the_connection_closed(self):
        c = self.connected()
        c.auto_ack = False
        c.send(R.DEFAULT, b'ack me', R.RELIABLE | R.ENCRYPTED)
        raws = []
        end = time.monotonic() + 3
        while time.monotonic() < end:
            r = c.recv_raw(0.2)
            if r is not None:
                raws.append(r)
        data = [r for r in raws if R.Header(r).type == R.DEFAULT]
        self.assertEqual(len(data), 4, 'one send and three retransmissions')
        self.assertEqual(len(set(data)), 1, 'retransmissions are the same datagram')
        err = [c.decode(r) for r in raws if R.Header(r).type == R.ERROR]
        self.assertEqual([(m.code >> 4, m.code & 15) for m in err], [(2, 0)])
        t = self.rudp()
        self.assertEqual((t['retransmitted'], t['retransmit_closed'], t['connections']), (3, 1, 0))

    def test_acknowledged_echo_is_not_sent_again(self):
        c = self.connected()
        echoes, _ = c.exchange_reliably([b'one', b'two'])
        self.assertEqual(sorted(echoes), [b'one', b'two'])
        time.sleep(0.5)
        self.assertEqual(c.drain(0.2), [])
        t = self.rudp()
        self.assertEqual((t['retransmitted'], t['acked'], t['unacked']), (0, 2, 0))


class RudpHeartbeatTimeoutTest(RudpCase):
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-timeout', '1']}

    def test_a_connection_that_misses_its_heartbeats_is_closed(self):
        beating = self.connected(self.eng.client_ips[0])
        silent = self.connected(self.eng.client_ips[1])
        self.assertTrue(wait_for(lambda: self.rudp()['connections'] == 2, 2.0))
        # PINGs every 0.25 s keep one open for three timeouts; the other says nothing.
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            beating.send(R.HEARTBEAT, bytes([R.PING]), R.ENCRYPTED)
            m = beating.recv(0.25)
            self.assertIsNotNone(m, 'no PONG')
            self.assertEqual((m.type, m.beat), (R.HEARTBEAT, R.PONG))
            time.sleep(0.2)
        t = self.rudp()
        self.assertEqual((t['connections'], t['expired']), (1, 1))
        ip, port = silent.sock.getsockname()
        self.assertEqual(self.eng.query('/peregrine/rudp/conn,%s:%d' % (ip, port))['open'], 0)
        # The expired connection is gone: its next datagram gets ERROR 1/0 (no connection).
        silent.send(R.DEFAULT, b'late', R.ENCRYPTED)
        self.assertEqual(self.errors(silent.drain(0.3)), [(1, 0)])


class RudpLossyLinkTest(RudpCase):
    # Ten tries: once an RTT is measured on this link the RTO falls to its 10 ms floor, and four
    # tries (150 ms in all) are less than a busy CI host can deschedule the Python client for.
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-rto', '50', '--rudp-max-tries', '10']}

    def test_lossy_link_every_reliable_message_exactly_once(self):
        c = self.connected()
        # 10 % loss and reordering with tc netem on the namespace's end of the wire when the
        # kernel has sch_netem; otherwise in the client's socket calls (Lossy).
        netem = self.eng.ns_run(['tc', 'qdisc', 'add', 'dev', self.eng.wire, 'root', 'netem', 'loss', '10%',
                                 'delay', '2ms', 'reorder', '25%'], check=False).returncode == 0
        lossy = None if netem else Lossy(c, seed=7)
        msgs = [b'%04d' % i + os.urandom(i % 7 * 400) for i in range(150)]
        echoes, resent = c.exchange_reliably(msgs, R.RELIABLE | R.ENCRYPTED | R.CHECKSUM, timeout=60)
        self.assertEqual(sorted(echoes), sorted(msgs), 'every echo, each once')
        # Our last ACKs may have been lost too: go on acknowledging the server's retransmissions
        # until it holds none of its frames (each holds an mbuf the leak check counts).
        self.assertTrue(wait_for(lambda: not c.drain(0.05) and self.rudp()['unacked'] == 0, 10.0),
                        'the server still retransmits')
        t = self.rudp()
        self.assertEqual(t['delivered'], len(msgs), 'each message delivered to the application once')
        self.assertGreater(resent, 0)
        self.assertGreater(t['retransmitted'], 0)
        self.assertGreater(t['reacked'], 0)
        if lossy:
            self.assertGreater(lossy.dropped, 20)


class Lossy:
    """10 % loss each way and reordering, in the client's socket calls, where `tc netem` cannot
    do it on the namespace's interface: sch_netem is not in every kernel (not in CI's)."""

    def __init__(self, client, seed, loss=0.1, reorder=0.1):
        import random
        self.client, self.rng, self.loss, self.reorder = client, random.Random(seed), loss, reorder
        self.held = []
        self.dropped = 0
        send, recv = client.send_raw, client.recv_raw

        def lossy_send(raw):
            if self.rng.random() < self.loss:
                self.dropped += 1
                return
            if self.rng.random() < self.reorder:
                self.held.append(raw)  # goes out after the next one
                return
            send(raw)
            while self.held:
                send(self.held.pop())

        def lossy_recv(timeout=1.0):
            end = time.monotonic() + timeout
            while True:
                r = recv(max(0.001, end - time.monotonic()))
                if r is None or self.rng.random() >= self.loss:
                    return r
                self.dropped += 1
        client.send_raw, client.recv_raw = lossy_send, lossy_recv


def make_certs(d):
    """A CA, a server and a client certificate it signs, and a self-signed client certificate
    (ECDSA P-256), written as PEM files in d."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject, key, issuer, issuer_key, ca=False):
        now = datetime.datetime.utcnow()
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        return b.sign(issuer_key, hashes.SHA256())

    def write(fn, data):
        path = os.path.join(d, fn)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def pem_key(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    out = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert('peregrine test CA', ca_key, 'peregrine test CA', ca_key, ca=True)
    out['ca_obj'] = ca
    out['ca'] = write('ca.pem', ca.public_bytes(serialization.Encoding.PEM))
    for who, issuer, ikey in (('server', 'peregrine test CA', ca_key), ('client', 'peregrine test CA', ca_key),
                              ('rogue', 'rogue', None)):
        k = ec.generate_private_key(ec.SECP256R1())
        c = cert(who, k, issuer, ikey or k)
        out[who] = write(who + '.pem', c.public_bytes(serialization.Encoding.PEM))
        out[who + '_key'] = write(who + '.key', pem_key(k))
    return out


class RudpCertificateTest(RudpCase):

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix='pgcert-')
        self.certs = make_certs(self.dir)
        c = self.certs
        self.ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-cert', c['server'], '--rudp-key',
                                    c['server_key'], '--rudp-client-ca', c['ca']]}
        super().setUp()

    def tearDown(self):
        super().tearDown()
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def pem(self, name):
        with open(self.certs[name], 'rb') as f:
            return f.read()

    def test_certificates_both_ways(self):
        t = self.rudp()
        self.assertEqual((t['certificate'], t['client_ca']), (1, 1))
        # A client with a certificate the CA signed; it checks the server's against the same CA.
        c = self.client(cert_pem=self.pem('client'), key_pem=self.pem('client_key'), server_ca=self.certs['ca_obj'])
        c.connect()
        self.assertEqual(c.server_cert.subject.rfc4514_string(), 'CN=server')
        c.send(R.DEFAULT, b'authenticated', R.ENCRYPTED)
        self.assertEqual([m.data for m in c.drain(0.3)], [b'authenticated'])
        # No certificate: ERROR 1/2 at once.
        with self.assertRaisesRegex(R.RudpError, 'ERROR 1/2'):
            self.client().connect()
        # A certificate the CA did not sign: ERROR 1/2 when its finished comes.
        rogue = self.client(cert_pem=self.pem('rogue'), key_pem=self.pem('rogue_key'))
        with self.assertRaisesRegex(R.RudpError, 'ERROR 1/2'):
            rogue.connect()
        # The CA's certificate with a key that is not its own: its signature fails, ERROR 1/2.
        thief = self.client(cert_pem=self.pem('client'), key_pem=self.pem('rogue_key'))
        with self.assertRaisesRegex(R.RudpError, 'ERROR 1/2'):
            thief.connect()
        t = self.rudp()
        self.assertEqual((t['connections'], t['handshake_bad_cert'], t['error_1_2']), (1, 3, 3))


class RudpAmplificationTest(RudpCase):

    def test_unvalidated_sources_never_get_more_bytes_than_they_sent(self):
        """A source that never finishes a handshake (spoofed, as far as the server can tell)
        sends every kind of datagram; what comes back is summed against what went out."""
        import random
        rng = random.Random(5)
        c = self.client()
        sent = 0
        def out(raw):
            nonlocal sent
            c.send_raw(raw)
            sent += len(raw)
        for pad in (40, 80, 150, 400, None):                  # AUTHs, short and padded
            out(c.auth_packet(pad_to=pad))
            out(c.auth_raw)                                     # and repeated
        out(c.auth_packet(flags=R.RELIABLE | R.CHECKSUM))
        out(R.pack_header(R.ACK, 0, 1) + struct.pack('>HH', 0, 0) + os.urandom(32))  # a finished for nothing
        for _ in range(200):
            out(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))))
        for t in range(5):
            out(R.pack_header(t, 0, 7) + b'x')
        got = c.drain(0.5)
        received = sum(len(m.body) + R.header_len(m.flags) for m in got)
        self.assertGreater(len(got), 0)
        self.assertLessEqual(received, sent, 'amplification %.2f' % (received / sent))
        # Datagram by datagram too: no answer longer than the datagram it answers.
        c2 = self.client()
        for raw in [c2.auth_packet(pad_to=60), c2.auth_packet(pad_to=80), c2.auth_packet(),
                    R.pack_header(R.DEFAULT, 0, 1) + b'1', R.pack_header(R.HEARTBEAT, 0, 2) + b'\0']:
            c2.send_raw(raw)
            back = sum(len(m.body) + R.header_len(m.flags) for m in c2.drain(0.3))
            self.assertLessEqual(back, len(raw), 'answer to %r' % raw[:6])
        self.assertGreaterEqual(self.rudp()['handshake_short_auth'], 3)


class RudpDiscardTest(RudpCase):
    ENGINE_ARGS = {'app': ['--rudp-max-connections', '1024', '--rudp-app', 'discard']}

    def test_discard_delivers_and_acknowledges_only(self):
        c = self.connected()
        sent = c.send(R.DEFAULT, b'kept to itself', R.RELIABLE | R.ENCRYPTED)
        got = c.drain(0.3)
        self.assertEqual([(m.type, m.ack_id) for m in got], [(R.ACK, R.Header(sent[0]).seq)])
        c.send(R.DEFAULT, os.urandom(3000), R.ENCRYPTED)  # fragmented, unreliable: nothing back
        self.assertEqual(c.drain(0.3), [])
        t = self.rudp()
        self.assertEqual((t['app'], t['delivered'], t['echoed']), ('discard', 2, 0))


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
