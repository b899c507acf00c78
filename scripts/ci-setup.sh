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
# tests/browser/ launch this Chromium through Python Playwright (a pip
# package, in the test extra); `playwright install` is never used.
apt_install chromium
# tests/test_bundle.py rebuilds static/js/intake.js from package-lock.json
# with npm and compares. Node usually comes with the machine; else Debian's.
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
# tests/browser/test_screenshots.py: Chinese text in the screenshots that
# translation reviewers read needs a CJK font (Traditional and Simplified
# glyphs, chosen by <html lang>); without one Chromium draws empty boxes.
apt_install fonts-noto-cjk
# Fetch the locked packages once (integrity-checked; no install scripts):
# node_modules/ for scripts/build-js.sh, and npm's cache for the test's
# clean `npm ci --prefer-offline` in a scratch folder.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# --- attachments: a second reader of the console's redacted copies
# (section owned by the attachment-safety work)
# tests/admin/test_admin_attachment_safety.py reads a redacted photo with
# exiftool, independently of Pillow, to show it carries no metadata.
apt_install libimage-exiftool-perl

# --- PostgreSQL: the suite also runs against a real server on loopback
# (section owned by the hardening work)
# Debian's server package; the suite's second run uses the cluster started
# here, on 127.0.0.1 only, with a test role and database (password auth over
# TCP). The URL is written to $TNR_TEST_POSTGRES_URL_FILE for scripts/test.sh.
apt_install postgresql
TNR_TEST_POSTGRES_URL_FILE="${TNR_TEST_POSTGRES_URL_FILE:-/var/tmp/tnr-intake-test-postgres.url}"
pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$pg_version main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
pg_conf="/etc/postgresql/$pg_version/main"
if ! grep -q "^listen_addresses = '127.0.0.1'" "$pg_conf/postgresql.conf"; then
  echo "listen_addresses = '127.0.0.1'" >>"$pg_conf/postgresql.conf"
fi
pg_port="$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $3}')"
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster "$pg_version" main start
fi
for _ in $(seq 1 30); do
  runuser -u postgres -- pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
  sleep 1
done
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p "$pg_port" -d postgres <<'SQL'
SELECT 'CREATE ROLE tnr_test LOGIN PASSWORD ''tnr_test'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tnr_test') \gexec
SELECT 'CREATE DATABASE tnr_test OWNER tnr_test'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tnr_test') \gexec
SQL
echo "postgresql+psycopg://tnr_test:tnr_test@127.0.0.1:$pg_port/tnr_test" >"$TNR_TEST_POSTGRES_URL_FILE"

# --- the shipped deployment: Debian's nginx and tor
# (section owned by the deployment work)
# tests/deploy/ runs `nginx -t` and `tor --verify-config` on deploy/, and
# starts nginx (its own prefix, loopback ports, in the foreground) in front
# of both apps. Neither service is started or enabled here: where
# policy-rc.d does not forbid it, stop what the packages started, so no
# default site listens on port 80.
if ! dpkg -s nginx >/dev/null 2>&1 || ! dpkg -s tor >/dev/null 2>&1; then
  apt_install nginx tor
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now nginx tor >/dev/null 2>&1 || true
  else
    service nginx stop >/dev/null 2>&1 || true
    service tor stop >/dev/null 2>&1 || true
  fi
fi
