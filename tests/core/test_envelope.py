"""Tests of the envelope format v1 (``core/envelope``, ``docs/envelope.md``).

* X-Wing: our seed expansion against draft-connolly-cfrg-xwing-kem Appendix C.
* Known-answer vectors (``tests/vectors/envelope-v1.json``): opened by the
  library, and by an independent opener written from ``docs/envelope.md`` with
  bare primitives, so the spec, the code and the vectors agree.
* Round trips, limits, and every way of tampering we know of, each raising its
  typed error.
* Padmé, key files and passphrase-protected private keys.

Nothing here prints key material or plaintext; all keys are generated per test
session except the published vectors'.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import random
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.envelope import (
    AttachmentInput,
    EnvelopeError,
    KeyFileError,
    MalformedEnvelopeError,
    NotARecipientError,
    PublicKeyFile,
    RecipientPrivateKey,
    RecipientPublicKey,
    SealedEnvelope,
    TamperedEnvelopeError,
    WrongPassphraseError,
    decrypt_private_key,
    encrypt_private_key,
    load_key_directory,
    open_attachment_chunks,
    open_body,
    open_envelope,
    padme,
    parse_header,
    parse_public_key_file,
    seal,
    split_ciphertext,
)
from core.envelope.chunks import seal_attachment_chunks
from core.envelope.format import TAG_SIZE, canonical_json
from core.envelope.keyschedule import attachment_key, body_key

pytestmark = pytest.mark.db_independent

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
XWING_DRAFT = json.loads((VECTORS / "xwing-draft.json").read_text(encoding="utf-8"))
ENVELOPE_V1 = json.loads((VECTORS / "envelope-v1.json").read_text(encoding="utf-8"))

DAY = date(2025, 3, 14)
CHUNK = 64 * 1024
MIB = 1024 * 1024
#: X-Wing combiner label, draft-connolly-cfrg-xwing-kem section "Combiner".
XWING_LABEL = b"\\.//^\\"
#: Small Argon2id parameters so the key file tests stay fast.
FAST_ARGON2ID = {"memory_kib": 1024, "iterations": 1, "lanes": 1}

EnvelopeErrors = (MalformedEnvelopeError, TamperedEnvelopeError, NotARecipientError)


# --------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def keys() -> list[RecipientPrivateKey]:
    """Three recipient keys, made fresh for this test module."""
    return [RecipientPrivateKey.generate() for _ in range(3)]


@pytest.fixture(scope="module")
def outsider() -> RecipientPrivateKey:
    """A key that is never a recipient."""
    return RecipientPrivateKey.generate()


@pytest.fixture(scope="module")
def reply_key() -> bytes:
    return RecipientPrivateKey.generate().public_key.raw


def _publics(private_keys: list[RecipientPrivateKey]) -> list[RecipientPublicKey]:
    return [k.public_key for k in private_keys]


def _seal(recipients: list[RecipientPrivateKey], *sizes: int, **kwargs: Any) -> SealedEnvelope:
    """Seal a short report with random attachments of the given sizes."""
    attachments = [
        AttachmentInput(f"file-{i}.bin", "application/octet-stream", os.urandom(size))
        for i, size in enumerate(sizes)
    ]
    return seal({"summary": "test"}, _publics(recipients), day=DAY, attachments=attachments, **kwargs)


def _flip(data: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


def _with_header(sealed: SealedEnvelope, edit: Callable[[dict[str, Any]], None]) -> SealedEnvelope:
    """The envelope with its header parsed, edited and written back in
    canonical form (so only the edit differs)."""
    doc = json.loads(sealed.header)
    edit(doc)
    return replace(sealed, header=canonical_json(doc))


def _with_attachment(sealed: SealedEnvelope, index: int, data: bytes) -> SealedEnvelope:
    attachments = list(sealed.attachments)
    attachments[index] = data
    return replace(sealed, attachments=tuple(attachments))


def _chunks(sealed: SealedEnvelope, index: int) -> list[bytes]:
    slot = parse_header(sealed.header).attachments[index]
    return list(split_ciphertext(slot, sealed.attachments[index]))


def _vector_envelope(vector: dict[str, Any]) -> SealedEnvelope:
    sealed = vector["sealed"]
    return SealedEnvelope(
        header=sealed["header"].encode("ascii"),
        body=base64.b64decode(sealed["body"], validate=True),
        attachments=tuple(base64.b64decode(a, validate=True) for a in sealed["attachments"]),
    )


def _vector_id(vector: dict[str, Any]) -> str:
    return str(vector["name"])


# --------------------------------------------------------------------------
# X-Wing (draft-connolly-cfrg-xwing-kem, Appendix C)


def _xwing_decapsulate(seed: bytes, ct: bytes) -> bytes:
    """X-Wing Decapsulate composed from the library's ML-KEM-768 and X25519:
    SHA3-256(ss_M || ss_X || ct_X || pk_X || XWingLabel)."""
    expanded = hashlib.shake_256(seed).digest(96)
    ss_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).decapsulate(ct[:1088])
    sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    ct_x = ct[1088:1120]
    ss_x = sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    pk_x = sk_x.public_key().public_bytes_raw()
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def _xwing_ids(vector: dict[str, str]) -> str:
    return vector["sk"][:8]


def test_xwing_label_is_the_drafts() -> None:
    assert XWING_LABEL.hex() == "5c2e2f2f5e5c"  # draft Appendix B: hexlify(XWingLabel)
    assert len(XWING_DRAFT["vectors"]) == 3
    assert "draft-connolly-cfrg-xwing-kem" in XWING_DRAFT["source"]["draft"]


@pytest.mark.parametrize("vector", XWING_DRAFT["vectors"], ids=_xwing_ids)
def test_xwing_seed_expands_to_the_drafts_public_key(vector: dict[str, str]) -> None:
    key = RecipientPrivateKey(bytes.fromhex(vector["sk"]))
    assert key.public_key.raw == bytes.fromhex(vector["pk"])
    assert key.key_id == hashlib.sha256(bytes.fromhex(vector["pk"])).hexdigest()


@pytest.mark.parametrize("vector", XWING_DRAFT["vectors"], ids=_xwing_ids)
def test_xwing_decapsulation_gives_the_drafts_shared_secret(vector: dict[str, str]) -> None:
    ss = _xwing_decapsulate(bytes.fromhex(vector["sk"]), bytes.fromhex(vector["ct"]))
    assert ss == bytes.fromhex(vector["ss"])


@pytest.mark.parametrize("vector", XWING_DRAFT["vectors"], ids=_xwing_ids)
def test_xwing_decapsulation_of_a_changed_ciphertext_differs(vector: dict[str, str]) -> None:
    ct = bytes.fromhex(vector["ct"])
    for position in (0, 1087, 1088, 1119):  # first and last byte of ct_M, then of ct_X
        ss = _xwing_decapsulate(bytes.fromhex(vector["sk"]), _flip(ct, position))
        assert ss != bytes.fromhex(vector["ss"])


@pytest.mark.parametrize("vector", XWING_DRAFT["vectors"], ids=_xwing_ids)
def test_xwing_encapsulation_seed_matches_the_ciphertext(vector: dict[str, str]) -> None:
    """Checks the recorded ``eseed`` too: X25519(eseed[32:64], 9) is ct_X and,
    by FIPS 203 Encaps (K, r) = G(m || H(ek)), SHA3-512(eseed[0:32] ||
    SHA3-256(pk_M))[:32] is the ML-KEM shared secret that decapsulation finds."""
    eseed, ct, pk = (bytes.fromhex(vector[k]) for k in ("eseed", "ct", "pk"))
    ephemeral = x25519.X25519PrivateKey.from_private_bytes(eseed[32:])
    assert ephemeral.public_key().public_bytes_raw() == ct[1088:]
    expanded = hashlib.shake_256(bytes.fromhex(vector["sk"])).digest(96)
    ss_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]).decapsulate(ct[:1088])
    assert hashlib.sha3_512(eseed[:32] + hashlib.sha3_256(pk[:1184]).digest()).digest()[:32] == ss_m


# --------------------------------------------------------------------------
# Known-answer envelope vectors


def test_vector_file_covers_the_required_shapes() -> None:
    vectors = ENVELOPE_V1["vectors"]
    assert (VECTORS / "envelope-v1.json").stat().st_size < 1_500_000
    recipient_counts = {len(v["recipients"]) for v in vectors}
    assert {1, 3} <= recipient_counts
    assert {v["expected"]["sealed_by"] for v in vectors} == {"server", "browser"}
    assert {v["expected"]["reply_key"] is None for v in vectors} == {True, False}
    sizes = {a["size"] for v in vectors for a in v["expected"]["attachments"]}
    assert {0, 1, CHUNK, CHUNK + 1} <= sizes
    text = json.dumps([v["expected"]["report"] for v in vectors], ensure_ascii=False)
    for sample in ("威胁", "𠮷", "👨\u200d👩\u200d👧", "🇨🇦", "ئۇيغۇرچە"):
        assert sample in text
    assert any(v["expected"]["body_size"] > 1024 for v in vectors)  # one body past the minimum


@pytest.mark.parametrize("vector", ENVELOPE_V1["vectors"], ids=_vector_id)
def test_vector_keys_are_consistent(vector: dict[str, Any]) -> None:
    for recipient in vector["recipients"]:
        key = RecipientPrivateKey(bytes.fromhex(recipient["seed"]))
        assert base64.b64encode(key.public_key.raw).decode() == recipient["public_key"]
        assert key.key_id == recipient["key_id"]
    header = parse_header(vector["sealed"]["header"].encode("ascii"))
    assert list(header.key_ids) == [r["key_id"] for r in vector["recipients"]]


@pytest.mark.parametrize("vector", ENVELOPE_V1["vectors"], ids=_vector_id)
def test_vector_opens_with_each_recipient_key(vector: dict[str, Any]) -> None:
    sealed = _vector_envelope(vector)
    expected = vector["expected"]
    for recipient in vector["recipients"]:
        opened = open_envelope(sealed, [RecipientPrivateKey(bytes.fromhex(recipient["seed"]))])
        header = opened.header
        assert header.envelope_id == expected["envelope_id"]
        assert header.sealed_by == expected["sealed_by"]
        assert header.day.isoformat() == expected["day"]
        assert header.body_size == expected["body_size"]
        assert [{"size": s.size, "chunk": s.chunk} for s in header.attachments] == expected[
            "attachment_slots"
        ]
        reply = base64.b64encode(header.reply_key).decode() if header.reply_key is not None else None
        assert reply == expected["reply_key"]
        assert opened.report == expected["report"]
        assert len(opened.attachments) == len(expected["attachments"])
        for got, want in zip(opened.attachments, expected["attachments"], strict=True):
            assert got.name == want["name"]
            assert got.media_type == want["type"]
            assert len(got.data) == want["size"]
            assert got.sha256 == want["sha256"] == hashlib.sha256(got.data).hexdigest()
            assert got.data == base64.b64decode(want["data_base64"], validate=True)
        derived = expected["derived"]
        assert opened.content_key.hex() == derived["content_key"]
        assert body_key(opened.content_key, header.envelope_id).hex() == derived["body_key"]
        assert [
            attachment_key(opened.content_key, header.envelope_id, i).hex()
            for i in range(len(header.attachments))
        ] == derived["attachment_keys"]
        assert header.digest.hex() == derived["header_sha256"]


@pytest.mark.parametrize("vector", ENVELOPE_V1["vectors"], ids=_vector_id)
def test_vector_rejects_an_outsider(vector: dict[str, Any], outsider: RecipientPrivateKey) -> None:
    with pytest.raises(NotARecipientError):
        open_envelope(_vector_envelope(vector), [outsider])


# An opener written from docs/envelope.md with bare primitives (no
# core.envelope code): if it and the library both open the vectors, the
# spec says what the code does, byte for byte.

_HPKE_SUITE_ID = (
    b"HPKE" + (0x647A).to_bytes(2, "big") + (0x0001).to_bytes(2, "big") + (0x0002).to_bytes(2, "big")
)


def _hpke_labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + _HPKE_SUITE_ID + label + ikm, hashlib.sha256).digest()


def _hpke_labeled_expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + _HPKE_SUITE_ID + label + info
    return hmac.new(prk, labeled_info + b"\x01", hashlib.sha256).digest()[:length]  # length <= 32


def _spec_open(vector: dict[str, Any], seed: bytes) -> tuple[dict[str, Any], list[bytes]]:
    header_raw = vector["sealed"]["header"].encode("ascii")
    header = json.loads(header_raw)
    assert json.dumps(header, sort_keys=True, separators=(",", ":")).encode() == header_raw
    envelope_id = bytes.fromhex(header["id"])

    # Recipient key: SHAKE256(seed, 96) -> ML-KEM-768 seed (64) || X25519 scalar (32).
    expanded = hashlib.shake_256(seed).digest(96)
    sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    sk_x = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    pk = sk_m.public_key().public_bytes_raw() + sk_x.public_key().public_bytes_raw()
    kid = hashlib.sha256(pk).hexdigest()
    entry = next(e for e in header["recipients"] if e["kid"] == kid)

    # HPKE base mode, single shot: wrapped = enc (1120) || AES-256-GCM(content key).
    wrapped = base64.b64decode(entry["key"], validate=True)
    enc, ciphertext = wrapped[:1120], wrapped[1120:]
    shared_secret = _xwing_decapsulate(seed, enc)
    info = b"tnr-intake/v1/content-key\x00" + envelope_id + b"\x00" + kid.encode("ascii")
    context = (
        b"\x00"
        + _hpke_labeled_extract(b"", b"psk_id_hash", b"")
        + _hpke_labeled_extract(b"", b"info_hash", info)
    )
    secret = _hpke_labeled_extract(shared_secret, b"secret", b"")
    hpke_key = _hpke_labeled_expand(secret, b"key", context, 32)
    hpke_nonce = _hpke_labeled_expand(secret, b"base_nonce", context, 12)
    content_key = AESGCM(hpke_key).decrypt(hpke_nonce, ciphertext, b"")

    def derive(label: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, salt=envelope_id, info=b"tnr-intake/v1/" + label).derive(content_key)

    # Body: AES-256-GCM, zero nonce, AAD = header bytes; ISO/IEC 7816-4 padding.
    body = base64.b64decode(vector["sealed"]["body"], validate=True)
    assert len(body) == header["body"]["size"] + 16
    padded = AESGCM(derive(b"body")).decrypt(bytes(12), body, header_raw).rstrip(b"\x00")
    assert padded.endswith(b"\x80")
    inner = json.loads(padded[:-1].decode("utf-8"))

    # Attachments: STREAM, nonce = 88-bit counter || last flag, AAD = SHA-256(header).
    files = []
    for index, (slot, meta, sealed) in enumerate(
        zip(header["attachments"], inner["attachments"], vector["sealed"]["attachments"], strict=True)
    ):
        aead = AESGCM(derive(b"attachment" + index.to_bytes(4, "big")))
        data = base64.b64decode(sealed, validate=True)
        step = slot["chunk"] + 16
        pieces = [data[i : i + step] for i in range(0, len(data), step)]
        plain = b"".join(
            aead.decrypt(
                counter.to_bytes(11, "big") + bytes([counter == len(pieces) - 1]),
                piece,
                hashlib.sha256(header_raw).digest(),
            )
            for counter, piece in enumerate(pieces)
        )
        assert len(plain) == slot["size"] and not plain[meta["size"] :].strip(b"\x00")
        files.append(plain[: meta["size"]])
    return inner, files


@pytest.mark.parametrize("vector", ENVELOPE_V1["vectors"], ids=_vector_id)
def test_vector_opens_by_the_spec_alone(vector: dict[str, Any]) -> None:
    for recipient in vector["recipients"]:
        inner, files = _spec_open(vector, bytes.fromhex(recipient["seed"]))
        assert inner["report"] == vector["expected"]["report"]
        want = vector["expected"]["attachments"]
        assert [m["name"] for m in inner["attachments"]] == [a["name"] for a in want]
        assert [m["type"] for m in inner["attachments"]] == [a["type"] for a in want]
        assert [m["sha256"] for m in inner["attachments"]] == [a["sha256"] for a in want]
        assert files == [base64.b64decode(a["data_base64"]) for a in want]


# --------------------------------------------------------------------------
# Round trips


ROUND_TRIP_SHAPES = {
    "empty-report": ({}, [], {}),
    "no-attachments": ({"summary": "x" * 5000, "n": 1, "ok": True, "none": None}, [], {}),
    "chunk-boundaries": (
        {"summary": "boundaries"},
        [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1],
        {},
    ),
    "chunk-1mib": ({"summary": "big chunks"}, [0, 1, MIB - 1, MIB, MIB + 1], {"chunk_size": MIB}),
    "64-attachments": ({"summary": "many"}, [i * 97 for i in range(64)], {}),
    "browser-with-reply-key": ({"summary": "reply to me"}, [10], {"sealed_by": "browser", "reply": True}),
}


@pytest.mark.parametrize("shape", list(ROUND_TRIP_SHAPES), ids=str)
def test_round_trip(shape: str, keys: list[RecipientPrivateKey], reply_key: bytes) -> None:
    report, sizes, options = ROUND_TRIP_SHAPES[shape]
    options = dict(options)
    if options.pop("reply", False):
        options["reply_key"] = reply_key
    attachments = [
        AttachmentInput(f"名前-{i}.bin", f"application/x-test-{i}", os.urandom(size))
        for i, size in enumerate(sizes)
    ]
    sealed = seal(report, _publics(keys), day=DAY, attachments=attachments, **options)

    header = parse_header(sealed.header)
    chunk = options.get("chunk_size", CHUNK)
    assert header.sealed_by == options.get("sealed_by", "server")
    assert header.reply_key == options.get("reply_key")
    assert header.day == DAY
    assert header.body_size >= 1024 and header.body_size == padme(header.body_size)
    assert len(sealed.body) == header.body_size + TAG_SIZE
    assert [(s.size, s.chunk) for s in header.attachments] == [(padme(n), chunk) for n in sizes]
    assert [len(a) for a in sealed.attachments] == [s.ciphertext_size for s in header.attachments]

    for key in keys:
        opened = open_envelope(sealed, [key])
        assert opened.report == report
        assert [(a.name, a.media_type) for a in opened.attachments] == [
            (a.name, a.media_type) for a in attachments
        ]
        assert [a.data for a in opened.attachments] == [a.data for a in attachments]
        assert [a.sha256 for a in opened.attachments] == [
            hashlib.sha256(a.data).hexdigest() for a in attachments
        ]


def test_round_trip_with_max_recipients() -> None:
    many = [RecipientPrivateKey.generate() for _ in range(32)]
    sealed = _seal(many, 3)
    assert open_envelope(sealed, [many[0]]).report == {"summary": "test"}
    assert (
        open_envelope(sealed, [many[-1]]).attachments[0].data
        == open_envelope(sealed, [many[7]]).attachments[0].data
    )


def test_open_with_several_keys_finds_ours(
    keys: list[RecipientPrivateKey], outsider: RecipientPrivateKey
) -> None:
    sealed = _seal(keys[1:2])
    assert open_envelope(sealed, [outsider, keys[0], keys[1]]).report == {"summary": "test"}


def test_streaming_api_matches_open_envelope(keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1], 3 * CHUNK + 5)
    opened = open_envelope(sealed, keys[:1])
    header = parse_header(sealed.header)
    plain = b"".join(open_attachment_chunks(opened.content_key, header, 0, _chunks(sealed, 0)))
    assert plain[: len(opened.attachments[0].data)] == opened.attachments[0].data
    # Re-sealing the same padded plaintext under the same key and header gives the same bytes:
    # the chunk nonces and keys are determined by the header and the index alone.
    resealed = b"".join(
        seal_attachment_chunks(
            opened.content_key, header, 0, (plain[i : i + CHUNK] for i in range(0, len(plain), CHUNK))
        )
    )
    assert resealed == sealed.attachments[0]


def test_two_seals_of_the_same_input_differ(keys: list[RecipientPrivateKey]) -> None:
    attachment = AttachmentInput("a.bin", "application/octet-stream", b"same bytes")
    first = seal({"s": "same"}, _publics(keys[:1]), day=DAY, attachments=[attachment])
    second = seal({"s": "same"}, _publics(keys[:1]), day=DAY, attachments=[attachment])
    assert first.envelope_id != second.envelope_id
    assert first.body != second.body
    assert first.attachments[0] != second.attachments[0]


def test_cleartext_holds_no_plaintext(keys: list[RecipientPrivateKey]) -> None:
    canary = "CANARY-7f3a9c-报告"
    data = canary.encode() * 50
    sealed = seal(
        {"summary": canary},
        _publics(keys[:1]),
        day=DAY,
        attachments=[AttachmentInput(f"{canary}.txt", "text/x-canary", data)],
    )
    header = json.loads(sealed.header)
    assert set(header) == {
        "v",
        "id",
        "suite",
        "sealed_by",
        "day",
        "recipients",
        "body",
        "attachments",
        "reply_key",
    }
    assert header["attachments"] == [{"size": padme(len(data)), "chunk": CHUNK}]  # not the real size
    for blob in (sealed.header, sealed.body, *sealed.attachments):
        for needle in (
            canary.encode(),
            b"CANARY",
            b"text/x-canary",
            hashlib.sha256(data).hexdigest().encode(),
        ):
            assert needle not in blob


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sealed_by": "phone"}, "sealed_by"),
        ({"chunk_size": CHUNK - 1}, "chunk size"),
        ({"chunk_size": MIB + 1}, "chunk size"),
        ({"reply_key": bytes(1215)}, "reply key"),
        ({"attachments": [AttachmentInput("a", "b", b"")] * 65}, "attachments"),
    ],
)
def test_seal_refuses_bad_arguments(
    kwargs: dict[str, Any], message: str, keys: list[RecipientPrivateKey]
) -> None:
    with pytest.raises(EnvelopeError, match=message):
        seal({}, _publics(keys[:1]), day=DAY, **kwargs)


def test_seal_refuses_bad_recipient_lists(keys: list[RecipientPrivateKey]) -> None:
    with pytest.raises(EnvelopeError, match="recipients"):
        seal({}, [], day=DAY)
    with pytest.raises(EnvelopeError, match="twice"):
        seal({}, [keys[0].public_key, keys[0].public_key], day=DAY)
    with pytest.raises(EnvelopeError, match="recipients"):
        seal({}, [RecipientPrivateKey.generate().public_key for _ in range(33)], day=DAY)


# --------------------------------------------------------------------------
# Tampering: bit flips


def test_every_header_bit_flip_fails(keys: list[RecipientPrivateKey], reply_key: bytes) -> None:
    """All 8 bits of every header byte; the opener is the second recipient so
    flips in the first recipient's entry are caught by the body's AAD."""
    sealed = _seal(keys[:2], 5, reply_key=reply_key)
    seen: set[type[EnvelopeError]] = set()
    for position in range(len(sealed.header)):
        for bit in range(8):
            flipped = replace(sealed, header=_flip(sealed.header, position, bit))
            with pytest.raises(EnvelopeErrors) as caught:
                open_envelope(flipped, [keys[1]])
            seen.add(type(caught.value))
    # Structure errors, authentication errors and changed key ids all occur.
    assert seen == {MalformedEnvelopeError, TamperedEnvelopeError, NotARecipientError}


def test_every_body_bit_flip_is_tampering(keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1], 5)
    assert len(sealed.body) > 1024
    for position in range(len(sealed.body)):
        with pytest.raises(TamperedEnvelopeError):
            open_envelope(replace(sealed, body=_flip(sealed.body, position, position % 8)), keys[:1])


def test_attachment_bit_flips_are_tampering(keys: list[RecipientPrivateKey]) -> None:
    """Every byte of the small attachments; for the two-chunk one, both ends of
    each chunk and tag and a random sample in between."""
    sizes = (0, 1, 100, CHUNK + 1)
    sealed = _seal(keys[:1], *sizes)
    rng = random.Random(1)  # noqa: S311 - reproducible positions, not keys
    for index, data in enumerate(sealed.attachments):
        if len(data) <= 1024:
            positions = set(range(len(data)))
        else:
            step = CHUNK + TAG_SIZE
            edges = {0, len(data) - 1}
            for start in range(0, len(data), step):
                end = min(start + step, len(data))
                edges |= {start, start + 1, end - TAG_SIZE - 1, end - TAG_SIZE, end - 1}
            positions = edges | set(rng.sample(range(len(data)), 200))
        for position in sorted(positions):
            flipped = _with_attachment(sealed, index, _flip(data, position, position % 8))
            with pytest.raises(TamperedEnvelopeError):
                open_envelope(flipped, keys[:1])


def test_recipient_key_bit_flips_are_tampering(keys: list[RecipientPrivateKey]) -> None:
    """Flips inside the wrapped content key, decoded: the HPKE enc (ML-KEM and
    X25519 parts) and the sealed content key and its tag."""
    sealed = _seal(keys[:1])
    wrapped = base64.b64decode(json.loads(sealed.header)["recipients"][0]["key"])
    for position in (0, 500, 1087, 1088, 1119, 1120, 1151, 1152, 1167):

        def edit(doc: dict[str, Any], position: int = position) -> None:
            doc["recipients"][0]["key"] = base64.b64encode(_flip(wrapped, position)).decode()

        with pytest.raises(TamperedEnvelopeError):
            open_envelope(_with_header(sealed, edit), keys[:1])


# --------------------------------------------------------------------------
# Tampering: truncation, reordering, swapping, replay


@pytest.fixture(scope="module")
def three_chunks(keys: list[RecipientPrivateKey]) -> SealedEnvelope:
    """One recipient (keys[0]); attachment 0 is 2 chunks + 1 byte (padded to 3 chunks)."""
    sealed = _seal(keys[:1], 2 * CHUNK + 1)
    assert parse_header(sealed.header).attachments[0].chunk_count == 3
    return sealed


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda chunks: b"".join(chunks[:-1]), id="drop-last-chunk"),
        pytest.param(lambda chunks: b"".join(chunks)[: CHUNK + TAG_SIZE + 100], id="cut-mid-chunk"),
        pytest.param(lambda chunks: b"".join(chunks)[:-1], id="cut-one-byte"),
        pytest.param(lambda chunks: b"", id="empty"),
        pytest.param(lambda chunks: b"".join(chunks) + chunks[-1], id="append-copy-of-last"),
        pytest.param(lambda chunks: b"".join(chunks) + bytes(TAG_SIZE), id="append-empty-chunk"),
        pytest.param(lambda chunks: b"".join([chunks[1], chunks[0], chunks[2]]), id="swap-chunks-0-1"),
        pytest.param(lambda chunks: b"".join([chunks[0], chunks[0], chunks[2]]), id="repeat-chunk-0"),
    ],
)
def test_attachment_stream_edits_are_tampering(
    cut: Callable[[list[bytes]], bytes], three_chunks: SealedEnvelope, keys: list[RecipientPrivateKey]
) -> None:
    edited = _with_attachment(three_chunks, 0, cut(_chunks(three_chunks, 0)))
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(edited, keys[:1])


def test_stream_detects_truncation_and_reordering_without_the_length_check(
    three_chunks: SealedEnvelope, keys: list[RecipientPrivateKey]
) -> None:
    """The STREAM counter and last flag catch what the length check would, for
    a reader that gets chunks one by one."""
    content_key = open_envelope(three_chunks, keys[:1]).content_key
    header = parse_header(three_chunks.header)
    chunks = _chunks(three_chunks, 0)
    cases = {
        "dropped last chunk": chunks[:2],
        "dropped middle chunk": [chunks[0], chunks[2]],
        "reordered": [chunks[1], chunks[0], chunks[2]],
        "extra chunk": [*chunks, chunks[2]],
        "nothing": [],
    }
    for stream in cases.values():
        with pytest.raises(TamperedEnvelopeError):
            list(open_attachment_chunks(content_key, header, 0, stream))
    with pytest.raises(MalformedEnvelopeError):
        list(open_attachment_chunks(content_key, header, 1, chunks))


def test_authentic_chunk_after_the_last_is_refused(
    three_chunks: SealedEnvelope, keys: list[RecipientPrivateKey]
) -> None:
    """A chunk that does authenticate (made with the content key, at the next
    counter) may still not follow the last one."""
    content_key = open_envelope(three_chunks, keys[:1]).content_key
    header = parse_header(three_chunks.header)
    aead = AESGCM(attachment_key(content_key, header.envelope_id, 0))
    extra = aead.encrypt((3).to_bytes(11, "big") + b"\x00", b"more", header.digest)
    with pytest.raises(TamperedEnvelopeError, match="after its last chunk"):
        list(open_attachment_chunks(content_key, header, 0, [*_chunks(three_chunks, 0), extra]))


def test_last_chunk_flag_is_checked(keys: list[RecipientPrivateKey]) -> None:
    """A non-final chunk presented as final (the header said one chunk, the
    attacker serves the first chunk of a longer stream) fails."""
    sealed = _seal(keys[:1], 2 * CHUNK)
    opened = open_envelope(sealed, keys[:1])
    header = parse_header(sealed.header)
    aead = AESGCM(attachment_key(opened.content_key, header.envelope_id, 0))
    first = _chunks(sealed, 0)[0]
    aad = header.digest
    aead.decrypt(bytes(11) + b"\x00", first, aad)  # authentic as a non-final chunk
    with pytest.raises(InvalidTag):
        aead.decrypt(bytes(11) + b"\x01", first, aad)


def test_attachment_swapped_between_envelopes_is_tampering(keys: list[RecipientPrivateKey]) -> None:
    first = _seal(keys[:1], 300)
    second = _seal(keys[:1], 300)
    assert len(first.attachments[0]) == len(second.attachments[0])
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_attachment(first, 0, second.attachments[0]), keys[:1])


def test_attachments_swapped_within_an_envelope_are_tampering(keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1], 300, 300)
    swapped = replace(sealed, attachments=(sealed.attachments[1], sealed.attachments[0]))
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(swapped, keys[:1])


def test_attachment_count_must_match_the_header(keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1], 10, 10)
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(replace(sealed, attachments=sealed.attachments[:1]), keys[:1])
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(replace(sealed, attachments=(*sealed.attachments, sealed.attachments[0])), keys[:1])


def test_body_swapped_between_envelopes_is_tampering(keys: list[RecipientPrivateKey]) -> None:
    first, second = _seal(keys[:1]), _seal(keys[:1])
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(replace(first, body=second.body), keys[:1])


def test_recipient_entry_copied_from_another_envelope_is_tampering(keys: list[RecipientPrivateKey]) -> None:
    first, second = _seal(keys[:2]), _seal(keys[:2])
    entry = json.loads(second.header)["recipients"][0]

    def edit(doc: dict[str, Any]) -> None:
        doc["recipients"][0] = entry

    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(first, edit), keys[:1])
    # The other recipient still finds its own entry, but the header changed: the body fails.
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(first, edit), keys[1:2])


def test_recipient_entry_relabelled_to_another_key_is_tampering(keys: list[RecipientPrivateKey]) -> None:
    """Entry for key 0 given key 1's id: HPKE info binds the key id."""
    sealed = _seal(keys[:1])

    def edit(doc: dict[str, Any]) -> None:
        doc["recipients"][0]["kid"] = keys[1].key_id

    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(sealed, edit), keys[1:2])


