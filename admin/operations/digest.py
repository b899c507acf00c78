"""The daily digest: one e-mail per console account saying how many cases
wait, and nothing else.

What it says: the number of cases that are new, that need information, and
that are flagged urgent (imminent danger) and still open (not closed, spam
or duplicate), counted as the inbox lists them, and the number of alarms
no coordinator has acknowledged (admin/alarms/service.py: the kind and detail stay
in the console) (a follow-up shown on its
report's case is not a case of its own). No case number, envelope id,
code, tag, name or text: mail passes through providers the organization
does not control. It is sent every day, also when every count is zero, so
that whether and when a message goes out says nothing about the inbox. It
holds no link either: reviewers are phishing targets, and a digest that
never links trains them never to follow a link to the console in a mail.

Each account gets its own message (no shared To: or Cc: line reveals the
team). SMTP settings: ``SMTP_HOST`` (unset: the digest is off), ``SMTP_PORT``
(587), ``SMTP_USER``/``SMTP_PASSWORD`` (optional), ``SMTP_FROM``,
``SMTP_STARTTLS`` (default true: refused if the server does not offer it,
never sent in clear; set false only for a relay on loopback).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import Database

from ..alarms.service import count_open
from ..audit import log as audit
from ..cases.triage import InboxFilter
from ..errors import ConsoleError
from ..models import Case, Disposition, User

SUBJECT = "Console: daily summary"
#: Dispositions after which an urgent case no longer waits.
_DONE = (Disposition.CLOSED.value, Disposition.SPAM.value, Disposition.DUPLICATE.value)


class DigestError(ConsoleError):
    """The digest cannot be sent (settings, or the mail server). The message
    names the problem, never the password."""


@dataclass(frozen=True)
class Waiting:
    """Cases waiting, by kind (counts only)."""

    new: int
    needs_information: int
    urgent: int
    #: Alarms no coordinator has acknowledged yet (admin/alarms/service.py).
    alarms: int = 0


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how the digest is sent."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        """The settings, or None when ``SMTP_HOST`` is unset (digest off).

        Raises:
            DigestError: a host without ``SMTP_FROM``, or a bad port.
        """
        host = config.get("SMTP_HOST")
        if not host:
            return None
        sender = config.get("SMTP_FROM")
        if not sender or "@" not in str(sender):
            raise DigestError("set ADMIN_SMTP_FROM (the sender address) to send the digest")
        try:
            port = int(config.get("SMTP_PORT") or 587)
        except (TypeError, ValueError) as exc:
            raise DigestError("ADMIN_SMTP_PORT must be a number") from exc
        user = config.get("SMTP_USER")
        password = config.get("SMTP_PASSWORD")
        return cls(
            host=str(host),
            port=port,
            sender=str(sender),
            user=str(user) if user else None,
            password=str(password) if password is not None else None,
            starttls=_flag(config.get("SMTP_STARTTLS", True)),
            timeout=float(config.get("SMTP_TIMEOUT") or 30),
        )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


@dataclass
class DigestResult:
    """What :func:`send_digest` did."""

    waiting: Waiting
    sent: int = 0
    failed: int = 0


def waiting(session: Session) -> Waiting:
    """Count the cases that wait, as the inbox lists them."""

    def count(flt: InboxFilter, *extra: Any) -> int:
        return int(session.scalar(flt.apply(select(func.count(Case.id))).where(*extra)) or 0)

    return Waiting(
        new=count(InboxFilter(status=Disposition.NEW.value)),
        needs_information=count(InboxFilter(status=Disposition.NEEDS_INFORMATION.value)),
        urgent=count(InboxFilter(urgent=True), Case.status.not_in(_DONE)),
        alarms=count_open(session),
    )


def body(counts: Waiting) -> str:
    """The text of every digest: counts, and why there is nothing else."""
    return (
        "Cases waiting in the console:\n"
        f"  new: {counts.new}\n"
        f"  needs information: {counts.needs_information}\n"
        f"  urgent (imminent danger): {counts.urgent}\n"
        f"Unacknowledged alarms (the intake may be seized or tampered with): {counts.alarms}\n"
        "\n"
        "This summary is sent every day, also when nothing waits. It names no\n"
        "case and never contains a link: open the console the way you always do.\n"
    )


def message(settings: SmtpSettings, to: str, counts: Waiting) -> EmailMessage:
    """One digest for ``to``. The Message-ID uses the sender's domain, not
    this machine's host name."""
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = SUBJECT
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[1])
    msg.set_content(body(counts))
    return msg


def _connect(settings: SmtpSettings, smtp_factory: Callable[..., smtplib.SMTP]) -> smtplib.SMTP:
    smtp = smtp_factory(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.starttls:
            # Raises SMTPNotSupportedError when not offered: never fall back
            # to clear text (the password and the counts would travel open).
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_digest(
    db: Database,
    settings: SmtpSettings,
    *,
    actor: str = "cli",
    smtp_factory: Callable[..., smtplib.SMTP] = smtplib.SMTP,
) -> DigestResult:
    """Send one digest to every active account, over one connection, and
    audit the run (``digest``: counts, recipients, sent, failed).

    Raises:
        DigestError: the server cannot be reached, refuses STARTTLS or the
            login (nothing was sent; the run is audited as failed).
    """
    with db.session() as session:
        counts = waiting(session)
        recipients = list(session.scalars(select(User.email).where(User.active.is_(True)).order_by(User.id)))
    result = DigestResult(counts)
    detail = (
        f"new={counts.new} needs_information={counts.needs_information} urgent={counts.urgent} "
        f"alarms={counts.alarms}"
    )
    try:
        smtp = _connect(settings, smtp_factory)
    except (OSError, smtplib.SMTPException) as exc:
        with db.session() as session:
            audit.record(
                session, actor, audit.Action.DIGEST, None, f"{detail} failed={exc.__class__.__name__}"
            )
        raise DigestError(f"the mail server refused or is unreachable ({exc.__class__.__name__})") from exc
    try:
        for email in recipients:
            try:
                smtp.send_message(message(settings, email, counts))
                result.sent += 1
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused):
                result.failed += 1
    except (OSError, smtplib.SMTPException):
        result.failed = len(recipients) - result.sent
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    with db.session() as session:
        audit.record(
            session,
            actor,
            audit.Action.DIGEST,
            None,
            f"{detail} recipients={len(recipients)} sent={result.sent} failed={result.failed}",
        )
    return result
