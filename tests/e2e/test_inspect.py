#!/usr/bin/env python3
"""Payload inspection end to end (docs/inspection.md): the real engine with --inspect-rules on
a net_tap wire; router, session and RUDP clients in the namespace (Python standard library and
tools/rudp_client.py) send payloads that match a drop rule, a count rule, or neither; reloads by
SIGHUP and by telemetry change what is dropped while traffic runs."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import peregrine_e2e as h
from peregrine_e2e import Engine, EngineTestCase, main, pkt_message, pkt_register, wait_for
from test_session import DATA_ACK, ACK, SESSION_PORT, SessionClient

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools'))
import rudp_client as R  # noqa: E402

RULES = """# the test's rules
1:/forbidden/ drop
2:/watch(ed)?/i count
3:/^\\x7fELF/ drop
"""


class InspectCase(EngineTestCase):
    RULES = RULES
    EXTRA = []

    def setUp(self):
        fd, self.rules = tempfile.mkstemp(prefix='pgrules-', suffix='.txt')
        os.close(fd)
        self.addCleanup(os.remove, self.rules)
        self.write(self.RULES)
        self.ENGINE_ARGS = {'app': ['--inspect-rules', self.rules, '--rudp-max-connections', '1024'] + self.EXTRA}
        super().setUp()

    def write(self, text):
        with open(self.rules, 'w') as f:
            f.write(text)

    def inspect(self):
        return self.eng.query('/peregrine/inspect')

    def rule_matches(self):
        return {int(k): v for k, v in self.eng.query('/peregrine/inspect/rules')['matches'].items()}

    def routed_pair(self):
        a, b = self.eng.client(), self.eng.client()
        self.register(a, 1)
        self.register(b, 2)
        return a, b

    def deliver(self, a, b, payloads, wait=0.5):
        """Sends each payload from a to Client ID 2 (b); returns the payloads b received."""
        for p in payloads:
            a.send(pkt_message(2, p))
        return [d[5:] for d in b.drain(wait)]


class RouterInspectTest(InspectCase):

    def test_a_drop_rule_stops_a_message_and_counts_it(self):
        a, b = self.routed_pair()
        sent = [b'hello', b'a forbidden word', b'WATCHED but fine', b'\x7fELF\x02\x01', b'not \x7fELF at start']
        got = self.deliver(a, b, sent)
        self.assertEqual(got, [b'hello', b'WATCHED but fine', b'not \x7fELF at start'])
        t = self.inspect()
        self.assertEqual((t['rules'], t['generation'], t['last_reload_ok']), (3, 1, 1))
        self.assertEqual(t['router']['scanned'], 5)
        self.assertEqual(t['router']['dropped'], 2)
        self.assertEqual(t['router']['matched'], 3)
        self.assertEqual(self.rule_matches(), {1: 1, 2: 1, 3: 1})
        self.assertEqual(self.eng.drops()['router_inspect_drop'], 2)
        self.assertEqual(self.eng.router()['message_forwarded'], 3)

    def test_reload_by_sighup_and_telemetry_loses_nothing_that_matches_neither(self):
        a, b = self.routed_pair()
        # Traffic that matches neither set runs through every reload: none of it may be lost.
        clean = [b'clean %d' % i for i in range(300)]
        got = []
        for i, p in enumerate(clean):
            if i == 200:
                self.assertTrue(wait_for(lambda: self.inspect()['generation'] == 2, 5.0), 'SIGHUP reloaded')
            a.send(pkt_message(2, p))
            if i == 100:
                self.write('7:/clean 2[0-9][0-9]$/ drop\n8:/forbidden/ count\n')
                self.eng.proc.send_signal(signal.SIGHUP)
            if i % 20 == 0:
                got += [d[5:] for d in b.drain(0.01)]
        got += [d[5:] for d in b.drain(0.5)]
        self.assertEqual(got, [p for p in clean if not p.startswith(b'clean 2') or len(p) != 9],
                         'after the SIGHUP, rule 7 drops "clean 2xx" and nothing else is lost')
        self.assertEqual(self.deliver(a, b, [b'forbidden now counted']), [b'forbidden now counted'])

        # Through telemetry, with messages in flight across the swap.
        self.write('9:/other/ drop\n')
        for i in range(50):
            a.send(pkt_message(2, b'clean %d' % (200 + i)))
        r = self.eng.query('/peregrine/inspect/reload')
        self.assertEqual((r['ok'], r['generation'], r['rules']), (1, 3, 1))
        for i in range(50):
            a.send(pkt_message(2, b'clean %d' % (250 + i)))
        got = [d[5:] for d in b.drain(0.5)]
        self.assertEqual(got[-50:], [b'clean %d' % (250 + i) for i in range(50)], 'rule 7 is gone')
        self.assertEqual(self.deliver(a, b, [b'other', b'forbidden']), [b'forbidden'])
        m = self.rule_matches()
        self.assertEqual(m[8], 1, 'a rule of an earlier set keeps its total')
        self.assertGreaterEqual(m[7], 99)

    def test_a_bad_file_on_reload_leaves_the_old_rules_running(self):
        a, b = self.routed_pair()
        self.write('1:/forbidden/ drop\n2:/(unclosed/ drop\n')
        r = self.eng.query('/peregrine/inspect/reload')
        self.assertEqual(r['ok'], 0)
        self.assertIn('line 2: rule 2:', r['last_reload_error'])
        self.write('1:/forbidden/ drop\nthis is not a rule\n')
        self.eng.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: self.inspect()['reload_failures'] == 2, 5.0))
        t = self.inspect()
        self.assertEqual((t['generation'], t['rules'], t['last_reload_ok']), (1, 3, 0))
        self.assertIn('line 2: expected ID:/regex/flags', t['last_reload_error'])
        self.assertEqual(self.deliver(a, b, [b'forbidden', b'ok', b'\x7fELF']), [b'ok'], 'the first rules still run')
        self.assertIn('inspection reload failed', self.eng.context(60))


class SessionInspectTest(InspectCase):

    def test_a_drop_rule_stops_data_before_the_application_and_no_ack_is_sent(self):
        c = SessionClient(self.eng.udp_socket(), (self.eng.ip, SESSION_PORT), b'\x01' * 16)
        r = c.request(c.hello())
        self.assertIsNotNone(r, 'no ACCEPT')
        # The default echo application answers DATA_ACK with an ACK and the data back.
        c.send(c.packet(DATA_ACK, b'plain data'))
        got = sorted((x.type, x.payload[:20]) for x in c.drain(0.4))
        self.assertEqual(len(got), 2, got)
        self.assertIn(ACK, [t for t, _ in got])
        c.send(c.packet(DATA_ACK, b'something forbidden'))
        self.assertEqual(c.drain(0.4), [], 'dropped: no ACK, no echo')
        c.send(c.packet(DATA_ACK, b'\x7fELF...'))
        self.assertEqual(c.drain(0.4), [])
        c.send(c.packet(DATA_ACK, b'still WATCHED'))
        self.assertEqual(len(c.drain(0.4)), 2, 'a count rule only counts')
        t = self.inspect()['session']
        self.assertEqual((t['scanned'], t['matched'], t['dropped']), (4, 3, 2))
        self.assertEqual(self.eng.drops()['session_inspect_drop'], 2)
        self.assertEqual(self.eng.query('/peregrine/session')['delivered'], 2)


class RudpInspectTest(InspectCase):

    def client(self):
        return R.RudpClient(self.eng.udp_socket(), (self.eng.ip, 7400))

    def test_a_drop_rule_refuses_a_message_which_is_never_acknowledged(self):
        c = self.client()
        c.connect()
        c.send(R.DEFAULT, b'fine', R.ENCRYPTED)
        self.assertEqual([m.data for m in c.drain(0.3)], [b'fine'])
        # RELIABLE and refused: no echo, no ACK, and the same datagram sent again is refused
        # again (its number never entered the window, so the duplicate is no ACK either).
        c.auto_ack = True
        d = c.build(R.DEFAULT, b'a forbidden thing', R.ENCRYPTED | R.RELIABLE | R.CHECKSUM | R.COMPRESSED,
                    force_compress=True)
        self.assertEqual(len(d), 1)
        for _ in range(3):
            c.send_raw(d[0])
            self.assertEqual(c.drain(0.3), [], 'refused: nothing comes back')
        # A fragmented message is inspected whole, after reassembly, decryption and inflation.
        big = os.urandom(1500) + b'forbidden' + os.urandom(1500)
        for x in c.build(R.DEFAULT, big, R.ENCRYPTED | R.RELIABLE):
            c.send_raw(x)
        msgs = c.drain(0.4)
        self.assertEqual([m for m in msgs if m.type == R.DEFAULT], [])
        ok = os.urandom(3000)
        echoes, _ = c.exchange_reliably([ok], R.ENCRYPTED | R.CHECKSUM)
        self.assertEqual(echoes, [ok], 'the connection still works')
        t = self.inspect()['rudp']
        self.assertEqual(t['dropped'], 4)
        self.assertEqual(self.eng.drops()['rudp_inspect_drop'], 4)
        self.assertGreaterEqual(t['scanned'], 6)


class InspectOnlyTest(InspectCase):
    EXTRA = ['--inspect', 'session']

    def test_inspect_names_the_modules_that_inspect(self):
        a, b = self.routed_pair()
        self.assertEqual(self.deliver(a, b, [b'forbidden']), [b'forbidden'], 'the router is not inspected')
        t = self.inspect()
        self.assertNotIn('router', t)
        self.assertIn('session', t)


class InspectOptionTest(unittest.TestCase):
    """A rules file that does not compile is refused before the EAL starts, with its line and
    Hyperscan's message."""

    def test_bad_rules_are_refused_at_start(self):
        fd, path = tempfile.mkstemp(prefix='pgrules-')
        os.close(fd)
        self.addCleanup(os.remove, path)
        for text, want in (('1:/ok/\n\n3:/a{2,1}/ drop\n', 'line 3: rule 3:'),
                           ('1:/ok/ reject\n', "line 1: unknown action 'reject'")):
            with open(path, 'w') as f:
                f.write(text)
            eng = Engine(app=['--inspect-rules', path])
            self.addCleanup(eng.destroy)
            p = subprocess.run(eng.command(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn('--inspect-rules: %s: %s' % (path, want), p.stderr)
            self.assertNotIn('EAL:', p.stderr)
        eng = Engine(app=['--inspect-rules', path, '--inspect', 'router,nosuch'])
        self.addCleanup(eng.destroy)
        with open(path, 'w') as f:
            f.write('1:/ok/\n')
        p = subprocess.run(eng.command(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--inspect: no running module inspects 'nosuch'", p.stderr)


if __name__ == '__main__':
    main()
