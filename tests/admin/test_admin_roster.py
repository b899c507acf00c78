"""The pinned coalition roster (admin/keys/roster.py): `roster make`, `roster
import` (own entries must be the keys held; drops and changes need
--replace, audited), `roster show`, and the sync's check of every
envelope's keys against it (quarantine + alarm, never a case)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.keys import roster
from admin.models import Alarm, AuditEntry, Case, Quarantine
from core.envelope import PublicKeyFile, RecipientPrivateKey, RecipientPublicKey, seal
from tests.admin.admin_testlib import (
    RECIPIENT_ID,
    FakeIntake,
    Served,
    pin_roster,
    store_key,
    sync_from,
    unlock,
)

TODAY = date(2026, 12, 1)


def key_file(directory: Path, recipient_id: str, key: RecipientPublicKey, *, retired: bool = False) -> Path:
    public = PublicKeyFile(
        recipient_id, f"{recipient_id} org", f"{recipient_id} 機構", key, TODAY, date(2028, 12, 1)
    )
    if retired:
        public = PublicKeyFile(
            recipient_id, public.name_en, public.name_zh, key, TODAY, public.expires, retired=True
        )
    path = directory / f"{recipient_id}-{key.key_id[:8]}.json"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(public.to_json(), encoding="utf-8")
    return path


def make(runner: FlaskCliRunner, out: Path, *files: Path, extra: tuple[str, ...] = ()) -> str:
    result = runner.invoke(args=["roster", "make", *map(str, files), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def audit_actions(app: Flask) -> list[tuple[str, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        return [(e.action, e.detail) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


@pytest.fixture
def coalition(tmp_path: Path, org_key: RecipientPrivateKey) -> dict[str, Path]:
    """Public key files: ours, and one of another organization."""
    other = RecipientPrivateKey.generate().public_key
    return {
        "ours": key_file(tmp_path / "keys", RECIPIENT_ID, org_key.public_key),
        "other": key_file(tmp_path / "keys", "other-org", other),
    }


def test_make_import_show(
    console_app: Flask,
    console_runner: FlaskCliRunner,
    tmp_path: Path,
    coalition: dict[str, Path],
    org_key: RecipientPrivateKey,
) -> None:
    out = tmp_path / "roster.json"
    made = make(console_runner, out, coalition["ours"], coalition["other"])
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["format"] == "tnr-intake-roster" and doc["version"] == 1
    assert [k["recipient_id"] for k in doc["keys"]] == ["other-org", "test-org"]
    assert {k["status"] for k in doc["keys"]} == {"active"}
    parsed = roster.parse_roster(out.read_text(encoding="utf-8"))
    assert f"digest {parsed.digest}" in made
    assert org_key.public_key.fingerprint in made
    # Never overwrites.
    assert (
        console_runner.invoke(args=["roster", "make", str(coalition["ours"]), "--out", str(out)]).exit_code
        == 1
    )

    shown = console_runner.invoke(args=["roster", "show"])
    assert "no roster imported" in shown.output and org_key.public_key.fingerprint in shown.output

    imported = console_runner.invoke(args=["roster", "import", str(out)])
    assert imported.exit_code == 0, imported.output
    assert "pinned 2 keys" in imported.output
    assert audit_actions(console_app)[-1][0] == "roster.import"
    shown = console_runner.invoke(args=["roster", "show"])
    assert f"roster digest {parsed.digest}" in shown.output
    ours = next(line for line in shown.output.splitlines() if org_key.public_key.fingerprint in line)
    assert ours.endswith("ours")


def test_own_entries_must_be_the_keys_held(
    console_runner: FlaskCliRunner, tmp_path: Path, coalition: dict[str, Path]
) -> None:
    # Leaves out our key.
    make(console_runner, tmp_path / "no-ours.json", coalition["other"])
    refused = console_runner.invoke(args=["roster", "import", str(tmp_path / "no-ours.json")])
    assert refused.exit_code == 1 and "which the roster does not list" in refused.output
    # Lists a key under our id that this console does not hold.
    stranger = RecipientPrivateKey.generate().public_key
    planted = key_file(tmp_path / "planted", RECIPIENT_ID, stranger)
    make(console_runner, tmp_path / "planted.json", coalition["ours"], coalition["other"], planted)
    refused = console_runner.invoke(args=["roster", "import", str(tmp_path / "planted.json")])
    assert refused.exit_code == 1
    assert stranger.fingerprint in refused.output and "does not hold its private key" in refused.output
    assert "no roster imported" in console_runner.invoke(args=["roster", "show"]).output


def test_drops_and_changes_need_replace(
    console_app: Flask, console_runner: FlaskCliRunner, tmp_path: Path, coalition: dict[str, Path]
) -> None:
    make(console_runner, tmp_path / "v1.json", coalition["ours"], coalition["other"])
    assert console_runner.invoke(args=["roster", "import", str(tmp_path / "v1.json")]).exit_code == 0
    # A rotation: a new key added, the old one retired: no --replace needed.
    newer = RecipientPrivateKey.generate().public_key
    other_doc = json.loads(coalition["other"].read_text(encoding="utf-8"))
    other_doc["retired"] = True
    retired = tmp_path / "other-retired.json"
    retired.write_text(json.dumps(other_doc), encoding="utf-8")
    added = key_file(tmp_path / "new", "other-org", newer)
    make(console_runner, tmp_path / "v2.json", coalition["ours"], retired, added)
    rotated = console_runner.invoke(args=["roster", "import", str(tmp_path / "v2.json")])
    assert rotated.exit_code == 0, rotated.output
    assert f"added: other-org active {newer.fingerprint}" in rotated.output
    assert "active -> retired" in rotated.output

    # Dropping the retired key: refused, nothing changes.
    make(console_runner, tmp_path / "v3.json", coalition["ours"], added)
    refused = console_runner.invoke(args=["roster", "import", str(tmp_path / "v3.json")])
    assert refused.exit_code == 1 and "dropped: other-org" in refused.output
    with console_app.extensions[DB_EXTENSION].session() as session:
        current = roster.pinned(session)
        assert current is not None and len(current.entries) == 3
    # Renaming a pinned organization is a change too; un-retiring as well.
    renamed = json.loads(added.read_text(encoding="utf-8"))
    renamed["name"]["en"] = "Someone else"
    added.write_text(json.dumps(renamed), encoding="utf-8")
    make(console_runner, tmp_path / "v4.json", coalition["ours"], coalition["other"], added)
    refused = console_runner.invoke(args=["roster", "import", str(tmp_path / "v4.json")])
    assert refused.exit_code == 1
    assert "English name" in refused.output and "status retired -> active" in refused.output

    replaced = console_runner.invoke(args=["roster", "import", "--replace", str(tmp_path / "v3.json")])
    assert replaced.exit_code == 0, replaced.output
    action, detail = audit_actions(console_app)[-1]
    assert action == "roster.replace"
    assert (
        "dropped=" + json.loads(coalition["other"].read_text(encoding="utf-8"))["fingerprint"][:16] in detail
    )


def test_roster_file_is_checked(tmp_path: Path) -> None:
    key = RecipientPrivateKey.generate().public_key
    good = roster.Roster.of([roster.RosterEntry("org-a", "A", "甲", key, TODAY, date(2028, 1, 1))])
    doc = good.document()
    assert roster.parse_roster(json.dumps(doc)).digest == good.digest
    bad_id = json.loads(json.dumps(doc))
    bad_id["keys"][0]["key_id"] = "0" * 64
    with pytest.raises(roster.RosterError, match="key_id does not match"):
        roster.parse_roster(json.dumps(bad_id))
    twice = json.loads(json.dumps(doc))
    twice["keys"].append(twice["keys"][0])
    with pytest.raises(roster.RosterError, match="twice"):
        roster.parse_roster(json.dumps(twice))
    status = json.loads(json.dumps(doc))
    status["keys"][0]["status"] = "trusted"
    with pytest.raises(roster.RosterError, match="status"):
        roster.parse_roster(json.dumps(status))
    with pytest.raises(roster.RosterError, match="not a tnr-intake-roster"):
        roster.parse_roster("{}")
    with pytest.raises(roster.RosterError, match="not JSON"):
        roster.parse_roster("[" * 100_000)  # deeper than the parser's stack


def _serve_sealed_to(intake: FakeIntake, *keys: RecipientPublicKey) -> Served:
    sealed = seal({"narrative": "sealed to extra keys"}, list(keys), day=date(2026, 11, 2))
    served = Served(seq=len(intake.envelopes) + 1, sealed=sealed, header=sealed.header, body=sealed.body)
    intake.envelopes.append(served)
    return served


def test_sync_quarantines_and_alarms_on_a_key_outside_the_roster(
    console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake, org_key: RecipientPrivateKey
) -> None:
    partner = RecipientPrivateKey.generate().public_key
    pin_roster(console_app, partner)
    fake_intake.add({"narrative": "a real report"})
    _serve_sealed_to(fake_intake, org_key.public_key, partner)  # fine: both pinned
    planted = RecipientPrivateKey.generate().public_key
    _serve_sealed_to(fake_intake, org_key.public_key, planted)
    unlock(console_app)
    result = sync_from(console_app, fake_intake)
    assert (result.added, result.quarantined) == (2, 1)
    assert len(result.alarms) == 1 and planted.fingerprint in result.alarms[0]
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert len(session.scalars(select(Case)).all()) == 2
        (q,) = session.scalars(select(Quarantine)).all()
        assert q.error_class == "UnpinnedKeyError" and planted.fingerprint in q.message
        (alarm,) = session.scalars(select(Alarm)).all()
        assert alarm.kind == "roster.unpinned_key" and planted.fingerprint in alarm.detail
    assert ("alarm", f"alarm={alarm.id} {alarm.detail}") in audit_actions(console_app)


def test_sync_alarms_on_a_revoked_key_and_on_our_key_we_do_not_hold(
    console_app: Flask, fake_intake: FakeIntake, org_key: RecipientPrivateKey
) -> None:
    revoked = RecipientPrivateKey.generate().public_key
    not_held = RecipientPrivateKey.generate().public_key
    made = pin_roster(console_app)
    entries = [
        *made.entries,
        roster.RosterEntry("other-org", "O", "O", revoked, TODAY, date(2028, 1, 1), status="revoked"),
        roster.RosterEntry(RECIPIENT_ID, "T", "T", not_held, TODAY, date(2028, 1, 1)),
    ]
    with console_app.extensions[DB_EXTENSION].session() as session:
        roster.pin(session, roster.Roster.of(entries), TODAY)
    _serve_sealed_to(fake_intake, org_key.public_key, revoked)
    _serve_sealed_to(fake_intake, not_held, org_key.public_key)
    unlock(console_app)
    result = sync_from(console_app, fake_intake)
    assert (result.added, result.quarantined) == (0, 2)
    with console_app.extensions[DB_EXTENSION].session() as session:
        kinds = sorted(a.kind for a in session.scalars(select(Alarm)))
    assert kinds == ["roster.missing_private_key", "roster.unpinned_key"]
    assert any("revokes" in a and revoked.fingerprint in a for a in result.alarms)
    assert any("does not hold" in a and not_held.fingerprint in a for a in result.alarms)


def test_without_a_roster_only_our_own_keys_are_pinned(
    console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake, org_key: RecipientPrivateKey
) -> None:
    other = RecipientPrivateKey.generate().public_key
    fake_intake.add({"narrative": "ours only"})
    _serve_sealed_to(fake_intake, org_key.public_key, other)
    console_app.config.update(INTAKE_URL=fake_intake.url, INTAKE_TOKEN=fake_intake.token)
    from tests.admin.admin_testlib import PASSPHRASE

    result = console_runner.invoke(args=["sync"], input=PASSPHRASE + "\n")
    assert result.exit_code == 1
    assert "added 1, quarantined 1" in result.output
    assert f"ALARM: sync quarantined an envelope: the envelope is sealed to key {other.fingerprint}" in (
        result.output
    )
    assert "no coalition roster is imported" in result.output


def test_an_alarm_whose_audit_entry_races_is_tried_again_not_skipped(
    console_app: Flask, fake_intake: FakeIntake, org_key: RecipientPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions appending to the audit log at once: the second is
    refused. A quarantined envelope's alarm must then be stored on a later
    try, never counted as 'already here' with the cursor moved past it."""
    from sqlalchemy.exc import IntegrityError

    import admin.sync.storage as sync_module

    planted = RecipientPrivateKey.generate().public_key
    _serve_sealed_to(fake_intake, org_key.public_key, planted)
    real = sync_module._raise_alarms
    refusals = [2]

    def racing(session: object, rows: object) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise IntegrityError("INSERT INTO audit_log", {}, Exception("seq taken"))
        real(session, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(sync_module, "_raise_alarms", racing)
    unlock(console_app)
    result = sync_from(console_app, fake_intake)
    assert (result.quarantined, result.skipped) == (1, 0)
    with console_app.extensions[DB_EXTENSION].session() as session:
        assert len(session.scalars(select(Quarantine)).all()) == 1
        assert len(session.scalars(select(Alarm)).all()) == 1


def test_show_names_a_held_key_the_roster_lacks(
    console_app: Flask, console_runner: FlaskCliRunner, tmp_path: Path, coalition: dict[str, Path]
) -> None:
    make(console_runner, tmp_path / "r.json", coalition["ours"], coalition["other"])
    assert console_runner.invoke(args=["roster", "import", str(tmp_path / "r.json")]).exit_code == 0
    rotated = RecipientPrivateKey.generate()
    store_key(rotated, Path(console_app.config["DATA_DIR"]))
    shown = console_runner.invoke(args=["roster", "show"]).output
    assert f"{RECIPIENT_ID}\tNOT IN THE ROSTER\t{rotated.public_key.fingerprint}\tours" in shown
