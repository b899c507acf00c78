"""Typed errors of the envelope format.

Every fault in parsing or opening an envelope raises a subclass of
:class:`EnvelopeError`, so callers (the console's sync, the API) can quarantine
an envelope with a reason instead of crashing. Messages name the fault, never
the content: they may end up in an operator's terminal.
"""

from __future__ import annotations


class EnvelopeError(Exception):
    """Base class: the envelope cannot be sealed or opened."""


class MalformedEnvelopeError(EnvelopeError):
    """The header, body or an attachment does not have the v1 structure."""


class NotARecipientError(EnvelopeError):
    """None of the given private keys is among the envelope's recipients."""


class TamperedEnvelopeError(EnvelopeError):
    """Authentication failed: a byte was changed, or a part was swapped,
    truncated, reordered or replayed from another envelope."""


class KeyFileError(Exception):
    """A key file is missing, malformed, expired or does not match its
    fingerprint. The message names the file."""


class WrongPassphraseError(KeyFileError):
    """The passphrase does not decrypt the private key file."""


class UnauthenticatedError(EnvelopeError):
    """A follow-up or a reply of a v2 conversation whose proof is missing
    or does not verify under the report's auth key
    (core/envelope/conversation.py): whoever sealed it did not know the
    receipt. Never shown as the reporter's or the coalition's words."""
