"""Briefing vignettes: a short anonymized account of a case, written by a
reviewer, released by a coordinator, printed in briefings.

A vignette is the only free text that may leave the console (DESIGN.md
invariant 8), so three gates stand before a briefing prints one:

1. **Written and kept encrypted.** The text (English and/or French, as
   briefings are bilingual) is sealed under the data key like a note, bound
   to the envelope id and ``vignette/<rev>``; ``rev`` grows with every edit.
2. **Released.** A coordinator or admin (permission ``release_vignette``)
   confirms the current revision. An edit makes a new revision, which is
   not released until someone confirms it again; a ciphertext of an older
   revision put back in the row does not open under the new revision.
3. **Consented.** The reporter ticked "quote an anonymized excerpt"
   (``consent.quote`` in the sealed report, docs/report-fields.md). Checked
   at release and again whenever a briefing reads the vignettes.

Then :func:`released_vignettes` offers it to briefings, which print it only
for a case they count (consent to statistics, period; see
:func:`admin.briefing.build.build`). Reading needs the key unlocked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..briefing.build import Vignette
from ..keys.custody import UnlockedKeyring, decrypt_field, encrypt_field
from ..models import Case, CaseVignette, User
from .service import open_case

#: Characters per language: a vignette is a few sentences, not a story.
MAX_LENGTH = 1200


class VignetteError(ValueError):
    """A vignette that cannot be saved, released or withdrawn. ``str(exc)``
    is the reason for the reviewer in the console's language: the argument
    is a lazy gettext string, translated when it is shown."""


@dataclass(frozen=True)
class VignetteText:
    """The two languages of a vignette ("" when not written)."""

    en: str
    fr: str


@dataclass(frozen=True)
class VignetteState:
    """A vignette as the case page shows it. ``text`` is None while locked."""

    text: VignetteText | None
    rev: int
    released: bool
    written_by: str
    written_day: date
    released_by: str | None
    released_day: date | None


def _today() -> date:
    return datetime.now(UTC).date()


def _field(rev: int) -> str:
    return f"vignette/{rev}"


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").strip()


def save(
    session: Session, case: Case, keyring: UnlockedKeyring, author: User, en: str, fr: str
) -> CaseVignette:
    """Write or replace the case's vignette (a new revision, not released).
    The caller audits and commits.

    Raises:
        KeyLockedError: locked. VignetteError: both languages empty, or too long.
    """
    text = VignetteText(_clean(en), _clean(fr))
    if not text.en and not text.fr:
        raise VignetteError(_l("Write the vignette in English or French first."))
    if len(text.en) > MAX_LENGTH or len(text.fr) > MAX_LENGTH:
        raise VignetteError(_l("A vignette has at most %(count)d characters per language.", count=MAX_LENGTH))
    data_key = keyring.data_key()
    row = session.get(CaseVignette, case.id)
    if row is None:
        row = CaseVignette(case_id=case.id, rev=0)
        session.add(row)
    row.rev = (row.rev or 0) + 1
    payload = json.dumps({"en": text.en, "fr": text.fr}, ensure_ascii=False).encode("utf-8")
    row.body_ct = encrypt_field(data_key, case.envelope_id, _field(row.rev), payload)
    row.written_by = author.id
    row.written_day = _today()
    session.flush()
    return row


def _open(row: CaseVignette, case: Case, data_key: bytes) -> VignetteText:
    doc = json.loads(decrypt_field(data_key, case.envelope_id, _field(row.rev), row.body_ct))
    return VignetteText(str(doc.get("en") or ""), str(doc.get("fr") or ""))


def state_of(session: Session, case: Case, keyring: UnlockedKeyring) -> VignetteState | None:
    """The case's vignette, decrypted when the key is unlocked; None if none.

    Raises:
        DataKeyError: the stored text does not authenticate.
    """
    row = session.get(CaseVignette, case.id)
    if row is None:
        return None
    ids = [i for i in (row.written_by, row.released_by) if i]
    emails = {
        uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    }
    text = _open(row, case, keyring.data_key()) if keyring.unlocked else None
    return VignetteState(
        text=text,
        rev=row.rev,
        released=row.released,
        written_by=emails.get(row.written_by or 0, ""),
        written_day=row.written_day,
        released_by=emails.get(row.released_by or 0) if row.released else None,
        released_day=row.released_day if row.released else None,
    )


def reporter_consents_to_quote(case: Case, keyring: UnlockedKeyring) -> bool:
    """Whether the sealed report says ``consent.quote`` is true (exactly
    ``true``: a follow-up, an old form or anything else is no).

    Raises:
        KeyLockedError: locked.
    """
    consent = open_case(case, keyring).report.get("consent")
    return isinstance(consent, dict) and consent.get("quote") is True


def release(session: Session, case: Case, keyring: UnlockedKeyring, user: User, rev: int) -> CaseVignette:
    """Confirm revision ``rev`` (the one the coordinator read) for release.
    The caller audits and commits.

    Raises:
        KeyLockedError: locked (the text and the consent must be read).
        VignetteError: no vignette, a newer revision than the one shown,
            or no consent to quote.
    """
    row = session.get(CaseVignette, case.id)
    if row is None:
        raise VignetteError(_l("This case has no vignette."))
    if row.rev != rev:
        raise VignetteError(_l("The vignette changed since you read it; read it again before releasing it."))
    _open(row, case, keyring.data_key())  # it must authenticate before it is released
    if not reporter_consents_to_quote(case, keyring):
        # The words of the case page's own notice (case/show.html).
        raise VignetteError(_l("The reporter did not consent to quoting: a vignette cannot be released."))
    row.released_rev = row.rev
    row.released_by = user.id
    row.released_day = _today()
    return row


def withdraw(session: Session, case: Case) -> CaseVignette:
    """Take back a release. The caller audits and commits.

    Raises:
        VignetteError: nothing released.
    """
    row = session.get(CaseVignette, case.id)
    if row is None or not row.released:
        raise VignetteError(_l("This case has no released vignette."))
    row.released_rev = None
    row.released_by = None
    row.released_day = None
    return row


def released_vignettes(session: Session, keyring: UnlockedKeyring) -> list[tuple[str, VignetteText]]:
    """``(envelope id, text)`` of every released vignette whose report
    consents to quoting, by envelope id; decrypted in memory only.

    Raises:
        KeyLockedError: locked.
    """
    data_key = keyring.data_key()
    rows = session.execute(
        select(CaseVignette, Case)
        .join(Case, Case.id == CaseVignette.case_id)
        .where(CaseVignette.released_rev == CaseVignette.rev)
        .order_by(Case.envelope_id)
    ).all()
    out: list[tuple[str, VignetteText]] = []
    for row, case in rows:
        if row.released and reporter_consents_to_quote(case, keyring):
            out.append((case.envelope_id, _open(row, case, data_key)))
    return out


def for_briefing(session: Session, keyring: UnlockedKeyring) -> list[tuple[str, Vignette]]:
    """:func:`released_vignettes` in the shape :func:`admin.briefing.build.build`
    takes (an empty language is None: that report prints nothing)."""
    return [(e, Vignette(t.en or None, t.fr or None)) for e, t in released_vignettes(session, keyring)]
