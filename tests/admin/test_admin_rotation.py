"""Key rotation: several keys per organization, a key retired (CLI and keys
page) so the intake stops offering it, and old envelopes still open."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.keys import custody
from admin.models import AuditEntry, Case
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import RecipientPrivateKey, load_key_directory, seal
from intake.keyring import PublicKeyring
from tests.admin.admin_testlib import PASSPHRASE, RECIPIENT_ID, AuthActions, FakeIntake, Served, unlock

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


def _generate(runner: FlaskCliRunner, out: Path, *extra: str) -> str:
    result = runner.invoke(args=[*GENERATE, "--out", str(out), *extra], input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("fingerprint:"))
    return "".join(line.removeprefix("fingerprint:").split())


def _actions(app: Flask, action: str) -> list[AuditEntry]:
    with app.extensions[DB_EXTENSION].session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_rotate_then_retire_from_the_cli(
    console_app: Flask, console_runner: FlaskCliRunner, tmp_path: Path
) -> None:
    keys = tmp_path / "intake-keys"
    old = _generate(console_runner, keys)
    # Without --rotate a second key is refused (nothing is overwritten) ...
    again = console_runner.invoke(args=[*GENERATE, "--out", str(keys)], input=PASSPHRASE + "\n")
    assert again.exit_code != 0 and "--rotate" in again.output
    # ... with it, the new public key file sits next to the old one.
    new = _generate(console_runner, keys, "--rotate")
    assert sorted(p.name for p in keys.glob("*.json")) == sorted(
        ["test-org.json", f"test-org-{new[:16]}.json"]
    )
    both = PublicKeyring.load(keys, date.today())
    assert {k.key_id for k in both.active} == {old, new}

    result = console_runner.invoke(args=["keys", "retire", old[:12], "--out", str(keys)])
    assert result.exit_code == 0, result.output
    # The old key's file is rewritten in place with "retired": true.
    doc = json.loads((keys / "test-org.json").read_text("utf-8"))
    assert doc["retired"] is True and doc["fingerprint"] == old
    loaded = PublicKeyring.load(keys, date.today())
    assert [k.key_id for k in loaded.active] == [new]  # offered to reporters
    assert {k.key_id for k in loaded.files} == {old, new}  # still known (follow-ups, API)
    assert [e.object_id for e in _actions(console_app, "key.retire")] == [old[:16]]
    assert len(_actions(console_app, "key.generate")) == 2
    assert PASSPHRASE not in result.output

    # The new key is the organization's last active key: refused.
    last = console_runner.invoke(args=["keys", "retire", new, "--out", str(keys)])
    assert last.exit_code != 0 and "no active key left" in last.output
    assert not json.loads((keys / f"test-org-{new[:16]}.json").read_text("utf-8"))["retired"]


def test_retire_a_key_made_before_copies_were_kept(
    console_app: Flask, console_runner: FlaskCliRunner, data_dir: Path, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    old = _generate(console_runner, keys)
    _generate(console_runner, keys, "--rotate")
    (custody.public_key_dir(data_dir) / f"test-org-{old[:16]}.json").unlink()
    elsewhere = tmp_path / "out"
    missing = console_runner.invoke(args=["keys", "retire", old, "--out", str(elsewhere)])
    assert missing.exit_code != 0 and "no copy" in missing.output
    # Pointed at the folder holding its public key file, it is found by fingerprint.
    assert console_runner.invoke(args=["keys", "retire", old, "--out", str(keys)]).exit_code == 0
    [retired] = [k for k in load_key_directory(keys, date.today()) if k.retired]
    assert retired.key_id == old


def test_retire_refuses_unknown_and_short_ids(console_runner: FlaskCliRunner, tmp_path: Path) -> None:
    _generate(console_runner, tmp_path / "keys")
    assert "8 hex digits" in console_runner.invoke(args=["keys", "retire", "abc"]).output
    assert "no private key" in console_runner.invoke(args=["keys", "retire", "0" * 16]).output


def _second_key(data_dir: Path) -> RecipientPrivateKey:
    key = RecipientPrivateKey.generate()
    custody.store_private_key(
        key,
        PASSPHRASE,
        recipient_id=RECIPIENT_ID,
        data_dir=data_dir,
        argon2id={"memory_kib": 1024, "iterations": 1, "lanes": 1},
    )
    return key


def test_envelopes_sealed_to_old_and_new_key_both_open(
    console_app: Flask, fake_intake: FakeIntake, data_dir: Path, org_key: RecipientPrivateKey
) -> None:
    new_key = _second_key(data_dir)
    fake_intake.add({"narrative": "sealed to the old key"})
    sealed = seal(
        {"narrative": "sealed to the new key"},
        [new_key.public_key],
        day=date(2026, 11, 2),
        sealed_by="server",
    )
    after = Served(seq=2, sealed=sealed, header=sealed.header, body=sealed.body, attachments=[])
    fake_intake.envelopes.append(after)

    unlock(console_app)  # one passphrase opens both private key files
    keyring = console_app.extensions[KEYRING_EXTENSION]
    assert set(keyring.key_ids()) == {org_key.key_id, new_key.key_id}
    with IntakeClient(fake_intake.url, fake_intake.token) as c:
        result = sync(console_app.extensions[DB_EXTENSION], keyring, data_dir, c)
    assert (result.added, result.quarantined) == (2, 0)
    with console_app.app_context(), console_app.extensions[DB_EXTENSION].session() as session:
        from admin.cases.service import open_case

        texts = {open_case(case, keyring).report["narrative"] for case in session.scalars(select(Case))}
    assert texts == {"sealed to the old key", "sealed to the new key"}

    # Only the new key unlocked (the old file gone): the data key still opens,
    # because it was wrapped to every key at the unlock above.
    keyring.lock()
    next(custody.private_key_dir(data_dir).glob(f"*-{org_key.key_id[:16]}.json")).unlink()
    unlock(console_app)
    assert keyring.key_ids() == [new_key.key_id]


def test_retire_from_the_keys_page(
    console_app: Flask,
    console_client: FlaskClient,
    auth: AuthActions,
    console_runner: FlaskCliRunner,
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    old = _generate(console_runner, keys)
    new = _generate(console_runner, keys, "--rotate")

    auth.login_as("reviewer")
    page = console_client.get("/keys/")
    assert b"Retire this key" not in page.data
    assert console_client.post(f"/keys/{old}/retire").status_code == 403
    assert console_client.get(f"/keys/{old}/public.json").status_code == 403
    auth.logout()

    auth.login_as("coordinator")
    page = console_client.get("/keys/")
    assert page.data.count(b"Retire this key") == 2
    done = console_client.post(f"/keys/{old}/retire", follow_redirects=True)
    assert b"The key is retired." in done.data
    assert done.data.count(b"Retire this key") == 1
    assert b"no: retired" in done.data

    download = console_client.get(f"/keys/{old}/public.json")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="test-org-{old[:16]}.json"'
    assert "sandbox" in download.headers["Content-Security-Policy"]
    doc = json.loads(download.data)
    assert doc["retired"] is True and doc["fingerprint"] == old
    # The downloaded file is what the intake loads.
    (keys / "test-org.json").write_bytes(download.data)
    assert [k.key_id for k in PublicKeyring.load(keys, date.today()).active] == [new]

    refused = console_client.post(f"/keys/{new}/retire", follow_redirects=True)
    assert b"no active key left" in refused.data
    assert console_client.post(f"/keys/{'0' * 64}/retire").status_code == 302  # flashed: no such key
    assert console_client.post("/keys/not-an-id/retire").status_code == 400
    assert console_client.get(f"/keys/{'0' * 64}/public.json").status_code == 404
    assert [e.object_id for e in _actions(console_app, "key.retire")] == [old[:16]]
    assert [e.object_id for e in _actions(console_app, "key.public_file")] == [old[:16]]
