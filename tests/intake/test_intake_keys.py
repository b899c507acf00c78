"""The intake loads every public key file at start and refuses to start
without a usable one, naming the file at fault."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

import intake
from intake import ConfigError

from ..helpers import write_key_file


def _create(tmp_path: Path, keys: Path) -> None:
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys)})
    app.extensions["intake.db"].engine.dispose()


def test_refuses_to_start_without_keys(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    with pytest.raises(ConfigError, match="no public key file"):
        _create(tmp_path, tmp_path / "keys")


def test_refuses_a_missing_keys_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        _create(tmp_path, tmp_path / "nowhere")


def test_refuses_an_expired_key_naming_the_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key_file(keys, "good-org")
    write_key_file(keys, "old-org", expires=date.today() - timedelta(days=1), filename="old-org.json")
    with pytest.raises(ConfigError, match=r"old-org\.json: key expired"):
        _create(tmp_path, keys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(fingerprint="0" * 64), "fingerprint does not match"),
        (
            lambda d: d.update(public_key=d["public_key"][:-8] + "AAAAAAA="),
            "fingerprint does not match|not a valid|bytes, expected",
        ),
        (lambda d: d.update(seed="00" * 32), "private key material"),
        (lambda d: d.pop("name"), "name"),
        (lambda d: d.update(recipient_id="Bad Org!"), "recipient_id"),
        (lambda d: d.update(expires="soon"), "Invalid isoformat|expires"),
    ],
)
def test_refuses_a_malformed_key_naming_the_file(tmp_path: Path, edit: object, message: str) -> None:
    keys = tmp_path / "keys"
    write_key_file(keys, "good-org")
    write_key_file(keys, "bad-org", filename="bad-org.json")
    doc = json.loads((keys / "bad-org.json").read_text())
    edit(doc)  # type: ignore[operator]
    (keys / "bad-org.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=rf"bad-org\.json: .*({message})"):
        _create(tmp_path, keys)


def test_refuses_json_that_is_not_a_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "notes.json").write_text("[1, 2")
    with pytest.raises(ConfigError, match=r"notes\.json"):
        _create(tmp_path, keys)


def test_loads_several_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    a = write_key_file(keys, "org-a")
    b = write_key_file(keys, "org-b")
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys)})
    keyring = app.extensions["intake.keyring"]
    assert {k.key_id for k in keyring.active} == {a.key_id, b.key_id}
    assert keyring.recipient_ids == ("org-a", "org-b")
    app.extensions["intake.db"].engine.dispose()


def test_key_set_is_served_at_a_stable_url(tmp_path: Path) -> None:
    """The form's keys, as JSON, for consoles to compare with their roster."""
    keys_dir = tmp_path / "keys"
    first = write_key_file(keys_dir, "org-a")
    second = write_key_file(keys_dir, "org-b")
    app = intake.create_app({"DATA_DIR": str(tmp_path / "data"), "KEYS_DIR": str(keys_dir), "TESTING": True})
    response = app.test_client().get("/keys.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    doc = response.get_json()
    assert doc["format"] == "tnr-intake-keyset" and doc["version"] == 1
    assert [k["key_id"] for k in doc["keys"]] == [first.key_id, second.key_id]
    assert {k["status"] for k in doc["keys"]} == {"active"}
    assert "seed" not in response.get_data(as_text=True)
