# Sourced by run.sh and test.sh (`source scripts/setup.sh run|test`). Installs, once, what the
# build needs, outside the clone so that every clone (and CI's fresh one) reuses it:
#   - the wasm32 Rust target;
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (not --locked: the
#     registry mirror lags a few of its newest dependencies);
#   - npm packages in end2end/ (Playwright, and binaryen's wasm-opt for release builds: never
#     Debian's binaryen 108, which builds a wasm that silently never hydrates);
#   - for tests, Debian's chromium, postgresql, qemu-utils (qemu-img, used by pvesim) and
#     openssh-server (throw-away sshds for the SSH tests), nmap (the optional subnet sweep),
#     iproute2 (the network namespaces of the sweep and SSH tests), openssl (a password hash for the
#     password-login sshd) and nginx (the reverse-proxy and two-instance tests run its binary
#     with their own configuration; the package's own service is not needed).
# Tools live in $PROXLAB_CACHE (default ~/.cache/proxlab), and so does the cargo target
# directory unless CARGO_TARGET_DIR is set. Quiet when everything is there; one line per
# install otherwise, with the full log under $PROXLAB_CACHE/logs.

PROXLAB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROXLAB_CACHE="${PROXLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/proxlab}"
PROXLAB_TOOLS="$PROXLAB_CACHE/tools"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PROXLAB_CACHE/target}"
export PATH="$PROXLAB_ROOT/end2end/node_modules/.bin:$PROXLAB_TOOLS/bin:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Leptos reads this at compile time (the wasm's file name in the hydration script); the same
# value for every cargo command lets builds, tests and clippy share their artifacts.
export LEPTOS_OUTPUT_NAME=proxlab
mkdir -p "$PROXLAB_TOOLS" "$PROXLAB_CACHE/logs"

setup_note() { echo "setup: $*" >&2; }

# Runs a command with its output in a log; on failure shows the log's tail.
setup_quietly() {
  local log="$PROXLAB_CACHE/logs/$1.log"
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "setup: '$*' failed; the end of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}

setup_as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

setup_debian_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  setup_note "installing Debian packages: ${missing[*]} (one time)"
  setup_quietly apt-update setup_as_root apt-get update -qq
  setup_quietly apt-install setup_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

setup_rust() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    setup_note "adding the wasm32-unknown-unknown Rust target (one time)"
    setup_quietly rustup-target rustup target add wasm32-unknown-unknown
  fi
  local wb
  wb="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$PROXLAB_ROOT/Cargo.lock")"
  if ! "$PROXLAB_TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q " $wb\$"; then
    setup_note "building wasm-bindgen-cli $wb (one time, about 2 minutes)"
    setup_quietly wasm-bindgen env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli \
      --version "$wb" --root "$PROXLAB_TOOLS"
  fi
}

setup_npm() {
  local stamp="$PROXLAB_ROOT/end2end/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$PROXLAB_ROOT/end2end/package-lock.json" -nt "$stamp" ]; then
    setup_note "installing npm packages in end2end/ (Playwright, binaryen)"
    (cd "$PROXLAB_ROOT/end2end" && setup_quietly npm-ci npm ci --no-audit --no-fund)
  fi
}

# noVNC and xterm.js (npm, versions pinned in frontend/package-lock.json) are served as static
# files: copy what the pages load, with the licences, into public/vendor/, which scripts/site.sh
# copies into the site. xterm.js ships a UMD build (lib/xterm.js) and an ES module
# (lib/xterm.mjs, no imports of its own); terminal.js imports the module, and the UMD build
# is copied too for anyone who wants a plain <script>.
setup_browser_assets() {
  local stamp="$PROXLAB_ROOT/frontend/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$PROXLAB_ROOT/frontend/package-lock.json" -nt "$stamp" ]; then
    setup_note "installing browser libraries in frontend/ (noVNC, xterm.js)"
    (cd "$PROXLAB_ROOT/frontend" && setup_quietly npm-ci-frontend npm ci --no-audit --no-fund)
  fi
  local from="$PROXLAB_ROOT/frontend/node_modules/@novnc/novnc" to="$PROXLAB_ROOT/public/vendor/novnc"
  if [ ! -f "$to/rfb.bundle.js" ] || [ "$stamp" -nt "$to/rfb.bundle.js" ]; then
    rm -rf "$to" && mkdir -p "$to"
    cp -R "$from/core" "$from/vendor" "$from/LICENSE.txt" "$from/AUTHORS" "$to/"
    # One file instead of noVNC's 52 modules: the browser would fetch them level by level
    # (about 0.9 s before the console could start, measured); esbuild (npm, pinned) joins them.
    setup_quietly esbuild-novnc "$PROXLAB_ROOT/frontend/node_modules/.bin/esbuild" "$from/core/rfb.js" \
      --bundle --format=esm --minify --legal-comments=inline --outfile="$to/rfb.bundle.js"
  fi
  from="$PROXLAB_ROOT/frontend/node_modules/@xterm/xterm" to="$PROXLAB_ROOT/public/vendor/xterm"
  if [ ! -f "$to/xterm.mjs" ] || [ "$stamp" -nt "$to/xterm.mjs" ]; then
    rm -rf "$to" && mkdir -p "$to"
    cp "$from/lib/xterm.mjs" "$from/lib/xterm.js" "$from/css/xterm.css" "$from/LICENSE" "$to/"
  fi
}

# cargo-deb, pinned, for scripts/deb.sh (the Debian package; the test command builds it).
setup_cargo_deb() {
  local version=3.8.0
  if ! "$PROXLAB_TOOLS/bin/cargo-deb" --version 2>/dev/null | grep -q " $version\$"; then
    setup_note "building cargo-deb $version (one time, about 2 minutes)"
    setup_quietly cargo-deb env -u CARGO_TARGET_DIR cargo install cargo-deb \
      --version "$version" --locked --root "$PROXLAB_TOOLS"
  fi
}

setup_rust
setup_npm
setup_browser_assets
if [ "${1:-run}" = test ] || [ "${1:-run}" = deb ]; then
  setup_cargo_deb
fi
if [ "${1:-run}" = test ]; then
  # wrk is for `cargo bench -p server --bench dashboard_http` (a load generator lighter than
  # the bench's own client).
  setup_debian_packages chromium postgresql qemu-utils openssh-server nmap iproute2 openssl wrk nginx
else
  # `demo` makes class VMs on this host: their disks are qcow2 overlays made with qemu-img.
  setup_debian_packages qemu-utils
fi
