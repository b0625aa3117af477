// The viewer's integrity checks (crates/viewer/assets/verify.js) under node's WebCrypto, which is
// the browser's API: published RFC 6962 vectors, proofs that must be refused, RFC 8785 examples,
// and ECDSA P-256 signatures made here by node's own crypto in DER, as KMS returns them.
//
// Vectors: the Go module transparency-dev/merkle (`testonly/constants.go`, `proof/verify_test.go`),
// the same ones crates/tlog/tests/it/vectors.rs checks; the JCS examples are RFC 8785's §3.2.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import * as V from '../../crates/viewer/assets/verify.js';

const bytes = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const b64 = (u8) => Buffer.from(u8).toString('base64');

const INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  null,
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

const leafOf = (i) => V.leafHash(bytes(INPUTS[i]));

test('published inclusion proofs verify against the published roots', async () => {
  assert.equal(V.hex(await leafOf(0)), ROOTS[1]);
  for (const [index, size, path] of INCLUSION) {
    const ok = await V.verifyInclusion(index, size, await leafOf(index), path.map(bytes), bytes(ROOTS[size]));
    assert.ok(ok, `leaf ${index} of ${size}`);
  }
});

test('every leaf of every tree up to 8 verifies with the path built from the published subtrees', async () => {
  // The tree of the first `size` inputs, built here by RFC 9162 §2.1.1, gives the proofs.
  const mth = async (lo, hi) => {
    if (hi - lo === 1) return leafOf(lo);
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return V.nodeHash(await mth(lo, lo + k), await mth(lo + k, hi));
  };
  const path = async (m, lo, hi) => {
    if (hi - lo === 1) return [];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return m - lo < k
      ? [...await path(m, lo, lo + k), await mth(lo + k, hi)]
      : [...await path(m, lo + k, hi), await mth(lo, lo + k)];
  };
  for (let size = 1; size <= 8; size += 1) {
    assert.equal(V.hex(await mth(0, size)), ROOTS[size]);
    for (let m = 0; m < size; m += 1) {
      assert.ok(await V.verifyInclusion(m, size, await leafOf(m), await path(m, 0, size), bytes(ROOTS[size])));
    }
  }
});

test('bad inclusion proofs are refused', async () => {
  const [index, size, hexPath] = INCLUSION[2]; // leaf 5 of 8
  const path = hexPath.map(bytes);
  const leaf = await leafOf(index);
  const root = bytes(ROOTS[size]);
  const refused = async (what, ...args) => assert.equal(await V.verifyInclusion(...args), false, what);
  await refused('a wrong index', 4, size, leaf, path, root);
  await refused('an index past the tree', 8, size, leaf, path, root);
  await refused('a negative index', -1, size, leaf, path, root);
  // (Size 7 with size 8's root would verify: this path hashes the same way in both trees. The size
  // and the root come together from the signed checkpoint.)
  await refused('a wrong size', index, 7, leaf, path, bytes(ROOTS[7]));
  await refused('a smaller size', index, 6, leaf, path, bytes(ROOTS[6]));
  await refused('size 0', 0, 0, leaf, [], root);
  await refused('a truncated path', index, size, leaf, path.slice(0, 2), root);
  await refused('an extended path', index, size, leaf, [...path, path[0]], root);
  await refused('swapped siblings', index, size, leaf, [path[1], path[0], path[2]], root);
  await refused('another leaf', index, size, await leafOf(4), path, root);
  await refused('another root', index, size, leaf, path, bytes(ROOTS[7]));
  await refused('a short sibling', index, size, leaf, [path[0].subarray(1), path[1], path[2]], root);
  // Size 1: the leaf is the root and the path is empty.
  await refused('size 1 with a path', 0, 1, await leafOf(0), [bytes(ROOTS[2])], bytes(ROOTS[1]));
  // The last leaf of a tree whose size is not a power of two.
  const last = INCLUSION[3];
  assert.ok(await V.verifyInclusion(last[0], last[1], await leafOf(2), last[2].map(bytes), bytes(ROOTS[3])));
  await refused('the last leaf, as if of a larger tree', 2, 4, await leafOf(2), last[2].map(bytes), bytes(ROOTS[3]));
});

