#!/usr/bin/env python3
"""Two RX queues on two worker lcores: every client messages every other, nothing is lost,
and both workers forwarded router traffic (so deliveries crossed queues).

How net_tap spreads flows: the kernel picks the TAP queue of a packet by its symmetric flow
hash, but remembers, per flow, the queue on which the engine last *wrote* a packet of that
flow, and steers the flow there from then on. A client that receives forwarded messages is
therefore pulled to the queue of whoever last wrote to it, and all-to-all traffic from the
registered sockets soon runs on one queue. Phase 2 sends from sockets that never receive
anything, so their flows keep the hash-chosen queue: with 24 of them both queues carry
messages unless the hash puts all 24 on one queue (probability 2^-23).
"""

import select
import struct
import time

from peregrine_e2e import EngineTestCase, main, pkt_message

N_CLIENTS = 24


class MultiQueueTest(EngineTestCase):
    # 3 lcores on 2 CPUs: control on CPU 0, workers 1 and 2 share CPU 1.
    ENGINE_ARGS = {'eal': ['--lcores', '0@0,1@1,2@1'], 'app': ['--config', '(0,0,1),(0,1,2)']}

    def workers(self):
        lc = self.eng.query('/peregrine/lcores')
        return {k: v for k, v in lc.items() if v['role'] == 'worker'}

    @staticmethod
    def fast_path_rx(w):
        """Packets a worker handled on the fast path: not sent to the kernel, the control lcore, or dropped."""
        return w['rx_packets'] - w['to_exception'] - w['to_control'] - w['drops']

    def exchange(self, senders, recipients, tag):
        """Each sender sends one message to every recipient but itself; checks every one arrives once."""
        eng = self.eng
        expected = {cid: [] for _, cid in recipients}
        sent = 0
        for i, (s, src) in enumerate(senders):
            for _, dst in recipients:
                if dst == src:
                    continue
                payload = struct.pack('<IIB', src & 0xffffffff, dst, tag) + b'.' * (i * 37 % 400)
                d = pkt_message(dst, payload)
                s.send(d)
                expected[dst].append(d)
                sent += 1
            # Pace a little: two workers share one CPU and 24 sockets' backlogs add up.
            time.sleep(0.002)

        by_sock = {c.sock: cid for c, cid in recipients}
        got = {cid: [] for _, cid in recipients}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(map(len, got.values())) < sent:
            ready, _, _ = select.select(list(by_sock), [], [], 0.5)
            for s in ready:
                data, src = s.recvfrom(65535)
                self.assertEqual(src, eng.server, 'datagram at client %#x from an unexpected source' % by_sock[s])
                got[by_sock[s]].append(data)
        time.sleep(0.2)  # anything extra (duplicates) would show up now
        for s, cid in by_sock.items():
            got[cid] += _drain(s)
        lost = {hex(cid): len(expected[cid]) - len(set(got[cid]) & set(expected[cid])) for cid in expected}
        lost = {k: v for k, v in lost.items() if v}
        self.assertEqual(lost, {}, 'phase %d: messages lost (recipient -> how many) out of %d sent; drops %r' %
                         (tag, sent, {k: v for k, v in eng.drops().items() if v}))
        for cid in expected:
            self.assertEqual(sorted(got[cid]), sorted(expected[cid]),
                             'phase %d: client %#x received duplicates or foreign messages' % (tag, cid))
        return sent

    def test_all_to_all(self):
        eng = self.eng
        w_start = self.workers()
        self.assertEqual(sorted(w_start), ['lcore1', 'lcore2'], 'worker lcores in telemetry: %r' % sorted(w_start))
        ids = [0x5000 + i for i in range(N_CLIENTS)]
        clients = [eng.client(eng.client_ips[i % len(eng.client_ips)]) for i in range(N_CLIENTS)]
        self.assertEqual(len({c.addr for c in clients}), N_CLIENTS)
        for c, cid in zip(clients, ids):
            self.register(c, cid)
        self.assertEqual(eng.router()['clients'], N_CLIENTS)
        registered = list(zip(clients, ids))

        # Phase 1: every registered client sends to every other from its own socket.
        sent1 = self.exchange(registered, registered, 1)

        # Phase 2: send-only sockets (never written to by the engine, so never re-steered).
        w0 = self.workers()
        senders = [(eng.client(eng.client_ips[i % len(eng.client_ips)]), -1 - i) for i in range(N_CLIENTS)]
        sent2 = self.exchange(senders, registered, 2)
        w1 = self.workers()

        fp = {k: self.fast_path_rx(w1[k]) - self.fast_path_rx(w0[k]) for k in w1}
        self.assertTrue(all(v > 0 for v in fp.values()),
                        'both workers must forward messages in phase 2 (flows spread over 2 queues): %r' % fp)
        self.assertEqual(sum(fp.values()), sent2, 'fast-path packets over both workers in phase 2')
        rx = {k: w1[k]['rx_packets'] - w_start[k]['rx_packets'] for k in w1}
        self.assertGreaterEqual(sum(rx.values()), sent1 + sent2 + N_CLIENTS, 'rx over both workers')
        r = eng.router()
        self.assertEqual(r['message_forwarded'], sent1 + sent2, 'message_forwarded counter')
        self.assertEqual(r['unknown_recipient'], 0)


def _drain(sock):
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(65535))
    except BlockingIOError:
        pass
    finally:
        sock.setblocking(True)
    return out


if __name__ == '__main__':
    main()