@pytest.mark.parametrize(
    ("edit", "opener", "error"),
    [
        pytest.param(lambda d: d["recipients"].pop(2), 0, TamperedEnvelopeError, id="remove-another"),
        pytest.param(lambda d: d["recipients"].pop(0), 0, NotARecipientError, id="remove-the-opener"),
        pytest.param(lambda d: d["recipients"].reverse(), 0, TamperedEnvelopeError, id="reorder"),
        pytest.param(
            lambda d: d.update(sealed_by="browser"), 0, TamperedEnvelopeError, id="sealed-by-browser"
        ),
        pytest.param(lambda d: d.update(day="2025-03-15"), 0, TamperedEnvelopeError, id="day"),
        pytest.param(lambda d: d.update(id="0" * 32), 0, TamperedEnvelopeError, id="envelope-id"),
        pytest.param(
            lambda d: d["attachments"][0].update(chunk=2 * CHUNK), 0, TamperedEnvelopeError, id="chunk"
        ),
        pytest.param(lambda d: d["body"].update(size=2048), 0, MalformedEnvelopeError, id="body-size"),
        pytest.param(lambda d: d["attachments"][0].update(size=16), 0, TamperedEnvelopeError, id="slot-size"),
        pytest.param(lambda d: d["attachments"].pop(), 0, TamperedEnvelopeError, id="drop-slot"),
    ],
)
def test_header_edits_are_caught(
    edit: Callable[[dict[str, Any]], None],
    opener: int,
    error: type[EnvelopeError],
    keys: list[RecipientPrivateKey],
) -> None:
    sealed = _seal(keys, 10)
    with pytest.raises(error):
        open_envelope(_with_header(sealed, edit), [keys[opener]])


