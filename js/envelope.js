// Envelope format v1 in the browser: seal a report and its attachments to the
// recipients' X-Wing public keys, and open an envelope again (for the test
// vectors and, later, the reporter's replies).
//
// This is the second implementation of docs/envelope.md (the first, and the
// reference, is core/envelope/format.py). HPKE is @hpke/core with the X-Wing
// KEM of @hpke/hybridkem-x-wing; HKDF, AES-256-GCM and SHA-256 are WebCrypto,
// which exists only in a secure context (https, or http://127.0.0.1).
//
// Nothing here logs, stores or sends anything: it turns bytes into bytes.

import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import { XWing } from "@hpke/hybridkem-x-wing";

export const VERSION = 1;
/** Format v2 (docs/envelope.md section 14): the body carries ``auth``. */
export const VERSION_2 = 2;
const AUTH_SIZE = 32;
export const SUITE = "XWING-HKDFSHA256-AES256GCM";
export const TAG_SIZE = 16;
export const CONTENT_KEY_SIZE = 32;
export const ENVELOPE_ID_SIZE = 16;
export const PUBLIC_KEY_SIZE = 1216;
export const SEED_SIZE = 32;
export const WRAPPED_KEY_SIZE = 1120 + CONTENT_KEY_SIZE + TAG_SIZE;
export const MIN_BODY_SIZE = 1024;
export const MIN_CHUNK_SIZE = 64 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
export const MAX_RECIPIENTS = 32;
export const MAX_ATTACHMENTS = 64;
export const MAX_HEADER_SIZE = 128 * 1024;

const LABEL = "tnr-intake/v1/";
const ENCODER = new TextEncoder();
// How many chunk encryptions are in flight at once: WebCrypto runs them off
// the main thread, so a few overlapping calls hide the per-call latency.
const PIPELINE = 8;

export class EnvelopeError extends Error {
  constructor(message) {
    super(message);
    this.name = "EnvelopeError";
  }
}
export class MalformedEnvelopeError extends EnvelopeError {
  constructor(message) {
    super(message);
    this.name = "MalformedEnvelopeError";
  }
}
export class TamperedEnvelopeError extends EnvelopeError {
  constructor(message) {
    super(message);
    this.name = "TamperedEnvelopeError";
  }
}
export class NotARecipientError extends EnvelopeError {
  constructor(message) {
    super(message);
    this.name = "NotARecipientError";
  }
}

function subtle() {
  const api = globalThis.crypto && globalThis.crypto.subtle;
  if (!api) throw new EnvelopeError("WebCrypto is not available (not a secure context)");
  return api;
}

