#!/usr/bin/env python3
"""Turns bench_session JSON output into the table of docs/performance.md ("Session protocol").

    for i in 1 2 3; do
      ./build/perf/bench_session --benchmark_repetitions=3 --benchmark_min_time=0.3 \
          --benchmark_report_aggregates_only=true \
          --benchmark_out=session$i.json --benchmark_out_format=json
    done
    perf/bench_session_table.py session1.json session2.json session3.json

Each file contributes the median of its repetitions; the figure is the median of those medians.
"net" subtracts BM_restore_only for the same payload size (the harness's frame copy).
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
            med[b.get("run_name", b["name"])] = b["per_pkt"] * 1e9
    return doc.get("context", {}), med


def main(paths):
    runs = [medians(p) for p in paths]
    ctx = runs[0][0]
    names = list(runs[0][1])
    med = {n: statistics.median(r[1][n] for r in runs if n in r[1]) for n in names}
    print(f"IPsec-MB: {ctx.get('ipsec_mb_arch', '?')}; {len(runs)} run(s) from {ctx.get('date', '')}")
    print()
    print("| mode | application | sessions | payload | ns/pkt | net ns/pkt | Mpps |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        parts = name.split("/")
        if parts[0] != "BM_data_ack":
            continue
        a = dict(p.split(":", 1) for p in parts[1:])
        ns = med[name]
        restore = med.get(f"BM_restore_only/payload:{a['payload']}")
        net = f"{ns - restore:.0f}" if restore is not None else ""
        mode = "HMAC-SHA-256" if a["keyed"] == "1" else "SHA-256"
        app = "echo" if a["echo"] == "1" else "discard"
        sessions = f"{int(a['sessions']):,}".replace(",", " ")
        print(f"| {mode} | {app} | {sessions} | {a['payload']} | {ns:.0f} | {net} | {1e3 / ns:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench_session_table.py session.json [more.json ...]")
    main(sys.argv[1:])
