#!/usr/bin/env bash
# Sets up what is missing (first run only), builds, and starts the portal with an embedded
# SQLite file in data/. Prints the URL and, on the first run, the one-time admin setup link.
# Pass --release for an optimised build.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh run
exec cargo leptos serve "$@"
