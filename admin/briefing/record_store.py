"""Coded records in the console's database: imports from other consoles
stored de-duplicated by envelope id, this console's own coded cases, and
the records a briefing counts (:func:`briefing_records`).

The record itself and its interchange formats are
:mod:`admin.briefing.records`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import CodedCase, CodedEnvelope
from . import codes
from .records import CodedRecord


@dataclass
class ImportResult:
    """What :func:`import_records` did."""

    added: int = 0
    updated: int = 0
    #: Records whose envelopes are already counted in another case.
    merged: int = 0
    #: Case ids already used by a case with other envelopes (skipped).
    conflicts: list[str] = field(default_factory=list)


def _to_row(row: CodedCase, r: CodedRecord) -> None:
    row.incident_month = r.incident_month
    row.report_month = r.report_month
    row.province = r.province
    row.tactics = ";".join(r.tactics)
    row.communities = ";".join(r.communities)
    row.attribution = r.attribution
    row.confidence = r.confidence
    row.disposition = r.disposition
    row.consent_statistics = r.consent_statistics
    row.consent_quote = r.consent_quote
    row.person_ref = r.person_ref
    if r.vignette_en is not None or r.vignette_fr is not None:
        row.vignette_en = r.vignette_en
        row.vignette_fr = r.vignette_fr


def import_records(session: Session, records: Iterable[CodedRecord], source: str = "local") -> ImportResult:
    """Store records, de-duplicated by envelope id.

    * same case id, sharing an envelope: the coding is updated (re-import);
    * another case already links one of the envelopes: the same incident,
      coded by another organization; the new envelope ids are linked to the
      existing case and its coding is kept (counted once);
    * same case id, no envelope in common: a conflict, skipped and named.
    """
    result = ImportResult()
    for r in records:
        linked = session.scalars(
            select(CodedEnvelope).where(CodedEnvelope.envelope_id.in_(r.envelope_ids))
        ).all()
        by_ref = session.scalar(select(CodedCase).where(CodedCase.case_ref == r.case_id))
        owners = {e.coded_case_id for e in linked}
        if by_ref is not None and by_ref.id in owners:
            _to_row(by_ref, r)
            target = by_ref
            result.updated += 1
        elif linked:
            target = session.get_one(CodedCase, min(owners))
            result.merged += 1
        elif by_ref is not None:
            result.conflicts.append(r.case_id)
            continue
        else:
            target = CodedCase(case_ref=r.case_id, source=source)
            _to_row(target, r)
            session.add(target)
            session.flush()
            result.added += 1
        have = {e.envelope_id for e in linked}
        for envelope_id in r.envelope_ids:
            if envelope_id not in have:
                session.add(CodedEnvelope(envelope_id=envelope_id, coded_case_id=target.id))
        session.flush()
    return result


def _from_row(row: CodedCase) -> CodedRecord:
    return CodedRecord(
        case_id=row.case_ref,
        envelope_ids=tuple(e.envelope_id for e in row.envelopes),
        incident_month=row.incident_month,
        report_month=row.report_month,
        province=row.province,
        tactics=tuple(t for t in row.tactics.split(";") if t),
        communities=tuple(c for c in row.communities.split(";") if c),
        attribution=row.attribution,
        confidence=row.confidence,
        disposition=row.disposition,
        consent_statistics=row.consent_statistics,
        consent_quote=row.consent_quote,
        person_ref=row.person_ref,
        vignette_en=row.vignette_en,
        vignette_fr=row.vignette_fr,
        source=row.source,
    )


def load_records(session: Session) -> list[CodedRecord]:
    """Every stored coded case (consent is applied by the briefing, which
    never counts a case without consent to statistics)."""
    rows = session.scalars(
        select(CodedCase).options(selectinload(CodedCase.envelopes)).order_by(CodedCase.case_ref)
    ).all()
    return [_from_row(row) for row in rows]


# -- linked groups -------------------------------------------------------------


def merge_duplicates(records: Sequence[CodedRecord], pairs: Iterable[tuple[str, str]]) -> list[CodedRecord]:
    """Count linked duplicates once (shared/TAXONOMY.md, "Counting units").

    ``pairs`` are ``(duplicate envelope id, original envelope id)`` from the
    console's case links (:func:`admin.links.duplicate_pairs`). Records
    whose envelopes are joined by such a link, directly or through a chain,
    form one group and become one record: the group's first record by
    (counted disposition before spam/duplicate, holding an original rather
    than only duplicates, case id) keeps its coding and consents, and takes
    every envelope id of the group. A link whose envelopes are not both in
    coded records changes nothing.
    """
    owner: dict[str, int] = {}
    for i, r in enumerate(records):
        for envelope_id in r.envelope_ids:
            owner.setdefault(envelope_id, i)
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    duplicates: set[str] = set()
    for dup, orig in pairs:
        duplicates.add(dup)
        if dup in owner and orig in owner:
            a, b = root(owner[dup]), root(owner[orig])
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(records)):
        groups.setdefault(root(i), []).append(i)
    out: list[CodedRecord] = []
    for members in groups.values():
        if len(members) == 1:
            out.append(records[members[0]])
            continue
        keep = min(
            (records[i] for i in members),
            key=lambda r: (
                r.disposition in codes.EXCLUDED_DISPOSITIONS,
                all(e in duplicates for e in r.envelope_ids),
                r.case_id,
            ),
        )
        envelope_ids = tuple(sorted({e for i in members for e in records[i].envelope_ids}))
        out.append(dataclasses.replace(keep, envelope_ids=envelope_ids))
    return sorted(out, key=lambda r: r.case_id)


def local_records(session: Session) -> list[CodedRecord]:
    """This console's own coding (the case page's "TNR coding") as coded
    records: one per case whose coding is complete (incident month,
    province, at least one tactic, attribution, confidence), with the
    reporter's consents copied at sync and the envelope ids of the case and
    its follow-ups. Incomplete codings are not counted yet."""
    from ..models import Case, CaseCoding  # records stays importable alone

    followups: dict[str, list[str]] = {}
    for envelope_id, follows in session.execute(
        select(Case.envelope_id, Case.follows).where(Case.follows.is_not(None))
    ):
        followups.setdefault(str(follows), []).append(envelope_id)
    rows = session.execute(
        select(CaseCoding, Case)
        .join(Case, Case.id == CaseCoding.case_id)
        .options(selectinload(CaseCoding.tactics), selectinload(CaseCoding.communities))
        .order_by(Case.seq)
    ).all()
    records = []
    for coding, case in rows:
        tactics = tuple(sorted(t.code for t in coding.tactics))
        if not (
            coding.incident_month and coding.province and tactics and coding.attribution and coding.confidence
        ):
            continue
        records.append(
            CodedRecord(
                case_id=case.envelope_id,
                envelope_ids=tuple(sorted([case.envelope_id, *followups.get(case.envelope_id, [])])),
                incident_month=coding.incident_month,
                report_month=case.day.strftime("%Y-%m"),
                province=coding.province,
                tactics=tactics,
                communities=tuple(sorted(c.code for c in coding.communities)),
                attribution=coding.attribution,
                confidence=coding.confidence,
                disposition=case.status,
                consent_statistics=case.consent_statistics,
                consent_quote=case.consent_quote,
            )
        )
    return records


def briefing_records(session: Session) -> list[CodedRecord]:
    """What a briefing counts: this console's own coding
    (:func:`local_records`) and the stored coded records (imports from other
    consoles), de-duplicated by envelope id — a report coded here and also
    imported counts once, with this console's coding — and cases linked as
    duplicates merged into one (:func:`merge_duplicates`)."""
    from ..cases.links import duplicate_pairs  # the console's links; records stays importable alone

    local = local_records(session)
    mine = {envelope_id for r in local for envelope_id in r.envelope_ids}
    stored = [r for r in load_records(session) if not mine.intersection(r.envelope_ids)]
    return merge_duplicates([*local, *stored], duplicate_pairs(session))
