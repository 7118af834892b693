#!/usr/bin/env python3
"""Overload: offer the engine twice what it sustains for 30 s, router traffic on one memif port
and session traffic (5,000 HELLOs, then DATA) on a second, then check that it stayed up, counted
every drop by reason, answers at full rate again within a second and returned every mbuf.

The engine inspects router messages with the public rule set (tests/data/crs-inspect.rules), so
its fast path, not the generator, is the bottleneck on a small host. Over net_memif an overload
shows as backpressure: the generator cannot enqueue what the engine does not take (on a NIC it
would be the NIC's drops, `imissed`); what the engine itself drops is in /peregrine/drops.

    sudo perf/overload.py [--build build] [--duration 30]

Prints one JSON object with every phase's figures; exits 1 when a check fails."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'e2e'))
from peregrine_e2e import Telemetry  # noqa: E402

ENGINE_MAC = ['02:00:00:00:00:01', '02:00:00:00:00:02']
ENGINE_IP = ['198.18.0.1', '198.18.1.1']


def log(*a):
    print('overload:', *a, file=sys.stderr, flush=True)


class Rig:
    def __init__(self, a):
        self.a = a
        self.tag = 'pgo%d' % (os.getpid() % 100000)
        self.build = os.path.abspath(a.build)
        self.socks = ['/tmp/%s-%d.sock' % (self.tag, i) for i in range(2)]
        self.engine = None
        self.elog = '/tmp/%s-engine.log' % self.tag
        self.problems = []

    def start_engine(self, inspect=True):
        vdevs = ['--vdev=net_memif%d,role=server,socket=%s,mac=%s' % (i, s, ENGINE_MAC[i]) for i, s in enumerate(self.socks)]
        cmd = ([os.path.join(self.build, 'src', 'peregrine'), '-l', '0-1', '--main-lcore', '0', '--no-pci',
                '--file-prefix=' + self.tag + 'e', '--no-huge', '-m', '1024'] + vdevs +
               ['--', '--addr', '0:%s/24' % ENGINE_IP[0], '--addr', '1:%s/24' % ENGINE_IP[1], '--no-tap',
                '--config', '(0,0,1),(1,0,1)', '--max-clients', '65536', '--max-sessions', '65536',
                ] + (['--inspect-rules', os.path.join(ROOT, 'tests', 'data', 'crs-inspect.rules'), '--inspect', 'router']
                     if inspect else []))
        self.engine = subprocess.Popen(cmd, stdout=open(self.elog, 'w'), stderr=subprocess.STDOUT)
        end = time.time() + 60
        while 'peregrine: ready' not in open(self.elog).read():
            if self.engine.poll() is not None or time.time() > end:
                raise RuntimeError('engine did not start:\n' + open(self.elog).read()[-3000:])
            time.sleep(0.1)
        self.tel = Telemetry(self.tag + 'e')
        self.tel.connect()

    def trafgen(self, port, name, extra, duration, rate, wait=True):
        jpath = '/tmp/%s-%s.json' % (self.tag, name)
        cmd = ([os.path.join(self.build, 'tools', 'trafgen', 'peregrine-trafgen'), '-l', '0', '--no-pci',
                '--file-prefix=%s%s' % (self.tag, name), '--no-huge', '-m', '256', '--log-level=*:warning',
                '--vdev=net_memif0,role=client,socket=' + self.socks[port], '--',
                '--addr', ENGINE_IP[port], '--dst-mac', ENGINE_MAC[port], '--client-ip', '198.18.%d.100' % port,
                '--duration', str(duration), '--rate', str(rate), '--json', jpath, '--interval', '1'] + extra)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        p.jpath, p.name = jpath, name
        return self.finish(p) if wait else p

    def finish(self, p, timeout=300):
        out, _ = p.communicate(timeout=timeout)
        if p.returncode != 0 or not os.path.exists(p.jpath):
            raise RuntimeError('trafgen %s exited %d:\n%s' % (p.name, p.returncode, out[-3000:]))
        r = json.load(open(p.jpath))
        # 'trafgen: [   1.0s] offered X Mpps, answered Y Mpps', a line per second
        r['progress'] = []
        for l in out.splitlines():
            if l.startswith('trafgen: [') and 'offered' in l:
                w = l.replace(',', ' ').split()
                r['progress'].append((float(w[w.index('offered') + 1]), float(w[w.index('answered') + 1])))
        return r

    def check(self, ok, what):
        if not ok:
            self.problems.append(what)
            log('FAIL', what)

    def end(self, base):
        """The checks every run ends with: the mbufs in use back to base once the traffic has
        stopped, SIGTERM exits 0, and the engine's last line says every mbuf came back."""
        time.sleep(0.5)
        st = self.tel.query('/peregrine/stats')
        self.check(st['mbufs_in_use'] <= base, 'mbufs in use back to %d (now %d)' % (base, st['mbufs_in_use']))
        rc, text = self.stop_engine()
        self.check(rc == 0, 'exit 0 after SIGTERM (got %r)' % rc)
        self.check('mbuf leak' not in text and 'mbufs returned' in text, 'every mbuf returned at exit')
        return st

    def run(self, res, body):
        """body(); a failure or an exception is a problem; the rig is torn down; res (with the
        problems) is printed as JSON. Returns the exit code."""
        try:
            body()
        except Exception as e:  # noqa: BLE001 -- reported, then the rig is torn down
            self.problems.append(str(e))
            if self.engine and self.engine.poll() is None:
                self.engine.kill()
        finally:
            for s in self.socks:
                if os.path.exists(s):
                    os.unlink(s)
        res['problems'] = self.problems
        print(json.dumps(res, indent=2))
        return 1 if self.problems else 0

    def stop_engine(self):
        self.tel.close()
        self.engine.send_signal(signal.SIGTERM)
        try:
            rc = self.engine.wait(20)
        except subprocess.TimeoutExpired:
            self.engine.kill()
            rc = None
        text = open(self.elog).read()
        return rc, text


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--build', default=os.path.join(ROOT, 'build'))
    p.add_argument('--duration', type=float, default=30, help='seconds of overload (default 30)')
    a = p.parse_args()
    rig = Rig(a)
    res = {}
    router = ['--profile', 'router', '--clients', '10000', '--mode', 'forward', '--heartbeat-pct', '20',
              '--unknown-pct', '10', '--payload', '64']

    def body():
        rig.start_engine()
        base = rig.tel.query('/peregrine/stats')['mbufs_in_use']
        # 1. What the engine sustains: the generator at its maximum for 3 s.
        cal = rig.trafgen(0, 'cal', router, 3, 0)
        sustained = cal['answered'] / cal['seconds']
        res['sustained_pps'] = round(sustained)
        log('sustained %.3f Mpps (offered %.3f)' % (sustained / 1e6, cal['offered'] / cal['seconds'] / 1e6))
        # 2. Twice that for --duration s, with 5,000 sessions opening (HELLOs through the control
        # lcore) and then sending DATA on the second port meanwhile.
        gen = rig.trafgen(0, 'over', router, a.duration, int(2 * sustained), wait=False)
        time.sleep(1)
        ses = rig.trafgen(1, 'ses', ['--profile', 'session', '--clients', '5000', '--payload', '64'],
                          max(1, a.duration - 6), 20000, wait=False)
        over = rig.finish(gen, timeout=a.duration + 120)
        sr = rig.finish(ses, timeout=a.duration + 120)
        res['overload'] = {'target_pps': int(2 * sustained), 'offered_pps': round(over['offered'] / over['seconds']),
                           'answered_pps': round(over['answered'] / over['seconds']), 'seconds': over['seconds']}
        res['sessions'] = {'setup': sr.get('setup', ''), 'answered': sr['answered'], 'offered': sr['offered']}
        rig.check(rig.engine.poll() is None, 'the engine stayed up')
        rig.check(over['answered'] > 0.5 * sustained * over['seconds'], 'answered under overload (%d)' % over['answered'])
        rig.check(sr.get('setup_ok', True) and sr['answered'] > 0, 'sessions opened and answered under overload')
        # 3. Below capacity again: answered at the offered rate from the first second on.
        rec = rig.trafgen(0, 'rec', router, 3, int(0.5 * sustained))
        first = rec['progress'][0] if rec['progress'] else (0.0, 0.0)
        res['recovery'] = {'offered_pps': round(rec['offered'] / rec['seconds']), 'loss': rec['loss'],
                           'first_second_mpps': {'offered': first[0], 'answered': first[1]}}
        rig.check(rec['loss'] < 0.01, 'recovery loss %.4f' % rec['loss'])
        rig.check(first[0] > 0 and first[1] >= 0.95 * first[0],
                  'full rate within the first second after the overload (%r)' % (first,))
        # Every drop has its reason; no mbuf is left behind once the traffic stops.
        time.sleep(0.5)
        drops = rig.tel.query('/peregrine/drops')
        res['drops'] = {k: v for k, v in drops.items() if v}
        st = rig.end(base)
        rig.check(sum(v for v in drops.values() if isinstance(v, int)) == st['drops'],
                  'drops by reason sum to the total')

    return rig.run(res, body)


if __name__ == '__main__':
    sys.exit(main())
