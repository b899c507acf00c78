"""Key custody: generate, unlock, lock, roles, the data key."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from admin.errors import DataKeyError, KeyLockedError
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.keys.custody import NONCE_SIZE, FieldEncryptor, UnlockedKeyring, decrypt_field, encrypt_field
from admin.models import DataKeyWrap
from core.envelope import RecipientPrivateKey, decrypt_private_key, parse_public_key_file
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, files_containing, is_unlocked, unlock

GENERATE = [
    "keys",
    "generate",
    "--recipient-id",
    "test-org",
    "--name-en",
    "Test Org",
    "--name-zh",
    "测试组织",
]


def test_keys_generate(console_runner: FlaskCliRunner, tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "keys"
    result = console_runner.invoke(args=[*GENERATE, "--out", str(out)], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    public = parse_public_key_file((out / "test-org.json").read_text("utf-8"), "test-org.json", date.today())
    assert public.name_zh == "测试组织"
    assert (public.expires - public.created).days == 730
    assert f"fingerprint: {public.fingerprint}" in result.output

    private_files = list((data_dir / "private-keys").glob("*.json"))
    assert [p.name for p in private_files] == [f"test-org-{public.key_id[:16]}.json"]
    assert stat.S_IMODE(private_files[0].stat().st_mode) == 0o600
    doc = json.loads(private_files[0].read_text("ascii"))
    assert doc["kdf"]["memory_kib"] == 1024  # the test's cheap ARGON2ID was used
    key = decrypt_private_key(doc, PASSPHRASE, "test")
    assert key.key_id == public.key_id

    assert PASSPHRASE not in result.output
    assert not files_containing(tmp_path, PASSPHRASE.encode())
    assert not files_containing(tmp_path, key.seed)


def test_keys_generate_options(console_runner: FlaskCliRunner, tmp_path: Path) -> None:
    out = tmp_path / "keys"
    result = console_runner.invoke(
        args=[*GENERATE, "--out", str(out), "--expires-days", "30"], input=PASSPHRASE + "\n"
    )
    assert result.exit_code == 0, result.output
    public = parse_public_key_file((out / "test-org.json").read_text("utf-8"), "x", date.today())
    assert (public.expires - public.created).days == 30


def test_keys_generate_refuses_empty_passphrase_and_overwrite(
    console_runner: FlaskCliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    empty = console_runner.invoke(args=[*GENERATE, "--out", str(out)], input="\n")
    assert empty.exit_code != 0
    assert not (out / "test-org.json").exists()
    assert console_runner.invoke(args=[*GENERATE, "--out", str(out)], input=PASSPHRASE + "\n").exit_code == 0
    before = (out / "test-org.json").read_bytes()
    again = console_runner.invoke(args=[*GENERATE, "--out", str(out)], input=PASSPHRASE + "\n")
    assert again.exit_code != 0
    assert "exists" in again.output
    assert (out / "test-org.json").read_bytes() == before


def test_keys_generate_bad_recipient_id(console_runner: FlaskCliRunner, tmp_path: Path) -> None:
    args = ["keys", "generate", "--recipient-id", "Bad Id", "--name-en", "A", "--name-zh", "B"]
    result = console_runner.invoke(args=[*args, "--out", str(tmp_path)], input=PASSPHRASE + "\n")
    assert result.exit_code != 0
    assert "recipient id" in result.output


def test_unlock_wrong_then_right(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, org_key: RecipientPrivateKey
) -> None:
    auth.login_as("coordinator")
    page = console_client.get("/keys/")
    assert b"Locked." in page.data
    assert org_key.public_key.fingerprint.encode() in page.data

    wrong = console_client.post(
        "/keys/unlock", data={"passphrase": "not the passphrase"}, follow_redirects=True
    )
    assert b"Wrong passphrase." in wrong.data
    assert not is_unlocked(console_app)

    right = console_client.post("/keys/unlock", data={"passphrase": PASSPHRASE}, follow_redirects=True)
    assert b"The organization key is unlocked." in right.data
    assert is_unlocked(console_app)
    assert console_app.extensions[KEYRING_EXTENSION].key_ids() == [org_key.key_id]

    # Held in memory only: nothing in the session cookie.
    cookie = console_client.get_cookie("tnr_console_session")
    assert cookie is not None
    assert org_key.seed.hex() not in cookie.value

    locked = console_client.post("/keys/lock", follow_redirects=True)
    assert b"The organization key is locked." in locked.data
    assert not is_unlocked(console_app)


def test_unlock_without_key_file(console_app: Flask, console_client: FlaskClient, auth: AuthActions) -> None:
    auth.login_as("admin")
    response = console_client.post("/keys/unlock", data={"passphrase": PASSPHRASE}, follow_redirects=True)
    assert b"There is no private key yet" in response.data
    assert not is_unlocked(console_app)


def test_reviewer_cannot_unlock_but_can_lock(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, org_key: RecipientPrivateKey
) -> None:
    auth.login_as("reviewer")
    assert b"A coordinator or an admin unlocks the key." in console_client.get("/keys/").data
    assert console_client.post("/keys/unlock", data={"passphrase": PASSPHRASE}).status_code == 403
    assert not is_unlocked(console_app)
    unlock(console_app)
    assert console_client.post("/keys/lock").status_code == 302
    assert not is_unlocked(console_app)


def test_data_key_created_once_and_reopened(console_app: Flask, org_key: RecipientPrivateKey) -> None:
    unlock(console_app)
    keyring: UnlockedKeyring = console_app.extensions[KEYRING_EXTENSION]
    first = keyring.data_key()
    sealed = encrypt_field(first, "ab" * 16, "report", b"some bytes")
    keyring.lock()
    unlock(console_app)
    assert keyring.data_key() == first
    assert decrypt_field(keyring.data_key(), "ab" * 16, "report", sealed) == b"some bytes"
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        wraps = session.scalars(select(DataKeyWrap)).all()
        assert [w.key_id for w in wraps] == [org_key.key_id]
        assert first not in wraps[0].wrapped


def test_field_bound_to_envelope_and_field(console_app: Flask, org_key: RecipientPrivateKey) -> None:
    unlock(console_app)
    data_key = console_app.extensions[KEYRING_EXTENSION].data_key()
    sealed = encrypt_field(data_key, "ab" * 16, "report", b"x")
    for envelope_id, field in (("cd" * 16, "report"), ("ab" * 16, "attachment/0")):
        with pytest.raises(DataKeyError):
            decrypt_field(data_key, envelope_id, field, sealed)


def test_field_sealer_nonces_are_fresh_across_blocks_and_fields_open() -> None:
    """The sync's encryptor draws nonces in blocks: every value gets its own
    nonce, also across refills, and opens with decrypt_field bound to its
    envelope and field, like encrypt_field's."""
    data_key = bytes(range(32))
    encryptor = FieldEncryptor(data_key, block=3)
    sealed = [encryptor.encrypt("ab" * 16, f"attachment/{i}", b"same plaintext") for i in range(10)]
    nonces = {value[:NONCE_SIZE] for value in sealed}
    assert len(nonces) == 10 and all(len(n) == NONCE_SIZE for n in nonces)
    for i, value in enumerate(sealed):
        assert decrypt_field(data_key, "ab" * 16, f"attachment/{i}", value) == b"same plaintext"
    with pytest.raises(DataKeyError):
        decrypt_field(data_key, "ab" * 16, "attachment/1", sealed[0])


def test_keyring_idle_lock() -> None:
    now = [1000.0]
    keyring = UnlockedKeyring(idle_timeout=60, clock=lambda: now[0])
    key = RecipientPrivateKey.generate()
    keyring.load([key], b"k" * 32)
    now[0] += 59
    assert keyring.data_key() == b"k" * 32  # use resets the idle timer
    now[0] += 59
    assert keyring.unlocked
    now[0] += 2
    assert not keyring.unlocked
    with pytest.raises(KeyLockedError):
        keyring.private_keys()
