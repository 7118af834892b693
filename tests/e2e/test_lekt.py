#!/usr/bin/env python3
"""LEKT rendezvous end to end: kernel TCP clients in the namespace reach the engine's address
through the wire vdev and the TAP exception path; the control lcore serves them.

Join and see each other, leave, time out, two clients behind one IP, malformed handshakes refused
with a readable reason, a stalled half packet dropped while the others carry on, the per-IP and
total caps, and 1,000 concurrent heartbeating clients while the router keeps forwarding."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

from peregrine_e2e import EngineTestCase, main, pkt_message, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, '..', '..', 'tools')
sys.path.insert(0, TOOLS)
import lekt_client as lk  # noqa: E402

LEKT_PORT = 7500


class LektCase(EngineTestCase):
    ENGINE_ARGS = {'app': ['--lekt-heartbeat-timeout', '2', '--lekt-handshake-timeout', '2']}

    def connect(self, ip_index=0):
        s = self.eng.tcp_socket()
        s.settimeout(5)
        s.bind((self.eng.client_ips[ip_index], 0))
        s.connect((self.eng.ip, LEKT_PORT))
        return s

    def client(self, ip_index=0, methods=None):
        c = lk.LektClient(self.connect(ip_index))
        c.join(methods if methods is not None else {1: lk.info_udp('0.0.0.0', 5000 + ip_index)})
        return c

    def lekt(self):
        return self.eng.query('/peregrine/lekt')

    def read_reject(self, s, timeout=5.0):
        """Reads until the server closes; returns the reject reason (None if there was none)."""
        s.settimeout(timeout)
        buf = bytearray()
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        i = buf.find(b'LEKTR')
        if i < 0:
            return None
        end = buf.find(b'\0', i + 8)
        self.assertGreater(end, 0, 'reject reason not NUL-terminated: %r' % bytes(buf))
        return bytes(buf[i + 8:end]).decode()

    def beat_until(self, c, pred, timeout=5.0, every=0.2):
        """Heartbeats c until pred(c) holds; returns every change seen."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            seen += c.heartbeat()
            if pred(c) or time.monotonic() > deadline:
                return seen
            time.sleep(every)


class LektMembershipTest(LektCase):
    def test_join_see_leave_timeout(self):
        eng = self.eng
        ip0, ip1, ip2 = eng.client_ips
        a = self.client(0, {1: lk.info_udp('0.0.0.0', 5000), 2: lk.info_relay(42, 7100)})
        self.assertEqual(a.requested, [1, 2], 'server must request exactly the announced methods, in order')
        first = a.heartbeat()
        self.assertEqual(first[0], ('reset',), 'the first answer is a snapshot: it starts with a reset')
        self.assertEqual(a.members, [(ip0, {1: lk.info_udp(ip0, 5000), 2: lk.info_relay(42, 7100)})],
                         '0.0.0.0 must become the address the server sees; relay data unchanged')

        key = bytes(range(16))
        b = self.client(1, {3: lk.info_session('0.0.0.0', 6000, key)})
        self.assertEqual(b.requested, [3])
        b.heartbeat()
        self.assertEqual(b.member_ips(), [ip0, ip1])
        changes = a.heartbeat()
        self.assertEqual(changes, [('+', ip1, {3: lk.info_session(ip1, 6000, key)})], 'A learns of B, only B')
        self.assertEqual(a.heartbeat(), [], 'nothing changed: an empty answer')

        t = self.lekt()
        self.assertEqual((t['connections'], t['members']), (2, 2), t)
        mem = eng.query('/peregrine/lekt/members')
        self.assertEqual(mem['total'], 2)
        self.assertEqual(sorted(m.split(':')[0] for m in mem['members']), [ip0, ip1], mem)
        self.assertTrue(any(m.endswith('methods 1,2') for m in mem['members']), mem)

        # B leaves (closes its socket): A is told.
        b.close()
        seen = self.beat_until(a, lambda c: c.member_ips() == [ip0])
        self.assertIn(('-', ip1), seen)

        # C joins and stops heartbeating: removed after the 2 s heartbeat timeout, told why.
        c = self.client(2)
        self.beat_until(a, lambda x: ip2 in x.member_ips())
        t0 = time.monotonic()
        seen = self.beat_until(a, lambda x: ip2 not in x.member_ips(), timeout=6, every=0.3)
        self.assertIn(('-', ip2), seen)
        self.assertGreater(time.monotonic() - t0, 1.0, 'removed before its heartbeat timeout')
        self.assertEqual(self.read_reject(c.sock), 'no heartbeat in time')
        t = self.lekt()
        self.assertEqual(t['rejects']['heartbeat_timeout'], 1, t)
        self.assertGreaterEqual(t['disconnects'], 1, t)
        self.assertEqual(t['members'], 1, t)
        self.assertGreater(t['heartbeats'], 5, t)
        a.close()
        wait_for(lambda: self.lekt()['connections'] == 0, 3)
        self.assertEqual(self.lekt()['members'], 0)

    def test_two_clients_behind_one_ip(self):
        # 'R' names an IP: when one of two members at that IP leaves, the other is re-announced.
        ip0, ip1 = self.eng.client_ips[:2]
        x1 = self.client(0, {1: lk.info_udp('0.0.0.0', 5001)})
        x2 = self.client(0, {1: lk.info_udp('0.0.0.0', 5002)})
        w = self.client(1)
        w.heartbeat()
        self.assertEqual(w.member_ips(), [ip0, ip0, ip1])
        x2.close()
        seen = self.beat_until(w, lambda c: len(c.members) == 2)
        self.assertIn(('-', ip0), seen)
        self.assertEqual(seen[-1], ('+', ip0, {1: lk.info_udp(ip0, 5001)}), 'the member still at ip0 is re-announced')
        self.assertEqual(sorted((m[0], m[1][1]) for m in w.members),
                         [(ip0, lk.info_udp(ip0, 5001)), (ip1, lk.info_udp(ip1, 5001))])
        x1.heartbeat()
        w.close()
        x1.close()


