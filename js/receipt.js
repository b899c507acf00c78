// The reporter's receipt, made in the browser (docs/browser-sealing.md).
//
// Same format as core/receipts.py: 27 random decimal digits and one Damm
// check digit, 28 digits in all (about 89.7 bits). The browser makes it so
// that a retry after a lost answer can name the same receipt and be shown
// it (intake/report/upload.py); the intake keeps only its keyed hash.

const RANDOM_DIGITS = 27;

// Damm's quasigroup of order 10 (H. M. Damm, 2004), the table python-stdnum
// uses: row = interim digit, column = next digit.
const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/** The Damm check digit of a string of decimal digits. */
export function dammCheckDigit(digits) {
  let interim = 0;
  for (const ch of digits) interim = DAMM[interim][ch.charCodeAt(0) - 48];
  return String(interim);
}

/** ``count`` uniform random decimal digits from crypto.getRandomValues.
 *  Rejection sampling: a byte of 250 or more is dropped, so each kept byte
 *  modulo 10 is uniform (256 is not a multiple of 10). */
export function randomDigits(count, random = (bytes) => globalThis.crypto.getRandomValues(bytes)) {
  let out = "";
  while (out.length < count) {
    const bytes = random(new Uint8Array(count * 2));
    for (const byte of bytes) {
      if (byte < 250 && out.length < count) out += String(byte % 10);
    }
  }
  return out;
}

/** A new receipt: 28 digits, no separators. */
export function newReceipt() {
  const digits = randomDigits(RANDOM_DIGITS);
  return digits + dammCheckDigit(digits);
}

/** Symbols typed as separators that Unicode does not class as punctuation
 *  (the same set as core/receipts.py): minus sign, tilde, wave dash,
 *  katakana long-vowel marks. */
const DASH_LIKE = new Set(["\u2212", "~", "\u301c", "\u30fc", "\uff70"]);

/** The 28 digits of a typed receipt, as core/receipts.py
 *  ``normalize_receipt`` reads it (NFKC folds full-width digits; spaces,
 *  dashes and punctuation are dropped), or null when it is not a receipt
 *  (wrong length, a letter, a failed check digit). */
export function normalizeReceipt(text) {
  let digits = "";
  for (const ch of String(text).normalize("NFKC")) {
    if (ch >= "0" && ch <= "9") digits += ch;
    else if (/[\s\p{P}\p{Z}]/u.test(ch) || DASH_LIKE.has(ch)) continue;
    else return null;
  }
  if (digits.length !== RANDOM_DIGITS + 1) return null;
  return dammCheckDigit(digits.slice(0, RANDOM_DIGITS)) === digits[RANDOM_DIGITS] ? digits : null;
}

/** ``"1234 5678 …"``: a receipt in groups of four, as the intake writes it
 *  (core/receipts.py ``format_receipt``). */
export function formatReceipt(digits) {
  return String(digits).match(/.{1,4}/g).join(" ");
}
