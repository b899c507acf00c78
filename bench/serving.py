"""What the benchmarks share to run servers: a free loopback port, an
organization key for the intake to seal to, a throwaway PostgreSQL schema,
and an app under gunicorn (the repository's gunicorn.conf.py) on 127.0.0.1
that the bench stops at the end.

Not a benchmark itself: bench/flood.py and bench/load.py import it (the
repository root on ``sys.path``, as they put it there)."""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import create_engine, text

from core.db import normalize_url
from core.envelope import PublicKeyFile, RecipientPrivateKey

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_key(directory: Path) -> RecipientPrivateKey:
    """Generate the organization key "bench-org", write its public key file
    to ``directory`` (the intake's KEYS_DIR) and return the private key."""
    key = RecipientPrivateKey.generate()
    today = date.today()
    record = PublicKeyFile(
        recipient_id="bench-org",
        name_en="Bench org",
        name_zh="測試機構",
        public_key=key.public_key,
        created=today,
        expires=today + timedelta(days=30),
        retired=False,
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench-org.json").write_text(record.to_json(), encoding="utf-8")
    return key


def with_schema(url: str, schema: str) -> str:
    """``url`` (PostgreSQL) with ``schema`` as its search path."""
    parts = urlsplit(normalize_url(url))
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={schema}"})) if q)
    return urlunsplit(parts._replace(query=query))


@contextmanager
def postgres_schema(url: str, prefix: str) -> Iterator[str]:
    """A fresh schema named ``<prefix>_<random>`` on the PostgreSQL server
    of ``url``, dropped (with everything in it) on exit; yields ``url``
    with that schema as its search path."""
    schema = f"{prefix}_{secrets.token_hex(4)}"
    engine = create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield with_schema(url, schema)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def bench_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the apps' or gunicorn's settings
    (the bench's own, not the caller's shell's), plus ``extra``."""
    ours = ("INTAKE_", "ADMIN_", "GUNICORN_", "BASELINE_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(ours)}, **extra}


@dataclass
class Server:
    """An app under gunicorn on 127.0.0.1."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, for http.client."""
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM (gunicorn lets its workers finish), then SIGKILL after 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_gunicorn(
    name: str, target: list[str], env: Mapping[str, str], log: Path, workers: int = 2
) -> Server:
    """Start ``gunicorn -c gunicorn.conf.py <target…>`` in the repository
    with ``env`` (see :func:`bench_env`) on a free loopback port, its output
    appended to ``log``, and wait (60 s at most) until ``/healthz`` answers
    200. ``target``: e.g. ``["wsgi:intake"]``.

    Raises:
        SystemExit: gunicorn exited or did not answer in time.
    """
    port = free_port()
    full_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers)}
    with log.open("ab") as fh:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *target],
            cwd=ROOT,
            env=full_env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{name} did not start; see {log}")
        time.sleep(0.1)
    return Server(name, port, process, log)
