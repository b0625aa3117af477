// The sealed log's checks, with nothing but WebCrypto: the leaf of an event (SHA-256 over 0x00 and
// the RFC 8785 JCS bytes of its `log` object), an RFC 9162 §2.1.3.2 inclusion proof against a
// checkpoint's root, the C2SP checkpoint body, and its ECDSA P-256 / SHA-256 signature. No DOM: the
// node tests (tests/browser/verify.test.mjs) run this module as the page does.

const encoder = new TextEncoder();

/** The WebCrypto of this page, or null where the browser offers none (an http page not on localhost). */
export function subtle() {
  return globalThis.crypto?.subtle ?? null;
}

/**
 * RFC 8785 (JCS) of a JSON value parsed by `JSON.parse`: object members sorted by their names' UTF-16
 * code units, no whitespace, strings and numbers as ECMAScript's `JSON.stringify` writes them (which
 * is how JCS defines them).
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    // The default sort compares UTF-16 code units, as JCS requires.
    const members = Object.keys(value).sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`);
    return `{${members.join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('JCS has no form for a non-finite number');
  return JSON.stringify(value);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await subtle().digest('SHA-256', bytes));
}

/** RFC 9162 §2.1.1: the hash of a leaf whose data is `bytes`. */
export function leafHash(bytes) {
  return sha256(concat(Uint8Array.of(0), bytes));
}

/** RFC 9162 §2.1.1: the hash of an interior node. */
export function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** Whether `value` holds an integer that a double cannot hold exactly (beyond 2^53 − 1). */
export function hasUnsafeInteger(value) {
  if (typeof value === 'number') return Number.isInteger(value) && !Number.isSafeInteger(value);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasUnsafeInteger);
  return false;
}

/** The leaf of an event version: SHA-256(0x00 || JCS(log)). */
export function eventLeaf(log) {
  return leafHash(encoder.encode(canonicalJson(log)));
}

export function fromBase64(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error('not standard base64');
  }
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The root that an inclusion proof yields for `leaf` at `index` in a tree of `size` leaves (RFC 9162
 * §2.1.3.2), or null when the proof cannot be one: an index outside the tree, a path too short or
 * too long, a sibling that is not a 32-byte hash.
 */
export async function rootFromInclusion(index, size, leaf, path) {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (!(p instanceof Uint8Array) || p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** Whether `path` proves `leaf` at `index` under `root` for a tree of `size`. */
export async function verifyInclusion(index, size, leaf, path, root) {
  const computed = await rootFromInclusion(index, size, leaf, path);
  return computed !== null && equalBytes(computed, root);
}

/**
 * A C2SP checkpoint body: origin, decimal size and base64 root, each on its own line, then extension
 * lines (here the time it was signed), every line ending in a newline. Throws on anything else.
 */
export function parseCheckpoint(body) {
  if (typeof body !== 'string' || !body.endsWith('\n')) throw new Error('the checkpoint does not end with a newline');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('the checkpoint has fewer than three lines');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) throw new Error('the checkpoint has no origin');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new Error(`the checkpoint's size ${JSON.stringify(sizeText)} is not a decimal number`);
  }
  const root = fromBase64(rootText);
  if (root.length !== 32) throw new Error('the checkpoint\'s root is not a SHA-256 hash');
  if (extensions.some((line) => line === '')) throw new Error('the checkpoint has an empty line');
  return { origin, size: Number(sizeText), root, extensions };
}

/**
 * An ASN.1 DER ECDSA signature (SEQUENCE of two INTEGERs) as WebCrypto's raw form: r and s, each
 * left-padded to 32 bytes. Throws on anything that is not one.
 */
export function derToRaw(der) {
  const fail = () => { throw new Error('the signature is not a DER ECDSA P-256 signature'); };
  let at = 0;
  const byte = () => (at < der.length ? der[at++] : fail());
  const length = () => {
    const first = byte();
    if (first < 0x80) return first;
    if (first !== 0x81) fail();
    const n = byte();
    return n >= 0x80 ? n : fail();
  };
  if (byte() !== 0x30) fail();
  if (length() !== der.length - at) fail();
  const integer = () => {
    if (byte() !== 0x02) fail();
    const n = length();
    if (n === 0 || at + n > der.length) fail();
    let value = der.subarray(at, at + n);
    at += n;
    if (value[0] & 0x80) fail(); // negative
    if (value.length > 1 && value[0] === 0 && !(value[1] & 0x80)) fail(); // not minimal
    if (value[0] === 0) value = value.subarray(1);
    if (value.length > 32) fail();
    const out = new Uint8Array(32);
    out.set(value, 32 - value.length);
    return out;
  };
  const r = integer();
  const s = integer();
  if (at !== der.length) fail();
  return concat(r, s);
}

/** Imports a DER SubjectPublicKeyInfo of a P-256 key for ECDSA verification. */
export function importKey(spki) {
  return subtle().importKey('spki', spki, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
}

/** Whether `signatureDer` is the key's ECDSA P-256 / SHA-256 signature over the body's UTF-8 bytes. */
export async function verifySignature(key, signatureDer, body) {
  let raw;
  try {
    raw = derToRaw(signatureDer);
  } catch {
    return false;
  }
  return subtle().verify({ name: 'ECDSA', hash: 'SHA-256' }, key, raw, encoder.encode(body));
}

/** The key's fingerprint: SHA-256 over its DER SubjectPublicKeyInfo, in hex. */
export async function fingerprint(spki) {
  return hex(await sha256(spki));
}

/**
 * Checks an event as `GET /api/logs/{id}` answered it against `GET /api/logs/{id}/proof`: the
 * checkpoint's signature, and that the event's latest version, hashed here, is included under the
 * signed root. Answers what held; `ok` only when everything did. Throws only when the proof answer
 * is not of the documented shape.
 */
export async function checkEvent(log, proof) {
  const cp = proof?.checkpoint;
  if (!cp || typeof cp.checkpoint !== 'string') throw new Error('the proof carries no checkpoint');
  const checkpoint = parseCheckpoint(cp.checkpoint);
  const spki = fromBase64(cp.public_key);
  const key = await importKey(spki);
  const signed = await verifySignature(key, fromBase64(cp.signature), cp.checkpoint);
  const versions = Array.isArray(proof.versions) ? proof.versions : [];
  const latest = versions.at(-1);
  const leaf = await eventLeaf(log);
  let included = false;
  let reason = '';
  if (proof.tree_size !== checkpoint.size) {
    reason = `the proof is for size ${proof.tree_size}, the checkpoint for ${checkpoint.size}`;
  } else if (!latest) {
    reason = 'the log holds no version of this event';
  } else if (latest.kind !== 'event') {
    reason = 'the log\'s latest version of this event is its removal';
  } else {
    const path = (Array.isArray(latest.inclusion) ? latest.inclusion : []).map(fromBase64);
    included = await verifyInclusion(latest.leaf_index, checkpoint.size, leaf, path, checkpoint.root);
    if (!included) reason = 'the event as shown does not hash to the signed log\'s leaf at this index';
  }
  return {
    ok: signed && included,
    signed,
    included,
    reason,
    leafIndex: latest?.leaf_index ?? null,
    writer: latest?.writer ?? null,
    versions: versions.length,
    origin: checkpoint.origin,
    size: checkpoint.size,
    signedAt: checkpoint.extensions[0] ?? '',
    fingerprint: await fingerprint(spki),
    leaf: hex(leaf),
  };
}
