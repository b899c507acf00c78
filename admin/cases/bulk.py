"""Bulk actions on cases chosen in the inbox: assign, set a disposition,
mark as spam. Each case is changed and audited exactly as its own page's
action does (:func:`admin.cases.triage.assign` with ``case.assign``
``to=<id>``; :func:`admin.cases.triage.update_case` with ``case.update`` and
what changed), one audit row per case, all in one transaction.

Who may: a bulk disposition needs what the case page's triage needs
(``triage``); assigning to oneself likewise (the page's "Assign to me"),
to anyone else or to nobody what the page's assignment form needs
(``assign_others``). The caller checks with :func:`needed`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import log as audit
from ..models import DISPOSITIONS, Case, User
from ..permissions import Permission
from . import triage

#: At most this many cases per bulk action (a page of the inbox is less).
MAX_CASES = 500

#: The bulk actions, by the value of the button that asks for them.
ACTIONS = ("assign", "disposition", "spam")


class BulkError(ValueError):
    """A bulk action cannot run: ``reason`` is ``none`` (no case chosen),
    ``too_many``, ``action`` (unknown), ``disposition`` or ``assignee``
    (not a known value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BulkRequest:
    """What the inbox posted: the action, the chosen cases' envelope ids,
    and the disposition or the assignee (an account, or None: nobody)."""

    action: str
    envelope_ids: tuple[str, ...]
    disposition: str | None = None
    assignee: User | None = None


def parse(
    session: Session, action: str, envelope_ids: Sequence[str], disposition: str, assignee: str, me: User
) -> BulkRequest:
    """Check a posted bulk action. ``assignee`` is ``"me"``, ``""``
    (nobody) or an account id among the assignable accounts.

    Raises:
        BulkError: see its reasons.
    """
    ids = tuple(dict.fromkeys(i for i in envelope_ids if i))
    if not ids:
        raise BulkError("none")
    if len(ids) > MAX_CASES:
        raise BulkError("too_many")
    if action not in ACTIONS:
        raise BulkError("action")
    if action == "spam":
        return BulkRequest("disposition", ids, disposition="spam")
    if action == "disposition":
        if disposition not in DISPOSITIONS:
            raise BulkError("disposition")
        return BulkRequest(action, ids, disposition=disposition)
    if assignee == "me":
        return BulkRequest(action, ids, assignee=me)
    if assignee == "":
        return BulkRequest(action, ids, assignee=None)
    target = next((u for u in triage.assignable_users(session) if str(u.id) == assignee), None)
    if target is None:
        raise BulkError("assignee")
    return BulkRequest(action, ids, assignee=target)


def needed(request: BulkRequest, me: User) -> Permission:
    """The permission ``request`` needs of ``me``, as the single-case
    action it repeats."""
    if request.action == "assign" and (request.assignee is None or request.assignee.id != me.id):
        return Permission.ASSIGN_OTHERS
    return Permission.TRIAGE


def apply(session: Session, request: BulkRequest, actor: User) -> int:
    """Apply ``request`` to its cases (unknown envelope ids are skipped),
    auditing each case as its page would. The caller commits.

    Returns:
        How many cases it touched.
    """
    cases = list(
        session.scalars(select(Case).where(Case.envelope_id.in_(request.envelope_ids)).order_by(Case.seq))
    )
    for case in cases:
        if request.action == "assign":
            triage.assign(session, case, request.assignee)
            to = request.assignee.id if request.assignee is not None else "-"
            audit.record(session, actor.email, audit.Action.CASE_ASSIGN, case.envelope_id, f"to={to}")
            continue
        changed = triage.update_case(
            session,
            case,
            status=request.disposition or "",
            urgent=bool(case.urgent),
            tags=triage.tags_of(session, case),
        )
        if changed:
            audit.record(session, actor.email, audit.Action.CASE_UPDATE, case.envelope_id, changed)
    return len(cases)
