#!/usr/bin/env bash
# The whole test suite: formatting, the dev build, unit and integration tests (SQLite and a
# throw-away PostgreSQL), the browser flows hydrated and with JavaScript off, the release build
# and its browser flow (a broken wasm-opt shows only in a browser), the Debian package built
# from it and its unit run, then clippy for the native and the wasm side. Ends with one line:
# "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh test

passed=0
failed=0
work="$(mktemp -d)"
cleanup() {
  if [ -n "${pg_data:-}" ]; then pg pg_ctl -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Each section's heading says how long the run has taken so far (CI stops at 90 minutes).
section() { printf '\n==> %s  [%d min %02d s in]\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Adds the counts of every "test result:" line of a cargo test log.
count_cargo() {
  local counts
  counts="$(awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    END { print p + 0, f + 0 }' "$1")"
  passed=$((passed + ${counts% *}))
  failed=$((failed + ${counts#* }))
}

# PostgreSQL from Debian's package, on a free loopback port, in a temporary folder.
pg() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bin/$1" "${@:2}"; else "$bin/$1" "${@:2}"; fi
}
start_postgres() {
  local dir="$work/pg" port
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses to run as root: the server runs as Debian's postgres user, which must be
    # able to reach its folder inside our private work folder.
    chmod 755 "$work"
    chown postgres "$dir"
  fi
  pg_data="$dir/data"
  pg initdb -D "$pg_data" -A trust -U postgres --no-sync >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log" >&2; return 1; }
  port="$(free_port)"
  pg pg_ctl -D "$pg_data" -l "$dir/server.log" -w \
    -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export PROXLAB_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export PROXLAB_TEST_REQUIRE_POSTGRES=1
}

# SIGTERM, then SIGKILL if the server is still there after its grace period (20 s) and some:
# a server that does not stop must fail its run, not hold CI until its time runs out.
stop_server() {
  local pid="$1" waited=0
  kill "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 150 ]; do
    sleep 0.2
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "server $pid still ran 30 s after SIGTERM; killed" >&2
    kill -9 "$pid" 2>/dev/null || true
    failed=$((failed + 1))
  fi
  wait "$pid" 2>/dev/null || true
}

# Starts a proxlab binary on a fresh database and runs the Playwright suite against it.
e2e() {
  local label="$1" bin="$2" mode="$3" dir="$work/e2e-$1" port demo_port pid demo_pid status=0
  mkdir -p "$dir"
  port="$(free_port)"
  PROXLAB_LISTEN="127.0.0.1:$port" PROXLAB_DATABASE_URL="sqlite://$dir/e2e.db" \
    PROXLAB_SECRET_KEY_FILE="$dir/secret.key" \
    LEPTOS_SITE_ADDR="127.0.0.1:$port" "$bin" serve >"$dir/server.log" 2>&1 &
  pid=$!
  # A second portal in demo mode (pvesim in-process) for the VM flows.
  demo_port="$(free_port)"
  # Policies every 5 s instead of 30, so the idle warning comes soon after its 5 minutes.
  PROXLAB_LISTEN="127.0.0.1:$demo_port" LEPTOS_SITE_ADDR="127.0.0.1:$demo_port" \
    PROXLAB_POLICIES__TICK_SECS=5 "$bin" demo --dir "$dir/demo" --vms 12 >"$dir/demo.log" 2>&1 &
  demo_pid=$!
  (cd end2end && BASE_URL="http://127.0.0.1:$port" PROXLAB_E2E_LOG="$dir/server.log" \
    DEMO_URL="http://127.0.0.1:$demo_port" DEMO_LOG="$dir/demo.log" \
    E2E_MODE="$mode" E2E_JSON="$dir/results.json" npx playwright test) || status=$?
  stop_server "$pid"
  stop_server "$demo_pid"
  if [ -f "$dir/results.json" ]; then
    local counts
    counts="$(node -e 'const s=require(process.argv[1]).stats; console.log(s.expected, s.unexpected + s.flaky)' "$dir/results.json")"
    passed=$((passed + ${counts% *}))
    failed=$((failed + ${counts#* }))
  fi
  if [ "$status" -ne 0 ]; then
    failed=$((failed + 1))
    echo "e2e ($label) failed; server output:" >&2
    tail -n 40 "$dir/server.log" "$dir/demo.log" >&2
  fi
}

section "cargo fmt --check"
cargo fmt --all --check

section "dev build (scripts/site.sh)"
scripts/site.sh

# The dev build has this flag; giving the same to cargo lets the tests and clippy reuse its
# artifacts instead of compiling every dependency a second time.
export RUSTFLAGS="--cfg erase_components"

section "browser flows (dev build, hydrated and without JavaScript)"
e2e dev-js "$CARGO_TARGET_DIR/debug/proxlab" js
e2e dev-nojs "$CARGO_TARGET_DIR/debug/proxlab" nojs

section "unit and integration tests (SQLite and PostgreSQL)"
start_postgres
status=0
# The package's test runs (and counts) once, below, when the package is built.
cargo test --workspace --exclude frontend --no-fail-fast -- --skip the_package_unpacks_and_its_unit_serves \
  2>&1 | tee "$work/cargo-test.log" || status=$?
count_cargo "$work/cargo-test.log"
[ "$status" -eq 0 ] || [ "$(grep -c '^test result:' "$work/cargo-test.log")" -gt 0 ] || failed=$((failed + 1))

section "release build (scripts/site.sh --release), browser flow"
scripts/site.sh --release
e2e release-js "$CARGO_TARGET_DIR/release/proxlab" js

section "the Debian package (scripts/deb.sh), unpacked and its unit run"
status=0
deb="$(scripts/deb.sh --built | tail -n 1)" || status=$?
PROXLAB_TEST_DEB="$deb" PROXLAB_TEST_REQUIRE_DEB=1 cargo test -p server --test package the_package \
  2>&1 | tee "$work/package-test.log" || status=$?
count_cargo "$work/package-test.log"
[ "$status" -eq 0 ] || [ "$(grep -c '^test result:' "$work/package-test.log")" -gt 0 ] || failed=$((failed + 1))

section "clippy (native, then wasm)"
cargo clippy --workspace --exclude frontend --all-targets -- -D warnings
cargo clippy -p frontend -p app --all-targets --features app/hydrate \
  --target wasm32-unknown-unknown -- -D warnings

section "done"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
