"""Alarms: what the console saw that only a seized or tampered intake would
do, kept until a coordinator acknowledges it.

An alarm is raised by the code that sees the problem (sync: a key outside
the pinned roster; ``intake check``: a page, key set or script that differs
from this release; follow-up verification: a proof that does not hold) with
:func:`raise_alarm`. It is then:

- a row in ``alarms`` (:class:`admin.models.Alarm`),
- an audit entry ``alarm`` (actor ``console``, the kind as object id, the
  detail), in the same transaction,
- a banner on every console page for every logged-in account until a
  coordinator acknowledges it (``POST /alarms/<id>/acknowledge``, audited as
  ``alarm.acknowledge``),
- a line in the daily digest (the number of unacknowledged alarms only).

The same alarm (same kind and detail) raised again while it is still open is
counted on the open row (``count``, ``last_raised_at``) rather than added
again, so an hourly check against a seized intake does not bury the banner;
every raise is still audited. Once acknowledged, the next raise opens a new
alarm.

What an operator does when one fires is in docs/threat-model.md ("Seized
intake").

The signature of :func:`raise_alarm` is stable: other parts of the console
call it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import log as audit
from ..models import Alarm, User

#: Actor of the audit entry an alarm writes: the console itself noticed.
ACTOR = "console"
#: Open alarms shown in the banner (the alarms page lists them all).
BANNER_LIMIT = 5
_KIND = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


class Kind:
    """Alarm kinds raised by the console (stable: operators grep for them)."""

    #: An envelope names a key outside the pinned roster.
    UNPINNED_KEY = "roster.unpinned_key"
    #: An envelope names a key of this organization the console does not hold.
    MISSING_PRIVATE_KEY = "roster.missing_private_key"
    #: A roster was imported with ``--replace`` (a pinned key dropped or changed).
    ROSTER_REPLACED = "roster.replaced"
    #: What the intake serves differs from the pinned roster or this release.
    INTAKE_CHECK = "intake.check"


def raise_alarm(session: Session, kind: str, detail: str) -> Alarm:
    """Raise an alarm in ``session``'s transaction (the caller commits, so
    the alarm, its audit entry and whatever caused it are stored together).

    Args:
        session: a session of the console database.
        kind: a short machine name, ``[a-z0-9][a-z0-9._-]{0,31}``, e.g.
            :attr:`Kind.UNPINNED_KEY`; say what kind of thing went wrong.
        detail: one line for people (cut to 500 characters), written by the
            console: fingerprints, URLs, file names, counts. Never report
            content, receipts, tokens or anything a reporter or reviewer
            typed: it is shown to every account and audited.

    Returns:
        The open alarm: a new one, or the open one with the same kind and
        detail, counted once more.

    Raises:
        ValueError: ``kind`` is not a valid name, or ``detail`` is empty.
    """
    if not _KIND.fullmatch(kind):
        raise ValueError("an alarm kind is 1-32 characters of a-z, 0-9, '.', '_' and '-'")
    detail = " ".join(detail.split())[:500]
    if not detail:
        raise ValueError("an alarm needs a detail")
    now = audit.now_utc()
    alarm = session.scalars(
        select(Alarm)
        .where(Alarm.acknowledged_at.is_(None), Alarm.kind == kind, Alarm.detail == detail)
        .order_by(Alarm.id)
        .limit(1)
    ).first()
    if alarm is None:
        alarm = Alarm(kind=kind, detail=detail, raised_at=now, last_raised_at=now, count=1)
        session.add(alarm)
    else:
        alarm.count += 1
        alarm.last_raised_at = now
    session.flush()
    audit.record(session, ACTOR, audit.Action.ALARM, kind, f"alarm={alarm.id} {detail}", at=now)
    return alarm


class AlarmError(ValueError):
    """An alarm cannot be acknowledged (no such alarm)."""


def acknowledge(session: Session, alarm_id: int, user: User) -> Alarm:
    """Mark an alarm acknowledged by ``user`` (a coordinator or admin: the
    view's permission, admin/permissions.py) and audit it
    (``alarm.acknowledge``). The caller commits. Acknowledging an alarm
    already acknowledged changes nothing and writes no entry.

    Raises:
        AlarmError: no alarm with that id.
    """
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise AlarmError("no such alarm")
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at = audit.now_utc()
        alarm.acknowledged_by = user.id
        session.flush()
        audit.record(
            session,
            user.email,
            audit.Action.ALARM_ACKNOWLEDGE,
            alarm.kind,
            f"alarm={alarm.id}",
            at=alarm.acknowledged_at,
        )
    return alarm


def open_alarms(session: Session, limit: int | None = None) -> Sequence[Alarm]:
    """Unacknowledged alarms, oldest first (at most ``limit``)."""
    query = select(Alarm).where(Alarm.acknowledged_at.is_(None)).order_by(Alarm.id)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()


def count_open(session: Session) -> int:
    """How many alarms wait for acknowledgement."""
    return int(session.scalar(select(func.count(Alarm.id)).where(Alarm.acknowledged_at.is_(None))) or 0)


def recent_alarms(session: Session, limit: int = 200) -> Sequence[Alarm]:
    """Every alarm, newest first (at most ``limit``), for the alarms page."""
    return session.scalars(select(Alarm).order_by(Alarm.id.desc()).limit(limit)).all()
