// The reporter's reply key, derived from the receipt on this device
// (docs/envelope.md, "Reply keys"; the same derivation as
// intake/envelope/replykey.py):
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
