#!/usr/bin/env bash
# Builds the portal: the server binary and the site it serves (target/site: pkg/proxlab.js,
# pkg/proxlab.wasm, pkg/proxlab.css and public/'s files). `scripts/site.sh` for a dev build,
# `scripts/site.sh --release` for an optimised one.
#
# Why by hand and not cargo-leptos: building cargo-leptos itself took 11 to 18 minutes of a
# fresh machine's first run on 2 cores (it compiles Lightning CSS, swc, cargo's own crates and
# more), longer than the whole project. What it does for a build is five steps, and each has a
# tool here already: cargo for both targets, wasm-bindgen-cli (at Cargo.lock's version),
# binaryen's wasm-opt (npm) for release, esbuild (npm, already used for noVNC) for the CSS
# (nesting lowered for older browsers, minified in release) and the JS minification. The
# result has cargo-leptos's layout and names, so `cargo leptos watch` still works for those who
# want live reload (see the README).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=setup.sh
[ -n "${PROXLAB_TOOLS:-}" ] || source scripts/setup.sh run

release=0
case "${1:-}" in
  "") ;;
  --release) release=1 ;;
  *) echo "usage: scripts/site.sh [--release]" >&2; exit 2 ;;
esac

site="$root/target/site"
pkg="$site/pkg"
# The browsers the CSS must work in: esbuild lowers what they lack (nesting) and keeps the rest.
css_targets="chrome109,edge109,firefox115,safari15.6"

if [ "$release" -eq 1 ]; then
  # The release server has no erase_components (it only speeds up compiling), like cargo-leptos.
  (unset RUSTFLAGS; cargo build --release -p server --bin proxlab)
  (unset RUSTFLAGS; cargo build --profile wasm-release -p frontend --lib --target wasm32-unknown-unknown)
  wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/frontend.wasm"
else
  # erase_components makes the dev build's types small (much faster to compile and link);
  # test.sh gives cargo test and clippy the same flag so that they reuse these artifacts.
  export RUSTFLAGS="--cfg erase_components"
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  cargo build -p server --bin proxlab
  wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/frontend.wasm"
fi

started=$(date +%s%N)
rm -rf "$pkg.new"
mkdir -p "$pkg.new"
wasm-bindgen --target web --no-typescript --out-name proxlab --out-dir "$pkg.new" "$wasm"
# Leptos's hydration script asks for <output name>.wasm when the server was compiled with
# LEPTOS_OUTPUT_NAME set (setup.sh exports it), as cargo-leptos names it.
mv "$pkg.new/proxlab_bg.wasm" "$pkg.new/proxlab.wasm"
esbuild=(frontend/node_modules/.bin/esbuild --log-level=warning)
if [ "$release" -eq 1 ]; then
  # cargo-leptos's flags: the features every browser the CSS targets has.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    -o "$pkg.new/proxlab.wasm" "$pkg.new/proxlab.wasm"
  "${esbuild[@]}" "$pkg.new/proxlab.js" --minify --format=esm --allow-overwrite \
    --outfile="$pkg.new/proxlab.js"
  "${esbuild[@]}" style/main.css --minify --target="$css_targets" --outfile="$pkg.new/proxlab.css"
else
  "${esbuild[@]}" style/main.css --target="$css_targets" --outfile="$pkg.new/proxlab.css"
fi
# The site is swapped in whole, so a running server never serves a half-written pkg/.
mkdir -p "$site"
cp -R public/. "$site/"
rm -rf "$pkg.old"
[ ! -d "$pkg" ] || mv "$pkg" "$pkg.old"
mv "$pkg.new" "$pkg"
rm -rf "$pkg.old"
ms=$((($(date +%s%N) - started) / 1000000))
echo "site: $site in $((ms / 1000)).$((ms % 1000 / 100)) s (wasm-bindgen$([ "$release" -eq 0 ] || echo ", wasm-opt, minify"), CSS, assets)"
