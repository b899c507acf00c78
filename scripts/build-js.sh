#!/usr/bin/env bash
# Build the browser bundle static/js/intake.js from js/ and the packages
# pinned in package-lock.json (install them first with `npm ci`).
#   scripts/build-js.sh [OUTFILE]     default: static/js/intake.js
# The output is committed so that Python users need no Node; the build is
# deterministic (same lockfile, same sources: same bytes), and
# tests/test_bundle.py rebuilds it and compares.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-static/js/intake.js}"
if [ ! -x node_modules/.bin/esbuild ]; then
  echo "build-js: node_modules missing; run: npm ci" >&2
  exit 2
fi
# iife + global name: one classic script (CSP script-src 'self'), no modules
# to fetch. "crypto" is Node's, imported only where WebCrypto is missing: it
# stays an (unused) dynamic import. No source map, no timestamps, no paths.
node_modules/.bin/esbuild js/main.js \
  --bundle \
  --format=iife \
  --global-name=TNRIntake \
  --platform=browser \
  --target=es2020,chrome100,firefox100,safari15 \
  --external:crypto \
  --minify \
  --legal-comments=eof \
  --charset=utf8 \
  --log-level=warning \
  --outfile="$out"
