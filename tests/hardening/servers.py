"""Servers in subprocesses for the hardening tests: the intake or the console
under gunicorn (the repository's gunicorn.conf.py) or ``flask run``, on
127.0.0.1, with their output in a log file the test then searches."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

ROOT = Path(__file__).resolve().parents[2]
#: A loopback address that is not the server's: what must not reach a log.
CLIENT_ADDRESS = "127.0.0.2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without app settings, plus ``extra``."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "ADMIN_", "FLASK_", "GUNICORN_"))
    }
    return {**base, **extra}


class FromAddress(HTTPAdapter):
    """Connect from :data:`CLIENT_ADDRESS` (so a test can look for it)."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        kwargs["source_address"] = (CLIENT_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]


def client_session(user_agent: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress())
    session.headers["User-Agent"] = user_agent
    return session


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def worker_pids(self) -> list[int]:
        """gunicorn's worker processes (children of the master)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def log_text(self) -> bytes:
        return self.log.read_bytes()


def start(
    app: str,
    env: Mapping[str, str],
    log: Path,
    *,
    server: str = "gunicorn",
    workers: int = 2,
    ready_path: str = "/healthz",
    extra_args: tuple[str, ...] = (),
) -> Server:
    """Start ``app`` ("intake" or "admin") and wait until ``ready_path``
    answers. ``server``: "gunicorn" (gunicorn.conf.py, ``wsgi:<app>``) or
    "flask" (``flask --app <app> run``, Werkzeug's development server)."""
    port = free_port()
    full_env = clean_env(env)
    if server == "gunicorn":
        cmd = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *extra_args, f"wsgi:{app}"]
        full_env.update(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers))
    else:
        cmd = [sys.executable, "-m", "flask", "--app", app, "run", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as fh:
        process = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            # From the server's own address: the readiness probe is not the
            # client whose address the test looks for.
            if requests.get(url + ready_path, timeout=2, allow_redirects=False).status_code < 500:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{app} did not start: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
    return Server(url, process, log, full_env)


@contextmanager
def running_intake(tmp_path: Path, database_env: Mapping[str, str]) -> Iterator[Server]:
    """The intake under gunicorn (one worker) with its data folder in
    ``tmp_path / "data"`` and the key files the caller wrote to
    ``tmp_path / "keys"``, on the database ``database_env`` names
    (``Databases.env()``); its log in ``tmp_path / "gunicorn.log"``.
    Stopped on leaving the block."""
    env = {
        "INTAKE_DATA_DIR": str(tmp_path / "data"),
        "INTAKE_KEYS_DIR": str(tmp_path / "keys"),
        **database_env,
    }
    running = start("intake", env, tmp_path / "gunicorn.log", workers=1)
    try:
        yield running
    finally:
        running.stop()


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" type="hidden" value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert found is not None, f"no hidden field {name}"
    return found.group(1)


RECEIPT = re.compile(r"<output>([\d ]+)</output>")
