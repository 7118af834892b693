#!/usr/bin/env python3
"""Start-up and shutdown: SIGTERM/SIGINT exit 0 and remove the TAPs; bad options exit 2 before
any port starts."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import peregrine_e2e as h
from peregrine_e2e import Engine, EngineTestCase, main, wait_for
from test_session import PING, PONG, REJECT, SESSION_PORT, SessionClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools'))
import rudp_client as R  # noqa: E402


class ShutdownTest(EngineTestCase):
    CHECK_LEAK = False

    def test_sigterm_under_traffic(self):
        # SIGTERM while clients are registered and a message is in flight: still exit 0.
        eng = self.eng
        a, b = eng.client(eng.client_ips[0]), eng.client(eng.client_ips[1])
        self.register(a, 1)
        self.register(b, 2)
        for i in range(200):
            a.send(h.pkt_message(2, b'%d' % i))
        self.assertTrue(os.path.exists('/sys/class/net/' + eng.tap))
        # tearDown sends SIGTERM and asserts exit code 0 and that both TAPs are gone.

    def test_sigint(self):
        eng = self.eng
        self.assertTrue(h.iface_exists(eng.tap))
        eng.tel.close()
        rc = eng.stop(signal.SIGINT)
        self.assertEqual(rc, 0, 'exit code after SIGINT')
        self.assertFalse(h.iface_exists(eng.tap), 'exception TAP still there after SIGINT')
        self.assertIn('signal 2: stopping', eng.stderr())

    def assert_clean_exit(self, eng):
        if eng.rc is None:
            super().assert_clean_exit(eng)


class ShutdownUnderLoadTest(EngineTestCase):
    CHECK_LEAK = False  # the engine is stopped by the test; its own exit line reports mbufs

    def test_sigterm_under_load_tells_everyone_and_returns_every_mbuf(self):
        eng = self.eng
        sessions = []
        for i in range(3):
            c = SessionClient(eng.udp_socket(eng.client_ips[i % 2]), (eng.ip, SESSION_PORT), bytes([70 + i]) * 16)
            self.assertEqual(c.request(c.hello()).type, 2, 'ACCEPT')
            self.assertEqual(c.request(c.packet(PING)).type, PONG, 'the PING that proves the session')
            sessions.append(c)
        conns = []
        for i in range(3):
            c = R.RudpClient(eng.udp_socket(eng.client_ips[i % 2]), (eng.ip, 7400))
            c.connect()
            conns.append(c)
        self.assertTrue(wait_for(lambda: eng.query('/peregrine/rudp')['connections'] == 3, 2.0))
        a, b = eng.client(eng.client_ips[0]), eng.client(eng.client_ips[1])
        self.register(a, 0x51)
        self.register(b, 0x52)

        # Load: router messages and RUDP data from threads, as fast as Python sends them.
        stop = threading.Event()
        sent = [0, 0]
        def router_load():
            s = eng.udp_socket(eng.client_ips[0])
            msg = h.pkt_message(0x52, b'x' * 200)
            while not stop.is_set():
                try:
                    s.sendto(msg, (eng.ip, 7100))
                    sent[0] += 1
                except OSError:
                    pass
        loaded_rx = []  # what the loaded connection received meanwhile (echoes, then its ERROR)
        def rudp_load():
            c = conns[0]
            while not stop.is_set():
                try:
                    c.send(R.DEFAULT, b'y' * 300, R.ENCRYPTED | R.CHECKSUM)
                    sent[1] += 1
                    while True:
                        loaded_rx.append(c.sock.recv(2048, socket.MSG_DONTWAIT))
                except (BlockingIOError, OSError):
                    pass
        threads = [threading.Thread(target=router_load), threading.Thread(target=rudp_load)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            self.assertGreater(sent[0], 1000)
            eng.tel.close()
            t0 = time.monotonic()
            rc = eng.stop(signal.SIGTERM, timeout=10)
            took = time.monotonic() - t0
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(rc, 0, 'exit code after SIGTERM under load')
        self.assertLess(took, 2.0, 'exit within 2 s of SIGTERM')
        for c in sessions:
            got = [r.type for r in c.drain(0.3)]
            self.assertIn(REJECT, got, 'a session not told at shutdown')
        for c in conns:
            codes = [c.decode(raw).code for raw in (loaded_rx if c is conns[0] else [])
                     if R.Header(raw).type == R.ERROR]
            while True:
                m = c.recv(0.3)
                if m is None:
                    break
                if m.type == R.ERROR:
                    codes.append(m.code)
            self.assertIn(0x21, codes, 'an RUDP connection not sent ERROR 2/1 at shutdown')
        err = eng.stderr()
        self.assertIn('sent REJECT to 3 of 3 session(s)', err)
        self.assertIn('sent SERVER DISCONNECT to 3 of 3 RUDP connection(s)', err)
        self.assertRegex(err, r'all \d+ mbufs returned')
        self.assertNotIn('mbuf leak', err)
        self.assertFalse(h.iface_exists(eng.tap), 'exception TAP still there')
        self.assertFalse(h.iface_exists(eng.wire, eng.netns), 'wire TAP still there')

    def assert_clean_exit(self, eng):
        if eng.rc is None:
            super().assert_clean_exit(eng)


class BadOptionTest(unittest.TestCase):
    """Options are refused with exit code 2 and a message naming the option, before the EAL
    starts (no runtime directory, no TAP)."""

    def attempt(self, app_args, eal=None):
        eng = Engine(app=app_args, eal=eal)
        self.addCleanup(eng.destroy)
        cmd = eng.command()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=20)
        except subprocess.TimeoutExpired as e:
            self.fail('peregrine accepted %r and was still running after 20 s (killed)\ncommand: %s\nstdout: %s' %
                      (app_args, ' '.join(cmd), e.stdout))
        return eng, p, time.monotonic() - t0

    def check_refused(self, app_args, must_name, before_eal=True, eal=None):
        eng, p, _ = self.attempt(app_args, eal)
        ctx = '\ncommand: %s\nstdout: %s\nstderr: %s' % (' '.join(eng.command()), p.stdout, p.stderr)
        self.assertEqual(p.returncode, 2, 'exit code for %r' % app_args + ctx)
        self.assertIn(must_name, p.stderr, 'the error message must name the option' + ctx)
        self.assertNotIn('ready', p.stdout, ctx)
        self.assertFalse(h.iface_exists(eng.tap), 'exception TAP %s exists' % eng.tap + ctx)
        self.assertFalse(h.iface_exists(eng.wire), 'wire TAP %s exists' % eng.wire + ctx)
        if before_eal:
            self.assertNotIn('EAL:', p.stderr, 'the EAL started before the option was refused' + ctx)
            self.assertFalse(os.path.exists(os.path.join(h.RUNTIME_DIR, eng.prefix)),
                             'the EAL created its runtime directory before the option was refused' + ctx)
        else:
            self.assertNotIn('exception path through TAP', p.stderr, ctx)
        return p

    def test_router_port_zero(self):
        p = self.check_refused(['--router-port', '0'], '--router-port')
        self.assertIn('[1, 65535]', p.stderr)

    def test_other_bad_values(self):
        cases = [
            (['--router-port', '65536'], '--router-port'),
            (['--router-port', 'abc'], '--router-port'),
            (['--heartbeat-timeout', '0'], '--heartbeat-timeout'),
            (['--max-clients', '-1'], '--max-clients'),
            (['--stats-interval', '1x'], '--stats-interval'),
            (['--config', '(0,0'], '--config'),
            (['--addr', '0:300.1.1.1/24'], '--addr'),
            (['--router-port', '7200'], '7200'),  # clashes with the default --lb-port
            (['--bogus'], '--bogus'),
        ]
        for args, name in cases:
            with self.subTest(args=args):
                self.check_refused(args, name)

    def test_config_on_main_lcore(self):
        # Needs the EAL to know the lcores, but is still refused before any port starts.
        self.check_refused(['--config', '(0,0,0)'], '--config', before_eal=False)

    def test_help(self):
        p = subprocess.run([h.exe_path(), '--', '--help'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        for opt in ('--router-port', '--heartbeat-timeout', '--config', '--addr', '--stats-interval'):
            self.assertIn(opt, p.stdout)


if __name__ == '__main__':
    main()
