#!/usr/bin/env python3
"""Router protocol end to end: register, heartbeat, forwarding, Unknown Recipient, moves, telemetry."""

import os
import signal
import socket
import statistics
import time
import unittest

from peregrine_e2e import (Engine, EngineTestCase, MAX_PAYLOAD, PKT_HEARTBEAT, PKT_REGISTER_RESPONSE, main,
                           pkt_message, pkt_register, pkt_unknown, wait_for)


class RouterTest(EngineTestCase):

    def test_register_and_heartbeat(self):
        c = self.eng.client()
        before = self.eng.router()
        self.register(c, 0x0A0B0C0D)
        self.heartbeat_ok(c, 'after registering')
        self.heartbeat_ok(c, '(second)')
        after = self.eng.router()
        self.assertEqual(after['clients'], before['clients'] + 1, 'telemetry clients after one registration')
        self.assertEqual(after['register_rx'] - before['register_rx'], 1, 'register_rx counter')
        self.assertEqual(after['heartbeat_answered'] - before['heartbeat_answered'], 2, 'heartbeat_answered counter')
        # Registering again from the same endpoint is a refresh: answered, still one client.
        self.register(c, 0x0A0B0C0D)
        again = self.eng.router()
        self.assertEqual(again['clients'], after['clients'], 'clients after a same-endpoint re-register')
        self.assertEqual(again['reregistered'] - after['reregistered'], 1, 'reregistered counter')

    def test_message_forwarded_unchanged(self):
        a = self.eng.client(self.eng.client_ips[0])
        b = self.eng.client(self.eng.client_ips[1])
        self.register(a, 1001)
        self.register(b, 2002)
        payloads = [b'', b'hello', bytes(range(256)) * 3, os.urandom(MAX_PAYLOAD)]
        for p in payloads:
            sent = pkt_message(2002, p)
            a.send(sent)
            got = b.recv()
            self.assertIsNotNone(got, 'message with %d-byte payload to a registered client never arrived' % len(p))
            self.assertEqual(got, sent, 'forwarded message differs from what was sent (%d-byte payload)' % len(p))
        # And the other way, to check the ID is read per message, not cached per flow.
        sent = pkt_message(1001, b'reply from b')
        b.send(sent)
        self.assertEqual(a.recv(), sent, 'message b -> a')
        self.assert_silent(a, 0.2, 'to the sender of a forwarded message')
        self.assertEqual(a.strays + b.strays, [], 'datagrams from an unexpected source')
        r = self.eng.router()
        self.assertEqual(r['message_forwarded'], len(payloads) + 1, 'message_forwarded counter')
        self.assertEqual(r['unknown_recipient'], 0, 'unknown_recipient counter')

    def test_message_from_unregistered_sender_is_forwarded(self):
        # The origin router only looks up the recipient.
        b = self.eng.client(self.eng.client_ips[1])
        self.register(b, 77)
        anon = self.eng.client(self.eng.client_ips[0])
        sent = pkt_message(77, b'anonymous')
        anon.send(sent)
        self.assertEqual(b.recv(), sent, 'message from an unregistered sender')

    def test_unknown_recipient(self):
        a = self.eng.client()
        self.register(a, 1)
        for cid in (0xDEADBEEF, 0, 2):
            reply = a.request(pkt_message(cid, b'anyone there?'))
            self.assertEqual(reply, pkt_unknown(cid), 'message to unknown ID %#x: expected 0x03 + ID' % cid)
        r = self.eng.router()
        self.assertEqual(r['unknown_recipient'], 3, 'unknown_recipient counter')
        self.assertEqual(r['message_forwarded'], 0, 'message_forwarded counter')

    def test_heartbeat_from_unregistered_endpoint(self):
        reg = self.eng.client(self.eng.client_ips[0])
        self.register(reg, 5)
        stranger = self.eng.client(self.eng.client_ips[0])  # same IP, other port: another endpoint
        before = self.eng.drops()['router_hb_unregistered']
        for _ in range(3):
            stranger.send(PKT_HEARTBEAT)
        self.assert_silent(stranger, 0.7, 'to a Heartbeat from an unregistered endpoint')
        after = self.eng.drops()['router_hb_unregistered']
        self.assertEqual(after - before, 3, 'router_hb_unregistered counter')
        self.heartbeat_ok(reg, 'from the registered endpoint beside it')

    def test_reregister_from_another_endpoint_moves(self):
        old = self.eng.client(self.eng.client_ips[0])
        new = self.eng.client(self.eng.client_ips[1])
        sender = self.eng.client(self.eng.client_ips[2])
        cid = 0x11223344
        self.register(old, cid)
        sent = pkt_message(cid, b'to old')
        sender.send(sent)
        self.assertEqual(old.recv(), sent, 'message before the move')

        moved_before = self.eng.router()['moved']
        self.register(new, cid)
        info = self.eng.client_info(cid)
        self.assertEqual(info.get('registered'), 1, 'telemetry after the move: %r' % info)
        self.assertEqual((info['ip'], info['udp_port']), new.addr, 'telemetry endpoint after the move')
        self.assertEqual(self.eng.router()['moved'] - moved_before, 1, 'moved counter')

        for i in range(3):
            sent = pkt_message(cid, b'to new %d' % i)
            sender.send(sent)
            self.assertEqual(new.recv(), sent, 'message %d after the move must reach the new endpoint' % i)
        self.assert_silent(old, 0.3, 'at the old endpoint after the move')
        # The old endpoint no longer maps to any registration.
        old.send(PKT_HEARTBEAT)
        self.assert_silent(old, 0.5, 'to a Heartbeat from the old endpoint after the move')
        self.heartbeat_ok(new, 'from the new endpoint')
        self.assertEqual(self.eng.router()['clients'], 1, 'clients after the move')

    def test_endpoint_registering_another_id_displaces_the_first(self):
        # docs/protocols/router.md: one endpoint maps to one registration.
        e = self.eng.client(self.eng.client_ips[0])
        sender = self.eng.client(self.eng.client_ips[1])
        self.register(e, 0xA)
        before = self.eng.router()
        self.register(e, 0xB)
        after = self.eng.router()
        self.assertEqual(after['displaced'] - before['displaced'], 1, 'displaced counter')
        self.assertEqual(after['clients'], 1, 'clients after the second ID displaced the first')
        self.assertEqual(self.eng.client_info(0xA)['registered'], 0, 'first ID still registered')
        self.assertEqual(sender.request(pkt_message(0xA, b'x')), pkt_unknown(0xA), 'message to the displaced ID')
        sent = pkt_message(0xB, b'to b')
        sender.send(sent)
        self.assertEqual(e.recv(), sent, 'message to the new ID at the same endpoint')
        self.heartbeat_ok(e, 'after displacing')

    def test_client_telemetry(self):
        c = self.eng.client(self.eng.client_ips[1])
        cid = 0x11223344  # sent little-endian: 44 33 22 11
        wire = pkt_register(cid)
        self.assertEqual(wire[1:], b'\x44\x33\x22\x11')
        self.assertEqual(self.eng.client_info(cid)['registered'], 0, 'ID registered before it registered')
        self.register(c, cid)
        info = self.eng.client_info(cid)
        self.assertEqual(info['client_id'], cid)
        self.assertEqual(info['registered'], 1, 'telemetry for the registered ID: %r' % info)
        self.assertEqual(info['ip'], c.addr[0], 'telemetry ip')
        self.assertEqual(info['udp_port'], c.addr[1], 'telemetry udp_port')
        self.assertEqual(info['port_id'], 0, 'telemetry port_id')
        self.assertEqual(info['next_hop'].lower(), self.eng.ns_mac, 'telemetry next_hop (client MAC)')
        self.assertLess(info['idle_ms'], 5000, 'telemetry idle_ms')
        # The big-endian reading of the same bytes is not registered.
        self.assertEqual(self.eng.client_info(0x44332211)['registered'], 0, 'ID read big-endian is registered')
        # Hex parameters work too.
        self.assertEqual(self.eng.query('/peregrine/router/client,0x11223344')['registered'], 1)

    def test_many_clients_and_refresh(self):
        clients = [self.eng.client(self.eng.client_ips[i % 3]) for i in range(12)]
        for i, c in enumerate(clients):
            self.register(c, 100 + i)
        self.assertEqual(wait_for(lambda: self.eng.router()['clients'] == 12, 2), True, 'clients after 12 registrations')
        for i, c in enumerate(clients):
            dst = 100 + (i + 5) % 12
            sent = pkt_message(dst, b'%d->%d' % (i, dst))
            c.send(sent)
            self.assertEqual(clients[dst - 100].recv(), sent, 'message %d -> %d' % (i, dst))


