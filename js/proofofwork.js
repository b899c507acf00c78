// ALTCHA proof of work for the JavaScript path (intake/abuse/proofofwork.py).
//
// The page asks the intake for a signed challenge (GET <lang>/challenge),
// solves it with altcha's own solver (PBKDF2/SHA-256 through WebCrypto),
// and sends the ALTCHA v2 payload as the "altcha" form field with the
// upload or the receipt check. The work starts early (when the reporter
// first touches the form) so it is usually done by the time Send is
// pressed. Nothing here is stored; the payload identifies no one.

import { pbkdf2, solveChallenge } from "altcha/lib";

function base64Json(value) {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Fetch a challenge from ``url`` and solve it; the base64 payload. */
export async function solveAltcha(url, { timeout = 120000 } = {}) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "error" });
  if (!response.ok) throw new Error("no challenge");
  const challenge = await response.json();
  const solution = await solveChallenge({ challenge, deriveKey: pbkdf2.deriveKey, timeout });
  if (!solution) throw new Error("not solved");
  return base64Json({ challenge, solution: { counter: solution.counter, derivedKey: solution.derivedKey } });
}

/** One proof of work per form: ``get()`` starts it (once) and resolves to
 *  the payload; ``renew()`` forgets a payload the intake refused (spent or
 *  expired) so the next ``get()`` solves a fresh challenge. */
export function proofOfWork(url) {
  let pending = null;
  return {
    get() {
      if (!url) return Promise.resolve(null);
      if (!pending) {
        pending = solveAltcha(url).catch((error) => {
          pending = null;
          throw error;
        });
      }
      return pending;
    },
    renew() {
      pending = null;
    },
  };
}
