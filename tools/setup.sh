#!/usr/bin/env bash
# Prepares a Debian 12 machine for Peregrine and builds it. Idempotent; run as root.
#
#   sudo tools/setup.sh            # packages, hugepages, /dev/net/tun, meson setup + ninja
#   sudo tools/setup.sh --no-build # everything but the build
#
# - installs exactly the Debian packages below that are not installed yet (with an apt-get
#   update first, only when something is missing);
# - reserves 2 MB hugepages (HUGEPAGES, default 512 = 1 GiB; never lowers an existing
#   reservation) and mounts hugetlbfs on /dev/hugepages; warns, does not fail, when it cannot
#   (containers): peregrine then runs with --no-huge;
# - makes sure /dev/net/tun exists (net_tap and the exception path need it);
# - `meson setup $BUILD_DIR` (default build) unless it is configured already, then ninja.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
HUGEPAGES=${HUGEPAGES:-512}
DO_BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-build) DO_BUILD=0 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

log() { echo "setup: $*"; }
warn() { echo "setup: warning: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (sudo tools/setup.sh): it installs packages and reserves hugepages" >&2
    exit 1
fi

# ---- packages ----
PACKAGES=(
    dpdk dpdk-dev libdpdk-dev              # DPDK 22.11: libraries, dpdk-telemetry.py, dpdk-dumpcap
    libisal-dev libipsec-mb-dev libhyperscan-dev libssl-dev   # lib/crypto (ISA-L, IPsec-MB), lib/rudp's handshake (OpenSSL), lib/inspect (Hyperscan)
    libgtest-dev libbenchmark-dev          # unit tests, perf benchmark
    meson ninja-build pkg-config g++       # build
    clang libclang-rt-14-dev               # libFuzzer build (build-fuzz)
    python3 python3-pyelftools             # e2e suite and tools; dpdk-pmdinfo
    python3-cryptography                   # tools/rudp_client.py (X25519, HKDF, AES-GCM, certificates)
    iproute2 iputils-ping                  # network namespaces in the e2e suite and the demo
    libpcap-dev zlib1g-dev                 # pcap: DPDK tools, peregrine-trafgen --pcap-out; zlib: lib/crypto tests
    python3-matplotlib ethtool             # perf/compare.py: PNG chart; veth checksum offload off
    lua5.4                                 # perf/pktgen: tests the search script without pktgen
    libpcre2-dev libre2-dev                # perf/bench_inspect: the peers Hyperscan is measured against
    tshark tcpdump                         # tools/wireshark tested on captures (e2e-wireshark)
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    echo "setup.sh: this script needs Debian 12 (dpkg and apt); install the packages listed in it by hand" >&2
    exit 1
fi

# Output captured first: with pipefail, "cmd | grep -q" fails when grep exits early (SIGPIPE).
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
has_candidate() { local p; p=$(apt-cache policy "$1" 2>/dev/null); [[ $p == *"Candidate: "[!\(]* ]]; }

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#PACKAGES[@]} packages installed"
else
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Always refresh before installing: a machine image's lists can name versions the mirror
    # no longer serves (the install then fails with 404s).
    log "apt-get update"
    apt-get update -q
    for p in "${missing[@]}"; do
        has_candidate "$p" || { echo "setup.sh: no Debian package '$p' (is this Debian 12 'bookworm'?)" >&2; exit 1; }
    done
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# ---- hugepages ----
HP=/sys/kernel/mm/hugepages/hugepages-2048kB
if [ -d "$HP" ]; then
    cur=$(cat "$HP/nr_hugepages")
    if [ "$cur" -lt "$HUGEPAGES" ]; then
        if echo "$HUGEPAGES" > "$HP/nr_hugepages" 2>/dev/null; then
            cur=$(cat "$HP/nr_hugepages")
            [ "$cur" -ge "$HUGEPAGES" ] || warn "asked for $HUGEPAGES 2 MB hugepages, the kernel gave $cur (fragmented memory?)"
        else
            warn "cannot reserve 2 MB hugepages (read-only /sys?); peregrine needs --no-huge here"
        fi
    fi
    log "2 MB hugepages: $(cat "$HP/nr_hugepages") reserved, $(cat "$HP/free_hugepages") free"
else
    warn "no 2 MB hugepage support in this kernel; peregrine needs --no-huge here"
fi
if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    mkdir -p /dev/hugepages 2>/dev/null || true
    if mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null; then
        log "mounted hugetlbfs on /dev/hugepages"
    else
        warn "cannot mount hugetlbfs on /dev/hugepages; peregrine needs --no-huge here"
    fi
fi

# ---- TUN/TAP ----
if [ ! -c /dev/net/tun ]; then
    command -v modprobe >/dev/null && modprobe tun 2>/dev/null || true
fi
if [ ! -c /dev/net/tun ]; then
    mkdir -p /dev/net && mknod -m 0666 /dev/net/tun c 10 200 2>/dev/null || true
fi
if [ -c /dev/net/tun ]; then
    log "/dev/net/tun present"
else
    warn "/dev/net/tun missing: net_tap devices and the exception path will not work"
fi

# ---- build ----
if [ "$DO_BUILD" = 1 ]; then
    cd "$ROOT"
    if [ -f "$BUILD_DIR/build.ninja" ] && [ -f "$BUILD_DIR/meson-private/coredata.dat" ]; then
        log "$BUILD_DIR is configured (ninja re-runs meson when a meson.build changes)"
    else
        if [ -d "$BUILD_DIR/meson-private" ]; then
            log "meson setup --wipe $BUILD_DIR"
            meson setup --wipe "$BUILD_DIR"
        else
            log "meson setup $BUILD_DIR"
            meson setup "$BUILD_DIR"
        fi
    fi
    log "ninja -C $BUILD_DIR"
    ninja -C "$BUILD_DIR" -j"$(nproc)"
fi
log "done"