def test_adding_or_removing_a_reply_key_is_tampering(
    keys: list[RecipientPrivateKey], reply_key: bytes
) -> None:
    without, with_key = _seal(keys[:1]), _seal(keys[:1], reply_key=reply_key)
    other = base64.b64encode(RecipientPrivateKey.generate().public_key.raw).decode()
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(without, lambda d: d.update(reply_key=other)), keys[:1])
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(with_key, lambda d: d.update(reply_key=None)), keys[:1])
    with pytest.raises(TamperedEnvelopeError):
        open_envelope(_with_header(with_key, lambda d: d.update(reply_key=other)), keys[:1])


def test_wrong_recipient_key(keys: list[RecipientPrivateKey], outsider: RecipientPrivateKey) -> None:
    sealed = _seal(keys[:2], 1)
    with pytest.raises(NotARecipientError):
        open_envelope(sealed, [outsider])
    with pytest.raises(NotARecipientError):
        open_envelope(sealed, [])
    with pytest.raises(NotARecipientError):
        open_envelope(sealed, [keys[2]])


# --------------------------------------------------------------------------
# Malformed headers


@pytest.fixture(scope="module")
def plain_envelope(keys: list[RecipientPrivateKey]) -> SealedEnvelope:
    """One recipient (keys[0]), one attachment, no reply key."""
    return _seal(keys[:1], 10)


