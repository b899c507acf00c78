// Progressive enhancement of the report form (templates/intake/form.html).
//
// Without this script, or in a browser without what it needs (a secure
// context, WebCrypto, XMLHttpRequest, FormData), the form posts as plain HTML
// and the server seals. With it, the report is sealed here, to the public keys
// listed on the page, and only ciphertext is uploaded (intake/report/upload.py
// documents the endpoint). What the reporter typed stays in the form until the
// server confirms the commit; only then is the receipt shown, from the
// upload's answer (never a URL or a cookie).
//
// Nothing here logs, stores (no localStorage, no cookies) or sends anything
// but the sealed envelope, the CSRF token, the one-time submission token and
// (for a report) the lookup value derived from the receipt this page made
// (js/receipt.js, js/replykey.js). The receipt itself never leaves this
// closure (docs/threat-model.md, "The receipt"): every retry of the form
// sends the same lookup, so a retry after a lost answer is told so
// (intake/report/upload.py), and the receipt shown is the one made here.
//
// Envelope format v2: a report carries the conversation's auth key inside
// its sealed body, a follow-up a proof under it (js/replykey.js), so that
// the intake can put words neither in the reporter's mouth nor in the
// coalition's.

import { b64decode, keyIdOf, publicKeyFromSeed, sealEnvelope, toHex, wellFormed } from "./envelope.js";
import { switchLanguage } from "./language.js";
import { formatReceipt, newReceipt } from "./receipt.js";
import { proofOfWork } from "./proofofwork.js";
import { authKeyOf, canDerive, followupProof, lookupOf, replySeed } from "./replykey.js";
import { followupFromForm, ReportFieldError, reportFromForm } from "./report.js";

/** Abort an upload when nothing has moved for this long (ms). */
const DEFAULT_STALL_MS = 60000;
/** ReportFieldError code → message name in the page's <template>. */
const FIELD_MESSAGES = {
  narrative_or_tactic: "narrative-or-tactic",
  when: "when",
  too_long: "too-long",
  other_state_not_chosen: "other-state-not-chosen",
  contact_method_not_chosen: "contact-method-not-chosen",
};

/** Whether this browser can seal: otherwise the plain form post is used. */
export function canSeal() {
  return Boolean(
    globalThis.isSecureContext
      && globalThis.crypto
      && globalThis.crypto.subtle
      && typeof globalThis.crypto.getRandomValues === "function"
      && typeof XMLHttpRequest === "function"
      && typeof FormData === "function"
      && typeof Blob === "function"
      && typeof TextEncoder === "function"
      && typeof Promise === "function"
      && canDerive()
      && "content" in document.createElement("template"),
  );
}

function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

function readMessages() {
  const messages = {};
  const template = document.getElementById("seal-messages");
  if (!template) return messages;
  for (const p of template.content.querySelectorAll("[data-message]")) {
    messages[p.dataset.message] = p.textContent.trim();
  }
  return messages;
}

/** POST ``data`` with upload progress; resolves with {status, payload}. */
function upload(url, data, { onProgress, stallMs }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let last = Date.now();
    let finished = false;
    const watchdog = setInterval(() => {
      if (!finished && Date.now() - last > stallMs) {
        finish();
        xhr.abort();
        reject(new Error("timeout"));
      }
    }, Math.min(1000, stallMs));
    function finish() {
      finished = true;
      clearInterval(watchdog);
    }
    xhr.open("POST", url);
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      last = Date.now();
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.upload.addEventListener("load", () => {
      last = Date.now();
      onProgress(1, 1);
    });
    xhr.addEventListener("load", () => {
      if (finished) return;
      finish();
      let payload = null;
      try {
        payload = JSON.parse(xhr.responseText);
      } catch {
        payload = null;
      }
      resolve({ status: xhr.status, payload });
    });
    for (const type of ["error", "abort"]) {
      xhr.addEventListener(type, () => {
        if (finished) return;
        finish();
        reject(new Error("network"));
      });
    }
    xhr.send(data);
  });
}

