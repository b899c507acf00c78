"""Envelope format v1 both ways between Python and the browser bundle, in
headless Chromium: the bundle opens the committed Python vectors, and the
Python opener (the console's) opens what the bundle sealed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from core.envelope import (
    MalformedEnvelopeError,
    RecipientPrivateKey,
    SealedEnvelope,
    TamperedEnvelopeError,
    open_envelope,
    parse_header,
)
from core.envelope.keys import b64encode

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "envelope-v1.json").read_text(encoding="utf-8")
)["vectors"]

# Runs in the page: open every vector with every one of its keys.
OPEN_VECTORS_JS = """
async (vectors) => {
  const T = globalThis.TNRIntake;
  const enc = new TextEncoder();
  const out = [];
  for (const v of vectors) {
    for (const r of v.recipients) {
      const sealed = {
        header: enc.encode(v.sealed.header),
        body: T.b64decode(v.sealed.body, "body"),
        attachments: v.sealed.attachments.map((a) => T.b64decode(a, "attachment")),
      };
      const opened = await T.openEnvelope(sealed, [T.fromHex(r.seed)]);
      out.push({
        name: v.name,
        publicKey: T.b64encode(await T.publicKeyFromSeed(T.fromHex(r.seed))),
        keyId: await T.keyIdOf(await T.publicKeyFromSeed(T.fromHex(r.seed))),
        envelopeId: opened.header.envelopeId,
        sealedBy: opened.header.sealedBy,
        day: opened.header.day,
        report: opened.report,
        attachments: opened.attachments.map((a) => ({
          name: a.name, type: a.type, size: a.data.length, sha256: a.sha256, data: T.b64encode(a.data),
        })),
        derived: opened.derived,
      });
    }
  }
  return out;
}
"""

# Runs in the page: seal files of the given sizes (byte i is (i * 7 + 3) % 256)
# to the given public keys; returns the parts as base64.
SEAL_JS = """
async ({ sizes, publicKeys, day, report }) => {
  const T = globalThis.TNRIntake;
  const files = sizes.map((n, i) => {
    const data = new Uint8Array(n);
    for (let j = 0; j < n; j++) data[j] = (j * 7 + 3) % 256;
    return { name: `file-${i}.bin`, type: "application/octet-stream", data: new Blob([data]) };
  });
  const sealed = await T.sealEnvelope({
    report, files, day,
    recipients: publicKeys.map((k) => ({ publicKey: T.b64decode(k, "key") })),
  });
  return {
    header: new TextDecoder().decode(sealed.header),
    body: T.b64encode(sealed.body),
    attachments: await Promise.all(sealed.attachments.map(async (chunks) =>
      T.b64encode(new Uint8Array(await new Blob(chunks).arrayBuffer())))),
  };
}
"""


def _pattern(size: int) -> bytes:
    return bytes((j * 7 + 3) % 256 for j in range(size))


def test_bundle_opens_every_python_vector(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/en/")
    results = page.evaluate(OPEN_VECTORS_JS, VECTORS)
    expected_count = sum(len(v["recipients"]) for v in VECTORS)
    assert len(results) == expected_count
    by_name = {v["name"]: v for v in VECTORS}
    for result in results:
        vector = by_name[result["name"]]
        expected = vector["expected"]
        assert result["publicKey"] in {r["public_key"] for r in vector["recipients"]}
        assert result["keyId"] in {r["key_id"] for r in vector["recipients"]}
        assert result["envelopeId"] == expected["envelope_id"]
        assert result["sealedBy"] == expected["sealed_by"]
        assert result["day"] == expected["day"]
        assert result["report"] == expected["report"]
        assert result["derived"] == expected["derived"]
        assert [
            {k: a[k] for k in ("name", "type", "size", "sha256")} | {"data_base64": a["data"]}
            for a in result["attachments"]
        ] == expected["attachments"]
    assert page.errors == []


def test_bundle_refuses_tampered_vectors(page: Any, live_intake: LiveIntake) -> None:
    """A byte changed in the header, body or a chunk fails, with the same
    error class as the Python opener."""
    page.goto("/en/")
    vector = next(v for v in VECTORS if v["sealed"]["attachments"])
    result = page.evaluate(
        """
        async (v) => {
          const T = globalThis.TNRIntake;
          const seed = T.fromHex(v.recipients[0].seed);
          const base = () => ({
            header: new TextEncoder().encode(v.sealed.header),
            body: T.b64decode(v.sealed.body, "body"),
            attachments: v.sealed.attachments.map((a) => T.b64decode(a, "attachment")),
          });
          const attempt = async (change) => {
            const s = base();
            change(s);
            try { await T.openEnvelope(s, [seed]); return "opened"; } catch (e) { return e.name; }
          };
          const idAt = new TextDecoder().decode(base().header).indexOf('"id":"') + 6;
          return {
            body: await attempt((s) => { s.body[10] ^= 1; }),
            chunk: await attempt((s) => { s.attachments[s.attachments.length - 1][0] ^= 1; }),
            truncated: await attempt((s) => { s.attachments[0] = s.attachments[0].subarray(0, 8); }),
            swapped: await attempt((s) => { s.attachments.reverse(); }),
            dropped: await attempt((s) => { s.attachments.pop(); }),
            headerSpace: await attempt((s) => {
              s.header = new TextEncoder().encode(" " + v.sealed.header);
            }),
            headerId: await attempt((s) => { s.header[idAt] = s.header[idAt] === 48 ? 49 : 48; }),
            notMine: await (async () => {
              try { await T.openEnvelope(base(), [new Uint8Array(32)]); return "opened"; }
              catch (e) { return e.name; }
            })(),
          };
        }
        """,
        vector,
    )
    assert result == {
        "body": "TamperedEnvelopeError",
        "chunk": "TamperedEnvelopeError",
        "truncated": "TamperedEnvelopeError",
        "swapped": "TamperedEnvelopeError",
        "dropped": "TamperedEnvelopeError",
        "headerSpace": "MalformedEnvelopeError",
        "headerId": "TamperedEnvelopeError",
        "notMine": "NotARecipientError",
    }


CHUNK = 65536


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([], id="no-attachment"),
        pytest.param([0, 1, CHUNK, CHUNK + 1], id="empty-one-byte-one-chunk-chunk-plus-one"),
        pytest.param([3 * CHUNK - 5, 1_048_577], id="several-chunks-and-padding"),
    ],
)
def test_python_opens_what_the_browser_sealed(page: Any, live_intake: LiveIntake, sizes: list[int]) -> None:
    page.goto("/zh-hant/")
    keys = [RecipientPrivateKey.generate() for _ in range(2)]
    report = {
        "form_version": 1,
        "language": "zh-Hant",
        "narrative": "他們打電話給我在國內的父母 🇨🇦👩🏽‍💻 ئۇيغۇرچە\nline two",
        "nested": {"n": 3, "flag": True, "none": None},
    }
    sealed = page.evaluate(
        SEAL_JS,
        {
            "sizes": sizes,
            "publicKeys": [b64encode(k.public_key.raw) for k in keys],
            "day": "2025-03-04",
            "report": report,
        },
    )
    envelope = SealedEnvelope(
        header=sealed["header"].encode("ascii"),
        body=base64.b64decode(sealed["body"]),
        attachments=tuple(base64.b64decode(a) for a in sealed["attachments"]),
    )
    header = parse_header(envelope.header)
    assert header.sealed_by == "browser"
    assert header.key_ids == tuple(k.key_id for k in keys)
    assert header.day.isoformat() == "2025-03-04"
    assert header.reply_key is None
    assert [s.chunk for s in header.attachments] == [CHUNK] * len(sizes)
    for key in keys:  # each recipient opens it on its own
        opened = open_envelope(envelope, [key])
        assert opened.report == report
        assert [a.name for a in opened.attachments] == [f"file-{i}.bin" for i in range(len(sizes))]
        for attachment, size in zip(opened.attachments, sizes, strict=True):
            assert attachment.data == _pattern(size)
            assert attachment.sha256 == hashlib.sha256(_pattern(size)).hexdigest()
    # And tampering with what the browser sealed is caught by Python.
    if sizes:
        bad = bytearray(envelope.attachments[-1])
        bad[-1] ^= 1
        with pytest.raises(TamperedEnvelopeError):
            open_envelope(
                SealedEnvelope(envelope.header, envelope.body, (*envelope.attachments[:-1], bytes(bad))),
                keys[:1],
            )
    with pytest.raises(MalformedEnvelopeError):
        open_envelope(SealedEnvelope(envelope.header + b" ", envelope.body, envelope.attachments), keys[:1])
    assert page.errors == []
