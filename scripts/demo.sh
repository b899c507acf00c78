#!/usr/bin/env bash
# One command to try TNR Intake on this machine: a fresh demo/ data folder,
# a demo organization key, a demo coordinator account, an API token, then the
# intake on 127.0.0.1:5000 and the console on 127.0.0.1:5001 (gunicorn).
# Ctrl-C stops both. Demo credentials are random and printed: demo only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh
export PATH="$PWD/.venv/bin:$PATH"

INTAKE_PORT="${INTAKE_PORT:-5000}"
CONSOLE_PORT="${CONSOLE_PORT:-5001}"
DEMO="$PWD/demo"
# Before anything is removed: a second run while a demo still serves from
# demo/ would otherwise wipe its keys and data, then stop at the ports.
for port in "$INTAKE_PORT" "$CONSOLE_PORT"; do
  if python -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1', $port)) == 0 else 1)"; then
    echo "Port $port is in use: stop what runs there, or set INTAKE_PORT / CONSOLE_PORT." >&2
    exit 1
  fi
done
rm -rf "$DEMO"
mkdir -p "$DEMO/keys"
unset FLASK_APP

passphrase="demo-key-$(python -c 'import secrets; print(secrets.token_hex(6))')"
password="demo-pass-$(python -c 'import secrets; print(secrets.token_hex(6))')"
email="coordinator@demo.invalid"

export ADMIN_DATA_DIR="$DEMO/admin"
# A console on http://127.0.0.1 only: without this, it refuses to start
# without its production settings (WebAuthn relying party, Secure cookies).
export ADMIN_DEVELOPMENT=true
export INTAKE_DATA_DIR="$DEMO/intake"
export INTAKE_KEYS_DIR="$DEMO/keys"

echo "Creating the demo organization key (Argon2id takes a moment)..."
printf '%s\n' "$passphrase" | flask --app admin keys generate --recipient-id demo-org \
  --name-en "Demo coalition member" --name-zh "示範聯盟成員" --out "$DEMO/keys" >/dev/null
# The coalition roster the console pins (here one organization): an
# envelope sealed to any key outside it is quarantined and alarms.
flask --app admin roster make "$DEMO"/keys/*.json --out "$DEMO/roster.json" >/dev/null
flask --app admin roster import "$DEMO/roster.json" >/dev/null
printf '%s\n' "$password" | flask --app admin users create "$email" --role coordinator >/dev/null
# The starter set of reply templates (each in the four reporter languages).
flask --app admin replies seed >/dev/null
token="$(flask --app intake api-token create demo-org | tail -n 1)"

# The console's command line (flask --app admin sync, audit verify, purge …)
# against this demo: `set -a; . demo/console.env; set +a` first.
umask 077
cat > "$DEMO/console.env" <<ENV
PATH="$PWD/.venv/bin:\$PATH"
ADMIN_DATA_DIR="$DEMO/admin"
ADMIN_DEVELOPMENT=true
ADMIN_INTAKE_URL="http://127.0.0.1:$INTAKE_PORT"
ADMIN_INTAKE_TOKEN="$token"
ENV
umask 022

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

GUNICORN_BIND="127.0.0.1:$INTAKE_PORT" gunicorn -c gunicorn.conf.py wsgi:intake &
pids+=($!)
# The console keeps the unlocked key in its process: one worker, threads.
ADMIN_INTAKE_URL="http://127.0.0.1:$INTAKE_PORT" ADMIN_INTAKE_TOKEN="$token" \
ADMIN_SESSION_COOKIE_SECURE=false GUNICORN_BIND="127.0.0.1:$CONSOLE_PORT" GUNICORN_WORKERS=1 \
  gunicorn -c gunicorn.conf.py --threads 4 wsgi:admin &
pids+=($!)

ready=""
for _ in $(seq 1 300); do
  if python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$INTAKE_PORT/healthz'); u.urlopen('http://127.0.0.1:$CONSOLE_PORT/login')" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "The intake or the console did not start within a minute: see the messages above." >&2
  exit 1
fi

cat <<MSG

  TNR Intake demo is running (Ctrl-C to stop).

  Intake (reporters):   http://127.0.0.1:$INTAKE_PORT/
  Console (reviewers):  http://127.0.0.1:$CONSOLE_PORT/
    email:              $email
    password:           $password
    second factor:      asked at first login (security key, or an authenticator app)
    key passphrase:     $passphrase   (Keys > Unlock, then Sync in the inbox)

  Data: $DEMO   (demo only; never use these credentials for real reports)
  Console command line: set -a; . demo/console.env; set +a; flask --app admin --help

MSG
wait