class RouterAmplificationTest(EngineTestCase):

    def test_no_source_gets_more_bytes_than_it_sent(self):
        """Every kind of datagram from sources whose address nothing has proven (the router
        protocol has no way to: docs/protocols/router.md): no answer is longer than what it
        answers, datagram by datagram and in all, per source."""
        known = self.eng.client(self.eng.client_ips[2])
        self.register(known, 5150)
        kinds = [pkt_register(6001), PKT_HEARTBEAT, pkt_message(999999, b'to nobody' * 20), pkt_message(999999),
                 pkt_message(5150, b'for the known client'), pkt_register(6001), b'', b'\x00', b'\x01\x02',
                 b'\x02\x00\x00', b'\x09' * 50, bytes([4]) * 2, os.urandom(300)]
        for n, ip in enumerate(self.eng.client_ips[:2]):
            c = self.eng.client(ip)
            sent = got = 0
            for raw in kinds * 3:
                c.send(raw)
                back = sum(map(len, c.drain(0.1)))
                self.assertLessEqual(back, len(raw), '%s: %d bytes for %r' % (ip, back, raw[:8]))
                sent, got = sent + len(raw), got + back
            self.assertLessEqual(got, sent)
            self.assertGreater(got, 0, 'nothing came back: the test would prove nothing')
        # The known client got the messages for it, from whoever sent them (a relay: 1 to 1).
        self.assertEqual(len(known.drain(0.3)), 2 * 3)