test('JCS: RFC 8785 member order by UTF-16 code units, and ECMAScript numbers', () => {
  const sorting = JSON.parse('{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",'
    + '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control","\\u00f6":"Latin Small Letter O With Diaeresis"}');
  // (Read back, an object would list "1" first: ECMAScript orders integer-like keys so. The text is
  // what is hashed.)
  assert.equal(V.canonicalJson(sorting), '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
    + '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face",'
    + '"\ufb33":"Hebrew Letter Dalet With Dagesh"}');
  assert.equal(V.canonicalJson(JSON.parse('{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]}')),
    '{"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}');
  assert.equal(V.canonicalJson(JSON.parse('{"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/"}')),
    '{"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  assert.equal(V.canonicalJson({ b: [true, null, { d: 1, c: -0 }], a: 'x' }), '{"a":"x","b":[true,null,{"c":0,"d":1}]}');
});

test('integers a double cannot hold are told apart', () => {
  assert.equal(V.hasUnsafeInteger(JSON.parse('{"a":[1,{"b":9007199254740991}],"c":1.5}')), false);
  assert.equal(V.hasUnsafeInteger(JSON.parse('{"a":[1,{"b":9007199254740993}]}')), true);
  assert.equal(V.hasUnsafeInteger(JSON.parse('{"customer_id":9223372036854775807}')), true);
});

test('checkpoints parse only in the C2SP shape', () => {
  const root = b64(bytes(ROOTS[8]));
  const cp = V.parseCheckpoint(`audit-log/acme\n8\n${root}\n2026-12-04T09:00:00Z\n`);
  assert.equal(cp.origin, 'audit-log/acme');
  assert.equal(cp.size, 8);
  assert.equal(V.hex(cp.root), ROOTS[8]);
  assert.deepEqual(cp.extensions, ['2026-12-04T09:00:00Z']);
  for (const bad of [
    `audit-log/acme\n8\n${root}`, // no final newline
    `audit-log/acme\n08\n${root}\n`, // not canonical decimal
    `audit-log/acme\n-1\n${root}\n`,
    `audit-log/acme\n8\n${root.slice(4)}\n`, // not 32 bytes
    `audit-log/acme\n8\n${root.replace(/=$/, '')}\n`, // not padded
    `\n8\n${root}\n`,
    `audit-log/acme\n8\n`,
    `audit-log/acme\n8\n${root}\n\nextra\n`,
  ]) {
    assert.throws(() => V.parseCheckpoint(bad), undefined, JSON.stringify(bad));
  }
});

test('a DER P-256 signature from node verifies, and a changed body, signature or key does not', async () => {
  const body = 'audit-log/acme\n8\nXcnaeacGWamtVZy3Ad7Zoqudgjqtl0lgz+Nw7/RgQyg=\n2026-12-04T09:00:00Z\n';
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' }));
  const key = await V.importKey(spki);
  const otherKey = await V.importKey(new Uint8Array(other.publicKey.export({ type: 'spki', format: 'der' })));
  // Signatures until one has a short r or s (a leading zero byte: a shorter INTEGER) and one a
  // 0x00 pad (the high bit set), so that both paths of the DER conversion are tried.
  let short = 0;
  let padded = 0;
  for (let i = 0; i < 4000 && !(short && padded > 4); i += 1) {
    const der = new Uint8Array(sign('sha256', Buffer.from(body), { key: pair.privateKey, dsaEncoding: 'der' }));
    if (der[1] < 68) short += 1;
    if (der[1] > 68) padded += 1;
    assert.ok(await V.verifySignature(key, der, body), `signature ${i}`);
    assert.equal(await V.verifySignature(key, der, body.replace('8\n', '9\n')), false);
    assert.equal(await V.verifySignature(otherKey, der, body), false);
    const flipped = der.slice();
    flipped[flipped.length - 1] ^= 1;
    assert.equal(await V.verifySignature(key, flipped, body), false);
  }
  assert.ok(short > 0 && padded > 0, 'the DER conversion was not tried with short and padded integers');
  // Not DER at all, and DER with trailing bytes.
  assert.equal(await V.verifySignature(key, new Uint8Array(64), body), false);
  const der = new Uint8Array(sign('sha256', Buffer.from(body), { key: pair.privateKey, dsaEncoding: 'der' }));
  assert.equal(await V.verifySignature(key, Uint8Array.from([...der, 0]), body), false);
  assert.equal((await V.fingerprint(spki)).length, 64);
});
