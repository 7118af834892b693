#!/usr/bin/env bash
# Sets the machine up, builds, and runs every test Peregrine has:
#   1. tools/setup.sh (packages, hugepages, /dev/net/tun, meson setup + ninja in $BUILD_DIR)
#   2. meson test -C $BUILD_DIR --print-errorlogs: all suites (unit, fuzz replay, e2e, perf smoke)
#   2b. g++ with ASan + UBSan in $SAN_DIR: the daemon and the unit tests, then the unit tests
#      and the e2e suites in $SAN_TESTS on the sanitized daemon
#   3. with clang: CC=clang CXX=clang++ meson setup $FUZZ_DIR -Dfuzzing=true, ninja, the meson
#      tests it registers (if any), then each libFuzzer target under tests/fuzz for
#      $FUZZ_SECONDS seconds (new inputs go to $FUZZ_DIR/corpus-<name>; seeds in
#      tests/fuzz/corpus/<name> are read, never written; crashes to $FUZZ_DIR/artifacts/)
# The last line is "N passed, N failed, N skipped": meson tests of both build directories plus
# one entry per fuzz campaign (and one failed entry for a setup or build step that failed).
# Exit status 0 only if nothing failed.
#
#   sudo tools/test.sh
#
# Environment: BUILD_DIR (build), FUZZ_DIR (build-fuzz), FUZZ_SECONDS (20), NO_FUZZ=1 (skip
# step 3), MESON_TEST_ARGS (extra arguments for meson test, e.g. "--suite e2e"), SAN_DIR
# (build-san), SAN_TESTS (the e2e tests of step 2b), NO_SAN=1 (skip step 2b).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD_DIR=${BUILD_DIR:-build}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
SAN_DIR=${SAN_DIR:-build-san}
SAN_TESTS=${SAN_TESTS:-e2e-router e2e-malformed e2e-session e2e-rudp e2e-inspect e2e-cluster}
PYTHON=$(command -v python3 || echo /usr/bin/python3)

passed=0
failed=0
skipped=0
failures=()
T0=$(date +%s)

