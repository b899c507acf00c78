"""Search across the decrypted reports, in memory only.

There is no index: a plaintext index on disk would be a copy of every
report outside the encryption (DESIGN.md, "opened content is kept
encrypted at rest"). So a search decrypts each candidate case's report with
the unlocked data key, compares, and drops the text; nothing decrypted is
kept after the request. The cost grows with the number of cases the inbox
filters leave (figures in docs/console.md, "Search").

Matching: the query and every string in the report (the narrative and any
other text field, also inside lists and objects; keys are not searched) are
normalized with Unicode NFKC and then case-folded, so "ＷｅＣｈａｔ" finds
"wechat" and "STRASSE" finds "Straße". Whitespace splits the query into
terms; a case matches when every term occurs in its text.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from ..cases.triage import InboxFilter, InboxRow, inbox_rows
from ..keys.custody import UnlockedKeyring, decrypt_field
from ..models import Case

MAX_QUERY = 200
MAX_TERMS = 10
BATCH = 1000


def normalize(text: str) -> str:
    """NFKC, then case-folded (Unicode default caseless matching, roughly)."""
    return unicodedata.normalize("NFKC", text).casefold()


def terms_of(query: str) -> list[str]:
    """The normalized, distinct terms of a query (at most :data:`MAX_TERMS`,
    the query cut to :data:`MAX_QUERY` characters)."""
    seen: dict[str, None] = {}
    for term in normalize(query[:MAX_QUERY]).split():
        seen.setdefault(term, None)
    return list(seen)[:MAX_TERMS]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def report_matches(report: Any, terms: list[str]) -> bool:
    """Whether every term occurs in the report's text fields."""
    if not terms:
        return False
    text = normalize("\n".join(_strings(report)))
    return all(term in text for term in terms)


@dataclass(frozen=True)
class SearchPage:
    """One page of matches (inbox rows), the number of matches, and how
    many cases were decrypted to find them."""

    rows: list[InboxRow]
    total: int
    scanned: int


def search(
    session: Session,
    keyring: UnlockedKeyring,
    flt: InboxFilter,
    query: str,
    *,
    page: int = 1,
    per_page: int = 50,
) -> SearchPage:
    """Cases matching ``flt`` whose report matches ``query``, in inbox order
    (urgent first, then newest), one page (1-based).

    Every case the filter leaves is decrypted once, in batches, in memory.

    Raises:
        KeyLockedError: locked.
    """
    data_key = keyring.data_key()
    terms = terms_of(query)
    matches: list[int] = []
    scanned = 0
    if terms:
        columns: Select[Any] = select(Case.id, Case.envelope_id, Case.report_ct)  # type: ignore[assignment]
        candidates = flt.apply(columns).order_by(Case.urgent.desc(), Case.seq.desc(), Case.id.desc())
        for case_id, envelope_id, report_ct in session.execute(candidates.execution_options(yield_per=BATCH)):
            scanned += 1
            report = json.loads(decrypt_field(data_key, envelope_id, "report", report_ct))
            if report_matches(report, terms):
                matches.append(case_id)
    start = (max(1, page) - 1) * per_page
    ids = matches[start : start + per_page]
    by_id = {
        c.id: c
        for c in session.scalars(select(Case).where(Case.id.in_(ids)).options(selectinload(Case.attachments)))
    }
    rows = inbox_rows(session, keyring, [by_id[i] for i in ids if i in by_id])
    return SearchPage(rows=rows, total=len(matches), scanned=scanned)
