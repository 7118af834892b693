#!/usr/bin/env python3
"""Turns bench_router JSON output into the Markdown tables of docs/performance.md.

    for i in 1 2 3; do
      ./build/perf/bench_router --benchmark_repetitions=5 --benchmark_min_time=0.5 \
          --benchmark_report_aggregates_only=true \
          --benchmark_out=bench$i.json --benchmark_out_format=json
    done
    perf/bench_table.py bench1.json bench2.json bench3.json

Each file contributes the median of its repetitions; with several files (separate processes,
so separate memory placement and separate bursts of noise from other tenants) a benchmark's
figure is the median of those medians. "net" subtracts BM_restore_only (the harness) from a
process_burst benchmark. TSC cycles are ns * tsc_hz from the run's context.
"""
import json
import statistics
import sys


def medians(path):
    with open(path) as f:
        doc = json.load(f)
    med = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "per_pkt" in b:
            med[b.get("run_name", b["name"])] = b["per_pkt"] * 1e9  # seconds -> ns
    return doc.get("context", {}), med


def main(paths):
    runs = [medians(p) for p in paths]
    ctx = runs[0][0]
    tsc_ghz = float(ctx.get("tsc_hz", 0)) / 1e9
    names = list(runs[0][1])
    med = {n: statistics.median(r[1][n] for r in runs if n in r[1]) for n in names}
    restore = med.get("BM_restore_only")
    print(f"EAL memory: {ctx.get('eal_memory', '?')}; TSC {tsc_ghz:.3f} GHz; "
          f"{len(runs)} run(s) from {ctx.get('date', '')}")
    print()
    print("| benchmark | clients | NIC csum | ns/pkt | Mpps | TSC cyc/pkt | net ns/pkt |")
    print("| --- | ---: | :---: | ---: | ---: | ---: | ---: |")
    for name in names:
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
