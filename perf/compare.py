#!/usr/bin/env python3
"""Side-by-side performance run: Peregrine vs dpdk-testpmd 5tswap vs a kernel-socket server.

One command, back to back on the same cores and with the same generator (peregrine-trafgen):
  1. peregrine, router heartbeat and router forwarding (default 1M registered clients), on a
     net_memif link (peregrine is the memif server, trafgen the client, separate --file-prefix);
  2. dpdk-testpmd --forward-mode=5tswap on the same memif link: this host's I/O ceiling
     (trafgen --reflector counts the mirrored request as the answer);
  3. perf/baselines/router_server (recvmmsg/sendmmsg) in a network namespace behind a veth
     pair; trafgen drives the root-side veth through net_af_packet.
Prints a table (Mpps, loss, p50/p99/p99.9) and the ratios Peregrine/testpmd and
Peregrine/kernel, writes JSON and Markdown, and a PNG chart when matplotlib is installed.

  sudo perf/compare.py --build build                 # the standard comparison (~2 min)
  sudo perf/compare.py --build build --smoke         # seconds, small counts (the test suite)
  sudo perf/compare.py --build build --sweep-clients 1000,1000000,10000000 \
        --sweep-payload 16,64,256,1400               # the full sweep (peregrine + testpmd forwarding)

Only two cores here: peregrine's control lcore and the generator share CPU 0, the worker (or
testpmd's forwarding core, or the kernel server) has CPU 1. See docs/perf.md.
Exit status: 0 when every run moved traffic with correct answers, 1 otherwise, 77 when this
machine cannot run it (not root, no /dev/hugepages or binaries missing).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENGINE_IP = '198.18.0.1'
ENGINE_MAC = '02:00:00:00:00:01'
KNS_IP = '198.18.0.1'
KGW_IP = '198.18.0.2'
CLIENT_NET = '198.19.0.0/16'
TARGETS = {'heartbeat_vs_testpmd': 0.9, 'forward_vs_testpmd': 0.7, 'vs_kernel': 5.0}


def log(*a):
    print('compare:', *a, flush=True)


def sh(cmd, check=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r


def ports_per_ip(clients):
    """Clients per source address: spread as real clients are (one or a few behind each NAT), so
    the engine's per-source Register limit (--register-rate) meets what it would in service, and
    at most 60000 addresses from 198.19.0.1, inside 198.19.0.0/16."""
    return max(16, -(-clients // 60000))


class Runner:
    def __init__(self, a):
        self.a = a
        self.tag = 'pgc%d' % (os.getpid() % 100000)
        self.build = os.path.abspath(a.build)
        self.peregrine = os.path.join(self.build, 'src', 'peregrine')
        self.trafgen = os.path.join(self.build, 'tools', 'trafgen', 'peregrine-trafgen')
        self.server = os.path.join(self.build, 'perf', 'baselines', 'router_server')
        self.testpmd = a.testpmd or shutil.which('dpdk-testpmd')
        self.sock = '/tmp/%s.sock' % self.tag
        self.out_dir = a.out
        os.makedirs(self.out_dir, exist_ok=True)
        self.results = []
        self.failures = []

    def renice_main(self, proc):
        """Two cores: the generator shares CPU 0 with the system's main lcore (peregrine's
        control lcore spins). Only that thread (the process's first, tid = pid; Linux nice is per
        thread and the lcore threads already exist) drops to nice --nice, so the generator keeps
        CPU 0 while the worker on CPU 1 keeps its priority."""
        if self.a.nice:
            try:
                os.setpriority(os.PRIO_PROCESS, proc.pid, self.a.nice)
            except OSError as e:
                log('renice of %d failed: %s' % (proc.pid, e))

    # ---- EAL memory: hugepages unless --no-huge or too few free --------------------------------
    def mem_args(self, mb):
        if self.a.no_huge:
            return ['--no-huge', '-m', str(mb)]
        return ['-m', str(mb)]

    def trafgen_cmd(self, vdev, prefix, extra, json_path, label):
        return ([self.trafgen, '-l', self.a.gen_lcore, '--no-pci', '--file-prefix=' + prefix,
                 '--log-level=*:warning', '--vdev=' + vdev] + self.mem_args(256 if self.a.no_huge else 128) +
                ['--', '--json', json_path, '--label', label, '--duration', str(self.a.duration),
                 '--drain-ms', '300'] + (['--rate', self.a.rate] if self.a.rate else []) + extra)

    def run_trafgen(self, cmd, label, timeout):
        load0 = os.getloadavg()[0]
        t = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        load1 = os.getloadavg()[0]
        jpath = cmd[cmd.index('--json') + 1]
        if t.returncode != 0 or not os.path.exists(jpath):
            raise RuntimeError('trafgen for %s exited %d:\n%s%s' % (label, t.returncode, t.stdout[-3000:], t.stderr[-3000:]))
        with open(jpath) as f:
            r = json.load(f)
        # The 1-minute load average around the run: on a shared host it says how much of the
        # two cores the run really had.
        r['loadavg'] = [round(load0, 2), round(load1, 2)]
        for line in t.stdout.splitlines():
            if line.startswith('|') and '---' not in line and 'system' not in line:
                log(line)
        return r

    def wait_log(self, proc, path, word, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if proc.poll() is not None:
                break
            try:
                if word in open(path).read():
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError('%s did not print %r (exit %s):\n%s' % (path, word, proc.poll(), open(path).read()[-3000:]))

    def stop(self, proc, path=None):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return open(path).read() if path else ''

    def check(self, r, system, mode):
        """Traffic must flow and every answer must be right."""
        c = r.get('counters', {})
        wrong = {k: c.get(k, 0) for k in ('rx_bad_cksum', 'rx_unexpected', 'rx_malformed') if c.get(k, 0)}
        problems = []
        if not r.get('setup_ok', True):
            problems.append('setup failed: ' + r.get('setup', ''))
        if r['answered'] == 0:
            problems.append('no answers')
        if wrong:
            problems.append('wrong answers %s' % wrong)
        if self.a.max_loss is not None and r['loss'] > self.a.max_loss:
            problems.append('loss %.2f%% above %.2f%%' % (r['loss'] * 100, self.a.max_loss * 100))
        if problems:
            self.failures.append('%s %s: %s' % (system, mode, '; '.join(problems)))

    # ---- the three systems -------------------------------------------------------------------
    def peregrine_run(self, mode, clients, payload):
        prefix = self.tag + 'pe'
        logp = os.path.join(self.out_dir, 'peregrine-%s-%d-%d.log' % (mode, clients, payload))
        mb = 512 + (clients * 300 >> 20)  # registry ~230-260 B per client
        cmd = ([self.peregrine, '-l', '0-1', '--main-lcore', '0', '--no-pci', '--file-prefix=' + prefix,
                '--vdev=net_memif0,role=server,socket=%s,mac=%s' % (self.sock, ENGINE_MAC)] + self.mem_args(mb) +
               ['--', '--addr', '0:%s/16' % ENGINE_IP, '--no-tap', '--max-clients', str(max(clients, 1024)),
                '--config', '(0,0,1)'] + self.a.engine_arg)
        with open(logp, 'w') as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
        try:
            self.wait_log(p, logp, 'peregrine: ready', 60)
            self.renice_main(p)
            label = 'peregrine'
            r = self.run_trafgen(self.trafgen_cmd('net_memif0,role=client,socket=' + self.sock, self.tag + 'tg',
                                                  ['--addr', ENGINE_IP, '--dst-mac', ENGINE_MAC, '--clients', str(clients), '--ports-per-ip', str(ports_per_ip(clients)),
                                                   '--mode', mode, '--payload', str(payload)],
                                                  os.path.join(self.out_dir, 'peregrine-%s-%d-%d.json' % (mode, clients, payload)),
                                                  label), label, self.timeout(clients))
        finally:
            self.stop(p)
        r.update(system='peregrine', payload=payload)
        self.check(r, 'peregrine', mode)
        self.results.append(r)
        return r

    def testpmd_run(self, mode, clients, payload):
        prefix = self.tag + 'tp'
        logp = os.path.join(self.out_dir, 'testpmd-%s-%d.log' % (mode, payload))
        cmd = ([self.testpmd, '-l', '0-1', '--main-lcore', '0', '--no-pci', '--file-prefix=' + prefix,
                '--vdev=net_memif0,role=server,socket=%s,mac=%s' % (self.sock, ENGINE_MAC)] + self.mem_args(512) +
               ['--', '--forward-mode=5tswap', '--auto-start', '--nb-cores=1', '--rxq=1', '--txq=1',
                '--total-num-mbufs=16384'])
        with open(logp, 'w') as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
        try:
            # testpmd waits for the memif link before it forwards; the generator brings it up.
            self.wait_log(p, logp, 'Checking link statuses', 60)
            self.renice_main(p)
            label = 'testpmd-5tswap'
            r = self.run_trafgen(self.trafgen_cmd('net_memif0,role=client,socket=' + self.sock, self.tag + 'tg',
                                                  ['--addr', ENGINE_IP, '--dst-mac', ENGINE_MAC, '--clients', str(clients), '--ports-per-ip', str(ports_per_ip(clients)),
                                                   '--mode', mode, '--payload', str(payload), '--reflector'],
                                                  os.path.join(self.out_dir, 'testpmd-%s-%d-%d.json' % (mode, clients, payload)),
                                                  label), label, self.timeout(clients))
        finally:
            try:
                p.stdin.write(b'\n')
                p.stdin.flush()
            except OSError:
                pass
            self.stop(p)
        r.update(system='testpmd', payload=payload)
        self.check(r, 'testpmd', mode)
        self.results.append(r)
        return r

    def kernel_setup(self):
        ns, rif, nif = self.tag + 'ns', self.tag + 'r', self.tag + 'n'
        self.kns = (ns, rif, nif)
        sh(['ip', 'netns', 'add', ns])
        sh(['ip', 'link', 'add', rif, 'type', 'veth', 'peer', 'name', nif])
        sh(['ip', 'link', 'set', nif, 'netns', ns])
        sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
        sh(['ip', '-n', ns, 'addr', 'add', KNS_IP + '/24', 'dev', nif])
        sh(['ip', '-n', ns, 'link', 'set', nif, 'up'])
        sh(['ip', 'link', 'set', rif, 'up'])
        # The generator owns no kernel address: the namespace reaches the clients through a
        # fixed gateway whose MAC is the root-side veth's (where trafgen listens).
        rmac = open('/sys/class/net/%s/address' % rif).read().strip()
        sh(['ip', '-n', ns, 'neigh', 'replace', KGW_IP, 'lladdr', rmac, 'dev', nif, 'nud', 'permanent'])
        sh(['ip', '-n', ns, 'route', 'add', CLIENT_NET, 'via', KGW_IP, 'dev', nif])
        sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0'], check=False)
        # veth hands its peer UDP checksums still to be completed (CHECKSUM_PARTIAL), which
        # net_af_packet would deliver as wrong: the server side computes them in software.
        sh(['ip', 'netns', 'exec', ns, 'ethtool', '-K', nif, 'tx', 'off'])
        r = sh(['ip', '-n', ns, '-o', 'link', 'show', nif])
        self.kmac = r.stdout.split('link/ether ')[1].split()[0]

    def kernel_teardown(self):
        if getattr(self, 'kns', None):
            sh(['ip', 'netns', 'del', self.kns[0]], check=False)
            sh(['ip', 'link', 'del', self.kns[1]], check=False)
            self.kns = None

    def kernel_run(self, mode, clients, payload):
        ns, rif, _ = self.kns
        logp = os.path.join(self.out_dir, 'kernel-%s-%d-%d.log' % (mode, clients, payload))
        cmd = ['ip', 'netns', 'exec', ns, 'taskset', '-c', self.a.worker_cpu, self.server, '--addr', KNS_IP,
               '--max-clients', str(max(clients, 1024))]
        if self.a.kernel_busy_poll:
            cmd += ['--busy-poll', str(self.a.kernel_busy_poll)]
        with open(logp, 'w') as lf:
            p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
        try:
            self.wait_log(p, logp, 'listening', 20)
            label = 'kernel-socket'
            r = self.run_trafgen(self.trafgen_cmd('net_af_packet0,iface=%s,qpairs=1,framecnt=8192' % rif, self.tag + 'tk',
                                                  ['--addr', KNS_IP, '--dst-mac', self.kmac, '--clients', str(clients), '--ports-per-ip', str(ports_per_ip(clients)),
                                                   '--mode', mode, '--payload', str(payload)],
                                                  os.path.join(self.out_dir, 'kernel-%s-%d-%d.json' % (mode, clients, payload)),
                                                  label), label, self.timeout(clients))
        finally:
            out = self.stop(p, logp)
        last = [l for l in out.splitlines() if l.startswith('router_server: rx')]
        if last:
            log(last[-1])
        r.update(system='kernel', payload=payload)
        self.check(r, 'kernel', mode)
        self.results.append(r)
        return r

    def timeout(self, clients):
        return 60 + self.a.duration * 3 + clients / 50000

    # ---- the whole comparison ----------------------------------------------------------------
    def run(self):
        a = self.a
        rows = {}
        for mode, clients in (('heartbeat', a.hb_clients), ('forward', a.clients)):
            rows[('peregrine', mode)] = self.peregrine_run(mode, clients, a.payload)
            rows[('testpmd', mode)] = self.testpmd_run(mode, clients, a.payload)
        if not a.no_kernel:
            self.kernel_setup()
            try:
                for mode, clients in (('heartbeat', a.hb_clients), ('forward', a.kernel_clients or a.clients)):
                    rows[('kernel', mode)] = self.kernel_run(mode, clients, a.payload)
            finally:
                self.kernel_teardown()
        for c in a.sweep_clients:
            for pl in a.sweep_payload or [a.payload]:
                self.peregrine_run('forward', c, pl)
        for pl in a.sweep_payload:
            self.testpmd_run('forward', a.clients, pl)
        return rows


def ratio(x, y):
    return x / y if y else float('nan')


def summarise(runner, rows, a):
    res = runner.results
    lines = ['| system | mode | clients | payload B | offered Mpps | answered Mpps | Gbps | loss % | p50 us | p99 us | p99.9 us | load |',
             '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for r in res:
        lat = r['latency_ns']
        us = (lambda v: '%.1f' % (v / 1e3)) if lat['count'] else (lambda v: '-')
        lines.append('| %s | %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %s | %s | %s | %.1f |' % (
            r['system'], r['mode'], r['clients'], r['payload'], r['offered_mpps'], r['answered_mpps'],
            r['answered_gbps'], r['loss'] * 100, us(lat['p50']), us(lat['p99']), us(lat['p99.9']),
            max(r.get('loadavg', [0]))))
    ratios = {}
    def mpps(s, m):
        return rows[(s, m)]['answered_mpps'] if (s, m) in rows else None
    for m in ('heartbeat', 'forward'):
        pe, tp, k = mpps('peregrine', m), mpps('testpmd', m), mpps('kernel', m)
        if pe is not None and tp:
            ratios['%s_vs_testpmd' % m] = ratio(pe, tp)
        if pe is not None and k:
            ratios['%s_vs_kernel' % m] = ratio(pe, k)
    lines.append('')
    lines.append('| ratio (answered Mpps) | measured | target | met |')
    lines.append('| --- | ---: | ---: | :---: |')
    verdicts = {}
    for k, v in ratios.items():
        t = TARGETS.get(k, TARGETS['vs_kernel'] if k.endswith('vs_kernel') else None)
        met = v >= t if t is not None else None
        verdicts[k] = {'ratio': v, 'target': t, 'met': met}
        lines.append('| Peregrine %s | %.2fx | %s | %s |' % (k.replace('_vs_', ' / ').replace('_', ' '), v,
                                                          '%.1fx' % t if t else '-', 'yes' if met else 'no'))
    table = '\n'.join(lines)
    print()
    print(table)
    doc = {'host': os.uname().nodename, 'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
           'args': vars(a), 'results': res, 'ratios': verdicts, 'failures': runner.failures}
    with open(os.path.join(a.out, 'compare.json'), 'w') as f:
        json.dump(doc, f, indent=2, default=str)
    with open(os.path.join(a.out, 'compare.md'), 'w') as f:
        f.write('# Peregrine vs dpdk-testpmd 5tswap vs kernel sockets\n\n%s UTC, duration %s s per run, rate %s; '
                '"load" is the highest 1-minute load average seen around the run (2 CPUs)\n\n%s\n'
                % (doc['date'], a.duration, a.rate or 'max', table))
    draw(res, os.path.join(a.out, 'compare.png'), os.path.join(a.out, 'compare.json'))
    log('wrote %s/compare.{json,md}' % a.out)


def draw(res, path, json_path=None):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        # Debian's python3-matplotlib belongs to /usr/bin/python3; this may be another python3.
        sysp = '/usr/bin/python3'
        if json_path and os.path.realpath(sys.executable) != os.path.realpath(sysp) and os.path.exists(sysp):
            r = subprocess.run([sysp, os.path.abspath(__file__), '--plot', json_path, path], capture_output=True, text=True)
            if r.returncode == 0:
                log('wrote', path, '(with %s)' % sysp)
                return
        log('matplotlib not installed (apt-get install python3-matplotlib): no PNG chart')
        return
    base = [r for r in res if not (r['system'] != 'kernel' and r['mode'] == 'forward' and
                                   r is not next(x for x in res if x['system'] == r['system'] and x['mode'] == 'forward'))]
    labels = ['%s\n%s\n%s cl.' % (r['system'], r['mode'], '{:,}'.format(r['clients'])) for r in base]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(base)), 4.5))
    colors = {'peregrine': '#2a7ab9', 'testpmd': '#999999', 'kernel': '#d9822b'}
    ax1.bar(range(len(base)), [r['answered_mpps'] for r in base], color=[colors[r['system']] for r in base])
    ax1.set_xticks(range(len(base)), labels, fontsize=7)
    ax1.set_ylabel('answered Mpps')
    ax1.set_title('throughput')
    w = 0.28
    for i, (k, name) in enumerate((('p50', 'p50'), ('p99', 'p99'), ('p99.9', 'p99.9'))):
        ax2.bar([x + (i - 1) * w for x in range(len(base))], [r['latency_ns'][k] / 1e3 for r in base], w, label=name)
    ax2.set_yscale('log')
    ax2.set_xticks(range(len(base)), labels, fontsize=7)
    ax2.set_ylabel('latency, us (log)')
    ax2.set_title('latency')
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    log('wrote', path)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--plot':  # --plot compare.json out.png
        with open(sys.argv[2]) as f:
            draw(json.load(f)['results'], sys.argv[3])
        return 0 if os.path.exists(sys.argv[3]) else 1
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--build', default=os.path.join(ROOT, 'build'), help='meson build directory (default build)')
    p.add_argument('--out', default=None, help='output directory (default BUILD/perf-compare)')
    p.add_argument('--smoke', action='store_true', help='seconds, small counts, checks answers (the test suite)')
    p.add_argument('--duration', type=float, default=5, help='seconds of measured traffic per run (default 5)')
    p.add_argument('--rate', default='', help='trafgen --rate (default: max)')
    p.add_argument('--clients', type=int, default=1000000, help='registered clients for forwarding (default 1M)')
    p.add_argument('--hb-clients', type=int, default=10000, help='registered clients for heartbeat (default 10000)')
    p.add_argument('--kernel-clients', type=int, default=0, help='clients for the kernel forwarding run (default --clients)')
    p.add_argument('--payload', type=int, default=16, help='message body bytes (default 16)')
    p.add_argument('--sweep-clients', default='', help='comma list: extra peregrine forwarding runs, e.g. 1000,1000000,10000000')
    p.add_argument('--sweep-payload', default='', help='comma list: extra forwarding runs by payload, e.g. 16,64,256,1400')
    p.add_argument('--max-loss', type=float, default=None, help='fail when a run loses more (fraction)')
    p.add_argument('--kernel-busy-poll', type=int, default=0, help='SO_BUSY_POLL microseconds for the kernel server (default 0: off)')
    p.add_argument('--no-kernel', action='store_true', help='skip the kernel-socket server')
    p.add_argument('--engine-arg', action='append', default=[],
                   help='an extra peregrine option, e.g. --engine-arg=--control-sleep=0 (repeatable)')
    p.add_argument('--no-huge', action='store_true', help='run every DPDK process with --no-huge')
    p.add_argument('--testpmd', default='', help='dpdk-testpmd binary (default: on PATH)')
    p.add_argument('--gen-lcore', default='0', help="trafgen's lcore (default 0, shared with peregrine's control lcore)")
    p.add_argument('--nice', type=int, default=19, help="nice level of the DPDK system's main lcore thread, which shares CPU 0 with the generator (default 19; 0: off)")
    p.add_argument('--worker-cpu', default='1', help='CPU of the kernel server (default 1, like the engine worker)')
    a = p.parse_args()
    a.sweep_clients = [int(x) for x in a.sweep_clients.split(',') if x]
    a.sweep_payload = [int(x) for x in a.sweep_payload.split(',') if x]
    if a.smoke:
        a.duration = min(a.duration, 1.0)
        a.clients, a.hb_clients = 2000, 200
        a.rate = a.rate or '100k'
        a.no_huge = True
        if a.max_loss is None:
            # The smoke run shares two cores with whatever else runs: it checks that traffic
            # flows and answers are right, not how fast.
            a.max_loss = 0.9
    a.out = a.out or os.path.join(a.build, 'perf-compare' + ('-smoke' if a.smoke else ''))
    if os.geteuid() != 0:
        print('compare: needs root (network namespaces, memif sockets)', file=sys.stderr)
        return 77
    r = Runner(a)
    missing = [x for x in (r.peregrine, r.trafgen, r.server) if not os.path.exists(x)]
    if missing:
        print('compare: not built: %s (ninja -C %s)' % (', '.join(missing), a.build), file=sys.stderr)
        return 77
    if not r.testpmd:
        print('compare: dpdk-testpmd not found (apt-get install dpdk)', file=sys.stderr)
        return 77
    try:
        rows = r.run()
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print('compare: FAILED: %s' % e, file=sys.stderr)
        r.kernel_teardown()
        return 1
    finally:
        if os.path.exists(r.sock):
            os.unlink(r.sock)
    summarise(r, rows, a)
    for f in r.failures:
        print('compare: FAILED: %s' % f, file=sys.stderr)
    return 1 if r.failures else 0


if __name__ == '__main__':
    sys.exit(main())