let suiteInstance = null;
function suite() {
  if (suiteInstance === null) {
    suiteInstance = new CipherSuite({ kem: new XWing(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  }
  return suiteInstance;
}

// ---------------------------------------------------------------------------
// Bytes

/** Concatenate byte arrays. */
export function concat(...parts) {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function toHex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function fromHex(text) {
  if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) throw new EnvelopeError("not lowercase hex");
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard base64 with padding (RFC 4648 section 4). */
export function b64encode(bytes) {
  let bin = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + step));
  }
  return btoa(bin);
}

/** Strict base64 → bytes: the text must be canonical (as Python's check). */
export function b64decode(text, what) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new MalformedEnvelopeError(`${what} is not valid base64`);
  }
  let bin;
  try {
    bin = atob(text);
  } catch {
    throw new MalformedEnvelopeError(`${what} is not valid base64`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (b64encode(out) !== text) throw new MalformedEnvelopeError(`${what} is not canonical base64`);
  return out;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/** Key id: hex SHA-256 of the 1216-byte public key. */
export async function keyIdOf(publicKey) {
  return toHex(await sha256(publicKey));
}

/** Public key (1216 bytes) of a 32-byte X-Wing seed. */
export async function publicKeyFromSeed(seed) {
  const kem = suite().kem;
  const pair = await kem.generateKeyPairDerand(new Uint8Array(seed));
  return new Uint8Array(await kem.serializePublicKey(pair.publicKey));
}

// ---------------------------------------------------------------------------
// Padmé, canonical JSON

/** Padmé padded length (PURBs, PETS 2019, Algorithm 1); exact below 2^53. */
export function padme(length) {
  if (!Number.isSafeInteger(length) || length < 0) throw new EnvelopeError("bad length");
  if (length < 2) return length;
  // Exact integer logs by doubling (Math.log2 can round near powers of two).
  let e = 0;
  for (let p = 2; p <= length; p *= 2) e++;
  let s = 0;
  for (let p = 1; p <= e; p *= 2) s++;
  const unit = 2 ** (e - s);
  // Division by a power of two is exact in binary floating point.
  return Math.ceil(length / unit) * unit;
}

// Python's json.dumps(ensure_ascii=True) escapes: \" \\ \n \r \t \b \f, and
// every other UTF-16 code unit outside 0x20..0x7e as \uXXXX (lowercase hex).
const SHORT_ESCAPES = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };
function pyString(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (SHORT_ESCAPES[ch] !== undefined) out += SHORT_ESCAPES[ch];
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/**
 * Canonical JSON text, byte for byte what Python's
 * json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
 * writes, for the values a header holds (objects, arrays, strings, safe
 * integers, null, booleans). Keys sort by UTF-16 code units, which equals
 * Python's code point order for the ASCII keys of the format.
 */
export function canonicalJson(value) {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new EnvelopeError("canonical JSON holds integers only");
    return String(value);
  }
  if (typeof value === "string") return pyString(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return "{" + keys.map((k) => pyString(k) + ":" + canonicalJson(value[k])).join(",") + "}";
  }
  throw new EnvelopeError("value not allowed in canonical JSON");
}

// ---------------------------------------------------------------------------
// Key schedule

function wrapInfo(idBytes, kid) {
  return concat(ENCODER.encode(LABEL + "content-key"), new Uint8Array([0]), idBytes, new Uint8Array([0]),
    ENCODER.encode(kid));
}

async function deriveAesKey(contentKey, idBytes, info, usages) {
  const api = subtle();
  const ikm = await api.importKey("raw", contentKey, "HKDF", false, ["deriveBits"]);
  const bits = await api.deriveBits({ name: "HKDF", hash: "SHA-256", salt: idBytes, info }, ikm, 256);
  const raw = new Uint8Array(bits);
  const key = await api.importKey("raw", raw, { name: "AES-GCM" }, false, usages);
  return { key, raw };
}

function bodyInfo() {
  return ENCODER.encode(LABEL + "body");
}

function attachmentInfo(index) {
  const i = new Uint8Array(4);
  new DataView(i.buffer).setUint32(0, index, false);
  return concat(ENCODER.encode(LABEL + "attachment"), i);
}

/** STREAM nonce: 88-bit big-endian counter, then the last-chunk flag. */
function chunkNonce(counter, last) {
  const nonce = new Uint8Array(12);
  let c = counter;
  for (let i = 10; i >= 0 && c > 0; i--) {
    nonce[i] = c % 256;
    c = Math.floor(c / 256);
  }
  nonce[11] = last ? 1 : 0;
  return nonce;
}

function gcm(iv, additionalData) {
  return { name: "AES-GCM", iv, additionalData, tagLength: 128 };
}

// ---------------------------------------------------------------------------
// Header

const HEADER_FIELDS = ["attachments", "body", "day", "id", "recipients", "reply_key", "sealed_by", "suite", "v"];

function exactKeys(obj, keys) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return false;
  const have = Object.keys(obj).sort();
  return have.length === keys.length && have.every((k, i) => k === keys[i]);
}

function intIn(value, what, low, high) {
  if (!Number.isSafeInteger(value) || value < low || value > high) {
    throw new MalformedEnvelopeError(`header ${what} must be an integer in [${low}, ${high}]`);
  }
  return value;
}

