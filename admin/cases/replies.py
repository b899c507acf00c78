"""Replies to reporters, written on the case page and read on the intake.

A reviewer writes a reply on the case page; the console seals it to the
reporter's reply public key (the report header's ``reply_key``, derived from
the receipt: docs/envelope.md, "Reply keys") with
:func:`core.envelope.replykey.seal_reply`, hands the sealed envelope to the
intake (:meth:`admin.sync.client.IntakeClient.post_reply`), and only once the intake
has confirmed it stores its own copy of the text under the data key, for the
case timeline. The reporter reads it after typing the receipt.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from core.envelope import EnvelopeError, parse_header
from core.envelope.replykey import MAX_REPLY_TEXT, seal_reply

from ..keys.custody import UnlockedKeyring, decrypt_field, encrypt_field
from ..models import Case, CaseReply, User
from ..replytemplates.service import has_placeholder
from ..sync.client import IntakeClient
from .triage import sealed_texts


class ReplyError(ValueError):
    """The reply cannot be sent: ``reason`` is ``empty``, ``too_long``,
    ``placeholder`` (a template's ``[…]`` was not written in), ``no_reply_key``
    (the report came without one, or this is a follow-up)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SentReply:
    """A decrypted reply, as the case timeline shows it."""

    uid: str
    day: date
    author: str
    text: str


def reply_sender(setting: object, language: object) -> str:
    """The name a reporter sees on a reply: ``REPLY_FROM`` is one name, or
    language tag (``en``, ``fr``, ``zh-Hant``, ``zh-Hans``) → name, read in
    the report's ``language`` with ``en`` (then any name) as the fallback."""
    if isinstance(setting, str):
        return setting
    if isinstance(setting, dict) and setting:
        names = {str(k).lower(): str(v) for k, v in setting.items()}
        tag = str(language).lower() if isinstance(language, str) else ""
        return names.get(tag) or names.get(tag.split("-")[0]) or names.get("en") or next(iter(names.values()))
    return ""


def can_reply(case: Case) -> bool:
    """Whether the reporter of ``case`` can be answered: a report (not a
    follow-up) whose header carries a reply key."""
    if case.follows is not None:
        return False
    try:
        return parse_header(case.header).reply_key is not None
    except EnvelopeError:
        return False


def send_reply(
    session: Session,
    client: IntakeClient,
    case: Case,
    keyring: UnlockedKeyring,
    author: User,
    text: str,
    sender: str,
) -> CaseReply:
    """Seal ``text`` to the reporter, send it to the intake, keep a copy.

    The caller audits and commits. Nothing is stored here unless the intake
    confirmed it holds the reply, so a failed send can be tried again with
    the same text.

    Args:
        text: the reply, 1 to :data:`MAX_REPLY_TEXT` characters (trimmed).
        sender: the organization's name the reporter sees (``REPLY_FROM``).

    Raises:
        ReplyError: empty, too long, a template's ``[…]`` left in, or no
            reply key.
        KeyLockedError: the key is locked (the copy needs the data key).
        IntakeError, IntakeAuthError: the intake did not take it.
    """
    text = text.strip()
    if not text:
        raise ReplyError("empty")
    if len(text) > MAX_REPLY_TEXT:
        raise ReplyError("too_long")
    if has_placeholder(text):
        raise ReplyError("placeholder")
    reply_key = parse_header(case.header).reply_key if can_reply(case) else None
    if reply_key is None:
        raise ReplyError("no_reply_key")
    data_key = keyring.data_key()  # locked: fail before anything leaves
    today = datetime.now(UTC).date()
    # A v2 report's reply carries a proof under its conversation key
    # (core/envelope/conversation.py): the reporter's page shows only
    # replies that verify. An older report has no such key: its reporter's
    # page marks the reply "not authenticated (older report)".
    auth_key = (
        decrypt_field(data_key, case.envelope_id, "auth-key", case.auth_key_ct)
        if case.auth_key_ct is not None
        else None
    )
    sealed = seal_reply(reply_key, case.envelope_id, text, sender, today, auth_key=auth_key)
    reply_id = parse_header(sealed.header).envelope_id
    client.post_reply(case.envelope_id, sealed.header, sealed.body)
    uid = secrets.token_hex(16)
    row = CaseReply(
        uid=uid,
        case_id=case.id,
        author_id=author.id,
        day=today,
        reply_id=reply_id,
        body_ct=encrypt_field(data_key, case.envelope_id, f"reply/{uid}", text.encode("utf-8")),
    )
    session.add(row)
    return row


def replies_of(session: Session, case: Case, keyring: UnlockedKeyring) -> list[SentReply]:
    """The replies sent on ``case``, oldest first, decrypted in memory.

    Raises:
        KeyLockedError: locked. DataKeyError: a copy does not authenticate.
    """
    return [
        SentReply(uid=uid, day=day, author=author, text=text)
        for uid, day, author, text in sealed_texts(session, CaseReply, case, keyring, "reply")
    ]