def _raw_edit(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(raw: bytes) -> bytes:
        assert raw.count(old) == 1
        return raw.replace(old, new)

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda raw: raw.replace(b'":', b'": '), id="space-after-colon"),
        pytest.param(lambda raw: raw.replace(b",", b", ", 1), id="space-after-comma"),
        pytest.param(lambda raw: b" " + raw, id="leading-space"),
        pytest.param(lambda raw: raw + b"\n", id="trailing-newline"),
        pytest.param(lambda raw: json.dumps(json.loads(raw), indent=2, sort_keys=True).encode(), id="pretty"),
        pytest.param(lambda raw: json.dumps(json.loads(raw)).encode(), id="default-separators"),
        pytest.param(
            lambda raw: json.dumps(
                dict(reversed(list(json.loads(raw).items()))), separators=(",", ":")
            ).encode(),
            id="reordered-keys",
        ),
        pytest.param(
            lambda raw: re.sub(rb'\{"key":("[^"]*"),"kid":("[0-9a-f]{64}")\}', rb'{"kid":\2,"key":\1}', raw),
            id="reordered-keys-in-recipient",
        ),
        pytest.param(_raw_edit(b'"v":1', b'"v":1.0'), id="v-as-float"),
        pytest.param(_raw_edit(b'"sealed_by":"server"', b'"sealed_by":"\\u0073erver"'), id="escaped-letter"),
        pytest.param(_raw_edit(b'"size":1024', b'"size":1024.0'), id="size-as-float"),
        pytest.param(_raw_edit(b'"size":1024', b'"size":1.024e3'), id="size-exponent"),
    ],
)
def test_non_canonical_header_is_malformed(
    edit: Callable[[bytes], bytes], plain_envelope: SealedEnvelope, keys: list[RecipientPrivateKey]
) -> None:
    raw = plain_envelope.header
    edited = edit(raw)
    assert edited != raw
    with pytest.raises(MalformedEnvelopeError):
        parse_header(edited)
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(replace(plain_envelope, header=edited), keys[:1])


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_raw_edit(b'"v":1}', b'"v":1,"v":1}'), id="top-level"),
        pytest.param(_raw_edit(b'"day":', b'"day":"2025-03-14","day":'), id="day-twice"),
        pytest.param(_raw_edit(b'{"size":1024}', b'{"size":1024,"size":1024}'), id="in-body"),
        pytest.param(
            lambda raw: raw.replace(b'{"key":', b'{"kid":"' + b"a" * 64 + b'","key":', 1), id="in-recipient"
        ),
    ],
)
def test_duplicate_json_keys_are_malformed(
    edit: Callable[[bytes], bytes], plain_envelope: SealedEnvelope
) -> None:
    # Refused by name, not only because the re-serialized header would differ.
    with pytest.raises(MalformedEnvelopeError, match="duplicate"):
        parse_header(edit(plain_envelope.header))


