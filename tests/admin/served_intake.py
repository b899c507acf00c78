"""The real intake app (``intake.create_app``) served on a loopback port for
the console tests that talk to it over HTTP: replies, forged conversation
items, and the FakeIntake contract."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

import intake
from core.envelope import RecipientPrivateKey
from core.envelope.keys import PublicKeyFile
from tests.admin.admin_testlib import RECIPIENT_ID
from tests.helpers import database_bytes


class ServedIntake:
    """The real intake app on a loopback port (werkzeug, threaded), its data
    in ``root/data``, the public key file of ``key`` for
    :data:`RECIPIENT_ID` ("Test Org") in ``root/keys``, and an API token for
    that organization (``token``); ``config`` overrides the app's settings."""

    def __init__(self, root: Path, key: RecipientPrivateKey, **config: Any) -> None:
        keys = root / "keys"
        keys.mkdir(parents=True)
        today = date.today()
        record = PublicKeyFile(
            recipient_id=RECIPIENT_ID,
            name_en="Test Org",
            name_zh="測試組織",
            public_key=key.public_key,
            created=today,
            expires=today + timedelta(days=365),
            retired=False,
        )
        (keys / f"{RECIPIENT_ID}.json").write_text(record.to_json(), encoding="utf-8")
        self.public_key = key.public_key
        self.app = intake.create_app(
            {
                "TESTING": True,
                "DATA_DIR": str(root / "data"),
                "KEYS_DIR": str(keys),
                "WTF_CSRF_ENABLED": False,
                **config,
            }
        )
        result = self.app.test_cli_runner().invoke(args=["api-token", "create", RECIPIENT_ID])
        assert result.exit_code == 0, result.output
        self.token = result.output.strip().splitlines()[-1]
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        """Stop serving (again: nothing); the app and its database stay."""
        if self.running:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self.running = False

    def close(self) -> None:
        """Stop serving and release the database."""
        self.stop()
        self.app.extensions["intake.db"].engine.dispose()

    def database_bytes(self) -> bytes:
        return database_bytes(self.app)
