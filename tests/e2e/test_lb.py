#!/usr/bin/env python3
"""Load-balancer protocol end to end: Peregrine as the Controlling Function, with kernel UDP
sockets in the namespace as serving nodes, call controllers and clients. Registration and the
Serving Nodes notifications (a list of 241 split over two datagrams), Acks and retransmission
(a silent node gets the message again, then is taken out of service and the others are told),
expiry, Request Serving Node, (group, user) registrations and Start Call, malformed input
ignored and counted, no mbuf leak. Origin-like peers (a new Request ID for every try, the
same port after a restart, any answer taken as final) for the two cases that once broke the
origin's clients: no serving node live, and a node or controller restarted within the
duplicate window."""

import struct
import time

from peregrine_e2e import EngineTestCase, main, wait_for

LB_PORT = 7200
REGISTER_SERVING_NODE, REGISTER_CALL_CONTROLLER, START_CALL, ACK = 0, 1, 2, 3
REGISTRATION_UPDATE, REGISTRATION_REMOVED, REQUEST_SERVING_NODE = 4, 5, 6
SERVING_NODE_RESPONSE, SERVING_NODES, SERVING_NODE_REMOVED = 7, 9, 10


def ep_bytes(ip, port):
    return bytes(int(x) for x in ip.split('.')) + struct.pack('>H', port)


def ep_str(b):
    return '%d.%d.%d.%d:%d' % (b[0], b[1], b[2], b[3], struct.unpack('>H', b[4:6])[0])


def pkt(t, req, body=b''):
    return struct.pack('>BH', t, req) + body


def endpoints(data):
    return sorted(ep_str(data[i:i + 6]) for i in range(3, len(data), 6))