def _set_wrapped(length: int) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["recipients"][0].update(key=base64.b64encode(bytes(length)).decode())


@pytest.mark.parametrize(
    "edit",
    [
        # unknown or missing fields
        pytest.param(lambda d: d.update(extra=1), id="unknown-top-level-field"),
        pytest.param(lambda d: d.update(ip="127.0.0.1"), id="unknown-field-ip"),
        pytest.param(lambda d: d.pop("reply_key"), id="missing-reply-key"),
        pytest.param(lambda d: d.pop("day"), id="missing-day"),
        pytest.param(lambda d: d["recipients"][0].update(alg="x"), id="unknown-recipient-field"),
        pytest.param(lambda d: d["recipients"][0].pop("kid"), id="missing-kid"),
        pytest.param(lambda d: d["body"].update(name="x"), id="unknown-body-field"),
        pytest.param(lambda d: d["attachments"][0].update(name="x.jpg"), id="unknown-slot-field"),
        pytest.param(lambda d: d["attachments"][0].pop("chunk"), id="missing-chunk"),
        # values
        pytest.param(lambda d: d.update(v=3), id="version-3"),
        pytest.param(lambda d: d.update(v=True), id="version-true"),
        pytest.param(lambda d: d.update(v="1"), id="version-string"),
        pytest.param(lambda d: d.update(suite="XWING-HKDFSHA256-CHACHA20POLY1305"), id="suite"),
        pytest.param(lambda d: d.update(sealed_by="phone"), id="sealed-by"),
        pytest.param(lambda d: d.update(sealed_by=None), id="sealed-by-null"),
        pytest.param(lambda d: d.update(day="2025-02-30"), id="day-not-a-date"),
        pytest.param(lambda d: d.update(day="2025-3-14"), id="day-short"),
        pytest.param(lambda d: d.update(day="2025-03-14T10:00:00"), id="day-with-time"),
        pytest.param(lambda d: d.update(day=20250314), id="day-number"),
        pytest.param(lambda d: d.update(id=d["id"].upper()), id="id-uppercase"),
        pytest.param(lambda d: d.update(id=d["id"][:-2]), id="id-short"),
        pytest.param(lambda d: d.update(id=d["id"] + "00"), id="id-long"),
        pytest.param(lambda d: d.update(recipients=[]), id="no-recipients"),
        pytest.param(lambda d: d.update(recipients=d["recipients"] * 2), id="recipient-twice"),
        pytest.param(lambda d: d.update(recipients=d["recipients"][0]), id="recipients-not-a-list"),
        pytest.param(lambda d: d["recipients"][0].update(kid=d["recipients"][0]["kid"][:-1]), id="kid-short"),
        pytest.param(
            lambda d: d["recipients"][0].update(kid=d["recipients"][0]["kid"].upper()), id="kid-uppercase"
        ),
        pytest.param(lambda d: d["body"].update(size=1023), id="body-below-minimum"),
        pytest.param(lambda d: d["body"].update(size=-1), id="body-negative"),
        pytest.param(lambda d: d["body"].update(size=True), id="body-size-true"),
        pytest.param(lambda d: d["body"].update(size="1024"), id="body-size-string"),
        pytest.param(lambda d: d["body"].update(size=2**40 + 1), id="body-too-large"),
        pytest.param(lambda d: d["attachments"][0].update(chunk=CHUNK - 1), id="chunk-too-small"),
        pytest.param(lambda d: d["attachments"][0].update(chunk=MIB + 1), id="chunk-too-large"),
        pytest.param(lambda d: d["attachments"][0].update(size=-1), id="slot-negative"),
        pytest.param(lambda d: d.update(attachments=d["attachments"] * 65), id="65-attachments"),
        pytest.param(lambda d: d.update(attachments={}), id="attachments-not-a-list"),
        # base64 and lengths
        pytest.param(
            lambda d: d["recipients"][0].update(key=d["recipients"][0]["key"][:-4]), id="key-short-b64"
        ),
        pytest.param(
            lambda d: d["recipients"][0].update(key=d["recipients"][0]["key"] + "AAAA"), id="key-long-b64"
        ),
        pytest.param(
            lambda d: d["recipients"][0].update(key="!" + d["recipients"][0]["key"][1:]), id="key-bad-char"
        ),
        pytest.param(
            lambda d: d["recipients"][0].update(
                key=d["recipients"][0]["key"].replace("+", "-").replace("/", "_")
            ),
            id="key-urlsafe-alphabet",
        ),
        pytest.param(
            lambda d: d["recipients"][0].update(
                key=d["recipients"][0]["key"][:100] + "\n" + d["recipients"][0]["key"][100:]
            ),
            id="key-with-newline",
        ),
        pytest.param(
            lambda d: d["recipients"][0].update(key=d["recipients"][0]["key"].rstrip("=")),
            id="key-no-padding",
        ),
        pytest.param(lambda d: d["recipients"][0].update(key=None), id="key-null"),
        pytest.param(_set_wrapped(1167), id="key-1167-bytes"),
        pytest.param(_set_wrapped(1169), id="key-1169-bytes"),
        pytest.param(
            lambda d: d.update(reply_key=base64.b64encode(bytes(1215)).decode()), id="reply-key-1215"
        ),
        pytest.param(
            lambda d: d.update(reply_key=base64.b64encode(bytes(1217)).decode()), id="reply-key-1217"
        ),
        pytest.param(lambda d: d.update(reply_key="not base64!"), id="reply-key-bad-base64"),
        pytest.param(lambda d: d.update(reply_key=""), id="reply-key-empty"),
    ],
)
def test_bad_header_fields_are_malformed(
    edit: Callable[[dict[str, Any]], None], plain_envelope: SealedEnvelope, keys: list[RecipientPrivateKey]
) -> None:
    edited = _with_header(plain_envelope, edit)
    with pytest.raises(MalformedEnvelopeError):
        parse_header(edited.header)
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(edited, keys[:1])


