#!/usr/bin/env python3
"""LEKT load benchmark: N concurrent LEKT clients heartbeating every second, and router throughput
with and without that load (Python 3 stdlib; needs root, /dev/net/tun, iproute2).

Starts the real engine on a net_tap wire moved into a network namespace (the e2e harness,
tests/e2e/peregrine_e2e.py), then:
  1. router alone: tools/router_client.py load for --duration seconds;
  2. LEKT: tools/lekt_client.py load with --clients clients (spread over the namespace's
     addresses) joins; once every client is a member, the same router load runs again for
     --duration seconds while the LEKT clients keep heartbeating;
and prints a table: router messages delivered per second and the engine's packet rate (RX+TX on
the wire port, from /peregrine/stats) in both phases, and the LEKT heartbeat-answer latency
percentiles measured while the router load ran.

  sudo perf/lekt_load.py --exe build/src/peregrine --clients 10000 --duration 15 \
      --load-client build/perf/lekt_load_client      # C++ clients; without: tools/lekt_client.py
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
import peregrine_e2e as h  # noqa: E402

TOOLS = os.path.join(ROOT, 'tools')


def router_load(eng, args):
    cmd = ['ip', 'netns', 'exec', eng.netns, sys.executable, os.path.join(TOOLS, 'router_client.py'),
           '--server', eng.ip, '--bind', eng.client_ips[0], 'load', '--clients', str(args.router_clients),
           '--rate', str(args.router_rate), '--duration', str(args.duration), '--max-loss', '100']
    s0 = eng.stats()
    d0 = eng.drops()
    r0 = eng.router()
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=args.duration + 60)
    t1 = time.monotonic()
    s1 = eng.stats()
    d1 = eng.drops()
    r1 = eng.router()
    drops = {k: d1[k] - d0[k] for k in d1 if d1[k] != d0[k]}
    rtr = {k: r1[k] - r0[k] for k in ('register_rx', 'heartbeat_answered', 'message_forwarded', 'unknown_recipient')
           if k in r1}
    summary = [l for l in p.stdout.splitlines() if l.startswith('summary:')]
    delivered = None
    if summary:
        # "... N delivered (x% lost), R delivered/s; ..."
        part = summary[0].split(' delivered/s')[0].rsplit(' ', 1)[-1]
        delivered = float(part)
    pkts = (s1['rx_packets'] - s0['rx_packets']) + (s1['tx_packets'] - s0['tx_packets'])
    return {'delivered_per_s': delivered, 'engine_pps': pkts / (t1 - t0), 'drops': drops, 'router': rtr,
            'summary': (summary[0] if summary else p.stdout[-2000:]) + '\n    engine drops %r, router %r' % (drops, rtr)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--exe', default=h.exe_path(), help='peregrine binary')
    ap.add_argument('--clients', type=int, default=10000)
    ap.add_argument('--load-client', metavar='PATH',
                    help='the C++ load client (build/perf/lekt_load_client) instead of tools/lekt_client.py load')
    ap.add_argument('--duration', type=float, default=15.0, help='seconds per router phase')
    ap.add_argument('--router-clients', type=int, default=64)
    ap.add_argument('--router-rate', type=float, default=100000.0, help='messages/s asked of the router load')
    ap.add_argument('--connect-rate', type=float, default=1000.0, help='LEKT connections opened per second')
    ap.add_argument('--methods', choices=['udp', 'none'], default='udp')
    ap.add_argument('--source-ips', type=int, default=200,
                    help='client addresses in the namespace (default 200: 50 clients per address at 10,000, '
                         'under the default --lekt-max-per-ip 64, as clients behind NATs)')
    ap.add_argument('--max-per-ip', type=int, default=64, help='--lekt-max-per-ip of the engine (default 64)')
    ap.add_argument('--lekt-timeout', type=int, default=120,
                    help='--lekt-heartbeat-timeout and --lekt-handshake-timeout of the engine: the join storm '
                         '(every client learns every other: N^2 records) must not time clients out')
    ap.add_argument('--engine-arg', action='append', default=[], metavar='ARG',
                    help='one more engine application option (repeatable), e.g. --engine-arg=--tap-rx-signal '
                         'or --engine-arg=--idle-sleep=200')
    args = ap.parse_args()
    os.environ['PEREGRINE'] = os.path.abspath(args.exe)
    why = h.skip_reason()
    if why:
        print('cannot run: ' + why)
        return 2
    eng = h.Engine(app=['--lekt-max-clients', str(args.clients + 100), '--lekt-max-per-ip', str(args.max_per_ip),
                        '--lekt-heartbeat-timeout', str(args.lekt_timeout),
                        '--lekt-handshake-timeout', str(min(args.lekt_timeout, 300))] + args.engine_arg)
    try:
        eng.start()
        print('engine up: %s' % ' '.join(eng.command()), flush=True)
        # More client addresses: a removal is announced per IP and re-announces the members still
        # at that IP (docs/protocols/lekt.md), so thousands of clients on 3 addresses would
        # measure that rather than heartbeats.
        hosts = [str(x) for x in list(eng.subnet.hosts())[4:4 + max(0, args.source_ips - 3)]]
        for ip in hosts:
            h.run(['ip', '-n', eng.netns, 'addr', 'add', '%s/%d' % (ip, eng.subnet.prefixlen), 'dev', eng.wire])
        sources = eng.client_ips + hosts
        alone = router_load(eng, args)
        print('router alone: %s' % alone['summary'], flush=True)

        lekt_cmd = ['ip', 'netns', 'exec', eng.netns, sys.executable, os.path.join(TOOLS, 'lekt_client.py'),
                    '--server', eng.ip, 'load', '--clients', str(args.clients), '--interval', '1',
                    '--warmup', '3', '--duration', str(args.duration + 2), '--connect-rate', str(args.connect_rate),
                    '--methods', args.methods, '--source', ','.join(sources), '--timeout', '900', '--json']
        if args.load_client:
            lekt_cmd = ['ip', 'netns', 'exec', eng.netns, os.path.abspath(args.load_client), eng.ip, '7500',
                        str(args.clients), str(args.duration + 2), '--interval', '1', '--warmup', '3',
                        '--connect-rate', str(args.connect_rate), '--methods', args.methods,
                        '--source', ','.join(sources), '--timeout', '900']
        lp = subprocess.Popen(lekt_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        measuring = threading.Event()

        def reader():
            for line in lp.stdout:
                lines.append(line.rstrip())
                print('  lekt: ' + line.rstrip(), flush=True)
                if '(measuring)' in line:
                    measuring.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        while not measuring.is_set() and lp.poll() is None:
            time.sleep(0.2)
        lekt_tel = eng.query('/peregrine/lekt')
        loaded = router_load(eng, args)
        print('router with LEKT load: %s' % loaded['summary'], flush=True)
        lp.wait(timeout=args.duration + 300)
        t.join(5)
        res = json.loads(lines[-1]) if lines and lines[-1].startswith('{') else {}
        tel = eng.query('/peregrine/lekt')
        print()
        print('| | router delivered msgs/s | engine wire pps (RX+TX) |')
        print('| --- | ---: | ---: |')
        print('| router load alone | %.0f | %.0f |' % (alone['delivered_per_s'] or 0, alone['engine_pps']))
        print('| with %d LEKT clients heartbeating 1/s | %.0f | %.0f |' %
              (args.clients, loaded['delivered_per_s'] or 0, loaded['engine_pps']))
        print()
        print('LEKT: %s joined, %s heartbeats answered in %s s (%s/s); heartbeat answer latency p50 %s ms, '
              'p99 %s ms, p99.9 %s ms, max %s ms; members at router start %d; rejects %d' %
              (res.get('joined'), res.get('heartbeats_answered'), res.get('measured_s'), res.get('heartbeats_per_s'),
               res.get('p50_ms'), res.get('p99_ms'), res.get('p999_ms'), res.get('max_ms'), lekt_tel['members'],
               tel['rejects_total']))
        print('LEKT telemetry: %s' % json.dumps(tel))
        return 0 if res.get('joined') == args.clients else 1
    finally:
        eng.stop()
        eng.destroy()


if __name__ == '__main__':
    sys.exit(main())
