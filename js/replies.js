// Reading reviewers' replies on this device (templates/intake/check.html,
// templates/intake/status.html).
//
// Without this script the receipt check is a plain form post and the
// server derives the reply key for that one request. With it, the check is
// posted by fetch() with "replies=sealed" and the receipt's lookup value
// instead of the receipt (js/replykey.js; docs/threat-model.md, "The
// receipt"): the server answers the same page with the replies still
// sealed, this script swaps the page's <main> for the answer's and opens
// each reply with the key derived here from the receipt. A reply to a v2
// report is shown only when its proof verifies under the conversation's
// auth key (docs/envelope.md section 14); a reply to an older report is
// marked as not authenticated. The check carries an ALTCHA proof of work
// (js/proofofwork.js). The receipt and its keys stay in this closure;
// nothing is stored in the browser.

import { b64decode, openEnvelope } from "./envelope.js";
import { dammCheckDigit, normalizeReceipt } from "./receipt.js";
import { proofOfWork } from "./proofofwork.js";
import { authKeyOf, canDerive, lookupOf, replyProof, replySeed, sameBytes } from "./replykey.js";

function readMessages(root) {
  const messages = {};
  const template = root.querySelector("#reply-messages");
  if (!template) return messages;
  for (const p of template.content.querySelectorAll("[data-message]")) {
    messages[p.dataset.message] = p.textContent.trim();
  }
  return messages;
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Open the sealed replies of a status page with the receipt's key
 *  (``seed``: js/replykey.js replySeed; or ``receipt``, 28 digits, to
 *  derive it here). The list's ``data-version`` is the report's format:
 *  in version 2 a reply is shown only if its proof verifies. */
export async function openReplies(root, receipt, seedGiven = null) {
  const list = root.querySelector(".reply-list[data-report]");
  if (!list) return;
  const items = Array.from(list.querySelectorAll("li[data-reply-header]"));
  if (!items.length) return;
  const messages = readMessages(root);
  const older = list.dataset.version === "1";
  let seed = seedGiven;
  let authKey = null;
  try {
    if (!seed) seed = receipt ? await replySeed(receipt) : null;
    authKey = seed && !older ? await authKeyOf(seed) : null;
  } catch {
    seed = null;
  }
  for (const item of items) {
    const text = item.querySelector(".reply-text");
    const meta = item.querySelector(".reply-meta");
    try {
      if (!seed) throw new Error("no key");
      const opened = await openEnvelope(
        {
          header: b64decode(item.dataset.replyHeader, "header"),
          body: b64decode(item.dataset.replyBody, "body"),
          attachments: [],
        },
        [seed],
      );
      const reply = opened.report;
      if (opened.header.sealedBy !== "console" || reply.kind !== "reply" || reply.report !== list.dataset.report
        || typeof reply.text !== "string" || typeof reply.from !== "string") {
        throw new Error("not a reply to this report");
      }
      if (!older) {
        // Anyone who can write to the intake can seal to the public reply
        // key: only the coalition holds the auth key.
        const proof = opened.auth && opened.auth.proof;
        const expected = authKey
          ? await replyProof(authKey, list.dataset.report, opened.header.envelopeId, reply.text, reply.from)
          : null;
        if (!proof || !expected || !sameBytes(expected, proof)) {
          text.textContent = messages.unauthenticated || messages.failed || "";
          item.dataset.opened = "unauthenticated";
          item.classList.add("alert");
          continue;
        }
      }
      meta.textContent = fill(messages.from || "{org}, {day}", { org: reply.from, day: opened.header.day });
      if (older) {
        const mark = document.createElement("strong");
        mark.className = "reply-older";
        mark.textContent = messages.older || "";
        meta.append(" ", mark);
      }
      text.textContent = reply.text;
      item.dataset.opened = older ? "older" : "true";
    } catch {
      text.textContent = messages.failed || "";
      item.dataset.opened = "false";
    } finally {
      delete item.dataset.replyHeader;
      delete item.dataset.replyBody;
    }
  }
  seed = null;
}

/** Whether this browser can check a receipt and open replies itself. */
export function canCheckHere() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle && canDerive());
}

/** Whether ``text`` has 28 digits whose check digit fails (a typo), as
 *  opposed to a wrong number of digits or a letter. */
function typoOnly(text) {
  const digits = String(text).normalize("NFKC").replace(/[^0-9]/g, "");
  if (digits.length !== 28 || /[^\s\p{P}\p{Z}0-9\u2212~\u301c\u30fc\uff70]/u.test(String(text).normalize("NFKC"))) {
    return false;
  }
  return dammCheckDigit(digits.slice(0, 27)) !== digits[27];
}

