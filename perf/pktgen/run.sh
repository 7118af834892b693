#!/usr/bin/env bash
# Runs the Peregrine pktgen-DPDK scripts: registration replay, RFC 2544-style throughput search,
# fixed-rate run. pktgen-DPDK is not packaged by Debian; install it yourself and put `pktgen` on
# PATH or point PKTGEN (or --pktgen) at it. docs/perf.md, "pktgen", has the whole procedure.
#
#   perf/pktgen/run.sh --eal "-l 2-4 -a 0000:3b:00.1" --map "[3:4].0" \
#       --register reg.pcap --traffic hb.pcap --clients 1000000 [--test both] [--loss 0.001]
#   perf/pktgen/run.sh --check           # exit 0 if pktgen is found, 77 if not
#   perf/pktgen/run.sh --smoke BUILD     # the test suite's run: peregrine and pktgen on a veth pair
#
# Options: --pktgen PATH, --eal "ARGS" (default "-l 0-2"), --map MAP (default "[1:2].0"),
# --port N (0), --traffic FILE, --register FILE, --test throughput|latency|both (both),
# --mode pcap|range (pcap), --loss FRACTION (0.001), --duration S (10), --rate PCT (latency
# run, 10), --register-seconds S (5), --precision PCT (0.5), --clients N (for the table),
# --label TEXT (peregrine), --out DIR (./pktgen-results).
# Results: the table on stdout and in OUT/throughput.md, OUT/latency.md; pktgen's own output in
# OUT/*.log. Exit status: 0 done, 1 a step failed, 2 bad usage, 77 pktgen not found.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PKTGEN_BIN=${PKTGEN:-}
EAL="-l 0-2"
MAP="[1:2].0"
PORT=0
TRAFFIC=""
REGISTER=""
TEST=both
MODE=pcap
LOSS=0.001
DURATION=10
RATE=10
REG_SECONDS=5
PRECISION=0.5
CLIENTS=-
LABEL=peregrine
OUT=./pktgen-results
CHECK=0
SMOKE=""

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --pktgen) PKTGEN_BIN=$2; shift ;;
        --eal) EAL=$2; shift ;;
        --map) MAP=$2; shift ;;
        --port) PORT=$2; shift ;;
        --traffic) TRAFFIC=$2; shift ;;
        --register) REGISTER=$2; shift ;;
        --test) TEST=$2; shift ;;
        --mode) MODE=$2; shift ;;
        --loss) LOSS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --rate) RATE=$2; shift ;;
        --register-seconds) REG_SECONDS=$2; shift ;;
        --precision) PRECISION=$2; shift ;;
        --clients) CLIENTS=$2; shift ;;
        --label) LABEL=$2; shift ;;
        --out) OUT=$2; shift ;;
        --check) CHECK=1 ;;
        --smoke) SMOKE=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "$PKTGEN_BIN" ]; then
    PKTGEN_BIN=$(command -v pktgen || true)
fi
if [ -z "$PKTGEN_BIN" ] || [ ! -x "$PKTGEN_BIN" ]; then
    echo "run.sh: pktgen-DPDK not found (not on PATH, PKTGEN unset or not executable)." >&2
    echo "run.sh: it is not packaged by Debian: build it from https://github.com/pktgen/Pktgen-DPDK" >&2
    echo "run.sh: against the installed DPDK, then put 'pktgen' on PATH or set PKTGEN=/path/to/pktgen." >&2
    exit 77
fi
echo "run.sh: using $PKTGEN_BIN"
[ "$CHECK" = 1 ] && exit 0

case "$TEST" in throughput|latency|both) ;; *) echo "run.sh: --test must be throughput, latency or both" >&2; exit 2 ;; esac
case "$MODE" in pcap|range) ;; *) echo "run.sh: --mode must be pcap or range" >&2; exit 2 ;; esac

