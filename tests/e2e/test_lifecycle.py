#!/usr/bin/env python3
"""Start-up and shutdown: SIGTERM/SIGINT exit 0 and remove the TAPs; bad options exit 2 before
any port starts."""

import os
import signal
import subprocess
import time
import unittest

import peregrine_e2e as h
from peregrine_e2e import Engine, EngineTestCase, main


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
