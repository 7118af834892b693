#!/usr/bin/env python3
"""The cluster's control traffic on a wire (docs/performance.md, "Cluster"): three router engines
and a Controlling Function engine on one bridge (tests/e2e/test_cluster.py's fabric), CLIENTS
registered on the first router, then MOVES per second of them registering again from a new
endpoint for SECONDS (default 167/s: 1 % per minute of 1 million clients; the control traffic
follows the number of moves, not of clients). Prints what the first router sent and received,
per second, from its own counters (/peregrine/cluster), beside the Controlling Function's.

  sudo perf/cluster_churn.py [--clients 10000] [--moves 167] [--seconds 60] [--build build]
"""
import argparse
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'e2e'))

import peregrine_e2e as h  # noqa: E402
from peregrine_e2e import pkt_register, wait_for  # noqa: E402
from test_cluster import LB_PORT, Fabric, FabricEngine, nodes  # noqa: E402

TO_CF = ('registers_sent', 'updates_sent', 'removals_sent', 'retransmitted', 'acks_sent')
TO_PEERS = ('dir_updates_sent', 'dir_removals_sent', 'dir_retransmitted', 'locates_sent', 'locates_answered')


def register(fabric, router, cid, port):
    """Client cid registers on router from (fabric client, port); True once answered."""
    with h.in_netns(fabric.ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((fabric.client_ip, port))
        s.settimeout(1.0)
        s.sendto(pkt_register(cid), router.server)
        return s.recvfrom(64)[0] == h.PKT_REGISTER_RESPONSE
    except socket.timeout:
        return False
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--clients', type=int, default=10000)
    ap.add_argument('--moves', type=float, default=167.0, help='re-registrations from a new endpoint per second')
    ap.add_argument('--seconds', type=float, default=60.0)
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    a = ap.parse_args()
    os.environ.setdefault('PEREGRINE', os.path.join(a.build, 'src', 'peregrine'))
    if a.clients > 20000 or a.moves * a.seconds > 20000:
        sys.exit('the client host has one address: at most 20,000 clients and 20,000 moves (ports 20000-39999, 45000-64999)')

    f = Fabric()
    cf_ip = f.hosts[10]
    server = ['--lb-server', '%s:%d' % (cf_ip, LB_PORT)]
    cf = FabricEngine(f, cf_ip, [])
    routers = [FabricEngine(f, f.hosts[11 + i], server) for i in range(3)]
    engines = [cf] + routers
    try:
        for e in engines:
            e.start()
        want = sorted('%s:%d' % (r.ip, h.ROUTER_PORT) for r in routers)
        if not wait_for(lambda: nodes(cf) == want, 15.0):
            sys.exit('the CF lists %r' % nodes(cf))
        r0 = routers[0]
        t0 = time.monotonic()
        for i in range(a.clients):
            if not register(f, r0, 0x18E00000 + i, 20000 + i):
                sys.exit('client %d: no Register Client Response' % i)
        # Reported to the CF and the homes before the measurement starts.
        wait_for(lambda: (lambda c: c['queued'] == 0 and c['in_flight'] == 0 and c['dir_queued'] == 0 and
                          c['dir_in_flight'] == 0)(r0.query('/peregrine/cluster')), 30.0)
        print('%d clients registered on %s in %.1f s' % (a.clients, r0.ip, time.monotonic() - t0))

        before = r0.query('/peregrine/cluster')
        cf_before = cf.query('/peregrine/lb')
        start = time.monotonic()
        n = 0
        port = 45000
        while True:
            t = time.monotonic() - start
            if t >= a.seconds:
                break
            due = int(t * a.moves)
            while n < due:
                register(f, r0, 0x18E00000 + (n * 7919) % a.clients, port)
                port += 1
                n += 1
            time.sleep(0.002)
        took = time.monotonic() - start
        time.sleep(1.5)  # the last reports' Acks
        after = r0.query('/peregrine/cluster')
        cf_after = cf.query('/peregrine/lb')

        def rate(keys):
            return sum(after[k] - before[k] for k in keys) / took
        print('%d moves in %.1f s (%.0f/s), router %s with %d clients:' % (n, took, n / took, r0.ip, a.clients))
        print('  to the CF      %7.1f datagrams/s  (%s)' % (rate(TO_CF), ', '.join(TO_CF)))
        print('  to the peers   %7.1f datagrams/s  (%s)' % (rate(TO_PEERS), ', '.join(TO_PEERS)))
        print('  originated     %7.1f frames/s (the two above and ARP)' % rate(('originated',)))
        print('  received       %7.1f datagrams/s (Acks and directory messages from the CF and the peers)' %
              rate(('received',)))
        print('  lost           %d reports, %d directory messages' %
              (after['reports_lost'] - before['reports_lost'], after['dir_lost'] - before['dir_lost']))
        cf_rx = {k: cf_after[k] - cf_before[k] for k in cf_after
                 if isinstance(cf_after[k], int) and k in cf_before and cf_after[k] != cf_before[k]}
        print('  the CF, per second: %s' % ', '.join('%s %.1f' % (k, v / took) for k, v in sorted(cf_rx.items())))
    finally:
        for e in engines:
            e.destroy()
        f.destroy()


if __name__ == '__main__':
    main()