class Peer:
    """A serving node, call controller or client: one UDP socket in the namespace."""

    def __init__(self, eng, ip=None, port=0):
        self.c = eng.client(ip, port)
        self.c.server = (eng.ip, LB_PORT)
        self.ip, self.port = self.c.addr
        self.public = '%s:%d' % (self.ip, self.port + 1000)  # the endpoint it advertises
        self.req = 100
        self.proven = False  # Acked the Controlling Function's probe

    def send(self, data):
        self.c.send(data)

    def next_req(self):
        self.req += 1
        return self.req

    def recv(self, timeout=2.0):
        return self.c.recv(timeout)

    def recv_type(self, t, timeout=2.0):
        """Next datagram of type t (others are kept for later), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for i, d in enumerate(self.backlog):
                if d[0] == t:
                    return self.backlog.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            d = self.c.recv(left)
            if d is None:
                return None
            self.backlog.append(d)

    backlog = None

    def ack(self, data):
        self.send(pkt(ACK, struct.unpack('>H', data[1:3])[0]))


class LbCase(EngineTestCase):

    def peer(self, ip=None, port=0):
        p = Peer(self.eng, ip, port)
        p.backlog = []
        return p

    def lb(self):
        return self.eng.query('/peregrine/lb')

    def register(self, p, kind=REGISTER_SERVING_NODE, pad=None, prove=True):
        """Registers p. A new serving node then gets the probe (an empty Serving Nodes) and,
        with prove, Acks it as the origin's nodes do. A call controller pads its Register to
        32 bytes (pad=9: the origin's, unpadded) to pay for its Start Calls
        (docs/protocols/lb.md, "Amplification")."""
        req = p.next_req()
        ip, port = p.public.split(':')
        if pad is None:
            pad = 32 if kind == REGISTER_CALL_CONTROLLER else 9
        p.send(pkt(kind, req, ep_bytes(ip, int(port))) + bytes(pad - 9))
        reply = p.recv_type(ACK)
        self.assertEqual(reply, pkt(ACK, req), 'Ack of the Register from %s:%d' % (p.ip, p.port))
        if kind == REGISTER_SERVING_NODE and prove and not p.proven:
            probe = p.recv_type(SERVING_NODES)
            self.assertEqual(len(probe or b''), 3, 'the probe: an empty Serving Nodes')
            p.ack(probe)
            p.proven = True

    def assert_balanced(self):
        """Every frame in is out, dropped or consumed (an Ack); originated frames are extra."""
        def balance():
            s, lb = self.eng.stats(), self.lb()
            left = s['rx_packets'] + s['kernel_out'] + lb['originated']
            right = s['tx_packets'] + s['kernel_in'] + s['drops'] + lb['acked']
            return (left, right) if left == right else None
        self.assertIsNotNone(wait_for(balance, 2.0), 'packet accounting does not balance: %r %r' %
                             (self.eng.stats(), self.lb()))

    def origin_request_node(self, client, tries, on_silence=None):
        """The origin's client: Request Serving Node with a new Request ID every try, 1 s wait
        each, until anything answers; that answer is final. Returns (endpoint, tries used)."""
        for k in range(1, tries + 1):
            req = client.next_req()
            client.send(pkt(REQUEST_SERVING_NODE, req))
            r = client.recv_type(SERVING_NODE_RESPONSE, 1.0)
            if r is not None:
                self.assertEqual(r[1:3], struct.pack('>H', req), 'Request ID echoed')
                return ep_str(r[3:9]), k
            if on_silence:
                on_silence(k)
        return None, tries

    def request_node(self, client):
        """A Peregrine client: the request padded with zeros to its answer's 9 bytes, so it is
        answered at once (docs/protocols/lb.md, "Amplification")."""
        req = client.next_req()
        client.send(pkt(REQUEST_SERVING_NODE, req) + bytes(6))
        r = client.recv_type(SERVING_NODE_RESPONSE)
        self.assertIsNotNone(r, 'no Serving Node Response')
        self.assertEqual(len(r), 9)
        self.assertEqual(r[1:3], struct.pack('>H', req), 'Request ID echoed')
        return ep_str(r[3:9])


class LbTest(LbCase):

    def test_life_cycle(self):
        client = self.peer(self.eng.client_ips[2])
        client.send(pkt(REQUEST_SERVING_NODE, client.next_req()))
        self.assertIsNone(client.recv(0.5), 'no live node: no answer (the origin client retries on silence)')

        a = self.peer(self.eng.client_ips[0])
        self.register(a)
        self.assertIsNone(a.recv_type(SERVING_NODES, 0.3), 'the first node has no others to learn')
        b = self.peer(self.eng.client_ips[1])
        self.register(b)
        lst = b.recv_type(SERVING_NODES)
        self.assertIsNotNone(lst, 'the new node gets Serving Nodes')
        self.assertEqual(endpoints(lst), [a.public])
        note = a.recv_type(SERVING_NODES)
        self.assertIsNotNone(note, 'the existing node is told about the new one')
        self.assertEqual(endpoints(note), [b.public])
        b.ack(lst)
        a.ack(note)
        self.assertTrue(wait_for(lambda: self.lb()['awaiting_ack'] == 0, 2), 'Acks matched')

        # Request Serving Node: a live node, the same one each time for the same client.
        got = self.request_node(client)
        self.assertIn(got, (a.public, b.public))
        for _ in range(3):
            self.assertEqual(self.request_node(client), got, 'a client keeps its node')
        seen = {self.request_node(self.peer(self.eng.client_ips[2])) for _ in range(24)}
        self.assertEqual(seen, {a.public, b.public}, 'clients spread over both nodes')

        # A call controller; the first registration of a group starts a call on it.
        cc = self.peer(self.eng.client_ips[2])
        self.register(cc, REGISTER_CALL_CONTROLLER)
        req = a.next_req()
        a.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 42, 7) + ep_bytes(client.ip, client.port)))
        self.assertEqual(a.recv_type(ACK), pkt(ACK, req), 'Registration Update Acked')
        sc = cc.recv_type(START_CALL)
        self.assertIsNotNone(sc, 'Start Call to the call controller')
        self.assertEqual(len(sc), 7)
        self.assertEqual(struct.unpack('>H', sc[5:7])[0], 42, 'Start Call group ID')
        # Not Acked: sent again after 1 s, same bytes.
        again = cc.recv_type(START_CALL, 2.5)
        self.assertEqual(again, sc, 'Start Call retransmitted until Acked')
        cc.ack(again)
        regs = self.eng.query('/peregrine/lb/registrations,42')
        self.assertEqual(regs, {'42/7': '%s:%d' % (client.ip, client.port)})
        # Duplicate (same sender, same Request ID): Acked again, counted, not re-applied.
        before = self.lb()
        a.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 42, 7) + ep_bytes(client.ip, client.port)))
        self.assertEqual(a.recv_type(ACK), pkt(ACK, req))
        self.assertEqual(self.lb()['duplicate'] - before['duplicate'], 1)
        self.assertIsNone(cc.recv_type(START_CALL, 1.2), 'no new Start Call (not retransmitted either: Acked)')
        req = a.next_req()
        a.send(pkt(REGISTRATION_REMOVED, req, struct.pack('>HI', 42, 7)))
        self.assertEqual(a.recv_type(ACK), pkt(ACK, req))
        self.assertEqual(self.eng.query('/peregrine/lb/registrations,42'), {})

        # A client may not write registrations: nothing back, counted.
        before = self.eng.drops()['lb_not_serving_node']
        client.send(pkt(REGISTRATION_UPDATE, 1, struct.pack('>HI', 1, 1) + ep_bytes(client.ip, 1)))
        self.assertIsNone(client.recv(0.4))
        self.assertEqual(self.eng.drops()['lb_not_serving_node'] - before, 1)

        nodes = self.eng.query('/peregrine/lb/nodes')
        self.assertEqual(sorted(v['endpoint'] for v in nodes.values() if v['kind'] == 'serving_node'),
                         sorted([a.public, b.public]))
        t = self.lb()
        self.assertEqual((t['serving_nodes'], t['call_controllers']), (2, 1))
        self.assert_balanced()

    def test_silent_node_gets_retries_then_is_removed(self):
        a = self.peer(self.eng.client_ips[0])
        self.register(a)
        silent = self.peer(self.eng.client_ips[1])
        self.register(silent, prove=False)
        first = silent.recv_type(SERVING_NODES)
        self.assertEqual(len(first), 3, 'the probe')
        a.ack(a.recv_type(SERVING_NODES))
        t0 = time.monotonic()
        # The silent node never Acks: the same probe once more 1 s later; the third try does not
        # fit what its Register paid for (9 bytes: Ack, probe, probe) and is withheld.
        d = silent.recv_type(SERVING_NODES, 2.0)
        self.assertEqual(d, first, 'try 2 of the same probe')
        self.assertGreater(time.monotonic() - t0, 0.5, 'tries are ~1 s apart')
        self.assertIsNone(silent.recv_type(SERVING_NODES, 2.3), 'no third try: withheld')
        removed = a.recv_type(SERVING_NODE_REMOVED, 2.0)
        self.assertIsNotNone(removed, 'the remaining node is told the silent node is gone')
        self.assertEqual(ep_str(removed[3:9]), silent.public)
        a.ack(removed)
        t = self.lb()
        self.assertEqual(t['serving_nodes'], 1)
        self.assertEqual(t['ack_timeout'], 1)
        self.assertEqual((t['retransmitted'], t['withheld']), (1, 1))
        client = self.peer(self.eng.client_ips[2])
        self.assertEqual(self.request_node(client), a.public, 'only the live node is handed out')

    def test_malformed_is_ignored_and_counted(self):
        a = self.peer(self.eng.client_ips[0])
        self.register(a)
        x = self.peer(self.eng.client_ips[1])
        garbage = [b'', b'\x06', b'\x06\x00', b'\x06\x00\x01\x01', b'\x00' * 8, b'\x00' * 9 + b'\x01', b'\x03\x00',
                   b'\x04' + b'\x00' * 13, b'\x05' + b'\x00' * 9, b'\x07' + b'\x00' * 8, b'\x09\x00\x01',
                   b'\x02\x00\x01\x00\x01\x00\x01', b'\x0a' + b'\x00' * 8, b'\x08\x00\x01', b'\xff\x00\x01',
                   b'\x03\x12\x34']  # the last: an Ack that matches nothing
        before = self.eng.drops()
        for _ in range(5):
            for g in garbage:
                x.send(g)
        self.assertIsNone(x.recv(0.5), 'malformed input gets nothing')
        after = self.eng.drops()
        delta = self.drop_delta(before, after)
        self.assertEqual(sum(delta.values()), 5 * len(garbage), 'every one counted: %r' % delta)
        for k in ('lb_empty', 'lb_bad_len', 'lb_reply_type', 'lb_unknown_type', 'lb_ack_unmatched'):
            self.assertIn(k, delta)
        self.assertTrue(self.eng.alive())
        self.assertEqual(self.request_node(x), a.public, 'still answering after the garbage')

class LbOriginPeersTest(LbCase):
    """Peers that behave as the origin's C# code does."""

    def test_client_waits_out_no_live_node(self):
        client = self.peer(self.eng.client_ips[2])
        a = self.peer(self.eng.client_ips[0])

        def node_comes_up(k):
            if k == 2:  # after two unanswered tries, a serving node registers
                self.register(a)

        got, tries = self.origin_request_node(client, 6, node_comes_up)
        self.assertEqual(got, a.public, 'the client ends with a live node, never 0.0.0.0:0')
        self.assertEqual(tries, 3)
        t = self.lb()
        self.assertEqual((t['request_no_node'], t['request_answered']), (2, 1))
        self.assertEqual(self.eng.drops()['lb_no_node'], 2, 'each unanswered request counted')
        self.assert_balanced()

    def crash_by_silence(self, victim, other):
        """victim stops Acking; waits until the Controlling Function takes it out of service."""
        def gone():
            nodes = self.eng.query('/peregrine/lb/nodes')
            return not any(v['sender'] == '%s:%d' % (victim.ip, victim.port) for v in nodes.values())
        self.assertTrue(wait_for(gone, 6.0), 'the silent peer is taken out of service')
        victim.c.close()

    def restarted(self, old):
        """The same process started again: same address, same port, Request IDs from 0."""
        p = self.peer(old.ip, old.port)
        p.public = old.public
        p.req = -1
        return p

    def test_restarted_node_is_registered_again(self):
        a = self.peer(self.eng.client_ips[0])
        a.req = -1  # the origin starts at Request ID 0
        self.register(a)
        req = a.next_req()
        a.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 3, 30) + ep_bytes(a.ip, 50000)))
        self.assertEqual(a.recv_type(ACK), pkt(ACK, req))
        b = self.peer(self.eng.client_ips[1])
        self.register(b)
        b.ack(b.recv_type(SERVING_NODES))
        t0 = time.monotonic()
        self.crash_by_silence(a, b)  # a never Acks the Serving Nodes that names b
        b.ack(b.recv_type(SERVING_NODE_REMOVED))
        self.assertEqual(self.eng.query('/peregrine/lb/registrations,3'), {}, 'its registrations went with it')

        a2 = self.restarted(a)
        before = self.lb()
        self.register(a2)  # Request ID 0 again, from the same port
        self.assertLess(time.monotonic() - t0, 10, 'restarted inside the 10 s duplicate window')
        after = self.lb()
        self.assertEqual(after['duplicate'], before['duplicate'], 'not taken for a duplicate')
        self.assertEqual(after['node_registered'] - before['node_registered'], 1)
        nodes = self.eng.query('/peregrine/lb/nodes')
        self.assertIn('%s:%d' % (a2.ip, a2.port), [v['sender'] for v in nodes.values() if v['kind'] == 'serving_node'])
        a2.ack(a2.recv_type(SERVING_NODES))
        b.ack(b.recv_type(SERVING_NODES))
        # Its Registration Update with Request ID 1, as before the crash: applied, not refused.
        req = a2.next_req()
        a2.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 3, 30) + ep_bytes(a.ip, 50001)))
        self.assertEqual(a2.recv_type(ACK), pkt(ACK, req))
        self.assertEqual(self.eng.query('/peregrine/lb/registrations,3'), {'3/30': '%s:50001' % a.ip})
        self.assertEqual(self.lb()['duplicate'], before['duplicate'])
        seen = {self.request_node(self.peer(self.eng.client_ips[2])) for _ in range(16)}
        self.assertEqual(seen, {a2.public, b.public}, 'the restarted node is in service')

    def test_restarted_controller_is_registered_again(self):
        n = self.peer(self.eng.client_ips[0])
        self.register(n)
        cc = self.peer(self.eng.client_ips[1])
        cc.req = -1
        self.register(cc, REGISTER_CALL_CONTROLLER, pad=9)  # the origin's 9 bytes
        req = n.next_req()
        n.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 8, 80) + ep_bytes(n.ip, 50000)))
        self.assertEqual(n.recv_type(ACK), pkt(ACK, req))
        # Its Start Call (7 bytes) does not fit what its Register paid for (9 - its Ack): withheld,
        # and each withheld try counts, as when the origin's controller ignored it.
        self.assertIsNone(cc.recv_type(START_CALL, 0.5), 'no Start Call to an unproven origin controller')
        t0 = time.monotonic()
        self.assertTrue(wait_for(lambda: self.lb()['call_controllers'] == 0, 6.0),
                        'a controller that never Acks is taken out of service')
        cc.c.close()
        cc2 = self.restarted(cc)
        before = self.lb()
        self.register(cc2, REGISTER_CALL_CONTROLLER)  # restarted padded: it pays for Start Call
        self.assertLess(time.monotonic() - t0, 10)
        after = self.lb()
        self.assertEqual(after['duplicate'], before['duplicate'], 'not taken for a duplicate')
        self.assertEqual(after['controller_registered'] - before['controller_registered'], 1)
        self.assertEqual(after['call_controllers'], 1)
        sc = cc2.recv_type(START_CALL)
        self.assertIsNotNone(sc, "the group's call is started on the restarted controller")
        self.assertEqual(struct.unpack('>H', sc[5:7])[0], 8)
        cc2.ack(sc)