function validDay(text) {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const [y, m, d] = text.split("-").map(Number);
  if (y < 1) return false;
  const date = new Date(Date.UTC(2000, m - 1, d));
  date.setUTCFullYear(y);
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * Parse and strictly check header bytes (docs/envelope.md section 4).
 * Duplicate members are caught by the canonical comparison: JSON.parse keeps
 * the last, so the text written back differs from the bytes received.
 */
export function parseHeader(raw) {
  if (!(raw instanceof Uint8Array) || raw.length > MAX_HEADER_SIZE) {
    throw new MalformedEnvelopeError("header missing or too large");
  }
  for (const b of raw) if (b > 0x7f) throw new MalformedEnvelopeError("header is not ASCII JSON");
  const text = new TextDecoder().decode(raw);
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new MalformedEnvelopeError("header is not ASCII JSON");
  }
  if (!exactKeys(doc, HEADER_FIELDS)) throw new MalformedEnvelopeError("header fields are not those of version 1");
  if (doc.v !== VERSION && doc.v !== VERSION_2) throw new MalformedEnvelopeError("unsupported envelope version");
  if (doc.suite !== SUITE) throw new MalformedEnvelopeError("unsupported suite");
  if (typeof doc.id !== "string" || !/^[0-9a-f]{32}$/.test(doc.id)) {
    throw new MalformedEnvelopeError("header id must be 32 lowercase hex digits");
  }
  if (doc.sealed_by !== "server" && doc.sealed_by !== "browser" && doc.sealed_by !== "console") {
    throw new MalformedEnvelopeError("header sealed_by must be 'server', 'browser' or 'console'");
  }
  if (!validDay(doc.day)) throw new MalformedEnvelopeError("header day is not a date");
  if (!Array.isArray(doc.recipients) || doc.recipients.length < 1 || doc.recipients.length > MAX_RECIPIENTS) {
    throw new MalformedEnvelopeError(`header needs 1 to ${MAX_RECIPIENTS} recipients`);
  }
  const recipients = doc.recipients.map((entry) => {
    if (!exactKeys(entry, ["key", "kid"])) throw new MalformedEnvelopeError("recipient entry must have 'kid' and 'key'");
    if (typeof entry.kid !== "string" || !/^[0-9a-f]{64}$/.test(entry.kid)) {
      throw new MalformedEnvelopeError("recipient kid must be 64 lowercase hex digits");
    }
    const wrapped = b64decode(entry.key, "recipient key");
    if (wrapped.length !== WRAPPED_KEY_SIZE) throw new MalformedEnvelopeError("recipient key has the wrong length");
    return { kid: entry.kid, wrapped };
  });
  if (new Set(recipients.map((r) => r.kid)).size !== recipients.length) {
    throw new MalformedEnvelopeError("a recipient is listed twice");
  }
  if (!exactKeys(doc.body, ["size"])) throw new MalformedEnvelopeError("header body must have 'size'");
  const bodySize = intIn(doc.body.size, "body size", MIN_BODY_SIZE, 2 ** 40);
  if (!Array.isArray(doc.attachments) || doc.attachments.length > MAX_ATTACHMENTS) {
    throw new MalformedEnvelopeError(`header allows at most ${MAX_ATTACHMENTS} attachments`);
  }
  const slots = doc.attachments.map((slot) => {
    if (!exactKeys(slot, ["chunk", "size"])) throw new MalformedEnvelopeError("attachment slot must have 'size' and 'chunk'");
    return {
      size: intIn(slot.size, "attachment size", 0, 2 ** 40),
      chunk: intIn(slot.chunk, "chunk size", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE),
    };
  });
  let replyKey = null;
  if (doc.reply_key !== null) {
    replyKey = b64decode(doc.reply_key, "reply_key");
    if (replyKey.length !== PUBLIC_KEY_SIZE) throw new MalformedEnvelopeError("reply_key has the wrong length");
  }
  if (canonicalJson(doc) !== text) throw new MalformedEnvelopeError("header is not in canonical form");
  return {
    version: doc.v, envelopeId: doc.id, sealedBy: doc.sealed_by, day: doc.day, recipients, bodySize, slots, replyKey, raw,
  };
}

