"""Links between cases: "related" and "duplicate of".

A reporter may write twice about one incident, two people may report the
same event, and one perpetrator may appear in several reports. Reviewers
link such cases on the case page:

- ``duplicate``: this case reports an incident already reported by the
  other case. Linking sets this case's disposition to ``duplicate``;
  briefings count the linked group once (shared/TAXONOMY.md, "Counting
  units"; :func:`duplicate_pairs`).
- ``related``: worth reading together, counted apart.

A link holds two case ids, a kind, who made it and the day; no text. One
link per pair of cases, whichever direction; a chain of duplicates may not
loop back (then no case of the loop would be counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from ..errors import CaseNotFoundError
from ..models import LINK_KINDS, Case, CaseLink, Disposition, LinkKind, User
from .service import find_case


class LinkError(ValueError):
    """A link that cannot be made or removed. ``str(exc)`` is the reason
    for the reviewer in the console's language: the argument is a lazy
    gettext string, translated when it is shown."""


@dataclass(frozen=True)
class LinkView:
    """A link as seen from one case. ``role``: ``duplicate_of`` (this case
    is a duplicate of ``other``), ``duplicated_by`` (``other`` is a
    duplicate of this case) or ``related``."""

    id: int
    kind: str
    role: str
    other_envelope_id: str
    other_seq: int
    day: date


def _today() -> date:
    return datetime.now(UTC).date()


def _between(session: Session, a: int, b: int) -> CaseLink | None:
    return session.scalar(
        select(CaseLink).where(
            or_(
                (CaseLink.case_id == a) & (CaseLink.other_id == b),
                (CaseLink.case_id == b) & (CaseLink.other_id == a),
            )
        )
    )


def _duplicate_target(session: Session, case_id: int) -> int | None:
    return session.scalar(
        select(CaseLink.other_id).where(
            CaseLink.case_id == case_id, CaseLink.kind == LinkKind.DUPLICATE.value
        )
    )


def add_link(session: Session, case: Case, other_ref: str, kind: str, user: User) -> tuple[CaseLink, Case]:
    """Link ``case`` to the case named by ``other_ref`` (case number or
    envelope id). For ``duplicate``, ``case`` becomes a duplicate of the
    other and its disposition ``duplicate``. The caller audits and commits.

    Returns:
        The link and the other case.

    Raises:
        LinkError: unknown kind or case, the case itself, already linked,
            already a duplicate of another case, or a loop of duplicates.
    """
    if kind not in LINK_KINDS:
        raise LinkError(_l("Choose the kind of link."))
    try:
        other = find_case(session, other_ref)
    except CaseNotFoundError as exc:
        raise LinkError(_l("There is no case with that number or envelope id.")) from exc
    if other.id == case.id:
        raise LinkError(_l("A case cannot be linked to itself."))
    if _between(session, case.id, other.id) is not None:
        raise LinkError(_l("These cases are linked already; remove that link first."))
    if kind == LinkKind.DUPLICATE.value:
        if _duplicate_target(session, case.id) is not None:
            raise LinkError(_l("This case is already a duplicate of another case; remove that link first."))
        # Follow the other case's chain: it must not lead back here.
        seen, step = {other.id}, _duplicate_target(session, other.id)
        while step is not None and step not in seen:
            if step == case.id:
                raise LinkError(_l("That case is already, through other cases, a duplicate of this one."))
            seen.add(step)
            step = _duplicate_target(session, step)
        case.status = Disposition.DUPLICATE.value
        case.closed_day = None
    link = CaseLink(case_id=case.id, other_id=other.id, kind=kind, created_by=user.id, day=_today())
    session.add(link)
    session.flush()
    return link, other


def remove_link(session: Session, case: Case, link_id: int) -> tuple[CaseLink, Case]:
    """Delete a link that touches ``case``. The disposition is left as it
    is (the console does not know what it was before a duplicate link).
    The caller audits and commits.

    Returns:
        The removed link and the case at its other end.

    Raises:
        LinkError: no such link on this case.
    """
    link = session.get(CaseLink, link_id)
    if link is None or case.id not in (link.case_id, link.other_id):
        raise LinkError(_l("This case has no such link."))
    other = session.get_one(Case, link.other_id if link.case_id == case.id else link.case_id)
    session.delete(link)
    session.flush()
    return link, other


def links_of(session: Session, case: Case) -> list[LinkView]:
    """Every link of ``case``, both directions, by the other case's number."""
    other = aliased(Case)
    out: list[LinkView] = []
    # A link is stored once, from the case that made it: read it from this
    # case's end (outgoing, this case the duplicate) and from the other's.
    for this_end, other_end, duplicate_role in (
        (CaseLink.case_id, CaseLink.other_id, "duplicate_of"),
        (CaseLink.other_id, CaseLink.case_id, "duplicated_by"),
    ):
        rows = session.execute(
            select(CaseLink, other.envelope_id, other.seq)
            .join(other, other.id == other_end)
            .where(this_end == case.id)
        ).all()
        for link, envelope_id, seq in rows:
            role = duplicate_role if link.kind == LinkKind.DUPLICATE.value else "related"
            out.append(LinkView(link.id, link.kind, role, envelope_id, seq, link.day))
    return sorted(out, key=lambda v: (v.other_seq, v.id))


def duplicate_pairs(session: Session) -> list[tuple[str, str]]:
    """``(duplicate envelope id, original envelope id)`` of every duplicate
    link, for counting linked groups once in briefings."""
    dup, orig = aliased(Case), aliased(Case)
    rows = session.execute(
        select(dup.envelope_id, orig.envelope_id)
        .select_from(CaseLink)
        .join(dup, dup.id == CaseLink.case_id)
        .join(orig, orig.id == CaseLink.other_id)
        .where(CaseLink.kind == LinkKind.DUPLICATE.value)
        .order_by(CaseLink.id)
    ).all()
    return [(a, b) for a, b in rows]
