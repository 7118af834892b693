#!/usr/bin/env python3
"""Turns bench_crypto JSON output into the Markdown tables of docs/performance.md.

    for i in 1 2 3; do
      ./build/perf/bench_crypto --benchmark_repetitions=3 --benchmark_min_time=0.2 \
          --benchmark_report_aggregates_only=true \
          --benchmark_out=crypto$i.json --benchmark_out_format=json
    done
    perf/bench_crypto_table.py crypto1.json crypto2.json crypto3.json

Each file contributes the median of its repetitions; a benchmark's figure is the median of the
files' medians. Prints one comparison table (accelerator vs its peers, speed-up = peer ns /
accelerator ns) and the full list.
"""
import json
import statistics
import sys


def medians(path):
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        if "per_pkt" not in b:
            continue
        name = b.get("run_name", b["name"])
        out[name] = (b["per_pkt"] * 1e9, b.get("bytes_per_second", 0) / 1e9, b.get("ratio"))
    return doc.get("context", {}), out


def main(paths):
    runs = [medians(p) for p in paths]
    names = list(runs[0][1])
    med = {}
    for n in names:
        vals = [r[1][n] for r in runs if n in r[1]]
        ratio = vals[0][2]
        med[n] = (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals), ratio)
    ctx = runs[0][0]
    print(f"IPsec-MB {ctx.get('ipsec_mb', '?')} (auto arch {ctx.get('ipsec_mb_auto_arch', '?')}), "
          f"{ctx.get('openssl', '?')}, zlib {ctx.get('zlib', '?')}; {len(paths)} run(s)\n")

    sizes = [64, 256, 1024, 1400]
    rows = []  # (what, size, accel name, [peer names])
    for s in sizes:
        rows.append(("SHA-256", s, f"BM_sha256_mb/size:{s}/arch:0",
                     [f"BM_sha256_openssl_oneshot/size:{s}", f"BM_sha256_openssl_evp_digest/size:{s}",
                      f"BM_sha256_openssl_evp_reused/size:{s}"]))
    for s in sizes:
        rows.append(("HMAC-SHA-256", s, f"BM_hmac_mb/size:{s}/arch:0",
                     [f"BM_hmac_openssl_oneshot/size:{s}", f"BM_hmac_openssl_mac_reused/size:{s}"]))
    for key in (16, 32):
        for enc in (1, 0):
            for s in sizes:
                what = f"AES-{key * 8}-GCM {'enc' if enc else 'dec+verify'}"
                rows.append((what, s, f"BM_gcm_mb/size:{s}/key:{key}/enc:{enc}",
                             [f"BM_gcm_openssl/size:{s}/key:{key}/enc:{enc}"]))
    for s in sizes + [65536]:
        rows.append(("CRC-32", s, f"BM_crc32_isal/size:{s}", [f"BM_crc32_zlib/size:{s}"]))
    for s in (256, 1400, 4096, 16384, 65536):
        rows.append(("deflate L1", s, f"BM_deflate_igzip/size:{s}/level:1", [f"BM_deflate_zlib/size:{s}/level:1"]))
        rows.append(("deflate L0", s, f"BM_deflate_igzip/size:{s}/level:0", [f"BM_deflate_zlib/size:{s}/level:1"]))
        rows.append(("deflate L0 trained", s, f"BM_deflate_igzip_trained/size:{s}", [f"BM_deflate_zlib/size:{s}/level:1"]))
    for s in (256, 1400, 4096, 16384, 65536):
        rows.append(("inflate", s, f"BM_inflate_igzip/size:{s}", [f"BM_inflate_zlib/size:{s}"]))

    def fmt_ratio(r):
        return "" if r is None else f" (ratio {r:.2f})"

    print("| operation | bytes | accelerator ns/pkt | GB/s | peer | peer ns/pkt | GB/s | speed-up |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for what, s, acc, peers in rows:
        if acc not in med:
            continue
        a = med[acc]
        for i, p in enumerate(peers):
            if p not in med:
                continue
            q = med[p]
            peer_name = p.split("/")[0].replace("BM_", "")
            first = i == 0
            print(f"| {what if first else ''} | {s if first else ''} | "
                  f"{f'{a[0]:.1f}' if first else ''} | {f'{a[1]:.2f}' if first else ''} | "
                  f"{peer_name}{fmt_ratio(q[2]) if 'deflate' in p else ''} | {q[0]:.1f} | {q[1]:.2f} | "
                  f"{q[0] / a[0]:.2f}x |"
                  + (f" {fmt_ratio(a[2]).strip()}" if first and a[2] is not None else ""))

    print("\nAll benchmarks (median ns per buffer, GB/s):\n")
    print("| benchmark | ns/pkt | GB/s |")
    print("| --- | ---: | ---: |")
    for n in names:
        print(f"| {n} | {med[n][0]:.1f} | {med[n][1]:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
