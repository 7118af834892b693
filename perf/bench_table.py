#!/usr/bin/env python3
"""Turns bench_router JSON output into the Markdown tables of docs/performance.md.

    for i in 1 2 3; do
      ./build/perf/bench_router --benchmark_repetitions=5 --benchmark_min_time=0.5 \
          --benchmark_report_aggregates_only=true \
          --benchmark_out=bench$i.json --benchmark_out_format=json
    done
    perf/bench_table.py bench1.json bench2.json bench3.json

Each file contributes the median of its repetitions; with several files a benchmark's figure is
the median of those medians (bench_json.py). "net" subtracts BM_restore_only (the harness) from a
process_burst benchmark. TSC cycles are ns * tsc_hz from the run's context.
"""
import sys

from bench_json import median_of_medians


def main(paths):
    ctx, n_runs, med = median_of_medians(paths)
    tsc_ghz = float(ctx.get("tsc_hz", 0)) / 1e9
    restore = med.get("BM_restore_only")
    print(f"EAL memory: {ctx.get('eal_memory', '?')}; TSC {tsc_ghz:.3f} GHz; "
          f"{n_runs} run(s) from {ctx.get('date', '')}")
    print()
    print("| benchmark | clients | NIC csum | ns/pkt | Mpps | TSC cyc/pkt | net ns/pkt |")
    print("| --- | ---: | :---: | ---: | ---: | ---: | ---: |")
    for name in med:
        ns = med[name]
        parts = name.split("/")
        bench = parts[0].removeprefix("BM_")
        args = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
        clients = args.get("clients", "")
        if clients:
            clients = f"{int(clients):,}".replace(",", " ")
        csum = {"0": "no", "1": "yes"}.get(args.get("nic_csum", ""), "")
        is_burst = bench in ("heartbeat", "forward", "unknown_recipient")
        net = f"{ns - restore:.1f}" if (is_burst and restore is not None) else ""
        print(f"| {bench} | {clients} | {csum} | {ns:.1f} | {1e3 / ns:.1f} | {ns * tsc_ghz:.0f} | {net} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench_table.py bench.json [more.json ...]")
    main(sys.argv[1:])