/** After the receipt is shown: make each language button show the same
 *  receipt page in its language, built from that language's form page
 *  (its ``#seal-receipt`` template), the receipt filled in here. */
function bindReceiptLanguage(text, earlier) {
  for (const button of document.querySelectorAll("button[name=switch_language]")) {
    if (button.dataset.receiptBound) continue;
    button.dataset.receiptBound = "true";
    button.addEventListener("click", async (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      try {
        await showReceiptIn(button.formAction, text, earlier);
      } catch {
        // Nothing changed: the receipt stays on screen in this language.
      }
    }, true);
  }
}

async function showReceiptIn(url, text, earlier) {
  if (new URL(url, document.baseURI).origin !== window.location.origin) throw new Error("origin");
  const response = await fetch(url, {
    method: "GET", credentials: "same-origin", cache: "no-store", redirect: "error", headers: { Accept: "text/html" },
  });
  if (!response.ok) throw new Error(`status ${response.status}`);
  const next = new DOMParser().parseFromString(await response.text(), "text/html");
  const template = next.getElementById("seal-receipt");
  const header = document.querySelector("header.site");
  const footer = document.querySelector("footer.site");
  const main = document.getElementById("main");
  const nextHeader = next.querySelector("header.site");
  const nextFooter = next.querySelector("footer.site");
  if (!template || !header || !footer || !main || !nextHeader || !nextFooter) throw new Error("unexpected page");
  for (const script of next.querySelectorAll("script")) script.remove();
  const content = document.importNode(template.content, true);
  content.querySelector("output").textContent = text;
  const note = content.querySelector("[data-earlier]");
  if (note) note.hidden = !earlier;
  // The fetched page's own forms are not this page's: its hidden receipt
  // form stays empty and unused.
  header.replaceWith(document.adoptNode(nextHeader));
  footer.replaceWith(document.adoptNode(nextFooter));
  main.replaceChildren(content);
  document.documentElement.lang = next.documentElement.lang;
  document.documentElement.dir = next.documentElement.dir;
  const heading = main.querySelector("h1");
  const brand = document.querySelector(".brand");
  if (heading) document.title = brand ? `${heading.textContent} · ${brand.textContent}` : heading.textContent;
  bindReceiptLanguage(text, earlier);
  document.dispatchEvent(new Event("tnr:receipt"));
  if (heading) heading.focus();
}

/** Enhance one report form. ``state.receipt``: the receipt a previous
 *  page of this same form made (a language switch keeps it);
 *  ``state.authKey``: on a status page, the conversation's auth key that
 *  the receipt check derived (js/replies.js), to prove a follow-up. */