# ---- smoke: a real, small run against peregrine on a veth pair ----
# af_packet on a veth pair rather than net_memif: pktgen 23.x sets the port MTU at start and
# panics when the PMD cannot (net_memif in DPDK 22.11 cannot). Needs root (ip link).
cleanup_smoke() { :; }
if [ -n "$SMOKE" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "run.sh: --smoke needs root (it makes a veth pair)" >&2
        exit 77
    fi
    B=$(cd "$SMOKE" && pwd)
    tag=pgpk$$
    va=${tag}a vb=${tag}b
    OUT=$B/pktgen-smoke
    mkdir -p "$OUT"
    "$B/tools/trafgen/peregrine-trafgen" -l 0 --no-pci --no-huge -m 128 --file-prefix=${tag}w --log-level='*:error' -- \
        --addr 198.18.0.1 --dst-mac 02:00:00:00:00:01 --clients 100 \
        --pcap-out "$OUT/hb.pcap" --pcap-register "$OUT/reg.pcap" --pcap-count 1000
    ip link add "$va" type veth peer name "$vb"
    cleanup_smoke() { kill -TERM "$pe_pid" 2>/dev/null || true; wait "$pe_pid" 2>/dev/null || true
                      ip link del "$va" 2>/dev/null || true; }
    trap cleanup_smoke EXIT
    ip link set "$va" address 02:00:00:00:00:01
    ip link set "$va" up
    ip link set "$vb" up
    "$B/src/peregrine" -l 0-1 --no-pci --no-huge -m 512 --file-prefix=${tag}e \
        --vdev=net_af_packet0,iface=$va,qpairs=1 -- \
        --addr 0:198.18.0.1/16 --no-tap --config "(0,0,1)" > "$OUT/peregrine.log" 2>&1 &
    pe_pid=$!
    for _ in $(seq 100); do grep -qs 'peregrine: ready' "$OUT/peregrine.log" && break; sleep 0.1; done
    # pktgen makes several pools of 24k mbufs: 1.5 GB of memory.
    EAL="-l 0-1 --no-pci --no-huge -m 1536 --file-prefix=${tag}p --vdev=net_af_packet0,iface=$vb,qpairs=1"
    MAP="[1].0"
    TRAFFIC=$OUT/hb.pcap
    REGISTER=$OUT/reg.pcap
    DURATION=1; REG_SECONDS=1; RATE=1; PRECISION=25; LOSS=0.5; CLIENTS=100; LABEL=peregrine-smoke
fi

mkdir -p "$OUT"
export PG_LUA_DIR=$HERE PG_PORT=$PORT PG_MODE=$MODE PG_LOSS=$LOSS PG_PRECISION=$PRECISION \
    PG_CLIENTS=$CLIENTS PG_LABEL=$LABEL

# run_pktgen SCRIPT PCAP LOG: pktgen with the script, the pcap on $PORT, output to LOG.
run_pktgen() {
    local script=$1 pcap=$2 log=$3 pcap_args=()
    [ -n "$pcap" ] && pcap_args=(-s "$PORT:$pcap")
    # shellcheck disable=SC2086
    if ! "$PKTGEN_BIN" $EAL -- -P -m "$MAP" "${pcap_args[@]}" -f "$HERE/$script" > "$log" 2>&1 < /dev/null; then
        echo "run.sh: pktgen $script failed; last lines of $log:" >&2
        tail -n 30 "$log" >&2
        return 1
    fi
}

if [ "$MODE" = pcap ] && [ -z "$TRAFFIC" ]; then
    echo "run.sh: --traffic FILE.pcap is required (peregrine-trafgen ... --pcap-out FILE.pcap)" >&2
    exit 2
fi
if [ -n "$REGISTER" ]; then
    echo "run.sh: registering the clients ($REGISTER, ${REG_SECONDS}s)"
    PG_DURATION=$REG_SECONDS PG_RATE=$RATE run_pktgen register.lua "$REGISTER" "$OUT/register.log"
    grep -h '^register:' "$OUT/register.log" || true
fi
pcap=""
[ "$MODE" = pcap ] && pcap=$TRAFFIC
rc=0
if [ "$TEST" != latency ]; then
    echo "run.sh: throughput search (loss <= $LOSS, ${DURATION}s per trial)"
    PG_DURATION=$DURATION PG_OUT=$OUT/throughput.md run_pktgen throughput.lua "$pcap" "$OUT/throughput.log" || rc=1
    grep -h '^trial' "$OUT/throughput.log" || true
    [ -f "$OUT/throughput.md" ] && cat "$OUT/throughput.md" || rc=1
fi
if [ "$TEST" != throughput ]; then
    echo "run.sh: fixed rate $RATE% of line rate for ${DURATION}s"
    PG_DURATION=$DURATION PG_RATE=$RATE PG_OUT=$OUT/latency.md run_pktgen latency.lua "$pcap" "$OUT/latency.log" || rc=1
    [ -f "$OUT/latency.md" ] && cat "$OUT/latency.md" || rc=1
fi
if [ -n "$SMOKE" ] && [ "$rc" = 0 ]; then
    # Traffic must have flowed: the answered column of every row above zero.
    if ! python3 - "$OUT/throughput.md" "$OUT/latency.md" <<'PYEOF'
import sys
for p in sys.argv[1:]:
    rows = [l for l in open(p) if l.startswith('|') and '---' not in l and 'system' not in l]
    if not rows or any(float(r.split('|')[5]) <= 0 for r in rows):
        sys.exit('no answers in ' + p)
PYEOF
    then rc=1; fi
fi
exit $rc