class LbLongListTest(LbCase):
    # 242 nodes on three addresses Ack some 30,000 notifications in bursts: more than the
    # per-source --lb-control-rate is meant for (one node per address).
    ENGINE_ARGS = {'app': ['--lb-control-rate', '0']}

    def test_long_serving_nodes_list_is_split(self):
        """242 nodes: the last one learns 241 others, more than one datagram holds (240)."""
        import select
        ips = self.eng.client_ips
        nodes = [self.peer(ips[i % len(ips)]) for i in range(242)]
        by_fd = {p.c.sock.fileno(): p for p in nodes}
        lists = []  # Serving Nodes datagrams received by the last node

        def pump(until, timeout=5.0):
            """Reads every socket, Acks every notification, until until() holds."""
            deadline = time.monotonic() + timeout
            while not until():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ready, _, _ = select.select(list(by_fd), [], [], left)
                for fd in ready:
                    p = by_fd[fd]
                    try:
                        while True:
                            d, _ = p.c.sock.recvfrom(2048, 0x40)  # MSG_DONTWAIT
                            if d and d[0] in (SERVING_NODES, SERVING_NODE_REMOVED):
                                p.ack(d)
                                if p is nodes[-1] and d[0] == SERVING_NODES and len(d) > 3:  # not the probe
                                    lists.append(d)
                            elif d:
                                p.backlog.append(d)
                    except BlockingIOError:
                        pass
            return True

        for p in nodes:
            req = p.next_req()
            ip, port = p.public.split(':')
            p.send(pkt(REGISTER_SERVING_NODE, req, ep_bytes(ip, int(port))))
            self.assertTrue(pump(lambda: pkt(ACK, req) in p.backlog), 'Ack of node %s' % p.public)
            p.backlog.remove(pkt(ACK, req))
        self.assertTrue(pump(lambda: sum(len(d) - 3 for d in lists) >= 241 * 6, 5.0),
                        'the last node learns all 241 others: got %d datagrams' % len(lists))
        self.assertEqual([(len(d) - 3) // 6 for d in lists], [240, 1], 'split at 240 endpoints')
        self.assertEqual(sorted(sum((endpoints(d) for d in lists), [])), sorted(p.public for p in nodes[:-1]))
        self.assertEqual(len({d[1:3] for d in lists}), 2, 'each datagram has its own Request ID (each is Acked)')
        pump(lambda: False, 1.5)  # Ack whatever is still being retried
        t = self.lb()
        self.assertEqual((t['serving_nodes'], t['ack_timeout']), (242, 0), 'every node stayed: %r' % t)


class LbAmplificationTest(LbCase):

    def test_unvalidated_sources_never_get_more_bytes_than_they_sent(self):
        """Three proven nodes and a controller, then sources that never Ack anything (spoofed,
        as far as the Controlling Function can tell) send every kind of datagram; bytes back
        are summed against bytes sent, per source."""
        nodes = [self.peer(self.eng.client_ips[0]) for _ in range(3)]
        for n in nodes:
            self.register(n)
        cc = self.peer(self.eng.client_ips[0])
        self.register(cc, REGISTER_CALL_CONTROLLER)
        time.sleep(0.3)
        for n in nodes + [cc]:
            while n.c.recv(0.05) is not None:
                pass  # the lists the proven nodes got: not under test
        sources = [self.peer(ip) for ip in self.eng.client_ips[1:3]] + [self.peer(self.eng.client_ips[1])]
        sent = dict.fromkeys(range(len(sources)), 0)
        def out(i, data):
            sources[i].send(data)
            sent[i] += len(data)
        # One more that sends a single Register and nothing else: its Ack, the probe and the
        # probe's retries are all it may get, 9 bytes at most.
        sources.append(self.peer(self.eng.client_ips[2]))
        sent[3] = 0
        ip, port = sources[3].public.split(':')
        out(3, pkt(REGISTER_SERVING_NODE, 1, ep_bytes(ip, int(port))))
        for i, src in enumerate(sources[:3]):
            ip, port = src.public.split(':')
            ep = ep_bytes(ip, int(port))
            out(i, pkt(REGISTER_SERVING_NODE if i != 2 else REGISTER_CALL_CONTROLLER, 7, ep))
            for k in range(5):
                out(i, pkt(REQUEST_SERVING_NODE, 20 + k))  # the origin's 3 bytes
            out(i, pkt(REGISTRATION_UPDATE, 30, struct.pack('>HI', 9, 90 + i) + ep))
            out(i, pkt(ACK, 0x4242))                        # a guess at a Request ID
            out(i, pkt(REGISTER_SERVING_NODE, 7, ep))       # the same Register again
            for g in (b'\x06', b'\x00' * 10 + b'\x01', b'\x07\x00\x01', b'\xff'):
                out(i, g)
        # Long enough for every retry of every message to them (3 tries, 1 s apart).
        got = dict.fromkeys(range(len(sources)), 0)
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            for i, src in enumerate(sources):
                d = src.c.recv(0.05)
                while d is not None:
                    got[i] += len(d)
                    d = src.c.recv(0.01)
            for n in nodes:  # the proven nodes Ack what they are told, and stay in service
                d = n.c.recv(0.01)
                while d is not None:
                    if d[0] in (SERVING_NODES, SERVING_NODE_REMOVED):
                        n.ack(d)
                    d = n.c.recv(0.01)
        for i in range(len(sources)):
            self.assertGreater(got[i], 0, 'source %d got nothing: the test would prove nothing' % i)
            self.assertLessEqual(got[i], sent[i], 'source %d: %d bytes back for %d' % (i, got[i], sent[i]))
        t = self.lb()
        self.assertGreater(t['withheld'], 0)
        self.assertGreater(self.eng.drops()['lb_unvalidated'], 0)
        self.assertEqual(t['proven'], 3, 'only the three nodes that Acked their probes')
        # The same traffic with --lb-answer-unvalidated's rule would be over 1: a 3-byte request
        # from a fresh source is not answered, a padded one is.
        fresh = self.peer(self.eng.client_ips[0])  # an address that has sent no request
        fresh.send(pkt(REQUEST_SERVING_NODE, 1))
        self.assertIsNone(fresh.recv_type(SERVING_NODE_RESPONSE, 0.3))
        self.assertIn(self.request_node(fresh), [n.public for n in nodes])


class LbRateTest(LbCase):
    ENGINE_ARGS = {'app': ['--lb-control-rate', '5']}

    def test_a_flooding_source_is_limited_and_others_register(self):
        flood = self.peer(self.eng.client_ips[0])
        for k in range(200):
            flood.send(pkt(REGISTRATION_UPDATE, k, struct.pack('>HI', 1, k) + ep_bytes(flood.ip, 40000)))
        time.sleep(0.3)
        self.assertGreater(self.eng.drops()['lb_rate_limited'], 150)
        self.assertLessEqual(self.lb()['to_control'], 20, 'the burst (2 x 5) and a few refills')
        # Another source's Register reaches the control lcore and is answered.
        other = self.peer(self.eng.client_ips[1])
        self.register(other)
        self.assertEqual(self.lb()['serving_nodes'], 1)


class LbAnswerNoNodeTest(LbCase):
    ENGINE_ARGS = {'app': ['--lb-answer-no-node']}

    def test_no_live_node_is_answered_with_zeroes(self):
        client = self.peer(self.eng.client_ips[2])
        self.assertEqual(self.request_node(client), '0.0.0.0:0', 'answered at once with zeroes')
        t = self.lb()
        self.assertEqual((t['request_no_node'], t['answer_no_node']), (1, 1))
        self.assertEqual(self.eng.drops()['lb_no_node'], 0)
        a = self.peer(self.eng.client_ips[0])
        self.register(a)
        self.assertEqual(self.request_node(client), a.public)


class LbLeastLoadedTest(LbCase):
    ENGINE_ARGS = {'app': ['--lb-policy', 'least-loaded']}

    def test_least_loaded_node_is_given(self):
        client = self.peer(self.eng.client_ips[2])
        got, _ = self.origin_request_node(client, 1)
        self.assertIsNone(got, 'no live node: no answer')
        self.assertEqual(self.eng.drops()['lb_no_node'], 1)
        a = self.peer(self.eng.client_ips[0])
        self.register(a)
        b = self.peer(self.eng.client_ips[1])
        self.register(b)
        b.ack(b.recv_type(SERVING_NODES))
        a.ack(a.recv_type(SERVING_NODES))
        # a reports three registrations: b is the less loaded until it has been given three clients.
        for u in range(3):
            req = a.next_req()
            a.send(pkt(REGISTRATION_UPDATE, req, struct.pack('>HI', 5, u) + ep_bytes(client.ip, 40000 + u)))
            self.assertEqual(a.recv_type(ACK), pkt(ACK, req))
        given = [self.request_node(self.peer(self.eng.client_ips[2])) for _ in range(3)]
        self.assertEqual(given, [b.public] * 3, 'the least-loaded node first')
        rest = [self.request_node(self.peer(self.eng.client_ips[2])) for _ in range(4)]
        self.assertEqual(sorted(rest), sorted([a.public, a.public, b.public, b.public]), 'then both in turn')
        # A repeated request (same sender, same Request ID) gets the same answer, no new assignment.
        first = self.request_node(client)
        before = self.lb()
        client.send(pkt(REQUEST_SERVING_NODE, client.req) + bytes(6))
        r = client.recv_type(SERVING_NODE_RESPONSE)
        self.assertIsNotNone(r)
        self.assertEqual(ep_str(r[3:9]), first)
        after = self.lb()
        self.assertEqual(after['duplicate'] - before['duplicate'], 1)
        self.assertEqual(after['request_answered'], before['request_answered'])


class LbExpiryTest(LbCase):
    ENGINE_ARGS = {'app': ['--lb-expiry', '3']}

    def test_expired_node_is_removed_and_others_told(self):
        stays = self.peer(self.eng.client_ips[0])
        self.register(stays)
        goes = self.peer(self.eng.client_ips[1])
        self.register(goes)
        goes.ack(goes.recv_type(SERVING_NODES))
        stays.ack(stays.recv_type(SERVING_NODES))
        # `stays` re-registers every second (a refresh: Ack only); `goes` never does.
        removed = None
        deadline = time.monotonic() + 6
        while removed is None and time.monotonic() < deadline:
            self.register(stays)
            removed = stays.recv_type(SERVING_NODE_REMOVED, 1.0)
        self.assertIsNotNone(removed, 'Serving Node Removed after the 3 s expiry')
        self.assertEqual(ep_str(removed[3:9]), goes.public)
        stays.ack(removed)
        t = self.lb()
        self.assertEqual((t['serving_nodes'], t['expired']), (1, 1))
        self.assertIsNone(goes.recv_type(SERVING_NODE_REMOVED, 0.3), 'the expired node is not told')


class LbOffTest(EngineTestCase):
    """--no-lb: the protocol's port is the kernel's, as any UDP port no module owns."""
    ENGINE_ARGS = {'app': ['--no-lb']}

    def test_port_goes_to_the_kernel(self):
        self.assert_port_goes_to_kernel(LB_PORT, pkt(REQUEST_SERVING_NODE, 1), '/peregrine/lb')


if __name__ == '__main__':
    main()
