"""Finding a report by its receipt, and the replies its status page shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.envelope import EnvelopeError, SealedEnvelope
from core.envelope.conversation import auth_key, lookup_value
from core.envelope.errors import UnauthenticatedError
from core.envelope.keys import RecipientPrivateKey, b64encode
from core.envelope.replykey import ReplyText, open_reply, reply_seed
from core.receipts import lookup_hash, receipt_hash

from ..keyring import current_keyring
from ..report.organizations import Organization, organizations
from ..store.models import Envelope, EnvelopeRecipient, ReceiptRecord
from .access import Access, access_of


def report_of_access(session: Session, token: str | None) -> Envelope | None:
    """The report an access token was issued for, or None (bad, expired)."""
    access = access_of(token)
    return report_of_hash(session, access.stored_hash) if access is not None else None


def report_of_hash(session: Session, stored_hash: str) -> Envelope | None:
    """The report whose receipt is stored under ``stored_hash``, or None."""
    return session.scalar(
        select(Envelope)
        .join(ReceiptRecord, ReceiptRecord.envelope_seq == Envelope.seq)
        .where(ReceiptRecord.receipt_hash == stored_hash)
    )


@dataclass(frozen=True)
class Found:
    """A report found by its receipt: the report, how its receipt is
    stored, its format, and (no-JavaScript path only, this request only)
    the receipt key (core/envelope/replykey.py)."""

    report: Envelope
    access: Access
    receipt_key: bytes | None = field(default=None, repr=False)


def find_report(session: Session, *, lookup: str | None = None, digits: str | None = None) -> Found | None:
    """The report of a receipt, from the browser's lookup value or (no
    JavaScript) the receipt's digits.

    The format comes from the label of the stored hash that answers
    (:func:`core.receipts.lookup_hash`): without the lookup value no one
    can make a record that answers under another label, so an intake's
    database cannot pass a v2 report off as an older one.

    A report stored before lookup values (its record the keyed hash of the
    digits) is found by the digits only; it is then moved to its lookup's
    v1 hash, so that from now on the browser finds it without the receipt
    and the database holds no hash of the digits.

    Raises:
        SQLAlchemyError: the database failed.
    """
    secret = current_app.config["RECEIPT_SECRET"]
    receipt_key: bytes | None = None
    if digits is not None:
        receipt_key = reply_seed(digits)
        lookup = lookup_value(receipt_key)
        legacy = receipt_hash(secret, digits)
        report = report_of_hash(session, legacy)
        if report is not None:
            moved = lookup_hash(secret, lookup, 1)
            session.execute(
                update(ReceiptRecord).where(ReceiptRecord.receipt_hash == legacy).values(receipt_hash=moved)
            )
            session.commit()
            return Found(report, Access(moved, 1, auth_key(receipt_key)), receipt_key)
    if lookup is None:
        return None
    for version in (2, 1):
        stored = lookup_hash(secret, lookup, version)
        report = report_of_hash(session, stored)
        if report is not None:
            key = auth_key(receipt_key) if receipt_key is not None else None
            return Found(report, Access(stored, version, key), receipt_key)
    return None


def followup_organizations(session: Session, report: Envelope) -> list[Organization]:
    """The active organizations the report was sealed to: a follow-up goes
    to them, no one else (their current active keys, after a rotation)."""
    recipient_ids = set(
        session.scalars(
            select(EnvelopeRecipient.recipient_id).where(EnvelopeRecipient.envelope_seq == report.seq)
        )
    )
    return [org for org in organizations(current_keyring()) if org.recipient_id in recipient_ids]


@dataclass(frozen=True)
class ShownReplies:
    """The replies a status page shows: ``opened`` by the server (no
    JavaScript: derived key, this request only), or ``sealed`` as base64
    ``(header, body)`` pairs for the browser to open (``js/replies.js``).
    ``failed`` counts replies that did not open, ``unauthenticated`` those
    that opened but whose proof did not verify (not shown: they could have
    been written by anyone who can write to this server).
    ``version`` is the report's format: replies to a v1 report carry no
    proof and are shown as "not authenticated (older report)"."""

    opened: tuple[ReplyText, ...] = ()
    sealed: tuple[tuple[str, str], ...] = ()
    failed: int = 0
    unauthenticated: int = 0
    version: int = 2


def replies_for_page(report: Envelope, found: Found, *, in_browser: bool) -> ShownReplies:
    """The report's replies for its status page.

    With ``in_browser`` the page carries them sealed and the receipt's key
    is derived on the reporter's device; otherwise the reply key is
    derived here, in memory, for this request only (Argon2id, about 40 ms),
    and each reply of a v2 report must carry a proof under the auth key
    (core/envelope/conversation.py).
    """
    version = found.access.version
    rows = list(report.replies)
    if not rows:
        return ShownReplies(version=version)
    if in_browser or found.receipt_key is None:
        return ShownReplies(
            sealed=tuple((b64encode(r.header), b64encode(r.body)) for r in rows), version=version
        )
    key = RecipientPrivateKey(found.receipt_key)
    expected_auth = found.access.auth_key if version == 2 else None
    opened: list[ReplyText] = []
    failed = unauthenticated = 0
    for row in rows:
        try:
            opened.append(
                open_reply(
                    SealedEnvelope(header=row.header, body=row.body),
                    key,
                    report.envelope_id,
                    auth_key=expected_auth,
                )
            )
        except UnauthenticatedError:
            unauthenticated += 1
        except EnvelopeError:
            failed += 1
    return ShownReplies(opened=tuple(opened), failed=failed, unauthenticated=unauthenticated, version=version)
