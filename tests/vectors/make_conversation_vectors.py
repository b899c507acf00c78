"""Write ``tests/vectors/conversation-v2.json``: known-answer vectors of the
conversation key and of envelope format v2 (docs/envelope.md, section 14).

Run by hand from the repository root, then commit the output::

    .venv/bin/python tests/vectors/make_conversation_vectors.py

Every run makes fresh receipts, keys and ids: regenerate only when the
format changes, and then the browser's tests (tests/browser/test_conversation.py)
must pass on the new file too. The receipts and keys are made here for these
vectors and for nothing else.

The file holds:

``derivations``
    for each receipt (28 digits): the receipt key (Argon2id, hex), the
    reply public key's key id, the auth key (hex) and the lookup value;
``followup_proofs``, ``reply_proofs``
    HMAC-SHA256 proofs with their inputs (hex);
``envelopes``
    v2 envelopes sealed by Python: a report to a recipient seed carrying
    its auth key, a follow-up carrying its proof, and a reply sealed to the
    reporter's reply key carrying its proof; each with the seed that opens
    it and what opening must give.

The script opens and checks every envelope again before writing.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope, seal
from core.envelope.conversation import auth_key, followup_proof, lookup_value, reply_proof
from core.envelope.format import new_envelope_id
from core.envelope.replykey import open_reply, reply_seed, seal_reply
from core.receipts import new_receipt

OUTPUT = Path(__file__).resolve().parent / "conversation-v2.json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _sealed(envelope: SealedEnvelope) -> dict[str, Any]:
    return {
        "header": envelope.header.decode("ascii"),
        "body": b64(envelope.body),
        "attachments": [b64(a) for a in envelope.attachments],
    }


def main() -> None:
    receipts = [new_receipt() for _ in range(3)]
    derivations = []
    for receipt in receipts:
        seed = reply_seed(receipt)
        derivations.append(
            {
                "receipt": receipt,
                "receipt_key": seed.hex(),
                "reply_key_id": RecipientPrivateKey(seed).public_key.key_id,
                "auth_key": auth_key(seed).hex(),
                "lookup": lookup_value(seed),
            }
        )
    key = bytes.fromhex(derivations[0]["auth_key"])
    report_id, followup_id, reply_id = new_envelope_id(), new_envelope_id(), new_envelope_id()
    texts = [
        ("We read your report. 我們已閱讀您的報告。", "Test Org"),
        ("Réponse 🇨🇦👩🏽‍💻 ئۇيغۇرچە 𠀀\nline two", "Organisation d'essai"),
    ]
    followup_proofs = [
        {
            "auth_key": key.hex(),
            "report_id": report_id,
            "followup_id": followup_id,
            "proof": followup_proof(key, report_id, followup_id).hex(),
        }
    ]
    reply_proofs = [
        {
            "auth_key": key.hex(),
            "report_id": report_id,
            "reply_id": reply_id,
            "text": text,
            "from": sender,
            "proof": reply_proof(key, report_id, reply_id, text, sender).hex(),
        }
        for text, sender in texts
    ]

    # Envelopes: a report of receipt 0 to an organization key, a follow-up
    # of it, and a reply sealed to the reporter's reply key.
    org = RecipientPrivateKey.generate()
    receipt_key = bytes.fromhex(derivations[0]["receipt_key"])
    reporter = RecipientPrivateKey(receipt_key)
    day = date(2026, 12, 7)
    report = seal(
        {"form_version": 1, "narrative": "他們打電話給我在國內的父母"},
        [org.public_key],
        day=day,
        sealed_by="browser",
        reply_key=reporter.public_key.raw,
        auth={"key": key},
    )
    rid = report.envelope_id
    fid = new_envelope_id()
    followup = seal(
        {"form_version": 1, "kind": "followup", "follows": rid, "narrative": "My number changed."},
        [org.public_key],
        day=day,
        sealed_by="browser",
        auth={"proof": followup_proof(key, rid, fid)},
        envelope_id=fid,
    )
    reply = seal_reply(reporter.public_key.raw, rid, texts[0][0], texts[0][1], day, auth_key=key)
    envelopes = []
    for name, envelope, seed in (
        ("report", report, org.seed),
        ("followup", followup, org.seed),
        ("reply", reply, receipt_key),
    ):
        opened = open_envelope(envelope, [RecipientPrivateKey(seed)])
        assert opened.auth is not None and opened.header.version == 2
        ((member, value),) = opened.auth.items()
        envelopes.append(
            {
                "name": name,
                "seed": seed.hex(),
                "sealed": _sealed(envelope),
                "expected": {
                    "version": 2,
                    "envelope_id": opened.header.envelope_id,
                    "report": opened.report,
                    "auth": {member: value.hex()},
                },
            }
        )
    assert open_reply(reply, reporter, rid, auth_key=key).authenticated
    OUTPUT.write_text(
        json.dumps(
            {
                "description": "Conversation key and envelope format v2 (docs/envelope.md section 14).",
                "derivations": derivations,
                "followup_proofs": followup_proofs,
                "reply_proofs": reply_proofs,
                "envelopes": envelopes,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
