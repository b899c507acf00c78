"""The reporter's reply key: an X-Wing key pair derived from the receipt.

A reviewer's reply is an envelope (format v1, ``sealed_by: "console"``) whose
one recipient is the reporter's reply public key. The report's header carries
that public key (``reply_key``); the private half exists only while a
reporter reads replies: in the browser (``js/replykey.js``, Argon2id from
hash-wasm's WebAssembly build), or, without JavaScript, in the intake
server's memory for that one request.

Derivation (docs/envelope.md, "Reply keys")::

    seed = Argon2id(password = the 28 receipt digits as ASCII,
                    salt     = b"tnr-intake/reply-key/v1",
                    t = 2, m = 19456 KiB, p = 1, length = 32)      # RFC 9106
    key pair = X-Wing key pair of seed                            # keys.py

The parameters are the OWASP Password Storage Cheat Sheet's Argon2id minimum
(m = 19 MiB, t = 2, p = 1): the receipt already has 89.7 bits of entropy,
so Argon2id here is defence in depth that a phone pays for in a fraction of a
second, not the secret's strength. The salt is fixed so that the browser and
the server derive the same key from the receipt alone; with 2^89 receipts
a precomputed table is out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..receipts import is_receipt
from . import argon2
from .conversation import reply_proof, verify
from .errors import EnvelopeError, MalformedEnvelopeError, UnauthenticatedError
from .format import SealedEnvelope, new_envelope_id
from .keys import RecipientPrivateKey, RecipientPublicKey
from .opening import open_envelope
from .sealing import seal

REPLY_KEY_SALT = b"tnr-intake/reply-key/v1"
REPLY_KEY_ITERATIONS = 2
REPLY_KEY_MEMORY_KIB = 19456
REPLY_KEY_LANES = 1
#: The body ``kind`` of a reply envelope (docs/envelope.md, "Reply keys").
REPLY_KIND = "reply"


def reply_seed(receipt: str) -> bytes:
    """The 32-byte X-Wing seed of the reporter's reply key.

    Args:
        receipt: the 28 receipt digits, ASCII, no separators (as
            :func:`core.receipts.normalize_receipt` returns them).

    Returns:
        32 bytes: Argon2id (RFC 9106) of the digits under the fixed salt.

    Raises:
        EnvelopeError: ``receipt`` is not 28 digits with a valid check digit.
    """
    if not is_receipt(receipt):
        raise EnvelopeError("a reply key is derived from a well-formed receipt only")
    return argon2.derive(
        receipt.encode("ascii"),
        REPLY_KEY_SALT,
        iterations=REPLY_KEY_ITERATIONS,
        lanes=REPLY_KEY_LANES,
        memory_kib=REPLY_KEY_MEMORY_KIB,
    )


def reply_private_key(receipt: str) -> RecipientPrivateKey:
    """The reporter's reply key pair (its ``public_key.raw`` goes in the
    report's header as ``reply_key``). Raises as :func:`reply_seed`."""
    return RecipientPrivateKey(reply_seed(receipt))


#: Longest reply text (characters); the padded body stays under the intake's
#: 64 KiB limit for replies (intake/api/replies.py) even in 4-byte UTF-8.
MAX_REPLY_TEXT = 8000


@dataclass(frozen=True)
class ReplyText:
    """An opened reply: its text, the organization's name as the reviewer's
    console gave it, and the day it was sealed. ``authenticated`` is True
    when its proof verified under the conversation's auth key (format v2);
    False for a reply to an older (v1) report, which has no such key and
    must be shown as "not authenticated (older report)"."""

    text: str
    sender: str
    day: date
    authenticated: bool = False


def seal_reply(
    reply_public_key: bytes,
    report_envelope_id: str,
    text: str,
    sender: str,
    day: date,
    auth_key: bytes | None = None,
) -> SealedEnvelope:
    """Seal a reviewer's reply to the reporter's reply key.

    With ``auth_key`` (the v2 report's conversation key,
    core/envelope/conversation.py) the reply is a v2 envelope whose body
    ``auth`` carries :func:`~.conversation.reply_proof`; without, a v1
    reply to an older report.

    The body is ``{"kind": "reply", "report": <the report's envelope id>,
    "text": …, "from": …}`` (docs/envelope.md, "Reply keys"); naming the
    report binds the reply to it, so an intake cannot show one case's reply
    on another.

    Args:
        reply_public_key: the report header's ``reply_key`` (1216 bytes).
        report_envelope_id: the report's envelope id (32 hex digits).
        text: the reply, 1 to :data:`MAX_REPLY_TEXT` characters.
        sender: the organization's name as the reporter should see it.
        day: the day to put in the header (UTC).

    Raises:
        EnvelopeError: empty or too long text, or a bad key.
    """
    if not text.strip() or len(text) > MAX_REPLY_TEXT:
        raise EnvelopeError(f"a reply has 1 to {MAX_REPLY_TEXT} characters")
    body = {"kind": REPLY_KIND, "report": report_envelope_id, "text": text, "from": sender}
    if auth_key is None:
        return seal(body, [RecipientPublicKey(reply_public_key)], day=day, sealed_by="console")
    envelope_id = new_envelope_id()
    proof = reply_proof(auth_key, report_envelope_id, envelope_id, text, sender)
    return seal(
        body,
        [RecipientPublicKey(reply_public_key)],
        day=day,
        sealed_by="console",
        auth={"proof": proof},
        envelope_id=envelope_id,
    )


def open_reply(
    sealed: SealedEnvelope,
    key: RecipientPrivateKey,
    report_envelope_id: str,
    auth_key: bytes | None = None,
) -> ReplyText:
    """Open a reply with the reporter's reply key and check it answers this
    report.

    Args:
        auth_key: the conversation key of a v2 report: the reply must then
            be v2 and its proof verify. None for a v1 report: the reply is
            returned with ``authenticated=False``.

    Raises:
        NotARecipientError, TamperedEnvelopeError: the key does not open it.
        MalformedEnvelopeError: not a reply, or a reply to another report.
        UnauthenticatedError: a v2 report's reply without a valid proof
            (anyone can seal to the public reply key; only the coalition
            holds the auth key).
    """
    opened = open_envelope(sealed, [key])
    body = opened.report
    if (
        opened.header.sealed_by != "console"
        or body.get("kind") != REPLY_KIND
        or body.get("report") != report_envelope_id
        or not isinstance(body.get("text"), str)
        or not isinstance(body.get("from"), str)
    ):
        raise MalformedEnvelopeError("not a reply to this report")
    authenticated = False
    if auth_key is not None:
        proof = opened.auth.get("proof") if opened.auth else None
        expected = reply_proof(
            auth_key, report_envelope_id, opened.header.envelope_id, body["text"], body["from"]
        )
        if not verify(expected, proof):
            raise UnauthenticatedError("the reply's proof does not verify under the report's key")
        authenticated = True
    return ReplyText(
        text=body["text"], sender=body["from"], day=opened.header.day, authenticated=authenticated
    )
