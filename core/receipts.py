"""Receipts: what a reporter keeps to come back.

A receipt is 27 random decimal digits (log2(10^27) ≈ 89.7 bits, above the
80-bit floor of DESIGN.md) and one Damm check digit (H. M. Damm, 2004; detects
every single-digit error and every adjacent transposition), shown in groups of
four. The intake stores only ``HMAC-SHA256(receipt secret, digits)``. The
server makes it on the no-JavaScript path (:func:`new_receipt`); with
JavaScript the browser makes it in the same format (``js/receipt.js``) and
the intake checks it (:func:`is_receipt`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

from stdnum import damm

RANDOM_DIGITS = 27
#: Symbols typed as separators that are not punctuation to Unicode: minus
#: sign, tilde and wave dash, the katakana long-vowel mark a Chinese or
#: Japanese keyboard gives for "-".
_DASH_LIKE = frozenset("\u2212~\u301c\u30fc\uff70")
RECEIPT_DIGITS = RANDOM_DIGITS + 1


class ReceiptFormatError(ValueError):
    """The text is not a receipt: wrong length, a non-digit, or a failed check
    digit (``typo`` is True for the last)."""

    def __init__(self, message: str, *, typo: bool = False) -> None:
        super().__init__(message)
        self.typo = typo


def new_receipt() -> str:
    """A new receipt as 28 digits (no separators)."""
    digits = "".join(str(secrets.randbelow(10)) for _ in range(RANDOM_DIGITS))
    return digits + str(damm.calc_check_digit(digits))


def is_receipt(text: str | None) -> bool:
    """Whether ``text`` is a receipt exactly as a browser sends it: 28 ASCII
    digits, no separators, with a matching Damm check digit (the browser
    makes its own receipt, js/receipt.js; :func:`normalize_receipt` is for
    what people type)."""
    return (
        text is not None
        and len(text) == RECEIPT_DIGITS
        and text.isascii()
        and text.isdigit()
        and bool(damm.is_valid(text))
    )


def format_receipt(digits: str) -> str:
    """``"1234 5678 …"``: groups of four for reading and copying."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def normalize_receipt(text: str) -> str:
    """Digits of a typed receipt: NFKC folds full-width digits, and spaces,
    dashes and punctuation are dropped.

    Raises:
        ReceiptFormatError: wrong number of digits, a letter, or a check digit
            that does not match (a typo).
    """
    folded = unicodedata.normalize("NFKC", text)
    digits = []
    for ch in folded:
        if ch.isdigit() and ch.isascii():
            digits.append(ch)
        elif ch.isspace() or unicodedata.category(ch).startswith(("P", "Z")) or ch in _DASH_LIKE:
            # Spaces, dashes, and Chinese punctuation (，。、：－—) a
            # reporter may type between groups; NFKC has already folded the
            # full-width forms.
            continue
        else:
            raise ReceiptFormatError("a receipt has only digits")
    result = "".join(digits)
    if len(result) != RECEIPT_DIGITS:
        raise ReceiptFormatError(f"a receipt has {RECEIPT_DIGITS} digits")
    if not damm.is_valid(result):
        raise ReceiptFormatError("the check digit does not match", typo=True)
    return result


def receipt_hash(secret: bytes, digits: str) -> str:
    """Keyed hash stored for lookup: HMAC-SHA256 (RFC 2104), hex."""
    return hmac.new(secret, digits.encode("ascii"), hashlib.sha256).hexdigest()


#: A submission token: 16 random bytes, URL-safe base64 without padding (22
#: characters). One per rendered form; it only deduplicates, it grants
#: nothing, so it may travel in a hidden field.
SUBMISSION_TOKEN_LENGTH = 22
_SUBMISSION_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_submission_token() -> str:
    """A fresh one-time submission token for a form."""
    return secrets.token_urlsafe(16)


def is_submission_token(text: str | None) -> bool:
    """Whether ``text`` has the shape of a submission token."""
    return (
        text is not None
        and len(text) == SUBMISSION_TOKEN_LENGTH
        and all(ch in _SUBMISSION_ALPHABET for ch in text)
    )


def submission_hash(secret: bytes, token: str) -> str:
    """Keyed hash of a submission token (HMAC-SHA256 under the receipt
    secret, with its own label so it can never equal a receipt hash), hex.
    Keyed so that a copy of the database alone cannot link a form page that
    was saved on a reporter's device to its envelope."""
    return hmac.new(secret, b"submission\x00" + token.encode("ascii"), hashlib.sha256).hexdigest()


#: A lookup value (core/envelope/conversation.py): 64 lowercase hex digits,
#: what the browser sends instead of the receipt.
LOOKUP_LENGTH = 64
_HEX = frozenset("0123456789abcdef")
#: Labels of the stored lookup hash. The label records which format the
#: report was sealed in: ``v2`` for a report that carries its conversation
#: key (replies and follow-ups must then prove it), ``v1`` for an older
#: report whose receipt was moved from the digits' hash to its lookup's.
#: Without the lookup value no one, not even with the receipt secret and
#: write access to the database, can make a record that answers a lookup
#: under the other label: a report cannot be downgraded to "older".
_LOOKUP_LABELS = {1: b"lookup-v1\x00", 2: b"lookup-v2\x00"}


def is_lookup(text: str | None) -> bool:
    """Whether ``text`` has the shape of a lookup value."""
    return text is not None and len(text) == LOOKUP_LENGTH and all(ch in _HEX for ch in text)


def lookup_hash(secret: bytes, lookup: str, version: int) -> str:
    """Keyed hash of a lookup value, stored for lookup: HMAC-SHA256 under
    the receipt secret with a label per report format (1 or 2), hex.

    Raises:
        ValueError: ``version`` is not 1 or 2.
    """
    try:
        label = _LOOKUP_LABELS[version]
    except KeyError as exc:
        raise ValueError("a report format is 1 or 2") from exc
    return hmac.new(secret, label + lookup.encode("ascii"), hashlib.sha256).hexdigest()
