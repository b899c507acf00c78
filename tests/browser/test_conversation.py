"""Envelope format v2 and the conversation key both ways between Python and
the browser bundle, in headless Chromium (docs/envelope.md section 14): the
bundle reproduces the committed Python vectors (Argon2id, HKDF, HMAC, v2
envelopes), and Python verifies what the bundle derived, proved and sealed.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope, parse_header, seal
from core.envelope.conversation import auth_key, followup_proof, lookup_value, reply_proof
from core.envelope.format import new_envelope_id
from core.envelope.keys import b64encode
from core.envelope.replykey import open_reply, reply_seed, seal_reply
from core.receipts import format_receipt, new_receipt, receipt_hash
from core.timing import today_utc
from intake.store.envelopes import store_envelope

from .conftest import LiveIntake

pytestmark = pytest.mark.db_independent

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "conversation-v2.json").read_text(encoding="utf-8")
)

# Runs in the page: every derivation, proof and envelope of the vectors.
CHECK_VECTORS_JS = """
async (vectors) => {
  const T = globalThis.TNRIntake;
  const enc = new TextEncoder();
  const out = { derivations: [], followups: [], replies: [], envelopes: [] };
  for (const d of vectors.derivations) {
    const seed = await T.replySeed(d.receipt);
    out.derivations.push({
      receipt_key: T.toHex(seed),
      reply_key_id: await T.keyIdOf(await T.publicKeyFromSeed(seed)),
      auth_key: T.toHex(await T.authKeyOf(seed)),
      lookup: await T.lookupOf(seed),
    });
  }
  for (const f of vectors.followup_proofs) {
    out.followups.push(T.toHex(await T.followupProof(T.fromHex(f.auth_key), f.report_id, f.followup_id)));
  }
  for (const r of vectors.reply_proofs) {
    const proof = await T.replyProof(T.fromHex(r.auth_key), r.report_id, r.reply_id, r.text, r.from);
    out.replies.push(T.toHex(proof));
  }
  for (const v of vectors.envelopes) {
    const opened = await T.openEnvelope({
      header: enc.encode(v.sealed.header),
      body: T.b64decode(v.sealed.body, "body"),
      attachments: v.sealed.attachments.map((a) => T.b64decode(a, "attachment")),
    }, [T.fromHex(v.seed)]);
    const auth = {};
    for (const [k, value] of Object.entries(opened.auth)) auth[k] = T.toHex(value);
    out.envelopes.push({ version: opened.header.version, envelope_id: opened.header.envelopeId,
                         report: opened.report, auth });
  }
  return out;
}
"""

# Runs in the page: from a receipt, seal a v2 report with its auth key and a
# v2 follow-up with its proof, and prove a reply; return what Python checks.
SEAL_JS = """
async ({ receipt, publicKey, day, replyId, text, sender }) => {
  const T = globalThis.TNRIntake;
  const seed = await T.replySeed(receipt);
  const authKey = await T.authKeyOf(seed);
  const recipients = [{ publicKey: T.b64decode(publicKey, "key") }];
  const report = await T.sealEnvelope({
    report: { narrative: "他們打電話給我在國內的父母" }, day, recipients,
    replyKey: await T.publicKeyFromSeed(seed), auth: { key: authKey },
  });
  const followupId = T.toHex(crypto.getRandomValues(new Uint8Array(16)));
  const followup = await T.sealEnvelope({
    report: { kind: "followup", follows: report.envelopeId, narrative: "more" }, day, recipients,
    envelopeId: followupId,
    auth: { proof: await T.followupProof(authKey, report.envelopeId, followupId) },
  });
  const pack = (s) => ({ header: new TextDecoder().decode(s.header), body: T.b64encode(s.body) });
  return {
    lookup: await T.lookupOf(seed),
    report: pack(report),
    followup: pack(followup),
    replyProof: T.toHex(await T.replyProof(authKey, report.envelopeId, replyId, text, sender)),
  };
}
"""


def test_bundle_reproduces_the_python_vectors(page: Any, live_intake: LiveIntake) -> None:
    page.goto("/en/")
    result = page.evaluate(CHECK_VECTORS_JS, VECTORS)
    assert result["derivations"] == [
        {k: d[k] for k in ("receipt_key", "reply_key_id", "auth_key", "lookup")}
        for d in VECTORS["derivations"]
    ]
    assert result["followups"] == [f["proof"] for f in VECTORS["followup_proofs"]]
    assert result["replies"] == [r["proof"] for r in VECTORS["reply_proofs"]]
    assert result["envelopes"] == [
        {"version": 2, **{k: v["expected"][k] for k in ("envelope_id", "report", "auth")}}
        for v in VECTORS["envelopes"]
    ]
    assert page.errors == []


def test_python_verifies_what_the_bundle_derived_proved_and_sealed(
    page: Any, live_intake: LiveIntake
) -> None:
    page.goto("/zh-hans/")
    receipt = new_receipt()
    org = RecipientPrivateKey.generate()
    reply_id = new_envelope_id()
    text, sender = "請放心 🇨🇦 réponse", "Org A"
    out = page.evaluate(
        SEAL_JS,
        {
            "receipt": receipt,
            "publicKey": b64encode(org.public_key.raw),
            "day": "2026-12-07",
            "replyId": reply_id,
            "text": text,
            "sender": sender,
        },
    )
    seed = reply_seed(receipt)
    key = auth_key(seed)
    assert out["lookup"] == lookup_value(seed)
    report = open_envelope(
        SealedEnvelope(header=out["report"]["header"].encode(), body=base64.b64decode(out["report"]["body"])),
        [org],
    )
    assert report.header.version == 2 and report.auth == {"key": key}
    assert report.header.reply_key == RecipientPrivateKey(seed).public_key.raw
    followup = open_envelope(
        SealedEnvelope(
            header=out["followup"]["header"].encode(), body=base64.b64decode(out["followup"]["body"])
        ),
        [org],
    )
    assert followup.auth == {
        "proof": followup_proof(key, report.header.envelope_id, followup.header.envelope_id)
    }
    assert out["replyProof"] == reply_proof(key, report.header.envelope_id, reply_id, text, sender).hex()
    # And a reply Python seals for this report verifies with the key the
    # browser derived (js/replies.js does the same on the status page).
    reply = seal_reply(
        RecipientPrivateKey(seed).public_key.raw,
        report.header.envelope_id,
        text,
        sender,
        date(2026, 12, 7),
        key,
    )
    assert open_reply(reply, RecipientPrivateKey(seed), report.header.envelope_id, key).authenticated
    assert parse_header(reply.header).version == 2
    assert page.errors == []


def test_an_older_receipt_is_checked_on_the_server_only_when_the_reporter_chooses(
    browser: Any, live_intake: LiveIntake
) -> None:
    """A receipt stored before the lookup value (the keyed hash of its
    digits): the browser's lookup finds nothing, the page keeps what was
    typed and offers "Check an older receipt"; chosen, the plain post finds
    it (and moves it), and from then on the browser finds it by lookup,
    with its reply marked as from an older report."""
    digits = new_receipt()
    sealed = seal(
        {"form_version": 1, "narrative": "an older report"},
        [live_intake.keys[0].public_key],
        day=today_utc(),
        sealed_by="server",
        reply_key=RecipientPrivateKey(reply_seed(digits)).public_key.raw,
    )
    app = live_intake.app
    with app.extensions["intake.db"].sessions() as session:
        store_envelope(
            session,
            app.extensions["intake.blobs"],
            sealed,
            {live_intake.keys[0].public_key.key_id: "org-a"},
            receipt_hash=receipt_hash(app.config["RECEIPT_SECRET"], digits),
        )
    [report] = [r for r in live_intake.envelopes() if r.envelope_id == sealed.envelope_id]
    live_intake.send_reply(report, "An answer to an older report")
    typed = format_receipt(digits)
    context = browser.new_context(base_url=live_intake.url)
    try:
        page = context.new_page()
        page.goto("/en/receipt")
        page.wait_for_selector("form[data-receipt-check=browser]", state="attached")
        page.fill("#receipt", typed)
        page.click("form button[type=submit]")
        page.wait_for_selector("[data-older-receipt]:not([hidden])")
        assert page.input_value("#receipt") == typed
        page.click("button[data-older-receipt-submit]")
        page.wait_for_selector(".reply-list li[data-opened=older]", state="attached", timeout=60_000)
        assert "An answer to an older report" in str(page.text_content(".reply-list"))
        assert "Not authenticated (older report)" in str(page.text_content(".reply-list"))

        page.goto("/en/receipt")
        page.wait_for_selector("form[data-receipt-check=browser]", state="attached")
        page.fill("#receipt", typed)
        page.click("form button[type=submit]")
        page.wait_for_selector("main[data-replies-ready=true]", state="attached", timeout=60_000)
        item = page.locator(".reply-list li[data-opened=older]")
        assert item.count() == 1
        assert "Not authenticated (older report)" in str(item.text_content())
    finally:
        context.close()
