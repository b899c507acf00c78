"""Vignettes written in the console reach a briefing only when released,
consented to by the reporter, and of a counted case: checked in
every output file of `flask --app admin briefing --vignettes` and on the
briefing page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from flask import Flask
from sqlalchemy import select

from admin.auth import accounts
from admin.briefing.record_store import import_records
from admin.briefing.records import read_records
from admin.cases import vignettes
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.keys import custody
from admin.models import AuditEntry, Case, CaseVignette
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from core.envelope import RecipientPrivateKey
from tests.admin.admin_testlib import (
    CHEAP_ARGON2ID,
    PASSPHRASE,
    RECIPIENT_ID,
    AuthActions,
    FakeIntake,
    canary,
    unlock,
)

PERIOD_ARGS = ["--from", "2025-01", "--to", "2026-10"]


@dataclass
class Scene:
    """The canary of each vignette: only ``shown`` may appear."""

    shown: str
    hidden: dict[str, str]


@pytest.fixture
def fake(console_app: Flask) -> Iterator[FakeIntake]:
    key = RecipientPrivateKey.generate()
    custody.store_private_key(
        key,
        PASSPHRASE,
        recipient_id=RECIPIENT_ID,
        data_dir=Path(console_app.config["DATA_DIR"]),
        argon2id=CHEAP_ARGON2ID,
    )
    served = FakeIntake(key)
    served.start()
    yield served
    served.stop()


def _report(quote: bool) -> dict[str, object]:
    return {"kind": "report", "narrative": "n", "consent": {"statistics": True, "quote": quote}}


@pytest.fixture
def scene(console_app: Flask, auth: AuthActions, fake: FakeIntake, coded_cases_path: Path) -> Scene:
    names = ("released", "unreleased", "edited", "unconsented", "not_counted")
    served = {n: fake.add(_report(quote=n != "unconsented")) for n in names}
    unlock(console_app)
    db = console_app.extensions[DB_EXTENSION]
    keyring = console_app.extensions[KEYRING_EXTENSION]
    with IntakeClient(fake.url, fake.token) as client:
        sync(db, keyring, Path(console_app.config["DATA_DIR"]), client)
    template = read_records(coded_cases_path)
    ours = [
        r.coded_fields()
        | {
            "case_id": f"LOCAL-{n}",
            "envelope_ids": served[n].envelope_id,
            "incident_month": "2026-05",
            "report_month": "2026-06",
            "consent_statistics": "no" if n == "not_counted" else "yes",
        }
        for n, r in zip(names, template, strict=False)
    ]
    from admin.briefing.records import record_from_mapping

    email = auth.create("coordinator")
    marks = {n: canary() for n in names}
    with db.session() as session:
        import_records(session, template)
        import_records(session, [record_from_mapping(r, "test", with_vignettes=False) for r in ours])
        user = accounts.find_user(session, email)
        assert user is not None
        cases = {
            n: session.scalar(select(Case).where(Case.envelope_id == served[n].envelope_id)) for n in names
        }
        for n, case in cases.items():
            assert case is not None
            row = vignettes.save(session, case, keyring, user, f"EN {marks[n]}", f"FR {marks[n]}")
            if n in ("released", "edited", "not_counted"):
                vignettes.release(session, case, keyring, user, row.rev)
            if n == "edited":
                vignettes.save(session, case, keyring, user, f"EN2 {marks[n]}", "")
            if n == "unconsented":
                # Released behind the console's back (a database edit): the
                # briefing checks the reporter's consent again.
                row.released_rev = row.rev
    keyring.lock()
    return Scene(shown=marks["released"], hidden={n: m for n, m in marks.items() if n != "released"})


def _texts(out: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".pdf":
            doc = pdfium.PdfDocument(path.read_bytes())
            try:
                pages = []
                for page in doc:
                    textpage = page.get_textpage()
                    pages.append(textpage.get_text_range())
                    textpage.close()
                    page.close()
                texts[path.name] = "\n".join(pages)
            finally:
                doc.close()
        else:
            texts[path.name] = path.read_text(encoding="utf-8")
    return texts


def test_cli_prints_only_released_consented_counted_vignettes(
    console_app: Flask, scene: Scene, tmp_path: Path
) -> None:
    runner = console_app.test_cli_runner()
    out = tmp_path / "with"
    result = runner.invoke(
        args=["briefing", *PERIOD_ARGS, "--out", str(out), "--vignettes"], input=PASSPHRASE + "\n"
    )
    assert result.exit_code == 0, result.output
    texts = _texts(out)
    where = {name for name, text in texts.items() if scene.shown in text}
    assert where == {"briefing-en.html", "briefing-fr.html", "briefing-en.pdf", "briefing-fr.pdf"}
    assert (
        f"EN {scene.shown}" in texts["briefing-en.html"] and f"FR {scene.shown}" in texts["briefing-fr.html"]
    )
    for name, mark in scene.hidden.items():
        assert [f for f, text in texts.items() if mark in text] == [], name
    assert scene.shown not in result.output
    assert not console_app.extensions[KEYRING_EXTENSION].unlocked  # locked again after the command
    with console_app.extensions[DB_EXTENSION].session() as session:
        actions = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "briefing.vignettes"))
        )
    assert actions == ["vignettes=1"]

    # Without --vignettes (no passphrase): none of them.
    plain = tmp_path / "without"
    result = runner.invoke(args=["briefing", *PERIOD_ARGS, "--out", str(plain)])
    assert result.exit_code == 0, result.output
    assert all(scene.shown not in text for text in _texts(plain).values())
    assert "not included" in result.output


def test_withdrawn_release_is_gone_from_the_next_briefing(
    console_app: Flask, scene: Scene, tmp_path: Path
) -> None:
    with console_app.extensions[DB_EXTENSION].session() as session:
        for row in session.scalars(select(CaseVignette)):
            row.released_rev = None
    out = tmp_path / "out"
    result = console_app.test_cli_runner().invoke(
        args=["briefing", *PERIOD_ARGS, "--out", str(out), "--vignettes"], input=PASSPHRASE + "\n"
    )
    assert result.exit_code == 0, result.output
    assert all(scene.shown not in text for text in _texts(out).values())
    assert "No account has been released" in _texts(out)["briefing-en.html"]


def test_briefing_page_includes_released_vignettes_when_unlocked(
    console_app: Flask, auth: AuthActions, scene: Scene
) -> None:
    client = auth._client
    auth.login_as("coordinator")
    query = "from=2025-01&to=2026-10&k=5"
    locked = client.get(f"/briefing/?{query}").get_data(as_text=True)
    assert "vignettes-locked" in locked and scene.shown not in locked
    unlock(console_app)
    page = client.get(f"/briefing/?{query}").get_data(as_text=True)
    assert scene.shown in page and "vignettes-locked" not in page
    html = client.get(f"/briefing/download/briefing-fr.html?{query}").get_data(as_text=True)
    assert f"FR {scene.shown}" in html
    csv = client.get(f"/briefing/download/tactic.csv?{query}").get_data(as_text=True)
    for text in (page, html, csv):
        assert all(mark not in text for mark in scene.hidden.values())
    assert scene.shown not in csv
    with console_app.extensions[DB_EXTENSION].session() as session:
        details = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "briefing.vignettes"))
        )
    assert details == ["file=briefing-fr.html vignettes=1"]
