"""Write ``tests/vectors/envelope-v1.json``: known-answer vectors of the
envelope format v1 (``docs/envelope.md``).

Run by hand from the repository root, then commit the output::

    /work/venv/bin/python tests/vectors/make_vectors.py

Every run makes fresh test keys, envelope ids, content keys and attachment
bytes, so the output changes completely: regenerate only when the format
changes, and then the browser's vector tests must pass on the new file too.
The keys are made here for these vectors and for nothing else; never put a
demo or production key into this file.

Each vector holds:

``recipients``
    the recipient private seeds (hex), public keys (base64) and key ids;
``sealed``
    the envelope as stored: ``header`` (the canonical header as text),
    ``body`` and ``attachments`` (base64);
``expected``
    what opening must give: header facts, the report (a JSON object), each
    attachment's name, media type, size, SHA-256 and bytes (base64), and the
    intermediate keys (content key, body key, attachment keys, header SHA-256)
    to help debug another implementation.

The script opens every vector again before writing, so a file it writes has
been checked at least once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
from datetime import date
from pathlib import Path
from typing import Any

from core.envelope import (
    AttachmentInput,
    RecipientPrivateKey,
    SealedEnvelope,
    open_envelope,
    seal,
)
from core.envelope.format import attachment_key, body_key

OUTPUT = Path(__file__).resolve().parent / "envelope-v1.json"
MAX_OUTPUT_BYTES = 1_500_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# Scripts the body must carry intact: CJK (with a character outside the BMP,
# which JavaScript stores as a surrogate pair), emoji (a ZWJ family, a skin
# tone, a flag, a variation selector), Uyghur in Arabic script (right to left,
# with a right-to-left mark) and a combining accent.
UNICODE_TEXT = (
    "我在多伦多的家人受到威胁。新疆的警察打电话给我的父母，要我停止参加活动。"
    "他们还在微信上联系我。𠮷野家 "
    "⚠️📞👨‍👩‍👧👍🏽🇨🇦 "
    "\u200fئۇيغۇرچە: ئائىلەمگە تەھدىت سېلىندى، ساقچىلار ئاتا-ئانامنى چاقىردى.\u200f "
    "Montre\u0301al"
)


def unicode_report() -> dict[str, Any]:
    return {
        "language": "zh",
        "summary": UNICODE_TEXT,
        # Long enough that the body passes the 1 KiB minimum and gets a Padmé size.
        "details": "\n".join(f"{i}. {UNICODE_TEXT}" for i in range(1, 9)),
        "tactics": ["threats_to_family", "online_harassment"],
        "contact": None,
        "anonymous": True,
        "people_affected": 3,
    }


def make_vector(
    name: str,
    description: str,
    *,
    recipient_count: int,
    sealed_by: str,
    with_reply_key: bool,
    report: dict[str, Any],
    attachments: list[AttachmentInput],
    day: date,
) -> dict[str, Any]:
    keys = [RecipientPrivateKey.generate() for _ in range(recipient_count)]
    reply_key = RecipientPrivateKey.generate().public_key.raw if with_reply_key else None
    sealed = seal(
        report,
        [k.public_key for k in keys],
        day=day,
        sealed_by=sealed_by,
        attachments=attachments,
        reply_key=reply_key,
    )
    # Check before writing: every recipient opens it to exactly the input.
    for key in keys:
        opened = open_envelope(sealed, [key])
        if opened.report != report or [a.data for a in opened.attachments] != [a.data for a in attachments]:
            raise SystemExit(f"{name}: the envelope does not open to its input")
    header = opened.header
    content_key = opened.content_key
    return {
        "name": name,
        "description": description,
        "recipients": [
            {"seed": k.seed.hex(), "public_key": b64(k.public_key.raw), "key_id": k.key_id} for k in keys
        ],
        "sealed": {
            "header": sealed.header.decode("ascii"),
            "body": b64(sealed.body),
            "attachments": [b64(a) for a in sealed.attachments],
        },
        "expected": {
            "envelope_id": header.envelope_id,
            "sealed_by": header.sealed_by,
            "day": header.day.isoformat(),
            "reply_key": b64(reply_key) if reply_key is not None else None,
            "body_size": header.body_size,
            "attachment_slots": [{"size": s.size, "chunk": s.chunk} for s in header.attachments],
            "report": report,
            "attachments": [
                {
                    "name": a.name,
                    "type": a.media_type,
                    "size": len(a.data),
                    "sha256": hashlib.sha256(a.data).hexdigest(),
                    "data_base64": b64(a.data),
                }
                for a in attachments
            ],
            "derived": {
                "content_key": content_key.hex(),
                "body_key": body_key(content_key, header.envelope_id).hex(),
                "attachment_keys": [
                    attachment_key(content_key, header.envelope_id, i).hex() for i in range(len(attachments))
                ],
                "header_sha256": header.digest.hex(),
            },
        },
    }


def make_vectors() -> dict[str, Any]:
    vectors = [
        make_vector(
            "one-recipient",
            "One recipient, sealed by the server, no reply key, ASCII report, no attachment.",
            recipient_count=1,
            sealed_by="server",
            with_reply_key=False,
            report={
                "language": "en",
                "summary": "A man followed me home after the community meeting.",
                "tactics": ["surveillance"],
                "contact": None,
            },
            attachments=[],
            day=date(2025, 3, 14),
        ),
        make_vector(
            "three-recipients-small-attachments",
            "Three recipients, sealed by the browser, with a reply key; attachments of 0 and 1 bytes.",
            recipient_count=3,
            sealed_by="browser",
            with_reply_key=True,
            report={
                "language": "zh",
                "summary": "有人在微信上威胁我。",
                "contact": {"signal": "+1 555 0100"},
            },
            attachments=[
                AttachmentInput("empty.txt", "text/plain", b""),
                AttachmentInput("one-byte.bin", "application/octet-stream", secrets.token_bytes(1)),
            ],
            day=date(2025, 1, 1),
        ),
        make_vector(
            "unicode-body",
            "One recipient, sealed by the browser, no reply key; the report mixes CJK (incl. a non-BMP "
            "character), emoji sequences and Uyghur (right to left) and is over 1 KiB; an attachment "
            "with a Chinese file name.",
            recipient_count=1,
            sealed_by="browser",
            with_reply_key=False,
            report=unicode_report(),
            attachments=[
                AttachmentInput(
                    "证据 – ئىسپات.txt", "text/plain; charset=utf-8", UNICODE_TEXT.encode("utf-8")
                ),
            ],
            day=date(2024, 12, 31),
        ),
        make_vector(
            "chunk-boundaries",
            "Two recipients, sealed by the server, with a reply key; attachments of exactly one chunk "
            "(65536 bytes) and one chunk plus one byte (65537 bytes, padded to 67584: two chunks).",
            recipient_count=2,
            sealed_by="server",
            with_reply_key=True,
            report={"language": "en", "summary": "Photos of the car outside my house."},
            attachments=[
                AttachmentInput("one-chunk.bin", "application/octet-stream", secrets.token_bytes(65536)),
                AttachmentInput("chunk-plus-one.jpg", "image/jpeg", secrets.token_bytes(65537)),
            ],
            day=date(2025, 6, 30),
        ),
    ]
    return {
        "format": "tnr-intake envelope v1 known-answer vectors",
        "spec": "docs/envelope.md",
        "generated_by": "tests/vectors/make_vectors.py",
        "warning": "Test keys made for these vectors only. Never use them to seal anything real.",
        "vectors": vectors,
    }


def main() -> int:
    doc = make_vectors()
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    size = len(text.encode("utf-8"))
    if size > MAX_OUTPUT_BYTES:
        raise SystemExit(f"vectors are {size} bytes, over the {MAX_OUTPUT_BYTES} budget")
    OUTPUT.write_text(text, encoding="utf-8")
    # Read back what was written and open it once more, from the file.
    for vector in json.loads(OUTPUT.read_text(encoding="utf-8"))["vectors"]:
        sealed = SealedEnvelope(
            header=vector["sealed"]["header"].encode("ascii"),
            body=base64.b64decode(vector["sealed"]["body"]),
            attachments=tuple(base64.b64decode(a) for a in vector["sealed"]["attachments"]),
        )
        for recipient in vector["recipients"]:
            opened = open_envelope(sealed, [RecipientPrivateKey(bytes.fromhex(recipient["seed"]))])
            if opened.report != vector["expected"]["report"]:
                raise SystemExit(f"{vector['name']}: the written vector does not open")
    sys.stdout.write(f"wrote {OUTPUT.name}: {len(doc['vectors'])} vectors, {size} bytes\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
