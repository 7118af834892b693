"""Reads Google Benchmark JSON output of the per-packet benchmarks (bench_router, bench_session)
for the table scripts (bench_table.py, bench_session_table.py).

Each file contributes the median of its repetitions (the "median" aggregate, or the plain runs
when there are no aggregates); with several files (separate processes, so separate memory
placement and separate bursts of noise from other tenants) a benchmark's figure is the median of
those medians.
"""
import json
import statistics


def medians(path):
    """The run's context and {benchmark: per_pkt ns} of one JSON file."""
    with open(path) as f:
        doc = json.load(f)
    med = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "per_pkt" in b:
            med[b.get("run_name", b["name"])] = b["per_pkt"] * 1e9  # seconds -> ns
    return doc.get("context", {}), med


def median_of_medians(paths):
    """(context of the first file, number of files, {benchmark: ns/pkt}) in the first file's order."""
    runs = [medians(p) for p in paths]
    names = list(runs[0][1])
    med = {n: statistics.median(r[1][n] for r in runs if n in r[1]) for n in names}
    return runs[0][0], len(runs), med