say() { printf '\n==== %s\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
finish() {
    say "summary (total $(elapsed "$T0"))"
    for f in "${failures[@]+"${failures[@]}"}"; do echo "  FAILED: $f"; done
    echo "$passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit $?
}

# Counts the results of the last `meson test` run in build dir $1 (meson-logs/testlog.json).
count_meson() {
    local dir=$1 rc=$2 out
    if ! out=$("$PYTHON" - "$dir/meson-logs/testlog.json" <<'EOF'
import json, sys
p = f = s = 0
names = []
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    sys.exit(1)
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    r = t.get('result', '')
    if r in ('OK', 'EXPECTEDFAIL'):
        p += 1
    elif r == 'SKIP':
        s += 1
    else:
        f += 1
        names.append('%s (%s)' % (t.get('name'), r))
print(p, f, s)
for n in names:
    print(n)
EOF
    ); then
        failed=$((failed + 1)); failures+=("meson test in $dir (no test log)"); return
    fi
    local p f s
    read -r p f s <<< "$(head -n1 <<< "$out")"
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    while IFS= read -r n; do [ -n "$n" ] && failures+=("$dir: $n"); done < <(tail -n +2 <<< "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        failed=$((failed + 1)); failures+=("meson test in $dir exited $rc")
    fi
}

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: run as root (sudo tools/test.sh): setup installs packages, the e2e suite creates TAPs and namespaces" >&2
    failed=1; failures+=("not root"); finish
fi

# ---- 1. setup and build ----
say "setup and build ($BUILD_DIR)"
t=$(date +%s)
if ! BUILD_DIR=$BUILD_DIR bash tools/setup.sh; then
    failed=$((failed + 1)); failures+=("tools/setup.sh (setup or build)"); finish
fi
echo "setup and build: $(elapsed "$t")"

# ---- 2. meson tests ----
say "meson test -C $BUILD_DIR --print-errorlogs ${MESON_TEST_ARGS:-}"
t=$(date +%s)
rm -f "$BUILD_DIR/meson-logs/testlog.json"
# shellcheck disable=SC2086
meson test -C "$BUILD_DIR" --print-errorlogs ${MESON_TEST_ARGS:-}
rc=$?
count_meson "$BUILD_DIR" "$rc"
echo "meson test: $(elapsed "$t") (exit $rc)"

# ---- 2b. the daemon, the unit tests and part of the e2e suite under ASan and UBSan ----
# g++ with -Db_sanitize=address,undefined (LeakSanitizer on: an engine that leaks at exit
# fails its clean-exit check). UBSan's alignment check is off: x86-64 loads at any address,
# and DPDK declares its headers 2-byte aligned though a frame may start anywhere. The e2e part
# is the suites that parse the most input ($SAN_TESTS); the whole suite fits too, slower.
if [ "${NO_SAN:-0}" = 1 ]; then
    say "sanitized build skipped (NO_SAN=1)"
else
    say "sanitized build ($SAN_DIR: daemon, unit tests; ASan + UBSan)"
    t=$(date +%s)
    san_ok=1
    if [ ! -f "$SAN_DIR/build.ninja" ]; then
        [ -d "$SAN_DIR/meson-private" ] && wipe=--wipe || wipe=
        meson setup $wipe "$SAN_DIR" -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
            -Dcpp_args=-fno-sanitize=alignment -Dc_args=-fno-sanitize=alignment || san_ok=0
    fi
    if [ "$san_ok" = 1 ]; then
        ninja -C "$SAN_DIR" -j"$(nproc)" src/peregrine tests/unit/unit_tests || san_ok=0
    fi
    echo "sanitized build: $(elapsed "$t")"
    if [ "$san_ok" = 0 ]; then
        failed=$((failed + 1)); failures+=("sanitized build in $SAN_DIR")
    else
        say "meson test -C $SAN_DIR (sanitized): unit $SAN_TESTS"
        t=$(date +%s)
        rm -f "$SAN_DIR/meson-logs/testlog.json"
        # shellcheck disable=SC2086
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            meson test -C "$SAN_DIR" --no-rebuild --print-errorlogs unit $SAN_TESTS
        count_meson "$SAN_DIR" $?
        echo "sanitized tests: $(elapsed "$t")"
    fi
fi

# ---- 3. fuzzing ----
if [ "${NO_FUZZ:-0}" = 1 ]; then
    say "fuzzing skipped (NO_FUZZ=1)"
elif ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
    say "fuzzing skipped: clang not installed"
else
    say "fuzz build ($FUZZ_DIR, clang, -Dfuzzing=true)"
    t=$(date +%s)
    fuzz_ok=1
    if [ ! -f "$FUZZ_DIR/build.ninja" ]; then
        [ -d "$FUZZ_DIR/meson-private" ] && wipe=--wipe || wipe=
        CC=clang CXX=clang++ meson setup $wipe "$FUZZ_DIR" -Dfuzzing=true || fuzz_ok=0
    fi
    if [ "$fuzz_ok" = 1 ]; then
        ninja -C "$FUZZ_DIR" -j"$(nproc)" || fuzz_ok=0
    fi
    echo "fuzz build: $(elapsed "$t")"
    if [ "$fuzz_ok" = 0 ]; then
        failed=$((failed + 1)); failures+=("fuzz build in $FUZZ_DIR")
    else
        # Tests the fuzz build registers itself (if any).
        n_tests=$(meson introspect --tests "$FUZZ_DIR" 2>/dev/null | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
        if [ "$n_tests" -gt 0 ]; then
            say "meson test -C $FUZZ_DIR --print-errorlogs"
            rm -f "$FUZZ_DIR/meson-logs/testlog.json"
            meson test -C "$FUZZ_DIR" --print-errorlogs
            count_meson "$FUZZ_DIR" $?
        fi
        # Every executable defined under tests/fuzz is a libFuzzer target.
        mapfile -t targets < <(meson introspect --targets "$FUZZ_DIR" | "$PYTHON" -c '
import json, os, sys
for t in json.load(sys.stdin):
    d = t.get("defined_in", "").replace(os.sep, "/")
    if t.get("type") == "executable" and "/tests/fuzz/" in d:
        for f in t.get("filename", []):
            print(f)
')
        if [ ${#targets[@]} -eq 0 ]; then
            say "no fuzz targets in $FUZZ_DIR/tests/fuzz: skipping the campaigns"
        fi
        mkdir -p "$FUZZ_DIR/artifacts"
        for exe in "${targets[@]+"${targets[@]}"}"; do
            name=$(basename "$exe")
            short=${name#fuzz_}
            corpus="$FUZZ_DIR/corpus-$short"
            mkdir -p "$corpus"
            seeds=()
            for d in "tests/fuzz/corpus/$short" "tests/fuzz/corpus/$name"; do
                [ -d "$d" ] && seeds+=("$d")
            done
            dict=()
            for d in "tests/fuzz/$short.dict" "tests/fuzz/$name.dict"; do
                [ -f "$d" ] && dict=("-dict=$d")
            done
            say "fuzz $name for ${FUZZ_SECONDS}s (corpus $corpus ${seeds[*]+"${seeds[*]}"})"
            t=$(date +%s)
            log="$FUZZ_DIR/fuzz-$short.log"
            timeout --kill-after=10 $((FUZZ_SECONDS + 180)) "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
                -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$FUZZ_DIR/artifacts/$short-" \
                "${dict[@]+"${dict[@]}"}" "$corpus" "${seeds[@]+"${seeds[@]}"}" > "$log" 2>&1
            frc=$?
            if [ "$frc" -eq 0 ]; then
                passed=$((passed + 1))
                grep -E '^stat::number_of_executed_units|^stat::new_units_added|^Done [0-9]+ runs' "$log" | sed 's/^/  /'
                echo "fuzz $name: OK ($(elapsed "$t"))"
            else
                failed=$((failed + 1)); failures+=("fuzz $name (exit $frc, log $log)")
                tail -n 60 "$log"
                echo "fuzz $name: FAILED with exit $frc ($(elapsed "$t")); crash inputs in $FUZZ_DIR/artifacts/"
            fi
        done
    fi
fi

finish
