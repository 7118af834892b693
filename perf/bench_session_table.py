#!/usr/bin/env python3
"""Turns bench_session JSON output into the table of docs/performance.md ("Session protocol").

    for i in 1 2 3; do
      ./build/perf/bench_session --benchmark_repetitions=3 --benchmark_min_time=0.3 \
          --benchmark_report_aggregates_only=true \
          --benchmark_out=session$i.json --benchmark_out_format=json
    done
    perf/bench_session_table.py session1.json session2.json session3.json

Each file contributes the median of its repetitions; the figure is the median of those medians
(bench_json.py).
"net" subtracts BM_restore_only for the same payload size (the harness's frame copy).
"""
import sys

from bench_json import median_of_medians


def main(paths):
    ctx, n_runs, med = median_of_medians(paths)
    print(f"IPsec-MB: {ctx.get('ipsec_mb_arch', '?')}; {n_runs} run(s) from {ctx.get('date', '')}")
    print()
    print("| mode | application | sessions | payload | ns/pkt | net ns/pkt | Mpps |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name in med:
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
