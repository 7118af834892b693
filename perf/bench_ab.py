#!/usr/bin/env python3
"""Interleaved A/B of two (or more) builds of a per-packet benchmark (bench_router, bench_lb, ...).

On a shared VM the same binary's timings drift by tens of percent from one quarter-hour to the
next, so "run the old build, then the new one" measures the drift. This runs the binaries in
turn, round after round (A B A B ...), each round a separate process, and prints each
benchmark's median over the rounds per binary, the change against the first, and every round's
figure, so that a difference can be read against the spread.

  perf/bench_ab.py --rounds 4 --filter 'BM_(heartbeat|forward)/' \\
      /tmp/before/perf/bench_router build/perf/bench_router -- --eal-mem=huge

Arguments after `--` go to every binary (default: --benchmark_repetitions=3
--benchmark_min_time=0.3 --benchmark_report_aggregates_only=true are added unless given).
Exit status: 0, or 1 if some run failed (its rounds are left out and reported) or none ran.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_json import medians  # noqa: E402

DEFAULTS = ['--benchmark_repetitions=3', '--benchmark_min_time=0.3', '--benchmark_report_aggregates_only=true']


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=4, help='rounds (each runs every binary once; default 4)')
    ap.add_argument('--filter', default='', help='--benchmark_filter for every run')
    ap.add_argument('binaries', nargs='+', help='benchmark executables, the first is the reference')
    a = ap.parse_args(argv)
    if a.rounds < 1:
        ap.error('--rounds must be at least 1')
    for b in a.binaries:
        if not os.access(b, os.X_OK):
            ap.error('%s: not an executable' % b)
    args = [d for d in DEFAULTS if not any(e.startswith(d.split('=')[0] + '=') for e in extra)] + extra
    if a.filter:
        args.append('--benchmark_filter=' + a.filter)

    per = [dict() for _ in a.binaries]  # binary -> {benchmark: [ns per round]}
    order = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix='bench_ab') as tmp:
        for r in range(a.rounds):
            for i, b in enumerate(a.binaries):
                out = os.path.join(tmp, '%d-%d.json' % (i, r))
                p = subprocess.run([b] + args + ['--benchmark_out=' + out, '--benchmark_out_format=json'],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    failed += 1
                    tail = p.stderr.strip().splitlines()[-1:] or ['']
                    print('bench_ab: round %d, %s exited %d: %s' % (r + 1, b, p.returncode, tail[0]), file=sys.stderr)
                    continue
                _, med = medians(out)
                for name, ns in med.items():
                    if name not in order:
                        order.append(name)
                    per[i].setdefault(name, []).append(ns)

    if not order:
        print('bench_ab: no benchmark produced a figure', file=sys.stderr)
        return 1
    w = max([len(n) for n in order] + [9])
    print('%-*s  %s' % (w, 'benchmark', '  '.join('%16s' % ('#%d' % (i + 1)) for i in range(len(a.binaries)))))
    for name in order:
        ref = per[0].get(name)
        ref_med = statistics.median(ref) if ref else None
        cells = []
        for i in range(len(a.binaries)):
            v = per[i].get(name)
            if not v:
                cells.append('%16s' % '-')
                continue
            m = statistics.median(v)
            delta = '' if i == 0 or not ref_med else ' (%+.1f%%)' % (100 * (m / ref_med - 1))
            cells.append('%16s' % ('%.1f%s' % (m, delta)))
        print('%-*s  %s' % (w, name, '  '.join(cells)))
        print('%-*s  %s' % (w, '', '  '.join('%16s' % ' '.join('%.0f' % x for x in per[i].get(name, []))
                                              for i in range(len(a.binaries)))))
    for i, b in enumerate(a.binaries):
        print('#%d %s' % (i + 1, b))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
