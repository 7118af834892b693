#!/usr/bin/env python3
"""Exception path: ARP, ICMP and TCP between the namespace and the kernel through the engine's TAP."""

import json
import os
import socket
import threading

from peregrine_e2e import EngineTestCase, main, wait_for


class ExceptionPathTest(EngineTestCase):
    # The namespace must learn the engine's MAC by ARP through the exception path.
    ENGINE_ARGS = {'static_arp': False}

    def neigh(self):
        out = self.eng.ns_run(['ip', '-j', 'neigh', 'show', 'to', self.eng.ip, 'dev', self.eng.wire]).stdout
        entries = json.loads(out or '[]')
        return entries[0] if entries else None

    def test_ping_arp_tcp(self):
        eng = self.eng
        exc_before = eng.query('/peregrine/exceptions')
        self.assertIsNone(self.neigh(), 'the namespace already has a neighbor entry for the engine')

        p = eng.ns_run(['ping', '-c', '3', '-i', '0.2', '-W', '3', eng.ip], check=False, timeout=20)
        self.assertEqual(p.returncode, 0, 'ping %s from the namespace failed:\n%s%s' % (eng.ip, p.stdout, p.stderr))
        self.assertIn('3 received', p.stdout, 'ping replies:\n' + p.stdout)

        n = self.neigh()
        self.assertIsNotNone(n, 'no neighbor entry for %s in the namespace after ping' % eng.ip)
        self.assertEqual(n.get('lladdr', '').lower(), eng.port_mac,
                         'ARP resolved %s to %r, the engine port MAC is %s' % (eng.ip, n.get('lladdr'), eng.port_mac))

        # TCP to a kernel listener on the engine's address, in the root namespace.
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        eng.listeners.append(srv)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((eng.ip, 0))
        srv.listen(1)
        srv.settimeout(10)
        port = srv.getsockname()[1]
        up = os.urandom(200_000)    # many full-size segments each way
        down = os.urandom(150_000)
        result = {}

        def serve():
            try:
                conn, peer = srv.accept()
                with conn:
                    conn.settimeout(10)
                    result['peer'] = peer
                    got = bytearray()
                    while len(got) < len(up):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    result['got'] = bytes(got)
                    conn.sendall(down)
                    conn.shutdown(socket.SHUT_WR)
            except OSError as e:
                result['error'] = repr(e)

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        c = eng.tcp_socket()
        c.settimeout(10)
        c.bind((eng.client_ips[0], 0))
        c.connect((eng.ip, port))
        c.sendall(up)
        back = bytearray()
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            back += chunk
        c.close()
        t.join(10)
        self.assertNotIn('error', result, 'kernel listener: %s' % result.get('error'))
        self.assertEqual(result.get('peer', ('?',))[0], eng.client_ips[0], 'TCP peer address seen by the listener')
        self.assertEqual(result.get('got'), up, 'data namespace -> kernel over TCP differs')
        self.assertEqual(bytes(back), down, 'data kernel -> namespace over TCP differs')

        exc = eng.query('/peregrine/exceptions')
        delta = {k: exc[k] - exc_before[k] for k in exc}
        self.assertGreaterEqual(delta['arp'], 1, 'exceptions arp: %r' % delta)
        self.assertGreaterEqual(delta['icmp'], 3, 'exceptions icmp: %r' % delta)
        # 200 kB up in <= 1460-byte segments, plus handshake and ACKs for the 150 kB down.
        self.assertGreaterEqual(delta['tcp'], len(up) // 1460, 'exceptions tcp: %r' % delta)
        s = eng.stats()
        self.assertGreater(s['kernel_in'], 0, 'stats kernel_in')
        self.assertGreater(s['kernel_out'], 0, 'stats kernel_out')
        self.assertEqual(eng.drops()['exception_ring_full'], 0)

    def test_udp_to_other_port_reaches_kernel(self):
        # UDP that no fast-path protocol owns goes to the kernel: a root-namespace UDP socket answers.
        eng = self.eng
        eng.ns_run(['ping', '-c', '1', '-W', '3', eng.ip], check=False)  # resolve ARP first
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        eng.listeners.append(srv)
        srv.bind((eng.ip, 0))
        srv.settimeout(5)
        before = eng.query('/peregrine/exceptions')['udp_other_port']
        c = eng.udp_socket()
        c.settimeout(5)
        c.sendto(b'ping-kernel', srv.getsockname())
        data, peer = srv.recvfrom(2048)
        self.assertEqual(data, b'ping-kernel')
        srv.sendto(b'pong-kernel', peer)
        data, src = c.recvfrom(2048)
        self.assertEqual((data, src), (b'pong-kernel', srv.getsockname()))
        self.assertEqual(eng.query('/peregrine/exceptions')['udp_other_port'] - before, 1, 'udp_other_port counter')

    def test_no_arp_answer_without_exception_path(self):
        # Negative control for the ARP check above: an address the engine does not own on this
        # subnet gets no ARP answer, so neighbor resolution really goes through the kernel.
        eng = self.eng
        ghost = str(list(eng.subnet.hosts())[200])
        p = eng.ns_run(['ping', '-c', '1', '-W', '1', ghost], check=False, timeout=10)
        self.assertNotEqual(p.returncode, 0, 'ping to an unowned address %s succeeded' % ghost)
        self.assertGreaterEqual(eng.query('/peregrine/exceptions')['arp'], 1)



def rt_signal_bits(pid, field):
    """The real-time signals (34 and up) set in a /proc/PID/status signal mask line."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1], 16) >> 33
    raise AssertionError('no %s in /proc/%d/status' % (field, pid))


class TapPollingTest(EngineTestCase):
    """By default net_tap polls its TAPs: no real-time signal handler, no O_ASYNC per frame."""

    def test_taps_polled_without_signals(self):
        pid = self.eng.proc.pid
        self.assertEqual(rt_signal_bits(pid, 'SigCgt'), 0, "net_tap installed its per-frame signal handler")
        self.assertNotEqual(rt_signal_bits(pid, 'SigIgn'), 0, 'the free real-time signals are not reserved')
        p = self.eng.ns_run(['ping', '-c', '3', '-i', '0.2', '-W', '3', self.eng.ip], check=False, timeout=20)
        self.assertEqual(p.returncode, 0, 'ping through polled TAPs:\n' + p.stdout + p.stderr)


class TapSignalTest(EngineTestCase):
    ENGINE_ARGS = {'app': ['--tap-rx-signal']}

    def test_taps_woken_by_a_signal(self):
        pid = self.eng.proc.pid
        self.assertEqual(bin(rt_signal_bits(pid, 'SigCgt')).count('1'), 1, "net_tap's one real-time signal")
        p = self.eng.ns_run(['ping', '-c', '3', '-i', '0.2', '-W', '3', self.eng.ip], check=False, timeout=20)
        self.assertEqual(p.returncode, 0, 'ping through signalled TAPs:\n' + p.stdout + p.stderr)


if __name__ == '__main__':
    main()