/** Take over a receipt-check form (``form[data-receipt-check]``): post it
 *  by fetch, show the answer in place, open the replies here. ``onPage``
 *  is called with the new <main> so the page's other forms are enhanced. */
export function enhanceReceiptCheck(form, onPage) {
  // The proof of work (PBKDF2), the lookup value and the replies' proofs
  // need WebCrypto, which exists only in a secure context: on an http://
  // LAN name or an onion address in some browsers crypto.subtle is
  // undefined. Then the form posts as plain HTML, as the report form does,
  // and the server derives the lookup and opens the replies
  // (intake/followup/views.py).
  if (!canCheckHere() || typeof fetch !== "function" || typeof DOMParser !== "function") return;
  let busy = false;
  const work = proofOfWork(form.dataset.challengeUrl);
  form.addEventListener("focusin", () => work.get().catch(() => {}), { once: true });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const input = form.elements.namedItem("receipt");
    const typed = input ? input.value : "";
    const receipt = normalizeReceipt(typed);
    // The receipt field is never posted: only the lookup value derived
    // from it, or the kind of typing mistake found here.
    const data = new FormData();
    for (const field of form.querySelectorAll("input[type=hidden][name]")) data.append(field.name, field.value);
    data.append("replies", "sealed");
    let seed = null;
    let html;
    let status = 0;
    try {
      if (receipt) {
        seed = await replySeed(receipt);
        data.append("lookup", await lookupOf(seed));
      } else {
        data.append("receipt_problem", typoOnly(typed) ? "typo" : "format");
      }
      const proof = await work.get();
      work.renew(); // a challenge is good for one check
      if (proof) data.append("altcha", proof);
      const response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        cache: "no-store",
        redirect: "error",
      });
      html = await response.text();
      status = response.status;
    } catch {
      busy = false;
      const error = form.querySelector(".check-network");
      if (error) error.hidden = false;
      return;
    }
    if (status !== 200) {
      // Refused (a typing mistake, not found, too many tries): show the
      // answer's message here and keep what was typed (the server never
      // had it). Not found by the lookup value: offer the older receipts'
      // way too (a plain post of the receipt, which the page says the
      // server then sees).
      busy = false;
      const answer = new DOMParser().parseFromString(html, "text/html");
      const error = answer.getElementById("receipt-error");
      if (!error) {
        // An answer that is not one of our pages (a proxy's error page):
        // say so rather than end with no message.
        const lost = form.querySelector(".check-network");
        if (lost) lost.hidden = false;
        const main = form.closest("main");
        if (main) main.dataset.repliesReady = "true";
        return;
      }
      const older = form.querySelector("[data-older-receipt]");
      if (older) older.hidden = status !== 404;
      let shown = document.getElementById("receipt-error");
      if (!shown) {
        const alert = document.createElement("div");
        alert.className = "alert";
        alert.setAttribute("role", "alert");
        shown = document.createElement("p");
        shown.id = "receipt-error";
        alert.append(shown);
        form.before(alert);
      }
      shown.textContent = error.textContent;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", "receipt-hint receipt-error");
      }
      const main = form.closest("main");
      if (main) main.dataset.repliesReady = "true";
      return;
    }
    const next = new DOMParser().parseFromString(html, "text/html");
    const main = document.getElementById("main");
    const nextMain = next.getElementById("main");
    if (!main || !nextMain) {
      // An answer that is not one of our pages (a proxy's error page):
      // say so rather than end with no message.
      busy = false;
      const error = form.querySelector(".check-network");
      if (error) error.hidden = false;
      return;
    }
    for (const script of nextMain.querySelectorAll("script")) script.remove();
    main.replaceChildren(...Array.from(nextMain.childNodes, (node) => document.importNode(node, true)));
    if (next.title) document.title = next.title;
    const heading = main.querySelector("h1");
    if (heading) {
      if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
    let authKey = null;
    try {
      authKey = seed ? await authKeyOf(seed) : null;
    } catch {
      authKey = null;
    }
    if (onPage) onPage(main, { authKey });
    await openReplies(main, null, seed);
    if (seed) seed.fill(0);
    main.dataset.repliesReady = "true";
  });
  // The older receipts' way: the plain form post (the server sees the
  // receipt for that one check, as without JavaScript).
  const olderButton = form.querySelector("button[data-older-receipt-submit]");
  if (olderButton) olderButton.addEventListener("click", () => HTMLFormElement.prototype.submit.call(form));
  form.dataset.receiptCheck = "browser"; // for tests: the script took over
}
