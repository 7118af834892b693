#!/usr/bin/env python3
"""What the control lcore's idle sleep costs the slow path: the real engine on a net_tap wire in
a namespace (the e2e harness), then from the namespace
  - ping: ICMP echo round trips through the TAP exception path (N pings, one at a time);
  - LEKT: heartbeat round trips on an established connection (the control lcore's epoll server);
  - registrations: Register Client round trips, one at a time (worker -> control ring ->
    registry -> reply), and the rate with W in flight (W sockets, each waiting for its answer).
Medians and p99 in microseconds, and the share of the control lcore's CPU that a spinning thread
gets while the engine idles (cpu0_share_idle: 1.0 means the idle control lcore costs nothing);
run it once per configuration and compare:

  perf/control_latency.py                                  # the default (--control-sleep 1000)
  perf/control_latency.py --engine-arg=--control-sleep=0   # a busy-polling control lcore
"""

import argparse
import json
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import peregrine_e2e as h  # noqa: E402
import lekt_client as L  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def summary(us):
    return {'median_us': round(statistics.median(us), 1), 'p99_us': round(pct(us, 0.99), 1), 'n': len(us)}


def cpu_share(cpu, seconds=2.0):
    """The share of CPU `cpu` that a spinning thread pinned there gets: 1.0 when nothing else
    wants that CPU (what an idle control lcore should cost), about 0.5 beside a busy poller."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.sched_setaffinity(0, {cpu})
        t0, c0 = time.monotonic(), time.process_time()
        while time.monotonic() - t0 < seconds:
            pass
        os.write(w, ('%f' % ((time.process_time() - c0) / (time.monotonic() - t0))).encode())
        os._exit(0)
    os.close(w)
    share = float(os.read(r, 64) or b'0')
    os.close(r)
    os.waitpid(pid, 0)
    return round(share, 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--engine-arg', action='append', default=[], help='extra engine option (repeatable)')
    ap.add_argument('--count', type=int, default=300, help='round trips per measurement (default 300)')
    ap.add_argument('--window', type=int, default=32, help='registrations in flight for the rate (default 32)')
    ap.add_argument('--registrations', type=int, default=20000, help='registrations for the rate (default 20000)')
    a = ap.parse_args()
    os.environ.setdefault('PEREGRINE', os.path.join(ROOT, 'build', 'src', 'peregrine'))
    eng = h.Engine(app=a.engine_arg, cpu_qos=True)  # the engine's defaults, its CPU's resume latency too
    out = {'engine_args': a.engine_arg}
    try:
        eng.start()
        eng.ns_run(['ping', '-c', '3', '-W', '2', eng.ip], check=False)  # ARP
        time.sleep(0.5)  # an idle spell: the sleep has reached its ceiling
        out['cpu0_share_idle'] = cpu_share(0)  # the control lcore's CPU (-l 0-1), engine idle
        p = eng.ns_run(['ping', '-c', str(a.count), '-i', '0.01', '-W', '2', eng.ip], check=False)
        rtts = [float(x) * 1000 for x in re.findall(r'time=([\d.]+) ms', p.stdout)]
        out['ping'] = summary(rtts)

        s = eng.tcp_socket()
        s.settimeout(5)
        s.connect((eng.ip, 7500))
        c = L.LektClient(s)
        c.join({1: L.info_udp('198.18.9.9', 9000)})
        c.heartbeat()
        hb = []
        for _ in range(a.count):
            time.sleep(0.01)  # paced like the pings: the loop is idle in between
            t0 = time.perf_counter()
            c.heartbeat()
            hb.append((time.perf_counter() - t0) * 1e6)
        out['lekt_heartbeat'] = summary(hb)
        c.close()

        r = eng.client()
        one = []
        for i in range(a.count):
            time.sleep(0.01)
            t0 = time.perf_counter()
            if r.request(h.pkt_register(0x100000 + i)) != h.PKT_REGISTER_RESPONSE:
                raise RuntimeError('no Register Client Response')
            one.append((time.perf_counter() - t0) * 1e6)
        out['register_one'] = summary(one)

        socks = [eng.udp_socket() for _ in range(a.window)]
        for x in socks:
            x.setblocking(False)
        sent = done = 0
        t0 = time.perf_counter()
        import selectors
        sel = selectors.DefaultSelector()
        for x in socks:
            sel.register(x, selectors.EVENT_READ)
        for x in socks:
            x.sendto(h.pkt_register(0x200000 + sent), eng.server)
            sent += 1
        while done < a.registrations and time.perf_counter() - t0 < 60:
            for key, _ in sel.select(1.0):
                try:
                    key.fileobj.recvfrom(64)
                except BlockingIOError:
                    continue
                done += 1
                if sent < a.registrations:
                    key.fileobj.sendto(h.pkt_register(0x200000 + sent), eng.server)
                    sent += 1
        secs = time.perf_counter() - t0
        out['register_rate'] = {'per_s': round(done / secs), 'answered': done, 'window': a.window}
        ctl = [v for v in eng.query('/peregrine/lcores').values() if v['role'] == 'control'][0]
        out['control_idle_sleep_us'] = ctl['idle_sleep_us']
        out['control_sleeps'] = ctl.get('sleeps')
        out['control_sleeps_woken'] = ctl.get('sleeps_woken')
        out['doorbells'] = eng.stats().get('doorbells')
    finally:
        eng.destroy()
    print(json.dumps(out, indent=1))


if __name__ == '__main__':
    main()
