"""Briefing vignettes on the case page: written by a reviewer,
stored encrypted, released by a coordinator only with the reporter's consent
to quoting, and only the revision that was read."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry, Case, CaseVignette
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, files_containing, synced


def report(quote: bool) -> dict[str, object]:
    return {
        "kind": "report",
        "narrative": "what happened",
        "consent": {"statistics": True, "quote": quote},
    }


def vignette_row(app: Flask, envelope_id: str) -> CaseVignette | None:
    with app.extensions[DB_EXTENSION].session() as session:
        return session.scalar(
            select(CaseVignette)
            .join(Case, Case.id == CaseVignette.case_id)
            .where(Case.envelope_id == envelope_id)
        )


def audit_details(app: Flask, prefix: str) -> list[tuple[str, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.detail)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.seq)
        ).all()
        return [(a, d) for a, d in rows]


def test_written_encrypted_released_by_a_coordinator_only(
    console_app: Flask,
    console_client: FlaskClient,
    auth: AuthActions,
    fake_intake: FakeIntake,
    data_dir: Path,
) -> None:
    served = fake_intake.add(report(quote=True))
    synced(console_app, fake_intake)
    text = canary()
    url = f"/cases/{served.envelope_id}"
    auth.login_as("reviewer")
    saved = console_client.post(
        f"{url}/vignette", data={"text_en": f"A student was followed. {text}", "text_fr": ""}
    )
    assert saved.status_code == 302
    page = console_client.get(url).get_data(as_text=True)
    assert text in page and "Not released (revision 1" in page
    # Encrypted at rest, like notes; the audit names the revision only.
    console_app.extensions[DB_EXTENSION].engine.dispose()
    assert files_containing(data_dir, text.encode()) == []
    assert audit_details(console_app, "vignette.") == [("vignette.save", "rev=1")]
    # A reviewer cannot release (a separate permission).
    assert console_client.post(f"{url}/vignette/release", data={"rev": "1"}).status_code == 403
    assert "release-form" not in page

    auth.logout()
    auth.login_as("coordinator")
    page = console_client.get(url).get_data(as_text=True)
    assert 'id="release-form"' in page and "consented to quoting" in page
    # A revision other than the one read is refused.
    stale = console_client.post(f"{url}/vignette/release", data={"rev": "7"}, follow_redirects=True)
    assert b"changed since you read it" in stale.data
    row = vignette_row(console_app, served.envelope_id)
    assert row is not None and not row.released
    console_client.post(f"{url}/vignette/release", data={"rev": "1"})
    row = vignette_row(console_app, served.envelope_id)
    assert row is not None and row.released and row.released_rev == 1
    assert "Released (revision 1)" in console_client.get(url).get_data(as_text=True)

    # An edit is a new revision, not released until confirmed again.
    console_client.post(f"{url}/vignette", data={"text_en": "Edited.", "text_fr": "Modifié."})
    row = vignette_row(console_app, served.envelope_id)
    assert row is not None and row.rev == 2 and not row.released
    console_client.post(f"{url}/vignette/release", data={"rev": "2"})
    console_client.post(f"{url}/vignette/withdraw")
    row = vignette_row(console_app, served.envelope_id)
    assert row is not None and not row.released
    assert [a for a, _d in audit_details(console_app, "vignette.")] == [
        "vignette.save",
        "vignette.release",
        "vignette.save",
        "vignette.release",
        "vignette.withdraw",
    ]


def test_no_release_without_consent_to_quote(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    no_quote = fake_intake.add(report(quote=False))
    followup = fake_intake.add(
        {"form_version": 2, "kind": "followup", "narrative": "more", "follows": no_quote.envelope_id}
    )
    followup.follows = no_quote.envelope_id  # a follow-up carries no consent of its own
    synced(console_app, fake_intake)
    auth.login_as("coordinator")
    for served in (no_quote, followup):
        url = f"/cases/{served.envelope_id}"
        console_client.post(f"{url}/vignette", data={"text_en": "Some account.", "text_fr": ""})
        page = console_client.get(url).get_data(as_text=True)
        assert "did not consent to quoting" in page and 'id="release-form"' not in page
        refused = console_client.post(f"{url}/vignette/release", data={"rev": "1"}, follow_redirects=True)
        assert b"did not consent to quoting" in refused.data
        row = vignette_row(console_app, served.envelope_id)
        assert row is not None and not row.released


def test_locked_key_neither_reads_nor_writes(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = fake_intake.add(report(quote=True))
    synced(console_app, fake_intake)
    auth.login_as("coordinator")
    url = f"/cases/{served.envelope_id}"
    console_client.post(f"{url}/vignette", data={"text_en": "Written while unlocked.", "text_fr": ""})
    console_app.extensions[KEYRING_EXTENSION].lock()
    page = console_client.get(url).get_data(as_text=True)
    assert "Written while unlocked." not in page and "unlock the organization key" in page
    refused = console_client.post(
        f"{url}/vignette", data={"text_en": "x", "text_fr": ""}, follow_redirects=True
    )
    assert b"Unlock the organization key to write a vignette." in refused.data
    refused = console_client.post(f"{url}/vignette/release", data={"rev": "1"}, follow_redirects=True)
    assert b"Unlock the organization key to read the vignette" in refused.data
    empty = console_client.post(
        f"{url}/vignette", data={"text_en": " ", "text_fr": ""}, follow_redirects=True
    )
    assert b"Unlock" in empty.data  # locked comes first
