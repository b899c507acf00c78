// Entry point of static/js/intake.js (built by scripts/build-js.sh).
// The envelope functions are exported as the global TNRIntake (the browser
// tests use them); the form is enhanced once the document is parsed.

import { enhanceForms } from "./form.js";

export * from "./envelope.js";
export { canSeal } from "./form.js";
export { dammCheckDigit, newReceipt, randomDigits } from "./receipt.js";

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", enhanceForms);
  else enhanceForms();
}