class RegistryFullTest(EngineTestCase):
    ENGINE_ARGS = {'app': ['--max-clients', '4']}

    def test_full_registry_refuses_new_ids_only(self):
        eng = self.eng
        clients = [eng.client(eng.client_ips[i % 3]) for i in range(5)]
        for i in range(4):
            self.register(clients[i], 300 + i)
        self.assertEqual(eng.router()['capacity'], 4)
        drops_before = eng.drops()['registry_full']
        self.assertIsNone(clients[4].request(pkt_register(399), timeout=1.0),
                          'Register Client answered although the registry is full')
        self.assertEqual(eng.drops()['registry_full'] - drops_before, 1, 'registry_full drop counter')
        r = eng.router()
        self.assertEqual((r['clients'], r['refused_full']), (4, 1), 'clients and refused_full when full')
        self.assertEqual(eng.client_info(399)['registered'], 0)
        # Re-registering a registered ID is never refused, from the same or another endpoint.
        self.register(clients[0], 300)
        self.register(clients[4], 301)
        self.assertEqual(eng.router()['clients'], 4)
        sent = pkt_message(301, b'moved while full')
        clients[0].send(sent)
        self.assertEqual(clients[4].recv(), sent, 'message to the ID that moved while the registry was full')


class IdleSleepTest(EngineTestCase):
    """--idle-sleep: an idle engine sleeps (counted), and still answers at once when traffic comes."""
    ENGINE_ARGS = {'app': ['--idle-sleep', '2000']}

    def test_idle_engine_sleeps_and_still_answers(self):
        eng = self.eng
        c = eng.client()
        self.register(c, 0x1D1E)
        slept = wait_for(lambda: (lambda v: v if v > 200000 else None)(eng.stats()['idle_sleep_us']), 5.0)
        self.assertIsNotNone(slept, 'no idle sleep counted: %r' % eng.stats())
        for i in range(20):
            self.heartbeat_ok(c, 'heartbeat %d after an idle spell' % i)
        lcores = eng.query('/peregrine/lcores')
        self.assertTrue(all(v['idle_sleep_us'] > 0 for v in lcores.values()),
                        'every lcore (worker and control) sleeps when idle: %r' % lcores)


