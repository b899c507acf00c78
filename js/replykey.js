// The reporter's reply key, derived from the receipt on this device
// (docs/envelope.md, "Reply keys"; the same derivation as
// core/envelope/replykey.py):
//
//   seed = Argon2id(the 28 receipt digits, salt "tnr-intake/reply-key/v1",
//                   t = 2, m = 19456 KiB, p = 1, 32 bytes)      RFC 9106
//   key pair = X-Wing key pair of the seed
//
// Argon2id is hash-wasm's WebAssembly build, inside this bundle: the pages
// that derive allow 'wasm-unsafe-eval' in their CSP, nothing else. The seed
// lives only in the closure that uses it.

import { argon2id } from "hash-wasm";

import { publicKeyFromSeed } from "./envelope.js";

export const REPLY_KEY_SALT = new TextEncoder().encode("tnr-intake/reply-key/v1");
export const REPLY_KEY_ITERATIONS = 2;
export const REPLY_KEY_MEMORY_KIB = 19456;

/** Whether this browser runs WebAssembly (Tor Browser's safer levels turn
 *  it off): without it the plain form post lets the server derive. */
export function canDerive() {
  return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
}

/** The 32-byte X-Wing seed of the reply key of ``receipt`` (28 ASCII
 *  digits, no separators). Rejects when the receipt is malformed or
 *  WebAssembly is blocked. */
export async function replySeed(receipt) {
  if (typeof receipt !== "string" || !/^[0-9]{28}$/.test(receipt)) {
    throw new Error("a reply key is derived from a 28-digit receipt");
  }
  return argon2id({
    password: receipt,
    salt: REPLY_KEY_SALT,
    parallelism: 1,
    iterations: REPLY_KEY_ITERATIONS,
    memorySize: REPLY_KEY_MEMORY_KIB,
    hashLength: 32,
    outputType: "binary",
  });
}

/** The 1216-byte reply public key of ``receipt`` (the header's reply_key). */
export async function replyPublicKey(receipt) {
  return publicKeyFromSeed(await replySeed(receipt));
}

// The conversation key (envelope format v2; docs/envelope.md section 14;
// the same derivation as core/envelope/conversation.py). From the 32
// bytes of replySeed, with WebCrypto's HKDF-SHA256 and HMAC-SHA256:
//
//   auth_key = HKDF(seed, salt "", info "tnr-intake/v2/auth-key", 32)
//   lookup   = HKDF(seed, salt "", info "tnr-intake/v2/lookup", 32)
//
// The auth key goes only inside the sealed report; the lookup value is all
// the intake ever receives of the receipt (docs/threat-model.md).

const ENCODE = new TextEncoder();
const AUTH_KEY_INFO = ENCODE.encode("tnr-intake/v2/auth-key");
const LOOKUP_INFO = ENCODE.encode("tnr-intake/v2/lookup");
const FOLLOWUP_LABEL = ENCODE.encode("tnr-intake/v2/followup\0");
const REPLY_LABEL = ENCODE.encode("tnr-intake/v2/reply\0");

async function hkdf(seed, info) {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new Error("a receipt key is 32 bytes");
  const key = await crypto.subtle.importKey("raw", seed, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
    key,
    256,
  );
  return new Uint8Array(bits);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function idBytes(envelopeId) {
  if (typeof envelopeId !== "string" || !/^[0-9a-f]{32}$/.test(envelopeId)) {
    throw new Error("an envelope id is 32 lowercase hex digits");
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(envelopeId.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function join(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function hmac(key, message) {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new Error("an auth key is 32 bytes");
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, message));
}

/** The 32-byte conversation auth key of a receipt key (replySeed). */
export function authKeyOf(seed) {
  return hkdf(seed, AUTH_KEY_INFO);
}

/** The lookup value of a receipt key: 64 lowercase hex digits. */
export async function lookupOf(seed) {
  return hex(await hkdf(seed, LOOKUP_INFO));
}

/** HMAC-SHA256(auth_key, "tnr-intake/v2/followup" 0x00 || report id || follow-up id). */
export function followupProof(authKey, reportId, followupId) {
  return hmac(authKey, join(FOLLOWUP_LABEL, idBytes(reportId), idBytes(followupId)));
}

/** HMAC-SHA256(auth_key, "tnr-intake/v2/reply" 0x00 || report id || reply id
 *  || SHA-256(UTF-8 text) || SHA-256(UTF-8 sender)). */
export async function replyProof(authKey, reportId, replyId, text, sender) {
  const textDigest = new Uint8Array(await crypto.subtle.digest("SHA-256", ENCODE.encode(text)));
  const senderDigest = new Uint8Array(await crypto.subtle.digest("SHA-256", ENCODE.encode(sender)));
  return hmac(authKey, join(REPLY_LABEL, idBytes(reportId), idBytes(replyId), textDigest, senderDigest));
}

/** Constant-time comparison of two byte strings of equal length. */
export function sameBytes(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
