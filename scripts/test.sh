#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, types, then pytest twice, on SQLite
# and on PostgreSQL. The PostgreSQL run leaves out the tests marked
# db_independent (tests/conftest.py), which the SQLite run covers;
# TNR_TEST_EVERY_TEST_ON_POSTGRES=1 keeps them.
#   scripts/test.sh [pytest arguments]
#
# PostgreSQL, first found wins:
#   1. $TNR_TEST_POSTGRES_URL (e.g. postgresql+psycopg://user:pw@127.0.0.1/db);
#   2. the URL scripts/ci-setup.sh wrote to $TNR_TEST_POSTGRES_URL_FILE
#      (default /var/tmp/tnr-intake-test-postgres.url), if it answers;
#   3. a throwaway cluster in a temporary folder, when PostgreSQL's server
#      programs (initdb, pg_ctl) are installed; stopped and removed at exit;
#   4. none: the PostgreSQL run is skipped, and the script says so.
# TNR_TEST_DATABASES=sqlite (or postgres) runs one of the two only.
# TNR_TEST_PARALLEL=1 runs the two at once, each into its own log, printed
# when both are done (CI does: most tests wait on servers and Chromium, so
# two runs side by side take little longer than one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh test
export PATH="$PWD/.venv/bin:$PATH"

# The browser tests need the locked npm packages (axe-core for the
# accessibility audit, esbuild for the bundle check): install them as the
# Python ones are, from package-lock.json, without install scripts.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "test.sh: npm is needed for the browser tests (Debian: apt-get install npm)" >&2
    exit 2
  fi
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

pg_answers() {
  python - "$1" <<'PY' >/dev/null 2>&1
import sys
import psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://", 1)
psycopg.connect(url, connect_timeout=3).close()
PY
}

pg_bindir() {
  local initdb
  initdb="$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$initdb" ] && [ -x "$initdb" ] && dirname "$(readlink -f "$initdb")"
}

throwaway_dir=""
stop_throwaway() {
  [ -n "$throwaway_dir" ] || return 0
  as_pg "$pg_bin/pg_ctl" -D "$throwaway_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$throwaway_dir"
}

as_pg() {
  # initdb refuses to run as root: use the postgres account then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_throwaway() {
  pg_bin="$(pg_bindir)" || return 1
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then return 1; fi
  throwaway_dir="$(mktemp -d "${TMPDIR:-/tmp}/tnr-pg.XXXXXX")"
  trap stop_throwaway EXIT
  [ "$(id -u)" = 0 ] && chown postgres "$throwaway_dir"
  local port
  port="$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  as_pg "$pg_bin/initdb" -D "$throwaway_dir/data" -A trust -U tnr_test -E UTF8 --no-sync >/dev/null
  # fsync off: a test cluster, thrown away at exit.
  as_pg "$pg_bin/pg_ctl" -D "$throwaway_dir/data" -l "$throwaway_dir/log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $throwaway_dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  TNR_TEST_POSTGRES_URL="postgresql+psycopg://tnr_test@127.0.0.1:$port/postgres"
}

echo "== ruff"
ruff check .
echo "== mypy (strict on core/, intake/ and admin/)"
mypy
echo "== import contracts (pyproject.toml [tool.importlinter])"
lint-imports

# The script's status after one pass: a pass's failure is kept. pytest's 5
# ("no tests collected") on PostgreSQL only means every chosen test is
# db_independent (scripts/test.sh tests/test_docs.py): not a failure.
settle() {
  local database="$1" pass_status="$2" status="$3"
  if [ "$database" = postgres ] && [ "$pass_status" = 5 ]; then
    echo "== pytest on postgres: none of the chosen tests touches a database" >&2
    pass_status=0
  fi
  if [ "$pass_status" != 0 ]; then echo "$pass_status"; else echo "$status"; fi
}

databases="${TNR_TEST_DATABASES:-sqlite postgres}"
status=0
logs="$(mktemp -d "${TMPDIR:-/tmp}/tnr-test-logs.XXXXXX")"
pids=()
for database in $databases; do
  if [ "$database" = postgres ]; then
    url_file="${TNR_TEST_POSTGRES_URL_FILE:-/var/tmp/tnr-intake-test-postgres.url}"
    if [ -z "${TNR_TEST_POSTGRES_URL:-}" ] && [ -r "$url_file" ] && pg_answers "$(cat "$url_file")"; then
      TNR_TEST_POSTGRES_URL="$(cat "$url_file")"
    fi
    if [ -z "${TNR_TEST_POSTGRES_URL:-}" ] && ! start_throwaway; then
      echo "== pytest on PostgreSQL: SKIPPED (no TNR_TEST_POSTGRES_URL, no server from scripts/ci-setup.sh," \
        "no initdb to start one; install postgresql to run it)"
      continue
    fi
    export TNR_TEST_POSTGRES_URL
  fi
  if [ "${TNR_TEST_PARALLEL:-0}" = 1 ]; then
    echo "== pytest on $database: started (log printed when it ends)"
    TNR_TEST_DATABASE="$database" pytest "$@" >"$logs/$database.log" 2>&1 &
    pids+=("$!:$database")
  else
    echo "== pytest on $database"
    pass_status=0
    TNR_TEST_DATABASE="$database" pytest "$@" || pass_status=$?
    status="$(settle "$database" "$pass_status" "$status")"
  fi
done
for entry in ${pids[@]+"${pids[@]}"}; do
  pid="${entry%%:*}"
  database="${entry#*:}"
  pass_status=0
  wait "$pid" || pass_status=$?
  echo "== pytest on $database (exit $pass_status)"
  cat "$logs/$database.log"
  status="$(settle "$database" "$pass_status" "$status")"
done
rm -rf "$logs"
exit "$status"