/** Number of STREAM chunks of a slot (at least one). */
export function chunkCount(slot) {
  return Math.max(1, Math.ceil(slot.size / slot.chunk));
}

/** Exact byte length of a sealed attachment. */
export function ciphertextSize(slot) {
  return slot.size + chunkCount(slot) * TAG_SIZE;
}

// ---------------------------------------------------------------------------
// Seal

function randomBytes(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

/** Replace lone UTF-16 surrogates (the body must be well-formed UTF-8). */
export function wellFormed(text) {
  if (typeof text.toWellFormed === "function") return text.toWellFormed();
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
}

/**
 * Encrypt one attachment as a STREAM. ``data`` holds the file's bytes; the
 * Padmé zero padding is added on the fly to the chunks past its end.
 * Returns the ciphertext chunks in order.
 */
async function sealStream(data, slot, key, aad, onBytes) {
  const api = subtle();
  const n = chunkCount(slot);
  const parts = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const k = next++;
      const start = k * slot.chunk;
      const end = Math.min(start + slot.chunk, slot.size);
      let plain;
      if (end <= data.length) {
        plain = data.subarray(start, end);
      } else {
        plain = new Uint8Array(end - start); // zeros: the padding
        if (start < data.length) plain.set(data.subarray(start));
      }
      parts[k] = new Uint8Array(await api.encrypt(gcm(chunkNonce(k, k === n - 1), aad), key, plain));
      if (onBytes) onBytes(end - start);
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(PIPELINE, n); i++) workers.push(worker());
  await Promise.all(workers);
  return parts;
}

async function readBytes(source) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (source && typeof source.arrayBuffer === "function") return new Uint8Array(await source.arrayBuffer());
  throw new EnvelopeError("an attachment must be bytes or a Blob");
}

/**
 * Seal a report and its files to the recipients.
 *
 * @param {object} args
 * @param {object} args.report  the report fields (plain JSON)
 * @param {Array<{name: string, type: string, data: Blob|Uint8Array}>} [args.files]
 * @param {Array<{publicKey: Uint8Array, kid?: string}>} args.recipients  1–32 X-Wing keys
 * @param {string} args.day  YYYY-MM-DD (UTC) the intake expects
 * @param {number} [args.chunkSize]  STREAM chunk size, 64 KiB – 1 MiB
 * @param {string} [args.sealedBy]  "browser" (default) or "server"
 * @param {Uint8Array|null} [args.replyKey]
 * @param {{key: Uint8Array}|{proof: Uint8Array}|null} [args.auth]  seals format v2 with this
 *   ``auth`` body member (32 bytes): a report's conversation key, or a follow-up's proof
 * @param {string} [args.envelopeId]  32 hex digits, when a proof must bind it before sealing;
 *   never reuse one
 * @param {(done: number, total: number) => void} [args.onProgress]  plaintext bytes sealed
 * @returns {Promise<{header: Uint8Array, body: Uint8Array, attachments: Uint8Array[][], envelopeId: string}>}
 *   ``attachments[i]`` is the list of ciphertext chunks of file ``i`` (join
 *   them, or hand them to a Blob, to get the sealed attachment).
 */