class RegisterRateTest(EngineTestCase):
    """--register-rate: one source's flood of Register Clients is cut on the worker, counted, and
    another source still registers at once."""
    ENGINE_ARGS = {'app': ['--register-rate', '20']}

    def test_a_flooding_source_is_limited_and_others_register(self):
        eng = self.eng
        flood = eng.client()
        for i in range(400):
            flood.send(pkt_register(0x50000 + i))
        answered = len([d for d in flood.drain(0.5) if d == PKT_REGISTER_RESPONSE])
        # 40 at once (the burst), then 20 a second: far from 400.
        self.assertLess(answered, 80, 'the flooding source got %d answers' % answered)
        self.assertGreaterEqual(answered, 20)
        drops = eng.drops()['router_rate_limited']
        self.assertEqual(drops + answered, 400, 'every Register Client answered or counted')
        other = eng.client(eng.client_ips[1])
        self.register(other, 0x60000)
        self.assertEqual(eng.client_info(0x60000)['registered'], 1)
        time.sleep(1.1)  # the flooding source's bucket refills
        self.register(flood, 0x50000 + 1000)


class DefaultSleepTest(EngineTestCase):
    def test_workers_busy_poll_and_the_control_lcore_sleeps(self):
        eng = self.eng
        c = eng.client()
        self.register(c, 0x1D1F)
        slept = wait_for(lambda: (lambda l: l if any(v['role'] == 'control' and v['idle_sleep_us'] > 100000
                                                     for v in l.values()) else None)(eng.query('/peregrine/lcores')),
                         5.0)
        self.assertIsNotNone(slept, 'the control lcore did not sleep when idle (--control-sleep 1000 by default)')
        self.assertTrue(all(v['idle_sleep_us'] == 0 for v in slept.values() if v['role'] == 'worker'),
                        'a worker slept without --idle-sleep: %r' % slept)
        # The slow path still answers at once after the idle spell: a registration and a ping.
        self.register(eng.client(), 0x1D20)
        self.heartbeat_ok(c)


class ControlWakeTest(EngineTestCase):
    """The sleeping control lcore is woken by its work, not by its timeout: with a 100 ms ceiling
    a slow-path round trip after a quiet spell still takes a few ms at most (about 50 ms on
    average if only the timeout ended a sleep)."""
    ENGINE_ARGS = {'app': ['--control-sleep', '100000']}

    def asleep(self):
        return wait_for(lambda: (lambda v: v if v['sleeps'] > 0 else None)(self.eng.stats()), 5.0)

    def test_a_worker_handing_over_wakes_it(self):
        eng = self.eng
        self.assertIsNotNone(self.asleep(), 'the control lcore never slept')
        c = eng.client()
        rtts = []
        for i in range(12):
            time.sleep(0.15)  # asleep again: it polls for well under a millisecond after work
            t0 = time.perf_counter()
            self.register(c, 0x1E00 + i)
            rtts.append(time.perf_counter() - t0)
        s = eng.stats()
        self.assertLess(statistics.median(rtts), 0.02, 'Register Client round trips (s): %r' % rtts)
        self.assertGreater(s['doorbells'], 0, s)
        self.assertGreater(s['sleeps_woken'], 0, s)

    def test_the_kernel_writing_to_its_tap_wakes_it(self):
        eng = self.eng
        rx = eng.udp_socket(eng.client_ips[1], 0)
        rx.settimeout(2.0)
        dest = rx.getsockname()
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # root namespace: out through the TAP
        self.addCleanup(tx.close)
        tx.bind((eng.ip, 0))
        tx.sendto(b'arp', dest)  # the kernel resolves the address first
        rx.recvfrom(64)
        self.assertIsNotNone(self.asleep(), 'the control lcore never slept')
        rtts = []
        for i in range(12):
            time.sleep(0.15)
            t0 = time.perf_counter()
            tx.sendto(b'wake %d' % i, dest)
            data, _ = rx.recvfrom(64)
            rtts.append(time.perf_counter() - t0)
            self.assertEqual(data, b'wake %d' % i)
        self.assertLess(statistics.median(rtts), 0.02, 'kernel -> TAP -> wire one-way times (s): %r' % rtts)


