#!/usr/bin/env bash
# System packages the test suite needs on a fresh Debian machine (run as root
# by .ci/run; safe to run again). Each section installs one thing and says why.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- browser tests: Debian's Chromium, driven by Playwright (executable_path)
# (section owned by the browser-sealing work)

# --- PostgreSQL: the suite also runs against a real server on loopback
# (section owned by the hardening work)