def test_non_canonical_base64_padding_bits_are_malformed(plain_envelope: SealedEnvelope) -> None:
    """1168 bytes = 389 * 3 + 1: the base64 ends in '==' and its last letter
    carries 4 unused bits. Setting one keeps the decoded bytes (a lax decoder
    accepts it) but not the encoding, so the header has two spellings."""
    doc = json.loads(plain_envelope.header)
    key = doc["recipients"][0]["key"]
    assert key.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(key[-3])
    assert last & 0b1111 == 0
    doc["recipients"][0]["key"] = key[:-3] + alphabet[last | 1] + "=="
    assert doc["recipients"][0]["key"] != key
    assert base64.b64decode(doc["recipients"][0]["key"]) == base64.b64decode(key)
    with pytest.raises(MalformedEnvelopeError, match="canonical"):
        parse_header(canonical_json(doc))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[]", id="list"),
        pytest.param(b'"v"', id="string"),
        pytest.param(b"{", id="truncated"),
        pytest.param('{"v":"é"}'.encode(), id="non-ascii"),
        pytest.param(b"\xef\xbb\xbf{}", id="bom"),
        pytest.param(b"{" + b" " * (128 * 1024) + b"}", id="too-large"),
        pytest.param(b"[" * 100_000, id="nested-list"),
        pytest.param(b'{"v":' * 20_000, id="nested-object"),
    ],
)
def test_header_that_is_not_a_v1_object_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEnvelopeError):
        parse_header(raw)


def test_header_must_be_bytes(plain_envelope: SealedEnvelope) -> None:
    with pytest.raises(MalformedEnvelopeError):
        parse_header(plain_envelope.header.decode("ascii"))  # type: ignore[arg-type]


def test_wrong_ciphertext_lengths(plain_envelope: SealedEnvelope, keys: list[RecipientPrivateKey]) -> None:
    # The body's length is fixed by the header: a wrong one is a structure error.
    for body in (plain_envelope.body[:-1], plain_envelope.body + b"\x00", b""):
        with pytest.raises(MalformedEnvelopeError):
            open_envelope(replace(plain_envelope, body=body), keys[:1])
    # An attachment of the wrong length is treated as truncated or extended.
    data = plain_envelope.attachments[0]
    for edited in (data[:-1], data + b"\x00", b""):
        with pytest.raises(TamperedEnvelopeError):
            open_envelope(_with_attachment(plain_envelope, 0, edited), keys[:1])


# --------------------------------------------------------------------------
# Malformed plaintext from a sealer holding the content key (a buggy or
# hostile client): authentic, but not a v1 body or attachment.


def _reseal_body(sealed: SealedEnvelope, content_key: bytes, plaintext: bytes) -> SealedEnvelope:
    header = parse_header(sealed.header)
    assert len(plaintext) == header.body_size
    body = AESGCM(body_key(content_key, header.envelope_id)).encrypt(bytes(12), plaintext, sealed.header)
    return replace(sealed, body=body)


def _padded(text: bytes, size: int = 1024) -> bytes:
    return text + b"\x80" + bytes(size - len(text) - 1)


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(bytes(1024), id="all-zero"),
        pytest.param(b'{"report":{},"attachments":[]}' + bytes(994), id="no-0x80"),
        pytest.param(b'{"report":{},"attachments":[]}\x80\x01' + bytes(992), id="junk-after-0x80"),
        pytest.param(_padded(b"\xff\xfe"), id="not-utf8"),
        pytest.param(_padded(b"not json"), id="not-json"),
        pytest.param(_padded(b"[]"), id="not-an-object"),
        pytest.param(_padded(b'{"report":{}}'), id="missing-attachments"),
        pytest.param(_padded(b'{"report":[],"attachments":[]}'), id="report-not-an-object"),
        pytest.param(_padded(b'{"report":{},"attachments":[],"x":1}'), id="extra-field"),
    ],
)
def test_authentic_but_malformed_body(plaintext: bytes, keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1])
    content_key = open_envelope(sealed, keys[:1]).content_key
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(_reseal_body(sealed, content_key, plaintext), keys[:1])