class LektDefenceTest(LektCase):
    ENGINE_ARGS = {'app': ['--lekt-heartbeat-timeout', '3', '--lekt-handshake-timeout', '2',
                           '--lekt-max-per-ip', '2', '--lekt-max-clients', '4']}

    def rejected(self, data, ip_index=2):
        s = self.connect(ip_index)
        s.sendall(data)
        reason = self.read_reject(s)
        s.close()
        return reason

    def test_malformed_rejected_with_reason(self):
        cases = [
            (b'GET / HTTP/1.1\r\n\r\n', 'bad_magic', 'magic'),
            (lk.pkt_handshake([1], major=2), 'bad_version', 'major version'),
            (lk.pkt_handshake([], method_count=100000, words=[]), 'too_many_methods', 'method count'),
            (lk.pkt_handshake([], method_count=3, words=[0x10]), 'bad_bitfield', 'bitfield'),
            (lk.header(b'T') + b'\0\0\0\1', 'bad_type', 'unexpected packet type'),
        ]
        before = self.lekt()['rejects']
        for data, name, text in cases:
            reason = self.rejected(data)
            self.assertIsNotNone(reason, 'no Reject for %r' % data)
            self.assertIn(text, reason, 'reason for %r' % data)
        # A response for another method than the one requested.
        s = self.connect(2)
        c = lk.LektClient(s)
        s.sendall(lk.pkt_handshake([1]))
        self.assertEqual(c._next()[0], 'accept')
        self.assertEqual(c._next(), ('request', 1))
        s.sendall(lk.pkt_response(4, bytes(38)))
        self.assertEqual(c._next(), ('reject', 'response for a method that was not requested'))
        after = self.lekt()['rejects']
        for _, name, _ in cases:
            self.assertEqual(after[name] - before[name], 1, 'rejects.%s: %r' % (name, after))
        self.assertEqual(after['wrong_method'] - before['wrong_method'], 1)
        self.assertEqual(self.lekt()['members'], 0)

    def test_stalled_half_packet_dropped_others_continue(self):
        ip0, ip1 = self.eng.client_ips[:2]
        a = self.client(0)
        stall = self.client(1)
        a.heartbeat()
        stall.heartbeat()
        stall.sock.sendall(lk.pkt_heartbeat()[:10])  # half a heartbeat, then nothing
        t0 = time.monotonic()
        worst = 0.0
        while ip1 in a.member_ips() and time.monotonic() - t0 < 6:
            t = time.monotonic()
            a.heartbeat(timeout=2)
            worst = max(worst, time.monotonic() - t)
            time.sleep(0.2)
        self.assertNotIn(ip1, a.member_ips(), 'stalled client still a member after 6 s')
        self.assertLess(worst, 1.0, 'a healthy client waited %.2f s for an answer while another stalled' % worst)
        self.assertEqual(self.read_reject(stall.sock), 'partial packet not completed in time')
        self.assertEqual(self.lekt()['rejects']['stalled'], 1)
        # A half handshake that never completes is refused too.
        s = self.connect(1)
        s.sendall(lk.pkt_handshake([1])[:6])
        self.assertIn(self.read_reject(s), ('handshake and setup not finished in time', 'partial packet not completed in time'))
        a.heartbeat()
        a.close()

    def test_caps(self):
        a1 = self.client(0)
        a2 = self.client(0)
        with self.assertRaises(lk.Rejected) as e:
            self.client(0)
        self.assertEqual(e.exception.reason, 'too many connections from this address')
        b1 = self.client(1)
        b2 = self.client(1)
        with self.assertRaises(lk.Rejected) as e:
            self.client(2)
        self.assertEqual(e.exception.reason, 'server full')
        t = self.lekt()
        self.assertEqual((t['rejects']['ip_full'], t['rejects']['server_full'], t['connections']), (1, 1, 4), t)
        a1.close()
        wait_for(lambda: self.lekt()['connections'] == 3, 3)
        c = self.client(2)  # room again
        c.heartbeat()
        self.assertEqual(len(c.members), 4)
        for x in (a2, b1, b2, c):
            x.close()