export async function sealEnvelope({
  report,
  files = [],
  recipients,
  day,
  chunkSize = DEFAULT_CHUNK_SIZE,
  sealedBy = "browser",
  replyKey = null,
  auth = null,
  envelopeId: presetId = null,
  onProgress = null,
}) {
  if (sealedBy !== "browser" && sealedBy !== "server") throw new EnvelopeError("sealed_by must be 'server' or 'browser'");
  if (!Array.isArray(recipients) || recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new EnvelopeError(`an envelope needs 1 to ${MAX_RECIPIENTS} recipients`);
  }
  if (files.length > MAX_ATTACHMENTS) throw new EnvelopeError(`at most ${MAX_ATTACHMENTS} attachments`);
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new EnvelopeError("chunk size must be 64 KiB to 1 MiB");
  }
  if (replyKey !== null && replyKey.length !== PUBLIC_KEY_SIZE) throw new EnvelopeError("reply key must be 1216 bytes");
  if (!validDay(day)) throw new EnvelopeError("day must be YYYY-MM-DD");
  let authDoc = null;
  if (auth !== null) {
    const names = Object.keys(auth);
    if (names.length !== 1 || (names[0] !== "key" && names[0] !== "proof")
      || !(auth[names[0]] instanceof Uint8Array) || auth[names[0]].length !== AUTH_SIZE) {
      throw new EnvelopeError("auth holds exactly one 32-byte 'key' or 'proof'");
    }
    authDoc = { [names[0]]: b64encode(auth[names[0]]) };
  }
  if (presetId !== null && (typeof presetId !== "string" || !/^[0-9a-f]{32}$/.test(presetId))) {
    throw new EnvelopeError("an envelope id is 32 lowercase hex digits");
  }

  const keys = [];
  for (const r of recipients) {
    const publicKey = new Uint8Array(r.publicKey);
    if (publicKey.length !== PUBLIC_KEY_SIZE) throw new EnvelopeError("a recipient key is not 1216 bytes");
    const kid = await keyIdOf(publicKey);
    if (r.kid !== undefined && r.kid !== kid) throw new EnvelopeError("a recipient key does not match its key id");
    keys.push({ publicKey, kid });
  }
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new EnvelopeError("a recipient is listed twice");

  const idBytes = presetId !== null ? fromHex(presetId) : randomBytes(ENVELOPE_ID_SIZE);
  const envelopeId = toHex(idBytes);
  const contentKey = randomBytes(CONTENT_KEY_SIZE);
  const hpke = suite();

  const total = files.reduce((sum, f) => sum + (f.data.size ?? f.data.length ?? f.data.byteLength), 0);
  let done = 0;
  const progress = (n) => {
    done += n;
    if (onProgress) onProgress(done, total);
  };
  if (onProgress) onProgress(0, total);

  const wrapped = [];
  for (const k of keys) {
    const recipientPublicKey = await hpke.kem.deserializePublicKey(k.publicKey);
    const sealed = await hpke.seal({ recipientPublicKey, info: wrapInfo(idBytes, k.kid) }, contentKey);
    wrapped.push({ kid: k.kid, key: b64encode(concat(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct))) });
  }

  // Each file is read once into memory: WebCrypto has no incremental SHA-256,
  // and the digest goes into the body. Its digest and its chunks are computed
  // concurrently (WebCrypto runs both off the main thread).
  const datas = [];
  for (const f of files) datas.push(await readBytes(f.data));
  const slots = datas.map((d) => ({ chunk: chunkSize, size: padme(d.length) }));
  const digests = datas.map((d) => subtle().digest("SHA-256", d));

  const headerDoc = {
    attachments: slots,
    body: { size: 0 },
    day,
    id: envelopeId,
    recipients: wrapped,
    reply_key: replyKey === null ? null : b64encode(replyKey),
    sealed_by: sealedBy,
    suite: SUITE,
    v: authDoc === null ? VERSION : VERSION_2,
  };

  // The body holds each file's SHA-256, and the header holds the body's
  // padded size. A digest is always 64 hex digits, so the size is known
  // before the digests are: the header is written first, and the files'
  // digests and STREAM encryption run at the same time.
  const bodyPlainWith = (hexDigests) => {
    const inner = {
      report,
      attachments: files.map((f, i) => ({
        name: String(f.name),
        type: String(f.type || "application/octet-stream"),
        size: datas[i].length,
        sha256: hexDigests[i],
      })),
    };
    if (authDoc !== null) inner.auth = authDoc;
    // Plain RFC 8259 JSON, as the Python sealer requires: no NaN or Infinity
    // (JSON.stringify would quietly write null) and no lone surrogates.
    const text = JSON.stringify(inner, (_key, value) => {
      if (typeof value === "number" && !Number.isFinite(value)) throw new EnvelopeError("the report is not plain JSON");
      return typeof value === "string" ? wellFormed(value) : value;
    });
    return ENCODER.encode(text);
  };
  const plainLength = bodyPlainWith(files.map(() => "0".repeat(64))).length;
  const bodySize = Math.max(MIN_BODY_SIZE, padme(plainLength + 1));
  headerDoc.body.size = bodySize;

  const header = ENCODER.encode(canonicalJson(headerDoc));
  parseHeader(header); // the same checks an opener makes
  const headerDigest = await sha256(header);

  const attachmentsSealed = Promise.all(datas.map(async (data, i) => {
    const key = await deriveAesKey(contentKey, idBytes, attachmentInfo(i), ["encrypt"]);
    return sealStream(data, slots[i], key.key, headerDigest, progress);
  }));
  attachmentsSealed.catch(() => {}); // awaited below; no unhandled rejection meanwhile
  const hexDigests = (await Promise.all(digests)).map((d) => toHex(new Uint8Array(d)));
  const bodyPlain = bodyPlainWith(hexDigests);
  if (bodyPlain.length !== plainLength) throw new EnvelopeError("body length changed");

  const padded = new Uint8Array(bodySize);
  padded.set(bodyPlain);
  padded[bodyPlain.length] = 0x80;
  const bodyKey = await deriveAesKey(contentKey, idBytes, bodyInfo(), ["encrypt"]);
  const body = new Uint8Array(await subtle().encrypt(gcm(new Uint8Array(12), header), bodyKey.key, padded));
  const attachments = await attachmentsSealed;
  contentKey.fill(0);
  return { header, body, attachments, envelopeId };
}