export function enhance(form, state = {}) {
  const messages = readMessages();
  const settings = form.dataset;
  const status = document.getElementById("seal-status");
  const label = document.getElementById("seal-progress-label");
  const bar = document.getElementById("seal-progress");
  const fillBar = bar ? bar.querySelector(".progress-bar") : null;
  const errorBox = document.getElementById("seal-error");
  const errorText = document.getElementById("seal-error-text");
  const retry = document.getElementById("seal-retry");
  const submit = form.querySelector("button[type=submit]");
  const narrative = form.elements.namedItem("narrative");
  const fileInput = form.elements.namedItem("attachments");
  let busy = false;
  /** True once the receipt is on screen: the form's work is done. */
  let receiptShown = false;
  /** This form's receipt, made at the first send and kept for retries. */
  let receipt = state.receipt || null;
  /** What the receipt gives (js/replykey.js), derived once: the reply
   *  public key, the auth key and the lookup value. */
  let derived = null;
  let derivedOf = null;
  const authKey = state.authKey || null;
  /** The proof of work (js/proofofwork.js), started at the first touch. */
  const work = state.work || proofOfWork(settings.challengeUrl);
  form.addEventListener("focusin", () => work.get().catch(() => {}), { once: true });

  function message(name, values = {}) {
    return fill(messages[name] || name, values);
  }

  function showProgress(name, fraction) {
    const percent = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
    const text = message(name, { percent });
    status.hidden = false;
    label.textContent = text;
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", text);
    // CSSOM, not a style attribute: the CSP allows no inline style.
    if (fillBar) fillBar.style.width = `${percent}%`;
  }

  function showError(text, { canRetry, focus } = {}) {
    errorText.textContent = text;
    errorBox.hidden = false;
    retry.hidden = !canRetry;
    if (focus) focus.focus();
  }

  function clearError() {
    errorBox.hidden = true;
    errorText.textContent = "";
    retry.hidden = true;
  }

  /** The report (or follow-up) JSON, or a problem to show. */
  function build(files) {
    const isFollowup = settings.kind === "followup";
    let report;
    try {
      report = isFollowup
        ? followupFromForm(form, { language: document.documentElement.lang, follows: settings.follows, wellFormed })
        : reportFromForm(form, { language: document.documentElement.lang, today: settings.day, wellFormed });
    } catch (error) {
      if (!(error instanceof ReportFieldError)) throw error;
      const name = error.field === "narrative" && error.code === "too_long"
        ? "narrative-too-long"
        : FIELD_MESSAGES[error.code] || "server";
      const focus = form.elements.namedItem(error.field) || narrative;
      return { problem: { text: message(name), focus: focus.focus ? focus : narrative } };
    }
    if (isFollowup && !report.narrative.trim() && files.length === 0) {
      return { problem: { text: message("followup-empty"), focus: narrative } };
    }
    const maxFiles = Number(settings.maxFiles);
    const maxFile = Number(settings.maxFile);
    const maxTotal = Number(settings.maxTotal);
    if (files.length > maxFiles) return { problem: { text: message("too-many-files"), focus: fileInput } };
    for (const f of files) {
      if (f.size > maxFile) {
        return { problem: { text: message("file-too-large", { name: f.name }), focus: fileInput } };
      }
    }
    if (files.reduce((sum, f) => sum + f.size, 0) > maxTotal) {
      return { problem: { text: message("total-too-large"), focus: fileInput } };
    }
    if (!isFollowup && chosenKeys().length === 0) {
      const first = form.querySelector("input[name=recipients]");
      return { problem: { text: message("recipients"), focus: first || submit } };
    }
    return { report };
  }

  /** The recipient <li>s to seal to: on the report form, those of the
   *  organizations ticked; on a follow-up, all listed. */
  function chosenKeys() {
    return Array.from(form.querySelectorAll("li[data-public-key]")).filter((li) => {
      const org = li.parentElement ? li.parentElement.closest("li") : null;
      const box = org ? org.querySelector("input[name=recipients]") : null;
      return box ? box.checked : true;
    });
  }

  async function recipients() {
    const keys = [];
    for (const li of chosenKeys()) {
      const publicKey = b64decode(li.dataset.publicKey, "public key");
      // The key sealed to must be the one whose fingerprint the page shows.
      if ((await keyIdOf(publicKey)) !== li.dataset.kid) throw new Error("key id mismatch");
      keys.push({ publicKey, kid: li.dataset.kid });
    }
    if (keys.length === 0) throw new Error("no recipient");
    return keys;
  }

  /** List the files that arrived (name, size) in the page's
   * ``[data-arrived]`` section, as the server does without JavaScript
   * (templates/intake/macros.html arrived_files, limits.py size_text). */
  function showArrived(root, files) {
    const section = root.querySelector("[data-arrived]");
    if (!section || !files || files.length === 0) return;
    const lang = document.documentElement.lang || undefined;
    const kb = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    const mb = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
    const MIB = 1024 * 1024;
    const size = (bytes) =>
      bytes < MIB
        ? section.dataset.kb.replace("{size}", kb.format(Math.max(1, Math.ceil(bytes / 1024))))
        : section.dataset.mb.replace("{size}", mb.format(Math.floor((bytes / MIB) * 10) / 10));
    section.querySelector("[data-arrived-count]").textContent = section.dataset.count.replace(
      "{num}",
      String(files.length),
    );
    const list = section.querySelector("ul");
    for (const file of files) {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.className = "file-name";
      name.textContent = file.name;
      item.append(name, `, ${size(file.size)}`);
      list.append(item);
    }
    section.hidden = false;
  }

  function showDone(files) {
    const template = document.getElementById("seal-done");
    const main = form.closest("main") || document.body;
    const content = template.content.cloneNode(true);
    showArrived(content, files);
    main.replaceChildren(content);
    const heading = main.querySelector("h1");
    if (heading) heading.focus();
  }

  function showReceipt(text, earlier, files) {
    const template = document.getElementById("seal-receipt");
    const main = form.closest("main") || document.body;
    const content = template.content.cloneNode(true);
    showArrived(content, files);
    content.querySelector("output").textContent = text;
    // From now on a language button shows this receipt page in that
    // language: built here from that language's form page (a GET that
    // carries nothing), so the receipt never leaves the browser
    // (docs/threat-model.md, "The receipt"). Shown once, it must not be
    // lost by a reporter who switches language to read the page.
    bindReceiptLanguage(text, earlier);
    receiptShown = true;
    // The first send was stored and its answer lost: what this one carried
    // (edits since) was not added, and the page says so.
    const note = content.querySelector("[data-earlier]");
    if (note) note.hidden = !earlier;
    main.replaceChildren(content);
    // static/js/page.js shows the copy and print buttons.
    document.dispatchEvent(new Event("tnr:receipt"));
    const heading = main.querySelector("h1");
    const brand = document.querySelector(".brand");
    if (heading) {
      document.title = brand ? `${heading.textContent} · ${brand.textContent}` : heading.textContent;
      heading.focus();
    }
  }

  async function send() {
    if (busy) return;
    clearError();
    const files = fileInput && fileInput.files ? Array.from(fileInput.files) : [];
    const { report, problem } = build(files);
    if (problem) {
      showError(problem.text, { canRetry: false, focus: problem.focus });
      return;
    }
    busy = true;
    submit.disabled = true;
    try {
      showProgress("sealing", 0);
      let auth = null;
      let envelopeId = null;
      try {
        if (settings.kind !== "followup") {
          // The receipt comes first: the reply key, the auth key and the
          // lookup value are derived from it (js/replykey.js).
          if (!receipt) receipt = newReceipt();
          if (derivedOf !== receipt) {
            const seed = await replySeed(receipt);
            derived = {
              replyKey: await publicKeyFromSeed(seed),
              authKey: await authKeyOf(seed),
              lookup: await lookupOf(seed),
            };
            seed.fill(0);
            derivedOf = receipt;
          }
          auth = { key: derived.authKey };
        } else if (authKey) {
          const id = new Uint8Array(16);
          crypto.getRandomValues(id);
          envelopeId = toHex(id);
          auth = { proof: await followupProof(authKey, settings.follows, envelopeId) };
        }
      } catch {
        status.hidden = true;
        showError(message("seal-failed"), { canRetry: true });
        return;
      }
      let sealed;
      try {
        sealed = await sealEnvelope({
          report,
          files: files.map((f) => ({ name: f.name, type: f.type || "application/octet-stream", data: f })),
          recipients: await recipients(),
          day: settings.day,
          chunkSize: Number(settings.chunk),
          replyKey: settings.kind !== "followup" ? derived.replyKey : null,
          auth,
          envelopeId,
          onProgress: (done, total) => showProgress("sealing", total ? done / total : 1),
        });
      } catch {
        status.hidden = true;
        showError(message("seal-failed"), { canRetry: true });
        return;
      }
      const data = new FormData();
      for (const name of ["csrf_token", "submission", "access"]) {
        const input = form.elements.namedItem(name);
        if (input) data.append(name, input.value);
      }
      // Never the receipt: its lookup value (docs/threat-model.md).
      if (settings.kind !== "followup") data.append("lookup", derived.lookup);
      data.append("header", new Blob([sealed.header], { type: "application/json" }), "header");
      data.append("body", new Blob([sealed.body], { type: "application/octet-stream" }), "body");
      sealed.attachments.forEach((chunks, i) => {
        data.append("attachment", new Blob(chunks, { type: "application/octet-stream" }), `attachment-${i}`);
      });
      sealed = null;
      let answer;
      // A refused proof of work (expired: the page was open for hours, or
      // spent) is renewed and the same sealed envelope sent once more.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          showProgress("checking", 0);
          const proof = await work.get();
          if (proof) data.set("altcha", proof);
        } catch {
          status.hidden = true;
          showError(message("network"), { canRetry: true });
          return;
        }
        showProgress("uploading", 0);
        try {
          answer = await upload(settings.sealUrl, data, {
            stallMs: Number(settings.stallMs) || DEFAULT_STALL_MS,
            onProgress: (loaded, total) => {
              if (loaded >= total) showProgress("confirming", 1);
              else showProgress("uploading", loaded / total);
            },
          });
        } catch (error) {
          status.hidden = true;
          showError(message(error.message === "timeout" ? "timeout" : "network"), { canRetry: true });
          return;
        }
        work.renew(); // a challenge is good for one upload
        if (!(answer.payload && answer.payload.error === "altcha")) break;
      }
      status.hidden = true;
      const payload = answer.payload || {};
      if (answer.status === 200 && payload.stored === true && settings.kind !== "followup") {
        showReceipt(formatReceipt(receipt), payload.earlier === true, files);
        return;
      }
      if (answer.status === 200 && payload.followup === "received") {
        showDone(files);
        return;
      }
      if (typeof payload.csrf_token === "string") {
        const token = form.elements.namedItem("csrf_token");
        if (token) token.value = payload.csrf_token;
      }
      const text = typeof payload.message === "string" ? payload.message : message("server");
      showError(text, { canRetry: payload.error !== "duplicate" });
    } catch {
      // Anything unforeseen while building or sending the upload (memory,
      // a browser's quirk): never end with no message.
      status.hidden = true;
      showError(message("server"), { canRetry: true });
    } finally {
      busy = false;
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // A language button is a submit button of this form (for the plain
    // post); its click is handled below and never reaches here, but should
    // a browser still submit with it, it must not send the report.
    if (event.submitter && event.submitter.name === "switch_language") return;
    send();
  });
  for (const button of document.querySelectorAll("button[name=switch_language]")) {
    if (button.form !== form) continue;
    button.addEventListener("click", async (event) => {
      // Once the receipt is shown the button posts it (showReceipt).
      if (receiptShown) return;
      // Switch in the page: the typed report never leaves it (language.js).
      event.preventDefault();
      if (busy) return;
      busy = true;
      clearError();
      let next;
      try {
        next = await switchLanguage(form, button);
      } catch {
        busy = false;
        showError(message("switch-failed"), { canRetry: false });
        return;
      }
      enhance(next, { receipt, work, authKey });
      const main = document.getElementById("main");
      if (main) main.focus();
    });
  }
  retry.addEventListener("click", () => send());
  // Say which mode is in use: the page says "the server encrypts" until
  // the script takes over (templates/intake/macros.html seal_mode).
  const mode = form.querySelector("[data-seal-mode]");
  if (mode && mode.dataset.browser) mode.textContent = mode.dataset.browser;
  form.dataset.sealing = "browser"; // for tests and styles: the script took over
}

/** Enhance every report form on the page, if this browser can seal.
 *  ``state``: see :func:`enhance` (a status page's auth key). */
export function enhanceForms(state = {}) {
  if (!canSeal()) return;
  for (const form of document.querySelectorAll("form[data-seal-url]")) {
    if (form.dataset.sealing === "browser") continue; // enhanced already
    if (document.getElementById("seal-status") && document.getElementById("seal-error")) enhance(form, state);
  }
}