class LektSynRateTest(LektCase):
    ENGINE_ARGS = {'app': ['--syn-rate', '5']}

    def test_a_syn_flood_from_one_source_is_limited_and_others_connect(self):
        import select
        socks = []
        for _ in range(40):  # one source opens 40 connections at once: bursts of 2 x 5 pass
            s = self.eng.tcp_socket()
            s.setblocking(False)
            s.bind((self.eng.client_ips[0], 0))
            s.connect_ex((self.eng.ip, LEKT_PORT))
            socks.append(s)
        connected, pending = [], list(socks)
        deadline = time.monotonic() + 0.5
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
            for s in writable:
                pending.remove(s)
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected.append(s)
        self.assertGreaterEqual(len(connected), 5)
        self.assertLessEqual(len(connected), 15, 'at most the burst (and a few refills) within 0.5 s')
        self.assertGreater(self.eng.drops()['syn_rate_limited'], 0)
        # Another source is not held up by the first one's flood.
        c = self.client(1)
        self.assertIsNotNone(c)
        for s in socks:
            s.close()


class KernelSideFaultsTest(LektCase):
    """The kernel side fails under the engine: LEKT clients die mid-handshake (RST after half a
    Join), and the exception TAP goes down and up. The fast path keeps answering throughout,
    and LEKT serves again afterwards."""

    def test_fast_path_serves_while_the_kernel_side_fails(self):
        import struct as st
        eng = self.eng
        r = eng.client(eng.client_ips[1])
        self.register(r, 0x7001)
        stop = threading.Event()
        answered = [0, 0]  # heartbeats sent, answered
        def beat():
            while not stop.is_set():
                answered[0] += 1
                if r.request(bytes([4]), timeout=0.5) == bytes([5]):
                    answered[1] += 1
        t = threading.Thread(target=beat)
        t.start()
        try:
            # 40 LEKT clients send half a Join and reset the connection.
            for k in range(40):
                s = self.connect(k % 2)
                s.sendall(b'LEKT\x01\x00'[:3 + k % 3])
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, st.pack('ii', 1, 0))
                s.close()  # RST
            # The exception TAP goes down and comes back.
            subprocess.run(['ip', 'link', 'set', eng.tap, 'down'], check=True)
            time.sleep(0.5)
            subprocess.run(['ip', 'link', 'set', eng.tap, 'up'], check=True)
            time.sleep(0.5)
        finally:
            stop.set()
            t.join()
        self.assertGreater(answered[0], 20)
        self.assertEqual(answered[1], answered[0], 'heartbeats lost while the kernel side failed')
        self.assertTrue(eng.alive())
        c = self.client(0)  # LEKT serves a whole Join again
        self.assertTrue(wait_for(lambda: self.lekt()['members'] >= 1, 3.0))
        c.sock.close()


class LektLoadTest(LektCase):
    ENGINE_ARGS = {'app': ['--lekt-max-per-ip', '1000', '--lekt-heartbeat-timeout', '10']}

    def test_1000_clients_while_router_forwards(self):
        eng = self.eng
        clients = 1000
        r1, r2 = eng.client(eng.client_ips[0]), eng.client(eng.client_ips[1])
        self.register(r1, 0x1001)
        self.register(r2, 0x1002)
        before = eng.router()
        cmd = ['ip', 'netns', 'exec', eng.netns, sys.executable, os.path.join(TOOLS, 'lekt_client.py'),
               '--server', eng.ip, 'load', '--clients', str(clients), '--duration', '4', '--warmup', '1',
               '--source', ','.join(eng.client_ips), '--timeout', '40', '--json']
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The router keeps forwarding while LEKT is loaded.
        delivered = 0
        sent = 0
        peak_members = 0
        while p.poll() is None:
            r1.send(pkt_message(0x1002, b'during-lekt-load'))
            sent += 1
            if r2.recv(0.5) == pkt_message(0x1002, b'during-lekt-load'):
                delivered += 1
            peak_members = max(peak_members, self.lekt()['members'])
            time.sleep(0.05)
        out, err = p.communicate()
        self.assertEqual(p.returncode, 0, 'load failed:\n%s\n%s' % (out, err))
        res = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(res['joined'], clients, res)
        # 4 s at one heartbeat per second each: at least two full rounds even on a loaded machine.
        self.assertGreaterEqual(res['heartbeats_answered'], clients * 2, res)
        self.assertEqual(res['heartbeats_answered'], res['heartbeats_sent'], 'every heartbeat answered: %r' % res)
        self.assertEqual(peak_members, clients, 'telemetry members at peak')
        after = eng.router()
        self.assertGreater(sent, 20)
        self.assertGreaterEqual(delivered, sent * 0.95, 'router delivered %d of %d during LEKT load' % (delivered, sent))
        self.assertGreaterEqual(after['message_forwarded'] - before['message_forwarded'], delivered)
        t = self.lekt()
        self.assertEqual(t['rejects_total'], 0, t)
        sys.stderr.write('\nLEKT load: %s\n' % out.strip().splitlines()[-2])


if __name__ == '__main__':
    main()
