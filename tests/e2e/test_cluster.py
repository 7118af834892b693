#!/usr/bin/env python3
"""The router as a serving node (issue 18, docs/cluster.md): two router engines and a
Controlling Function engine on one Ethernet segment (a bridge in a namespace the test makes),
each its own file prefix and --idle-sleep so that three engines share two CPUs.

  - the routers resolve the CF by ARP, register (Register Serving Node), are listed by the CF
    with the endpoint they advertise, and learn each other from Serving Nodes;
  - a client asks the CF for a serving node, registers on the router it was given, and the
    router reports it (Registration Update) until it expires (Registration Removed);
  - a router killed with SIGKILL is removed by the CF, which tells the other (Serving Node
    Removed);
  - only the CF may speak to a router's cluster port;
  - an unreachable CF never stops a router serving its clients.
The messages are checked through the CF's own tables (/peregrine/lb/...), not the router's word.
"""

import os
import random
import signal
import socket
import struct
import time
import unittest

import peregrine_e2e as h
from peregrine_e2e import PKT_REGISTER_RESPONSE, main, pkt_message, pkt_register, run, wait_for

LB_PORT = 7200
CLUSTER_PORT = 7201


class Fabric:
    """A namespace with a bridge: the engines' wires and the clients' address on one segment."""

    def __init__(self):
        pid = os.getpid() % 100000
        self.ns = 'pgcl%05d%x' % (pid, random.randrange(4096))
        self.subnet = h._pick_subnet(pid * 17 + 5)
        self.hosts = [str(x) for x in self.subnet.hosts()]
        self.client_ip = self.hosts[99]          # .100
        run(['ip', 'netns', 'add', self.ns])
        run(['ip', '-n', self.ns, 'link', 'add', 'br0', 'type', 'bridge'])
        run(['ip', '-n', self.ns, 'addr', 'add', '%s/%d' % (self.client_ip, self.subnet.prefixlen), 'dev', 'br0'])
        run(['ip', '-n', self.ns, 'link', 'set', 'dev', 'br0', 'up'])
        run(['ip', '-n', self.ns, 'link', 'set', 'dev', 'lo', 'up'])

    def attach(self, wire, mac):
        run(['ip', 'link', 'set', 'dev', wire, 'netns', self.ns])
        # Not the engine port's MAC (net_tap gives it to the kernel side): a bridge port with the
        # MAC of the host behind it would take that host's frames for itself.
        run(['ip', '-n', self.ns, 'link', 'set', 'dev', wire, 'address', mac])
        run(['ip', '-n', self.ns, 'link', 'set', 'dev', wire, 'master', 'br0'])
        run(['ip', '-n', self.ns, 'link', 'set', 'dev', wire, 'up'])

    def socket(self):
        with h.in_netns(self.ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((self.client_ip, 0))
        s.settimeout(2.0)
        return s

    def destroy(self):
        run(['ip', 'netns', 'del', self.ns], check=False)


class FabricEngine(h.Engine):
    """An engine whose wire joins the fabric's bridge at address ip."""

    def __init__(self, fabric, ip, app):
        super().__init__(app=['--idle-sleep', '100'] + app, static_arp=False)
        self.fabric = fabric
        self.subnet = fabric.subnet
        self.ip = ip
        self.server = (ip, h.ROUTER_PORT)
        self.netns = fabric.ns

    def _setup_netns(self):
        self.fabric.attach(self.wire, self.ns_mac)
        # Each engine's kernel side in a namespace of its own, as on separate hosts: in one
        # namespace every engine's address is local to every other's kernel, which then ignores
        # their ARP (a request from one of its own addresses).
        self.kns = 'pgk' + self.tag
        run(['ip', 'netns', 'add', self.kns])
        run(['ip', 'link', 'set', 'dev', self.tap, 'netns', self.kns])
        run(['ip', '-n', self.kns, 'addr', 'add', '%s/%d' % (self.ip, self.subnet.prefixlen), 'dev', self.tap])
        run(['ip', '-n', self.kns, 'link', 'set', 'dev', self.tap, 'up'])

    def destroy(self):
        self.netns = 'pgcl-none'  # the fabric's, removed with it
        super().destroy()  # the engine first: its TAP goes with the namespace below
        if getattr(self, 'kns', None):
            run(['ip', 'netns', 'del', self.kns], check=False)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def nodes(cf):
    return sorted(v['endpoint'] for v in cf.query('/peregrine/lb/nodes').values() if v['kind'] == 'serving_node')


def request_serving_node(sock, cf_ip):
    # Padded with zeros to the answer's 9 bytes: answered at once (docs/protocols/lb.md).
    sock.sendto(bytes([6]) + struct.pack('>H', 0x5151) + bytes(6), (cf_ip, LB_PORT))
    data, _ = sock.recvfrom(64)
    assert data[0] == 7 and data[1:3] == b'\x51\x51', data
    return '%s:%d' % (socket.inet_ntoa(data[3:7]), struct.unpack('>H', data[7:9])[0])


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fabric = Fabric()
        f = cls.fabric
        cls.cf_ip = f.hosts[0]
        server = ['--lb-server', '%s:%d' % (cls.cf_ip, LB_PORT), '--lb-reregister', '1']
        cls.server_args = server
        cls.cf = FabricEngine(f, cls.cf_ip, ['--lb-expiry', '3'])
        cls.r = [FabricEngine(f, f.hosts[i], server + ['--heartbeat-timeout', '2']) for i in (1, 2)]
        cls.engines = [cls.cf] + cls.r
        try:
            for e in cls.engines:
                e.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for e in cls.engines:
            e.destroy()
        cls.fabric.destroy()

    def ep(self, e):
        return '%s:%d' % (e.ip, h.ROUTER_PORT)

    def context(self):
        return '\n'.join(e.context(12) for e in self.engines)

    def test_1_routers_register_and_learn_each_other(self):
        want = sorted(self.ep(r) for r in self.r)
        got = wait_for(lambda: nodes(self.cf) == want, 10.0)
        self.assertTrue(got, 'the CF lists %r, not %r\n%s' % (nodes(self.cf), want, self.context()))
        for r, other in ((self.r[0], self.r[1]), (self.r[1], self.r[0])):
            peers = wait_for(lambda: r.query('/peregrine/cluster/peers') == [self.ep(other)], 5.0)
            self.assertTrue(peers, '%s knows %r' % (r.ip, r.query('/peregrine/cluster/peers')))
            c = r.query('/peregrine/cluster')
            self.assertEqual(c['registered'], 1, c)
            self.assertGreaterEqual(c['register_acked'], 1, c)
            self.assertGreaterEqual(c['acks_sent'], 1, c)  # for the Serving Nodes (probe and list)

    def test_2_a_client_is_given_a_router_and_reported_until_it_expires(self):
        self.assertTrue(wait_for(lambda: len(nodes(self.cf)) == 2, 10.0), self.context())
        s = self.fabric.socket()
        self.addCleanup(s.close)
        given = request_serving_node(s, self.cf_ip)
        router = [r for r in self.r if self.ep(r) == given]
        self.assertEqual(len(router), 1, 'the CF gave %s' % given)
        cid = 0x18A0001
        s.sendto(pkt_register(cid), router[0].server)
        self.assertEqual(s.recvfrom(64)[0], PKT_REGISTER_RESPONSE)
        me = '%s:%d' % s.getsockname()
        key = '0/%d' % cid
        regs = wait_for(lambda: (lambda d: d if d.get(key) == me else None)(self.cf.query('/peregrine/lb/registrations')),
                        5.0)
        self.assertTrue(regs, 'the CF never heard of %s: %r\n%s' % (key, self.cf.query('/peregrine/lb/registrations'),
                                                                   self.context()))
        # No heartbeat: it expires on the router (2 s), which reports it gone.
        gone = wait_for(lambda: key not in self.cf.query('/peregrine/lb/registrations'), 8.0)
        self.assertTrue(gone, 'still registered with the CF after the router expired it\n' + self.context())
        c = router[0].query('/peregrine/cluster')
        self.assertGreaterEqual(c['updates_sent'], 1, c)
        self.assertGreaterEqual(c['removals_sent'], 1, c)
        self.assertGreaterEqual(c['reports_acked'], 2, c)
        self.assertEqual(c['reports_lost'], 0, c)

    def test_3_only_the_server_speaks_to_the_cluster_port(self):
        r = self.r[0]
        before = r.drops()['cluster_not_server']
        peers = r.query('/peregrine/cluster/peers')
        s = self.fabric.socket()
        self.addCleanup(s.close)
        forged = bytes([9]) + struct.pack('>H', 7) + socket.inet_aton(self.fabric.hosts[200]) + struct.pack('>H', 9999)
        for _ in range(5):
            s.sendto(forged, (r.ip, CLUSTER_PORT))
        self.assertTrue(wait_for(lambda: r.drops()['cluster_not_server'] >= before + 5, 3.0), r.drops())
        self.assertEqual(r.query('/peregrine/cluster/peers'), peers)
        s.settimeout(0.3)
        with self.assertRaises(socket.timeout):
            s.recvfrom(64)  # no Ack towards a stranger

    def test_9_a_killed_router_is_removed_and_its_peer_told(self):
        self.assertTrue(wait_for(lambda: len(nodes(self.cf)) == 2, 10.0), self.context())
        dead, live = self.r[1], self.r[0]
        t0 = time.monotonic()
        dead.kill()
        self.assertTrue(wait_for(lambda: nodes(self.cf) == [self.ep(live)], 10.0),
                        'the CF still lists %r\n%s' % (nodes(self.cf), self.context()))
        self.assertTrue(wait_for(lambda: live.query('/peregrine/cluster/peers') == [], 5.0),
                        'the live router still lists %r' % live.query('/peregrine/cluster/peers'))
        took = time.monotonic() - t0
        self.assertLess(took, 10.0)
        c = live.query('/peregrine/cluster')
        self.assertGreaterEqual(c['peers_removed'], 1, c)
        print('\n  killed router removed everywhere after %.1f s (--lb-expiry 3)' % took)
        # Restarted at the same address: registers anew (its Request IDs start elsewhere, so
        # nothing it sends is taken for its last life's duplicates) and the other learns it again.
        again = FabricEngine(self.fabric, dead.ip, self.server_args + ['--heartbeat-timeout', '2'])
        self.engines.append(again)
        t0 = time.monotonic()
        again.start()
        want = sorted(self.ep(r) for r in self.r)
        self.assertTrue(wait_for(lambda: nodes(self.cf) == want, 10.0),
                        'the CF lists %r after the restart\n%s' % (nodes(self.cf), self.context()))
        self.assertTrue(wait_for(lambda: live.query('/peregrine/cluster/peers') == [self.ep(dead)], 5.0),
                        'the live router lists %r' % live.query('/peregrine/cluster/peers'))
        self.assertTrue(wait_for(lambda: again.query('/peregrine/cluster/peers') == [self.ep(live)], 5.0),
                        'the restarted router lists %r' % again.query('/peregrine/cluster/peers'))
        print('  restarted router listed everywhere again after %.1f s' % (time.monotonic() - t0))


class UnreachableServerTest(unittest.TestCase):
    def test_the_router_serves_its_clients_without_a_server(self):
        f = Fabric()
        self.addCleanup(f.destroy)
        nobody = f.hosts[249]  # no host answers ARP there
        r = FabricEngine(f, f.hosts[1], ['--lb-server', '%s:%d' % (nobody, LB_PORT)])
        self.addCleanup(r.destroy)
        r.start()
        s = f.socket()
        self.addCleanup(s.close)
        s.sendto(pkt_register(0x18B0002), r.server)
        self.assertEqual(s.recvfrom(64)[0], PKT_REGISTER_RESPONSE)
        s.sendto(pkt_message(0x18B0002, b'hello'), r.server)
        self.assertEqual(s.recvfrom(64)[0][5:], b'hello')
        c = wait_for(lambda: (lambda c: c if c['no_next_hop'] >= 2 else None)(r.query('/peregrine/cluster')), 5.0)
        self.assertTrue(c, r.query('/peregrine/cluster'))
        self.assertEqual(c['registered'], 0, c)
        self.assertEqual(r.stop(), 0, r.context())


if __name__ == '__main__':
    main()