@pytest.mark.parametrize(
    "report_json",
    [
        pytest.param(b"[" * 200_000 + b"]" * 200_000, id="nested-200000-deep"),
        pytest.param(b'{"a":' * 17 + b"1" + b"}" * 17, id="nested-17-deep"),
        pytest.param(b'{"narrative":"\\ud800"}', id="lone-surrogate"),
        pytest.param(b'{"narrative":NaN}', id="nan"),
        pytest.param(b'{"n":[1e999]}', id="infinity"),
    ],
)
def test_hostile_but_authentic_body_is_malformed_not_a_crash(
    report_json: bytes, keys: list[RecipientPrivateKey]
) -> None:
    """Anyone can seal to the public key: a body that would crash or wedge a
    console's storage must be refused as malformed, like any other."""
    sealed = seal({"narrative": "x" * 500_000}, [keys[0].public_key], day=date(2026, 1, 1))
    content_key = open_envelope(sealed, keys[:1]).content_key
    text = b'{"attachments":[],"report":' + report_json + b"}"
    size = parse_header(sealed.header).body_size
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(_reseal_body(sealed, content_key, _padded(text, size)), keys[:1])


@pytest.mark.parametrize(
    "meta",
    [
        pytest.param([], id="count-differs"),
        pytest.param([{"name": "a", "type": "b", "size": 11, "sha256": "0" * 64}], id="size-exceeds-slot"),
        pytest.param([{"name": "a", "type": "b", "size": 5, "sha256": "0" * 64}], id="size-padme-differs"),
        pytest.param([{"name": 1, "type": "b", "size": 10, "sha256": "0" * 64}], id="name-not-string"),
        pytest.param([{"name": "a", "type": "b", "sha256": "0" * 64}], id="size-missing"),
    ],
)
def test_attachment_metadata_must_match_the_header(meta: list[Any], keys: list[RecipientPrivateKey]) -> None:
    sealed = _seal(keys[:1], 10)
    content_key = open_envelope(sealed, keys[:1]).content_key
    text = json.dumps({"report": {}, "attachments": meta}, separators=(",", ":")).encode()
    with pytest.raises(MalformedEnvelopeError):
        open_body(
            parse_header(sealed.header), _reseal_body(sealed, content_key, _padded(text)).body, content_key
        )


def test_attachment_digest_and_padding_are_checked(keys: list[RecipientPrivateKey]) -> None:
    data = b"evidence!"  # 9 bytes, padded to 10
    sealed = seal({}, _publics(keys[:1]), day=DAY, attachments=[AttachmentInput("a", "b", data)])
    opened = open_envelope(sealed, keys[:1])
    header = parse_header(sealed.header)

    def reseal_attachment(padded: bytes) -> SealedEnvelope:
        chunk = b"".join(seal_attachment_chunks(opened.content_key, header, 0, [padded]))
        return _with_attachment(sealed, 0, chunk)

    assert open_envelope(reseal_attachment(data + b"\x00"), keys[:1]).attachments[0].data == data
    with pytest.raises(MalformedEnvelopeError, match="padding"):
        open_envelope(reseal_attachment(data + b"\x01"), keys[:1])
    with pytest.raises(MalformedEnvelopeError, match="digest"):
        open_envelope(reseal_attachment(b"Evidence!" + b"\x00"), keys[:1])


# --------------------------------------------------------------------------
# Padmé (Nikitin et al., PETS 2019, Algorithm 1)


@pytest.mark.parametrize(
    ("length", "padded"),
    [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 4),
        (8, 8),
        (9, 10),  # E=3, S=2: last bit cleared
        (17, 18),  # E=4, S=3
        (33, 36),  # E=5, S=3
        (100, 104),  # E=6, S=3
        (129, 144),  # E=7, S=3
        (1000, 1024),  # E=9, S=4
        (1025, 1088),  # E=10, S=4: multiple of 64
        (CHUNK, CHUNK),
        (CHUNK + 1, 67584),  # E=16, S=5: multiple of 2048
        (MIB + 1, 1081344),  # E=20, S=5: multiple of 32768
    ],
)
def test_padme_known_values(length: int, padded: int) -> None:
    assert padme(length) == padded


def _padme_reference(length: int) -> int:
    """Algorithm 1 of the PURBs paper, with logarithms written out."""
    if length < 2:
        return length
    e = math.floor(math.log2(length))
    s = math.floor(math.log2(e)) + 1
    last_bits = e - s
    bit_mask = (1 << last_bits) - 1
    return (length + bit_mask) & ~bit_mask


def test_padme_bounds_and_monotonic() -> None:
    previous = 0
    for length in range(1, 1 << 17):
        padded = padme(length)
        assert padded >= length
        assert padded >= previous
        assert (padded - length) <= 0.12 * length
        assert padme(padded) == padded
        previous = padded
    rng = random.Random(7)  # noqa: S311 - reproducible lengths, not keys
    for length in [rng.randrange(1 << 17, 1 << 40) for _ in range(2000)] + [2**k + 1 for k in range(17, 41)]:
        padded = padme(length)
        assert length <= padded <= 1.12 * length
        assert padded == _padme_reference(length)
    for length in range(2, 5000):
        assert padme(length) == _padme_reference(length)


def test_padme_leaks_few_sizes() -> None:
    """Between 64 KiB and 128 KiB only 2**(S) = 32 padded sizes exist."""
    assert len({padme(n) for n in range(CHUNK + 1, 2 * CHUNK + 1)}) == 32


def test_padme_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        padme(-1)


# --------------------------------------------------------------------------
# Key files


TODAY = date(2025, 6, 1)


def _public_doc(key: RecipientPrivateKey, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        PublicKeyFile(
            recipient_id="org-a",
            name_en="Organization A",
            name_zh="甲组织",
            public_key=key.public_key,
            created=TODAY - timedelta(days=30),
            expires=TODAY + timedelta(days=365),
        ).to_json()
    )
    doc.update(changes)
    return doc


def test_public_key_file_round_trip(keys: list[RecipientPrivateKey]) -> None:
    text = json.dumps(_public_doc(keys[0]))
    parsed = parse_public_key_file(text, "org-a.json", TODAY)
    assert parsed.public_key == keys[0].public_key
    assert parsed.key_id == keys[0].key_id
    assert parsed.fingerprint.replace(" ", "") == keys[0].key_id
    assert len(parsed.fingerprint.split(" ")) == 16
    assert (parsed.recipient_id, parsed.name_en, parsed.name_zh) == ("org-a", "Organization A", "甲组织")
    assert parsed.retired is False
    assert parse_public_key_file(parsed.to_json(), "org-a.json", TODAY) == parsed
    # A key is still good on its last day.
    last_day = _public_doc(keys[0], expires=TODAY.isoformat())
    assert parse_public_key_file(json.dumps(last_day), "org-a.json", TODAY).expires == TODAY


