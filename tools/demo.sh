#!/usr/bin/env bash
# Peregrine demo: sets the machine up (tools/setup.sh), starts the engine on a virtual wire
# (a net_tap device whose kernel end is moved into a network namespace), and plays every
# protocol the engine serves from that namespace: the router (a few commands by hand, then a
# traffic generator for $DEMO_SECONDS seconds while the engine prints its counters every
# second), then a short act each for the load balancer, the session protocol, RUDP and LEKT, with
# the engine's live counters beside the client's view. Cleans up after itself, also on Ctrl-C
# or failure.
#
#   sudo tools/demo.sh
#
# Environment: DEMO_SECONDS (20), DEMO_CLIENTS (32), DEMO_RATE (2000 messages/s),
# DEMO_SKIP_SETUP=1 (do not run tools/setup.sh), DEMO_NO_HUGE=1 (no hugepages even if there
# are some), BUILD_DIR (build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DEMO_SECONDS=${DEMO_SECONDS:-20}
DEMO_CLIENTS=${DEMO_CLIENTS:-32}
DEMO_RATE=${DEMO_RATE:-2000}
LB_EXPIRY=4  # short, so that the load-balancer act shows a node expiring
BUILD_DIR=${BUILD_DIR:-build}

PREFIX=pgdemo            # EAL --file-prefix: telemetry at /var/run/dpdk/pgdemo/
NS=pgdemo-ns             # network namespace of the clients
WIRE=pgdemo-w            # net_tap wire (DPDK port 0), moved into $NS
TAP=pgdemo-x             # the engine's exception TAP, in the root namespace
ENGINE_IP=198.18.99.1
CLIENT_IP=198.18.99.2
CLIENT_MAC=02:00:5e:63:00:02
PYTHON=$(command -v python3)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root: sudo tools/demo.sh (TAP devices and network namespaces need it)"
[[ "$DEMO_SECONDS" =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a whole number of seconds"

if [ "${DEMO_SKIP_SETUP:-0}" != 1 ]; then
    say "setup and build (tools/setup.sh)"
    BUILD_DIR=$BUILD_DIR bash "$ROOT/tools/setup.sh"
fi
EXE=$ROOT/$BUILD_DIR/src/peregrine
[ -x "$EXE" ] || die "$EXE is missing: run tools/setup.sh"

[ -e "/sys/class/net/$TAP" ] && die "interface $TAP exists: is another demo running? (it uses file prefix $PREFIX)"

WORK=$(mktemp -d /tmp/pgdemo.XXXXXX)
ENGINE_PID=
LISTEN_PID=
LEKT_PID=
OWN_NS=0        # cleanup removes only what this run created
OWN_ENGINE=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$LISTEN_PID" ] && kill "$LISTEN_PID" 2>/dev/null || true
    [ -n "$LEKT_PID" ] && kill "$LEKT_PID" 2>/dev/null || true
    if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
        kill -TERM "$ENGINE_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$ENGINE_PID" 2>/dev/null || true
    fi
    [ "$OWN_NS" = 1 ] && ip netns del "$NS" 2>/dev/null
    if [ "$OWN_ENGINE" = 1 ]; then
        rm -rf "/var/run/dpdk/$PREFIX"
        rm -f /dev/hugepages/"$PREFIX"map_* 2>/dev/null
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -e "/var/run/netns/$NS" ] && die "network namespace $NS exists (left by a demo that was killed hard? ip netns del $NS)"

# Hugepages if there are enough (dpdk-dumpcap can attach then), else plain memory.
free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${DEMO_NO_HUGE:-0}" != 1 ] && [ "${free_pages:-0}" -ge 320 ] && mountpoint -q /dev/hugepages 2>/dev/null; then
    MEM=(-m 512)
    mem_note="512 MB of 2 MB hugepages (dpdk-dumpcap --file-prefix $PREFIX can attach)"
else
    MEM=(--no-huge -m 512)
    mem_note="512 MB without hugepages (--no-huge)"
fi

say "starting peregrine: one worker lcore, router on UDP 7100 of $ENGINE_IP, $mem_note"
CMD=("$EXE" -l 0-1 --no-pci "${MEM[@]}" --file-prefix="$PREFIX" --vdev="net_tap0,iface=$WIRE"
     -- --addr "0:$ENGINE_IP/24" --tap-name "$TAP" --stats-interval 1 --lb-expiry "$LB_EXPIRY")
echo "${CMD[*]}"
OWN_ENGINE=1
"${CMD[@]}" > >(tee "$WORK/engine.out" | sed -u 's/^/  engine | /') 2> "$WORK/engine.err" &
ENGINE_PID=$!
for _ in $(seq 300); do
    grep -q '^peregrine: ready' "$WORK/engine.out" 2>/dev/null && break
    kill -0 "$ENGINE_PID" 2>/dev/null || { cat "$WORK/engine.err" >&2; die "peregrine exited during start-up"; }
    sleep 0.1
done
grep -q '^peregrine: ready' "$WORK/engine.out" || { cat "$WORK/engine.err" >&2; die "peregrine not ready after 30 s"; }
grep '^peregrine: ' "$WORK/engine.err" | sed 's/^/  engine | /'

say "moving the wire $WIRE into namespace $NS as $CLIENT_IP/24"
ip netns add "$NS"
OWN_NS=1
ip link set dev "$WIRE" netns "$NS"
ip -n "$NS" link set dev "$WIRE" address "$CLIENT_MAC"
ip -n "$NS" addr add "$CLIENT_IP/24" dev "$WIRE"
ip -n "$NS" link set dev "$WIRE" up
ip -n "$NS" link set dev lo up
in_ns() { ip netns exec "$NS" "$@"; }
client() { in_ns "$PYTHON" "$ROOT/tools/router_client.py" --server "$ENGINE_IP" --bind "$CLIENT_IP" "$@"; }

say "exception path: ARP and ping are answered by the kernel through TAP $TAP"
in_ns ping -c 2 -i 0.2 -W 2 "$ENGINE_IP" | sed 's/^/  ping   | /'

say "router by hand: client 7 listens, another socket sends it a message, then writes to an unknown ID"
client listen 7 --duration 3 --heartbeat-interval 1 -v > "$WORK/listen.out" 2>&1 &
LISTEN_PID=$!
sleep 0.7
client send 7 "hello from the demo" | sed 's/^/  send   | /' || true
client send 999 "anyone?" | sed 's/^/  send   | /' || true
wait "$LISTEN_PID" || true
LISTEN_PID=
LEKT_PID=
sed 's/^/  listen | /' "$WORK/listen.out"
[ "${MEM[0]}" = -m ] && echo "  (to capture the wire meanwhile, in another shell: dpdk-dumpcap --file-prefix=$PREFIX -i 0 -p -w /tmp/demo.pcapng)"

say "traffic: $DEMO_CLIENTS clients, $DEMO_RATE messages/s, heartbeats every second, for $DEMO_SECONDS s"
echo "  (client lines: rates and latency seen by the generator; engine lines: the engine's own counters)"
load_rc=0
client load --clients "$DEMO_CLIENTS" --rate "$DEMO_RATE" --duration "$DEMO_SECONDS" --heartbeat-interval 1 \
    --max-loss 5 | sed -u 's/^/  client | /' || load_rc=$?

say "telemetry: the same counters any time, e.g. echo /peregrine/router | dpdk-telemetry.py -f $PREFIX"
"$PYTHON" - "$PREFIX" <<'EOF' | sed 's/^/  /'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect('/var/run/dpdk/%s/dpdk_telemetry.v2' % sys.argv[1])
s.recv(4096)
def q(cmd):
    s.send(cmd.encode())
    return json.loads(s.recv(1 << 20))[cmd.split(',')[0]]
def show(cmd, d, only_nonzero=False):
    items = [(k, v) for k, v in d.items() if v or not only_nonzero]
    print('%-26s %s' % (cmd, ', '.join('%s=%s' % kv for kv in items) or 'all zero'))
show('/peregrine/stats', q('/peregrine/stats'))
show('/peregrine/router', q('/peregrine/router'))
show('/peregrine/exceptions', q('/peregrine/exceptions'), True)
show('/peregrine/drops', q('/peregrine/drops'), True)
for lc, d in q('/peregrine/lcores').items():
    print('%-26s %s %s: rx %d tx %d to_control %d to_exception %d drops %d' % (
        '/peregrine/lcores', lc, d['role'], d['rx_packets'], d['tx_packets'], d['to_control'], d['to_exception'], d['drops']))
show('/peregrine/router/client,7', q('/peregrine/router/client,7'))
EOF

acts_rc=0
protocols() { in_ns "$PYTHON" "$ROOT/tools/demo_protocols.py" --server "$ENGINE_IP" --bind "$CLIENT_IP" --prefix "$PREFIX" "$@"; }
say "load balancer (UDP 7200): serving nodes register, clients are spread over them, a node leaves"
protocols --lb-expiry "$LB_EXPIRY" lb || acts_rc=1

say "session protocol (UDP 7300): HELLO/ACCEPT, DATA_ACK answered by an ACK we check, a corrupted packet"
protocols session || acts_rc=1

say "RUDP (UDP 7400): X25519 handshake, an encrypted, compressed, reliable 21 KB message echoed, a tampered packet"
protocols rudp || acts_rc=1

say "LEKT (TCP 7500): two clients join and see each other in their heartbeat answers"
lekt() { in_ns "$PYTHON" "$ROOT/tools/lekt_client.py" --server "$ENGINE_IP" "$@"; }
lekt join --udp "$CLIENT_IP:40001" --interval 0.5 --duration 3 > "$WORK/lekt-a.out" 2>&1 &
LEKT_PID=$!
sleep 1
lekt join --udp "$CLIENT_IP:40002" --interval 0.5 --duration 1.5 | sed 's/^/  lekt B | /' || acts_rc=1
wait "$LEKT_PID" || acts_rc=1
LEKT_PID=
sed 's/^/  lekt A | /' "$WORK/lekt-a.out"
grep -q "^+ .*40002" "$WORK/lekt-a.out" || { echo "  LEKT: A never saw B join"; acts_rc=1; }
"$PYTHON" - "$PREFIX" <<'EOF' | sed 's/^/  engine | /'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect('/var/run/dpdk/%s/dpdk_telemetry.v2' % sys.argv[1])
s.recv(4096)
s.send(b'/peregrine/lekt')
d = json.loads(s.recv(1 << 20))['/peregrine/lekt']
print('/peregrine/lekt ' + ' '.join('%s=%s' % (k, d[k]) for k in ('accepted', 'joined', 'left', 'heartbeats', 'connections')))
EOF

say "stopping peregrine (SIGTERM)"
kill -TERM "$ENGINE_PID"
rc=0
wait "$ENGINE_PID" || rc=$?
ENGINE_PID=
sleep 0.2
echo "  peregrine exited with $rc"
[ -e "/sys/class/net/$TAP" ] && echo "  warning: $TAP still exists"
[ "$rc" -eq 0 ] || die "peregrine exited with $rc"
[ "$load_rc" -eq 0 ] || die "the traffic generator reported losses (see above)"
[ "$acts_rc" -eq 0 ] || die "a protocol act did not see what it should (see above)"
say "demo finished"