// ---------------------------------------------------------------------------
// Open

/**
 * Open an envelope with X-Wing seeds (32 bytes each).
 *
 * @param {{header: Uint8Array, body: Uint8Array, attachments: Uint8Array[]}} sealed
 * @param {Uint8Array[]} seeds
 * @returns {Promise<{header: object, report: object, attachments: Array<{name, type, data: Uint8Array, sha256}>, derived: object}>}
 */
export async function openEnvelope(sealed, seeds) {
  const header = parseHeader(sealed.header);
  if (sealed.attachments.length !== header.slots.length) {
    throw new TamperedEnvelopeError("the number of attachments does not match the header");
  }
  const hpke = suite();
  const mine = new Map();
  for (const seed of seeds) {
    const publicKey = await publicKeyFromSeed(seed);
    mine.set(await keyIdOf(publicKey), seed);
  }
  const idBytes = fromHex(header.envelopeId);
  const entry = header.recipients.find((r) => mine.has(r.kid));
  if (!entry) throw new NotARecipientError("none of the unlocked keys is a recipient of this envelope");
  let contentKey;
  try {
    const recipientKey = await hpke.kem.deserializePrivateKey(new Uint8Array(mine.get(entry.kid)));
    contentKey = new Uint8Array(
      await hpke.open(
        { recipientKey, enc: entry.wrapped.slice(0, 1120), info: wrapInfo(idBytes, entry.kid) },
        entry.wrapped.slice(1120),
      ),
    );
  } catch {
    throw new TamperedEnvelopeError("the content key does not open for this recipient");
  }
  if (contentKey.length !== CONTENT_KEY_SIZE) throw new TamperedEnvelopeError("the content key has the wrong length");

  if (sealed.body.length !== header.bodySize + TAG_SIZE) throw new MalformedEnvelopeError("body has the wrong length");
  const bodyKey = await deriveAesKey(contentKey, idBytes, bodyInfo(), ["decrypt"]);
  let padded;
  try {
    padded = new Uint8Array(await subtle().decrypt(gcm(new Uint8Array(12), header.raw), bodyKey.key, sealed.body));
  } catch {
    throw new TamperedEnvelopeError("the body does not authenticate");
  }
  let end = padded.length;
  while (end > 0 && padded[end - 1] === 0) end--;
  if (end === 0 || padded[end - 1] !== 0x80) throw new MalformedEnvelopeError("body padding is invalid");
  let inner;
  try {
    inner = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(padded.subarray(0, end - 1)));
  } catch {
    throw new MalformedEnvelopeError("body is not UTF-8 JSON");
  }
  const members = header.version === VERSION ? ["attachments", "report"] : ["attachments", "auth", "report"];
  if (!exactKeys(inner, members) || !Array.isArray(inner.attachments)
    || inner.report === null || typeof inner.report !== "object" || Array.isArray(inner.report)) {
    throw new MalformedEnvelopeError("body must hold 'report' and 'attachments'");
  }
  let auth = null;
  if (header.version === VERSION_2) {
    const names = inner.auth !== null && typeof inner.auth === "object" && !Array.isArray(inner.auth)
      ? Object.keys(inner.auth) : [];
    if (names.length !== 1 || (names[0] !== "key" && names[0] !== "proof")) {
      throw new MalformedEnvelopeError("body auth must hold 'key' or 'proof'");
    }
    const raw = b64decode(inner.auth[names[0]], "auth");
    if (raw.length !== AUTH_SIZE) throw new MalformedEnvelopeError("body auth has the wrong length");
    auth = { [names[0]]: raw };
  }
  if (inner.attachments.length !== header.slots.length) {
    throw new MalformedEnvelopeError("body and header disagree on the number of attachments");
  }
  inner.attachments.forEach((m, i) => {
    const slot = header.slots[i];
    if (m === null || typeof m !== "object" || typeof m.name !== "string" || typeof m.type !== "string"
      || typeof m.sha256 !== "string" || !Number.isSafeInteger(m.size) || m.size < 0 || m.size > slot.size
      || padme(m.size) !== slot.size) {
      throw new MalformedEnvelopeError("attachment metadata does not match the header");
    }
  });

  const headerDigest = await sha256(header.raw);
  const attachmentKeys = [];
  const attachments = [];
  for (let i = 0; i < header.slots.length; i++) {
    const slot = header.slots[i];
    const blob = sealed.attachments[i];
    const key = await deriveAesKey(contentKey, idBytes, attachmentInfo(i), ["decrypt"]);
    attachmentKeys.push(toHex(key.raw));
    if (blob.length !== ciphertextSize(slot)) throw new TamperedEnvelopeError("attachment has the wrong length");
    const n = chunkCount(slot);
    const plain = new Uint8Array(slot.size);
    const step = slot.chunk + TAG_SIZE;
    for (let k = 0; k < n; k++) {
      const piece = blob.subarray(k * step, Math.min((k + 1) * step, blob.length));
      try {
        plain.set(new Uint8Array(await subtle().decrypt(gcm(chunkNonce(k, k === n - 1), headerDigest), key.key, piece)),
          k * slot.chunk);
      } catch {
        throw new TamperedEnvelopeError(`attachment ${i} chunk ${k} does not authenticate`);
      }
    }
    const meta = inner.attachments[i];
    for (let j = meta.size; j < plain.length; j++) {
      if (plain[j] !== 0) throw new MalformedEnvelopeError("attachment padding is not zero");
    }
    const data = plain.subarray(0, meta.size);
    const digest = toHex(await sha256(data));
    if (digest !== meta.sha256) throw new MalformedEnvelopeError("attachment digest does not match");
    attachments.push({ name: meta.name, type: meta.type, data, sha256: digest });
  }
  return {
    header,
    report: inner.report,
    attachments,
    auth,
    derived: {
      content_key: toHex(contentKey),
      body_key: toHex(bodyKey.raw),
      attachment_keys: attachmentKeys,
      header_sha256: toHex(headerDigest),
    },
  };
}
