"""A coalition member's console and a real intake over HTTP on loopback, for
the seized-intake tests: the console made its key with `keys generate`,
made and pinned its roster with `roster make` / `roster import`, and syncs
and checks with its own commands. The intake can be restarted (a seized
server is restarted with files its attacker put in `keys/`) and wrapped in
a WSGI middleware (a seized server answers what its attacker wants)."""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from click.testing import Result
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

import admin
import intake
from admin.extensions import DB_EXTENSION
from core.envelope import PublicKeyFile, RecipientPrivateKey
from core.timing import today_utc

PASSPHRASE = "seized intake test passphrase " + secrets.token_hex(4)
CHEAP_ARGON2ID = {"memory_kib": 1024, "iterations": 1, "lanes": 1}
RECIPIENT_ID = "test-org"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Coalition:
    """The console (in this process, its commands through Click) and the
    intake (in a thread, on a free port)."""

    root: Path
    console: Flask
    keys_dir: Path
    intake_data: Path
    token: str = ""
    url: str = ""
    intake_app: Flask | None = None
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    extra_apps: list[Flask] = field(default_factory=list)

    def cli(self, *args: str, stdin: str | None = None) -> Result:
        """Run ``flask --app admin ARGS`` against the console."""
        return self.console.test_cli_runner().invoke(args=list(args), input=stdin)

    def start_intake(self, middleware: Callable[[WsgiApp], WsgiApp] | None = None) -> str:
        """(Re)start the intake on the keys in ``keys_dir`` now, optionally
        behind ``middleware``; the console syncs from it. Returns its URL."""
        self.stop_intake()
        app = intake.create_app({"DATA_DIR": str(self.intake_data), "KEYS_DIR": str(self.keys_dir)})
        if not self.token:
            made = app.test_cli_runner().invoke(args=["api-token", "create", RECIPIENT_ID])
            assert made.exit_code == 0, made.output
            self.token = made.output.strip().splitlines()[-1]
        served: Any = app if middleware is None else middleware(app.wsgi_app)
        if middleware is not None:
            app.wsgi_app = served  # type: ignore[method-assign]
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.intake_app = app
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self.console.config.update(INTAKE_URL=self.url, INTAKE_TOKEN=self.token)
        return self.url

    def stop_intake(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(10)
            self._server = None
        if self.intake_app is not None:
            self.intake_app.extensions["intake.db"].engine.dispose()
            self.intake_app = None

    def close(self) -> None:
        self.stop_intake()
        self.console.extensions[DB_EXTENSION].engine.dispose()

    def plant_key(self, recipient_id: str = RECIPIENT_ID) -> RecipientPrivateKey:
        """What an attacker with write access to ``keys/`` does: one more
        public key file under an existing organization's id."""
        key = RecipientPrivateKey.generate()
        mine = next(self.keys_dir.glob(f"{recipient_id}*.json"))
        genuine = mine.read_text(encoding="utf-8")
        names = re.search(r'"en": "([^"]*)",\s*"zh": "([^"]*)"', genuine)
        assert names is not None
        planted = PublicKeyFile(
            recipient_id=recipient_id,
            name_en=names.group(1),
            name_zh=names.group(2),
            public_key=key.public_key,
            created=today_utc(),
            expires=today_utc().replace(year=today_utc().year + 1),
        )
        (self.keys_dir / f"{recipient_id}-rotation.json").write_text(planted.to_json(), encoding="utf-8")
        return key

    def submit(self, lang: str, narrative: str) -> str:
        """A reporter without JavaScript sends a report; returns the form
        page as the reporter saw it."""
        session = requests.Session()
        form = session.get(f"{self.url}/{lang}/", timeout=10)
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text)
        assert token is not None
        sent = session.post(
            f"{self.url}/{lang}/", data={"csrf_token": token.group(1), "narrative": narrative}, timeout=30
        )
        assert sent.status_code == 200, sent.status_code
        assert re.search(r"<output>([\d ]+)</output>", sent.text), "no receipt"
        return form.text


def make_coalition(root: Path) -> Coalition:
    """A console with its organization key and its roster pinned, and the
    intake's keys/ holding that key's public file (the intake not started)."""
    keys_dir = root / "keys"
    console = admin.create_app(
        {
            "DATA_DIR": str(root / "console"),
            "ARGON2ID": CHEAP_ARGON2ID,
            "TESTING": True,
            "SECRET_KEY": "test-only-secret",
        }
    )
    coalition = Coalition(root=root, console=console, keys_dir=keys_dir, intake_data=root / "intake")
    made = coalition.cli(
        "keys", "generate", "--recipient-id", RECIPIENT_ID, "--name-en", "Test Org", "--name-zh", "測試機構",
        "--out", str(keys_dir), stdin=PASSPHRASE + "\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    roster_file = root / "roster.json"
    assert (
        coalition.cli(
            "roster", "make", *map(str, keys_dir.glob("*.json")), "--out", str(roster_file)
        ).exit_code
        == 0
    )
    pinned = coalition.cli("roster", "import", str(roster_file))
    assert pinned.exit_code == 0, pinned.output
    return coalition
