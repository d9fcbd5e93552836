#!/usr/bin/env bash
# Sets up what is missing (first run only), builds, and starts the portal with an embedded
# SQLite file in data/. Prints the URL and, on the first run, the one-time admin setup link.
#   ./run.sh [--release] [-- proxlab arguments]     e.g. ./run.sh -- demo
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh run
profile=debug
build=()
if [ "${1:-}" = --release ]; then profile=release build=(--release); shift; fi
[ "${1:-}" != -- ] || shift
scripts/site.sh "${build[@]}"
exec "$CARGO_TARGET_DIR/$profile/proxlab" "$@"