class ResumeLatencyTest(unittest.TestCase):
    """--control-resume-latency: while the engine runs, its sleeping control lcore's CPU (CPU 0: the
    main lcore of -l 0-1) has that pm_qos_resume_latency_us ("n/a" for the default 0 us); at exit
    the value it found is back."""
    QOS = '/sys/devices/system/cpu/cpu0/power/pm_qos_resume_latency_us'

    def read(self):
        with open(self.QOS) as f:
            return f.read().strip()

    def write(self, v):
        with open(self.QOS, 'w') as f:
            f.write(v + '\n')

    def setUp(self):
        if not os.access(self.QOS, os.W_OK):
            self.skipTest('%s is not writable here (no cpuidle, or not root)' % self.QOS)
        saved = self.read()
        self.addCleanup(self.write, saved)
        self.write('0')  # no constraint: what the engine must put back

    def run_engine(self, app):
        eng = Engine(app=app, cpu_qos=True)
        self.addCleanup(eng.destroy)
        eng.start()
        return eng

    def stop(self, eng):
        self.assertEqual(eng.stop(signal.SIGTERM), 0, eng.context())

    def check_run(self, app, running, after, msg=None):
        """Runs an engine with app: the CPU's value is `running` while it runs, `after` once it has
        stopped on SIGTERM. Returns what the engine logged."""
        eng = self.run_engine(app)
        self.assertEqual(self.read(), running, eng.context())
        log = eng.stdout() + eng.stderr()
        self.stop(eng)
        self.assertEqual(self.read(), after, msg)
        return log

    def test_the_default_keeps_the_cpu_polling_and_gives_it_back(self):
        eng = self.run_engine([])
        self.assertEqual(self.read(), 'n/a', eng.context())
        log = eng.stdout() + eng.stderr()
        self.assertIn('control lcore: resume latency 0 us on 1 CPU(s), 1 set here', log)
        c = eng.client()
        self.assertEqual(c.request(pkt_register(0x1F00)), PKT_REGISTER_RESPONSE)
        self.stop(eng)
        self.assertEqual(self.read(), '0', 'the CPU\'s setting was not restored at exit')

    def test_a_bound_is_written_and_off_writes_nothing(self):
        self.check_run(['--control-resume-latency', '25'], '25', '0')
        self.write('7')
        self.check_run(['--control-resume-latency', 'off'], '7', '7')

    def test_a_value_already_set_is_left_to_its_owner(self):
        self.write('n/a')  # another engine on this CPU holds it
        log = self.check_run([], 'n/a', 'n/a', 'taken from the engine that set it')
        self.assertIn('on 1 CPU(s), 0 set here', log)

    def test_a_busy_polling_control_lcore_sets_nothing(self):
        self.check_run(['--control-sleep', '0'], '0', '0')


class BusyPollTest(EngineTestCase):
    ENGINE_ARGS = {'app': ['--control-sleep', '0']}

    def test_control_sleep_0_never_sleeps(self):
        self.register(self.eng.client(), 0x1D21)
        time.sleep(0.5)
        self.assertEqual(self.eng.stats()['idle_sleep_us'], 0, 'slept with --control-sleep 0 and no --idle-sleep')


if __name__ == '__main__':
    main()
