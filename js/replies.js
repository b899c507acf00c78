// Reading reviewers' replies on this device (templates/intake/check.html,
// templates/intake/status.html).
//
// Without this script the receipt check is a plain form post and the
// server derives the reply key for that one request. With it, the check is
// posted by fetch() with "replies=sealed": the server answers the same page
// with the replies still sealed, this script swaps the page's <main> for
// the answer's and opens each reply with the key derived here from the
// receipt (js/replykey.js). The check carries an ALTCHA proof of work
// (js/proofofwork.js). The receipt and its key stay in this closure;
// nothing is stored in the browser.

import { b64decode, openEnvelope } from "./envelope.js";
import { normalizeReceipt } from "./receipt.js";
import { proofOfWork } from "./proofofwork.js";
import { canDerive, replySeed } from "./replykey.js";

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

/** Open the sealed replies of a status page with the receipt's key. */
export async function openReplies(root, receipt) {
  const list = root.querySelector(".reply-list[data-report]");
  if (!list) return;
  const items = Array.from(list.querySelectorAll("li[data-reply-header]"));
  if (!items.length) return;
  const messages = readMessages(root);
  let seed = null;
  try {
    seed = receipt ? await replySeed(receipt) : null;
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
      meta.textContent = fill(messages.from || "{org}, {day}", { org: reply.from, day: opened.header.day });
      text.textContent = reply.text;
      item.dataset.opened = "true";
    } catch {
      text.textContent = messages.failed || "";
      item.dataset.opened = "false";
    }
    delete item.dataset.replyHeader;
    delete item.dataset.replyBody;
  }
  seed = null;
}

/** Whether this browser can check a receipt and open replies itself. */
export function canCheckHere() {
  return Boolean(globalThis.isSecureContext && globalThis.crypto && globalThis.crypto.subtle && canDerive());
}

/** Take over a receipt-check form (``form[data-receipt-check]``): post it
 *  by fetch, show the answer in place, open the replies here. ``onPage``
 *  is called with the new <main> so the page's other forms are enhanced. */
export function enhanceReceiptCheck(form, onPage) {
  // The proof of work (PBKDF2) and opening the replies need WebCrypto,
  // which exists only in a secure context: on an http:// LAN name or an
  // onion address in some browsers crypto.subtle is undefined. Then the
  // form posts as plain HTML, as the report form does, and the server
  // opens the replies (intake/report/followup.py).
  if (!canCheckHere() || typeof fetch !== "function" || typeof DOMParser !== "function") return;
  let busy = false;
  const work = proofOfWork(form.dataset.challengeUrl);
  form.addEventListener("focusin", () => work.get().catch(() => {}), { once: true });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const input = form.elements.namedItem("receipt");
    const receipt = input ? normalizeReceipt(input.value) : null;
    const data = new FormData(form);
    data.append("replies", "sealed");
    let html;
    try {
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
    } catch {
      busy = false;
      const error = form.querySelector(".check-network");
      if (error) error.hidden = false;
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
    if (onPage) onPage(main);
    await openReplies(main, receipt);
    main.dataset.repliesReady = "true";
  });
  form.dataset.receiptCheck = "browser"; // for tests: the script took over
}
