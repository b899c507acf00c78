// Entry point of static/js/intake.js (built by scripts/build-js.sh).
// The envelope functions are exported as the global TNRIntake (the browser
// tests use them); the forms are enhanced once the document is parsed.

import { enhanceForms } from "./form.js";
import { enhanceReceiptCheck } from "./replies.js";

export * from "./envelope.js";
export { canSeal } from "./form.js";
export { solveAltcha } from "./proofofwork.js";
export { openReplies } from "./replies.js";
export { dammCheckDigit, formatReceipt, newReceipt, normalizeReceipt, randomDigits } from "./receipt.js";
export {
  authKeyOf, followupProof, lookupOf, replyProof, replyPublicKey, replySeed,
} from "./replykey.js";

/** Enhance what the page holds now: report and follow-up forms, and the
 *  receipt check (which calls this again for the page it brings in, with
 *  the conversation's auth key in ``state``). */
function enhancePage(_root = null, state = {}) {
  enhanceForms(state);
  for (const form of document.querySelectorAll("form[data-receipt-check]")) {
    if (form.dataset.receiptCheck !== "browser") enhanceReceiptCheck(form, enhancePage);
  }
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => enhancePage());
  else enhancePage();
}
