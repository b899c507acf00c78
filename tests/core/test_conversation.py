"""The conversation key and envelope format v2 (docs/envelope.md section
14): the composition against its formula written with bare primitives, the
committed known-answer vectors, and what v2 refuses."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.envelope import MalformedEnvelopeError, RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.envelope.conversation import auth_key, followup_proof, lookup_value, reply_proof
from core.envelope.errors import EnvelopeError, UnauthenticatedError
from core.envelope.format import new_envelope_id, parse_header
from core.envelope.replykey import open_reply, reply_seed, seal_reply
from core.receipts import lookup_hash, receipt_hash

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "conversation-v2.json").read_text(encoding="utf-8")
)


def _hkdf_spec(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 with the standard library's HMAC only: salt empty, 32 bytes."""
    prk = hmac.new(b"", ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


@pytest.mark.parametrize("derivation", VECTORS["derivations"], ids=lambda d: d["receipt"][:4])
def test_the_derivations_match_the_vectors_and_the_formula(derivation: dict[str, Any]) -> None:
    seed = reply_seed(derivation["receipt"])
    assert seed.hex() == derivation["receipt_key"]
    assert RecipientPrivateKey(seed).public_key.key_id == derivation["reply_key_id"]
    assert auth_key(seed).hex() == derivation["auth_key"] == _hkdf_spec(seed, b"tnr-intake/v2/auth-key").hex()
    assert lookup_value(seed) == derivation["lookup"] == _hkdf_spec(seed, b"tnr-intake/v2/lookup").hex()
    # Nothing derived shows the receipt or another derived value.
    assert derivation["receipt"] not in derivation["lookup"]
    assert derivation["lookup"] != derivation["auth_key"]


def test_the_proofs_match_the_vectors_and_the_formula() -> None:
    for v in VECTORS["followup_proofs"]:
        key = bytes.fromhex(v["auth_key"])
        message = (
            b"tnr-intake/v2/followup\x00" + bytes.fromhex(v["report_id"]) + bytes.fromhex(v["followup_id"])
        )
        assert followup_proof(key, v["report_id"], v["followup_id"]).hex() == v["proof"]
        assert hmac.new(key, message, hashlib.sha256).hexdigest() == v["proof"]
    for v in VECTORS["reply_proofs"]:
        key = bytes.fromhex(v["auth_key"])
        message = (
            b"tnr-intake/v2/reply\x00"
            + bytes.fromhex(v["report_id"])
            + bytes.fromhex(v["reply_id"])
            + hashlib.sha256(v["text"].encode()).digest()
            + hashlib.sha256(v["from"].encode()).digest()
        )
        assert reply_proof(key, v["report_id"], v["reply_id"], v["text"], v["from"]).hex() == v["proof"]
        assert hmac.new(key, message, hashlib.sha256).hexdigest() == v["proof"]


@pytest.mark.parametrize("vector", VECTORS["envelopes"], ids=lambda v: v["name"])
def test_the_v2_vectors_open(vector: dict[str, Any]) -> None:
    sealed = SealedEnvelope(
        header=vector["sealed"]["header"].encode("ascii"),
        body=base64.b64decode(vector["sealed"]["body"]),
        attachments=tuple(base64.b64decode(a) for a in vector["sealed"]["attachments"]),
    )
    opened = open_envelope(sealed, [RecipientPrivateKey(bytes.fromhex(vector["seed"]))])
    assert opened.header.version == 2
    assert opened.header.envelope_id == vector["expected"]["envelope_id"]
    assert opened.report == vector["expected"]["report"]
    assert {k: v.hex() for k, v in (opened.auth or {}).items()} == vector["expected"]["auth"]


def _receipt_key() -> bytes:
    return reply_seed(VECTORS["derivations"][1]["receipt"])


def test_a_reply_verifies_only_under_its_reports_key() -> None:
    seed = _receipt_key()
    reporter = RecipientPrivateKey(seed)
    report_id = new_envelope_id()
    key = auth_key(seed)
    day = date(2026, 12, 7)
    good = seal_reply(reporter.public_key.raw, report_id, "Hello", "Org A", day, auth_key=key)
    assert open_reply(good, reporter, report_id, auth_key=key).authenticated
    # Anyone can seal to the public reply key: without the auth key, a v1
    # reply, or a v2 reply with a guessed proof, does not verify.
    forged_v1 = seal_reply(reporter.public_key.raw, report_id, "Send your relatives' address", "Org A", day)
    forged_v2 = seal_reply(
        reporter.public_key.raw, report_id, "Send your relatives' address", "Org A", day, auth_key=bytes(32)
    )
    for forged in (forged_v1, forged_v2):
        with pytest.raises(UnauthenticatedError):
            open_reply(forged, reporter, report_id, auth_key=key)
    # An older (v1) report has no key: its replies open, marked.
    assert not open_reply(forged_v1, reporter, report_id).authenticated


def test_v2_body_and_header_are_strict() -> None:
    org = RecipientPrivateKey.generate()
    day = date(2026, 12, 7)
    with pytest.raises(EnvelopeError):
        seal({"a": 1}, [org.public_key], day=day, auth={"key": bytes(31)})
    with pytest.raises(EnvelopeError):
        seal({"a": 1}, [org.public_key], day=day, auth={"other": bytes(32)})
    with pytest.raises(EnvelopeError):
        seal({"a": 1}, [org.public_key], day=day, envelope_id="ABC")
    v2 = seal({"a": 1}, [org.public_key], day=day, auth={"key": bytes(32)})
    assert parse_header(v2.header).version == 2
    v1 = seal({"a": 1}, [org.public_key], day=day)
    assert parse_header(v1.header).version == 1 and open_envelope(v1, [org]).auth is None
    # The version is in the header, which is the body's associated data: a
    # v1 body under a v2 header (or the reverse) does not open.
    swapped = SealedEnvelope(header=v1.header.replace(b'"v":1', b'"v":2'), body=v1.body)
    with pytest.raises(EnvelopeError):
        open_envelope(swapped, [org])
    with pytest.raises(MalformedEnvelopeError):
        parse_header(v1.header.replace(b'"v":1', b'"v":3'))


def test_lookup_hashes_are_labelled_by_format_and_differ_from_the_legacy_hash() -> None:
    secret = bytes(range(32))
    digits = VECTORS["derivations"][0]["receipt"]
    lookup = VECTORS["derivations"][0]["lookup"]
    hashes = {lookup_hash(secret, lookup, 1), lookup_hash(secret, lookup, 2), receipt_hash(secret, digits)}
    assert len(hashes) == 3
    with pytest.raises(ValueError, match="1 or 2"):
        lookup_hash(secret, lookup, 3)
