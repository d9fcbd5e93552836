#!/usr/bin/env bash
# Fuzzes lab's parsers of untrusted input (server/lab/fuzz, issue 12) for a bounded time:
#   scripts/fuzz.sh [seconds-per-target]      (default 60)
#   FUZZ_TARGETS="rfb pve_replies" scripts/fuzz.sh 300
#
# Targets: guest_config (config files and the clone rewrite), pve_replies (Proxmox API
# replies), terminal_frames (termproxy framing and login), rfb (the VNC handshakes). Each
# runs from its corpus in server/lab/fuzz/corpus/<target>/, which is then minimised again
# (`cargo fuzz cmin`) so that what is kept in git stays small; crashes land in
# server/lab/fuzz/artifacts/<target>/ (not kept) and are listed at the end.
#
# Not part of ./test.sh: it needs the nightly toolchain (libFuzzer's instrumentation) and
# minutes of CPU. Everything runs under `nice` so that builds and tests on the same machine
# come first. cargo-fuzz is installed once into $PROXLAB_CACHE/tools (like setup.sh's tools)
# and the fuzz builds get their own target directory, $PROXLAB_CACHE/fuzz-target: their
# instrumentation flags would otherwise invalidate the workspace's build cache.
#
# Built without AddressSanitizer (`-s none`): lab forbids unsafe code, so what the fuzzer
# can find are panics, overflow (overflow checks and debug assertions stay on) and hangs,
# and the runs are about twice as fast without it.
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "usage: $0 [seconds-per-target]" >&2; exit 2 ;;
esac
read -ra TARGETS <<<"${FUZZ_TARGETS:-guest_config pve_replies terminal_frames rfb}"
CARGO_FUZZ_VERSION=0.13.2

PROXLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROXLAB_CACHE="${PROXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/proxlab}"
PROXLAB_TOOLS="$PROXLAB_CACHE/tools"
export PATH="$PROXLAB_TOOLS/bin:$PATH"
export CARGO_TARGET_DIR="$PROXLAB_CACHE/fuzz-target"
LOGS="$PROXLAB_CACHE/logs"
mkdir -p "$PROXLAB_TOOLS" "$LOGS"

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: installing the nightly toolchain (one time)" >&2
  rustup toolchain install nightly --profile minimal >"$LOGS/nightly.log" 2>&1
fi
if ! cargo-fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  echo "fuzz: building cargo-fuzz $CARGO_FUZZ_VERSION (one time, about 2 minutes)" >&2
  if ! nice -n 10 env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked \
    --version "$CARGO_FUZZ_VERSION" --root "$PROXLAB_TOOLS" >"$LOGS/cargo-fuzz.log" 2>&1; then
    echo "fuzz: installing cargo-fuzz failed; the end of $LOGS/cargo-fuzz.log:" >&2
    tail -n 30 "$LOGS/cargo-fuzz.log" >&2
    exit 1
  fi
fi

cd "$PROXLAB_ROOT/server/lab"
FUZZ=(nice -n 10 cargo +nightly fuzz)
BUILD_FLAGS=(--sanitizer none)

echo "fuzz: building the targets (the first build takes about 12 minutes on 2 cores)" >&2
if ! "${FUZZ[@]}" build "${BUILD_FLAGS[@]}" >"$LOGS/fuzz-build.log" 2>&1; then
  echo "fuzz: the build failed; the end of $LOGS/fuzz-build.log:" >&2
  tail -n 40 "$LOGS/fuzz-build.log" >&2
  exit 1
fi

# One line per target from libFuzzer's final statistics.
final_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

summary=()
crashed=0
for t in "${TARGETS[@]}"; do
  log="$LOGS/fuzz-$t.log"
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s (log: $log)" >&2
  mkdir -p "fuzz/corpus/$t"
  start=$(date +%s)
  status=0
  "${FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  took=$(($(date +%s) - start))
  runs=$(final_stat number_of_executed_units "$log")
  rate=$(final_stat average_exec_per_sec "$log")
  new=$(final_stat new_units_added "$log")
  rss=$(final_stat peak_rss_mb "$log")
  if [ "$status" -ne 0 ]; then
    crashed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    what=$(grep -m1 -E "panicked at|^==[0-9]+== ERROR|ERROR: libFuzzer" "$log" || true)
    summary+=("$t: CRASH after ${took}s (exit $status): ${what:-see $log}; input: ${artifact:-none}")
    continue
  fi
  # Keep only the inputs that reach new code (edges, not new hit counts: that would keep
  # thousands of files), smallest first; this is what is committed.
  "${FUZZ[@]}" cmin "${BUILD_FLAGS[@]}" "$t" -- -use_counters=0 >"$LOGS/fuzz-$t-cmin.log" 2>&1 ||
    echo "fuzz: cmin of $t failed (see $LOGS/fuzz-$t-cmin.log); corpus left as it is" >&2
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  size=$(du -sk --apparent-size "fuzz/corpus/$t" | cut -f1)
  summary+=("$t: ${runs:-?} runs in ${took}s, ${rate:-?} exec/s, ${new:-?} new inputs, peak ${rss:-?} MB; corpus ${files} files, ${size} KB; no crash")
done

echo
printf '%s\n' "${summary[@]}"
exit "$crashed"