def test_public_key_file_nested_thousands_deep_is_not_json() -> None:
    with pytest.raises(KeyFileError, match="org-a.json: not JSON"):
        parse_public_key_file("[" * 100_000, "org-a.json", TODAY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"expires": (TODAY - timedelta(days=1)).isoformat()}, "expired"),
        ({"fingerprint": "0" * 64}, "fingerprint"),
        ({"seed": "00" * 32}, "private"),
        ({"private_key": "AAAA"}, "private"),
        ({"recipient_id": "Org-A"}, "recipient_id"),
        ({"recipient_id": "a"}, "recipient_id"),
        ({"recipient_id": "-org"}, "recipient_id"),
        ({"recipient_id": "org_a"}, "recipient_id"),
        ({"recipient_id": "org a"}, "recipient_id"),
        ({"recipient_id": "örg"}, "recipient_id"),
        ({"recipient_id": "o" * 65}, "recipient_id"),
        ({"recipient_id": 12}, "recipient_id"),
        ({"format": "tnr-intake-private-key"}, "tnr-intake-public-key"),
        ({"version": 2}, "version"),
        ({"kem": "ML-KEM-768"}, "kem"),
        ({"name": {"en": "Org"}}, "name"),
        ({"public_key": "not base64"}, "public_key"),
        ({"created": "yesterday"}, "org-a.json"),
        ({"retired": "no"}, "retired"),
    ],
)
def test_public_key_file_rejects(
    changes: dict[str, Any], message: str, keys: list[RecipientPrivateKey]
) -> None:
    text = json.dumps(_public_doc(keys[0], **changes))
    with pytest.raises(KeyFileError, match=message) as caught:
        parse_public_key_file(text, "org-a.json", TODAY)
    assert str(caught.value).startswith("org-a.json: ")


@pytest.mark.parametrize("length", [1215, 1217, 0, 32])
def test_public_key_file_rejects_wrong_key_length(length: int, keys: list[RecipientPrivateKey]) -> None:
    raw = keys[0].public_key.raw[:length] if length <= 1216 else keys[0].public_key.raw + b"\x00"
    doc = _public_doc(
        keys[0], public_key=base64.b64encode(raw).decode(), fingerprint=hashlib.sha256(raw).hexdigest()
    )
    with pytest.raises(KeyFileError, match=f"{length} bytes") as caught:
        parse_public_key_file(json.dumps(doc), "org-b.json", TODAY)
    assert str(caught.value).startswith("org-b.json: ")


@pytest.mark.parametrize("text", ["", "not json", "[]", "null"])
def test_public_key_file_rejects_non_objects(text: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_public_key_file(text, "broken.json", TODAY)
    assert str(caught.value).startswith("broken.json: ")


def test_key_objects_check_lengths_and_hide_seeds(keys: list[RecipientPrivateKey]) -> None:
    with pytest.raises(KeyFileError):
        RecipientPrivateKey(bytes(31))
    with pytest.raises(KeyFileError):
        RecipientPublicKey(bytes(1215))
    assert keys[0].seed.hex() not in repr(keys[0])
    assert keys[0].seed.hex()[:16] not in repr(keys[0])
    assert RecipientPrivateKey(keys[0].seed).public_key == keys[0].public_key


def test_load_key_directory(tmp_path: Path, keys: list[RecipientPrivateKey]) -> None:
    for name, key in (("b.json", keys[1]), ("a.json", keys[0])):
        (tmp_path / name).write_text(json.dumps(_public_doc(key, recipient_id=name[0] * 3)), encoding="utf-8")
    (tmp_path / "README.md").write_text("not a key", encoding="utf-8")
    loaded = load_key_directory(tmp_path, TODAY)
    assert [k.recipient_id for k in loaded] == ["aaa", "bbb"]
    assert [k.public_key for k in loaded] == [keys[0].public_key, keys[1].public_key]


def test_load_key_directory_refuses_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="no public key file"):
        load_key_directory(tmp_path, TODAY)
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key_directory(tmp_path / "missing", TODAY)


def test_load_key_directory_refuses_duplicate_keys(tmp_path: Path, keys: list[RecipientPrivateKey]) -> None:
    for name in ("first.json", "second.json"):
        (tmp_path / name).write_text(json.dumps(_public_doc(keys[0])), encoding="utf-8")
    with pytest.raises(KeyFileError, match=r"^second\.json: same key as first\.json"):
        load_key_directory(tmp_path, TODAY)


def test_load_key_directory_names_the_bad_file(tmp_path: Path, keys: list[RecipientPrivateKey]) -> None:
    (tmp_path / "good.json").write_text(json.dumps(_public_doc(keys[0])), encoding="utf-8")
    expired = _public_doc(keys[1], expires="2020-01-01")
    (tmp_path / "old.json").write_text(json.dumps(expired), encoding="utf-8")
    with pytest.raises(KeyFileError, match=r"^old\.json: key expired on 2020-01-01"):
        load_key_directory(tmp_path, TODAY)


# --------------------------------------------------------------------------
# Passphrase-protected private key files


def test_private_key_round_trip(keys: list[RecipientPrivateKey]) -> None:
    doc = encrypt_private_key(keys[0], "correct horse 电池", recipient_id="org-a", argon2id=FAST_ARGON2ID)
    assert doc["key_id"] == keys[0].key_id
    assert {k: doc["kdf"][k] for k in FAST_ARGON2ID} == FAST_ARGON2ID
    assert keys[0].seed.hex() not in json.dumps(doc)
    assert base64.b64encode(keys[0].seed).decode() not in json.dumps(doc)
    opened = decrypt_private_key(json.loads(json.dumps(doc)), "correct horse 电池", "org-a.key")
    assert opened.seed == keys[0].seed
    assert opened.key_id == keys[0].key_id
    again = encrypt_private_key(keys[0], "correct horse 电池", recipient_id="org-a", argon2id=FAST_ARGON2ID)
    assert again["kdf"]["salt"] != doc["kdf"]["salt"] and again["ciphertext"] != doc["ciphertext"]


def test_private_key_wrong_passphrase(keys: list[RecipientPrivateKey]) -> None:
    doc = encrypt_private_key(keys[0], "right", recipient_id="org-a", argon2id=FAST_ARGON2ID)
    with pytest.raises(WrongPassphraseError, match=r"^org-a\.key: wrong passphrase"):
        decrypt_private_key(doc, "wrong", "org-a.key")
    with pytest.raises(WrongPassphraseError):
        decrypt_private_key(doc, "right ", "org-a.key")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.update(recipient_id="org-b"), id="recipient-id"),
        pytest.param(lambda d: d.update(key_id="0" * 64), id="key-id"),
        pytest.param(lambda d: d["kdf"].update(iterations=2), id="argon2-iterations"),
        pytest.param(lambda d: d["aead"].update(nonce=base64.b64encode(bytes(12)).decode()), id="nonce"),
    ],
)
def test_private_key_file_edits_are_refused(
    edit: Callable[[dict[str, Any]], None], keys: list[RecipientPrivateKey]
) -> None:
    """The recipient id and key id are the AEAD's associated data; the Argon2
    parameters and nonce feed the key and cipher. An edit never yields a key."""
    doc = encrypt_private_key(keys[0], "right", recipient_id="org-a", argon2id=FAST_ARGON2ID)
    edit(doc)
    with pytest.raises(KeyFileError):
        decrypt_private_key(doc, "right", "org-a.key")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d.pop("kdf"), id="missing-kdf"),
        pytest.param(lambda d: d.update(format="tnr-intake-public-key"), id="format"),
        pytest.param(lambda d: d["kdf"].update(name="scrypt"), id="kdf-name"),
        pytest.param(lambda d: d.update(ciphertext="***"), id="bad-base64"),
        pytest.param(lambda d: d["kdf"].pop("memory_kib"), id="missing-param"),
    ],
)
def test_private_key_file_malformed(
    edit: Callable[[dict[str, Any]], None], keys: list[RecipientPrivateKey]
) -> None:
    doc = encrypt_private_key(keys[0], "right", recipient_id="org-a", argon2id=FAST_ARGON2ID)
    edit(doc)
    with pytest.raises(KeyFileError, match=r"^org-a\.key: ") as caught:
        decrypt_private_key(doc, "right", "org-a.key")
    assert not isinstance(caught.value, WrongPassphraseError)


def test_private_key_refuses_empty_passphrase(keys: list[RecipientPrivateKey]) -> None:
    with pytest.raises(ValueError, match="empty"):
        encrypt_private_key(keys[0], "", recipient_id="org-a", argon2id=FAST_ARGON2ID)
