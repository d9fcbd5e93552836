#!/usr/bin/env bash
# Builds the Debian package proxlab_<version>_amd64.deb: the release binary and site
# (scripts/site.sh --release), packed by cargo-deb (pinned; installed once into the tool
# cache) with the configuration, the systemd unit and the maintainer scripts of
# server/debian/. Prints the package's path on the last line.
#   scripts/deb.sh            then: sudo apt install ./proxlab_*_amd64.deb
#   scripts/deb.sh --built    the release site is built already (the test command)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh deb
[ "${1:-}" = --built ] || scripts/site.sh --release >&2
out="$CARGO_TARGET_DIR/debian"
mkdir -p "$out"
cargo deb -p server --no-build --output "$out" >&2
ls -t "$out"/proxlab_*_amd64.deb | head -n 1
