// The integrity panel of an event's detail. It fetches the event's inclusion proof and the signed
// checkpoint it is proved against (`GET /api/logs/{id}/proof`), and checks both here, in the
// browser, with WebCrypto (verify.js): the checkpoint's ECDSA P-256 signature under the public key
// it names, and the event exactly as this page received it, hashed to its leaf, up the proof's path
// to the signed root. The server's word is never taken for either.

import { h, replace } from './dom.js';
import { checkEvent, hasUnsafeInteger, subtle } from './verify.js';
import { ApiError } from './api.js';

const NOT_SEALED = 'Not yet in a signed checkpoint. The log is signed at most a minute after it grows; '
  + 'open the event again shortly.';

function panel(...children) {
  return h('section', { class: 'integrity', 'aria-labelledby': 'integrity-title' },
    h('h3', { id: 'integrity-title' }, 'Integrity'), ...children);
}

function line(state, text) {
  return h('p', { class: `integrity-status ${state}`, role: 'status', 'data-state': state }, text);
}

function shortFingerprint(fp) {
  return fp.match(/.{1,4}/g).join(' ');
}

function result(check) {
  const items = [
    h('li', { 'data-check': 'signature', 'data-ok': String(check.signed) },
      check.signed
        ? `Checkpoint signature verified (ECDSA P-256, SHA-256): ${check.origin}, size ${check.size}`
          + (check.signedAt ? `, signed ${check.signedAt}` : '')
        : `The checkpoint's signature does not verify under the key it names (${check.origin}, size ${check.size}).`),
    h('li', { 'data-check': 'inclusion', 'data-ok': String(check.included) },
      check.included
        ? `This event, as shown, is leaf ${check.leafIndex} of the signed log (inclusion proof verified).`
        : `Inclusion not verified: ${check.reason}.`),
  ];
  if (check.writer === 'foreign') {
    items.push(h('li', { 'data-check': 'writer', 'data-ok': 'false' },
      'This version was not written by the service (no valid writer mark): a foreign write.'));
  }
  if (check.versions > 1) {
    items.push(h('li', { 'data-check': 'versions' }, `The log holds ${check.versions} versions of this event; this is the latest.`));
  }
  const ok = check.ok && check.writer !== 'foreign';
  return [
    line(ok ? 'verified' : 'failed', ok
      ? 'Verified in this browser: the event is in the signed log.'
      : 'Not verified: this event does not match the signed log.'),
    h('ul', { class: 'integrity-checks' }, items),
    h('p', { class: 'muted fingerprint' }, 'Signing key (SHA-256 of its public key): ',
      h('code', { title: check.fingerprint }, shortFingerprint(check.fingerprint)),
      '. Compare it with the key your operator gave you.'),
  ];
}

/**
 * The panel for `log`'s detail. It shows "checking" at once, and fills itself in when the proof
 * has been fetched and checked; `api` is the page's client, `signal` aborts the fetch.
 */
export function integrityPanel(log, { api, signal } = {}) {
  if (!api) return null;
  const body = h('div', { class: 'integrity-body', 'aria-live': 'polite' }, line('checking', 'Checking the sealed log…'));
  const section = panel(body);
  if (!subtle()) {
    replace(body, line('unavailable', 'Cannot check here: this browser offers WebCrypto only on HTTPS pages.'));
    return section;
  }
  if (hasUnsafeInteger(log)) {
    replace(body, line('unavailable', 'Not sealed: this event holds an integer beyond 2^53 − 1, which has no '
      + 'RFC 8785 form every verifier shares, so the service leaves it out of the log.'));
    return section;
  }
  (async () => {
    let proof;
    try {
      proof = await api.getJson(`api/logs/${encodeURIComponent(log.id)}/proof`, null, { signal });
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof ApiError && error.status === 409) {
        replace(body, line('pending', NOT_SEALED));
      } else if (error instanceof ApiError && error.status === 404) {
        replace(body, line('failed', 'Not verified: the sealed log has no leaf for this event.'));
      } else {
        replace(body, line('error', `Could not fetch the proof: ${error.message}`));
      }
      return;
    }
    try {
      const check = await checkEvent(log, proof);
      if (!signal?.aborted) replace(body, result(check));
    } catch (error) {
      if (!signal?.aborted) replace(body, line('failed', `Not verified: ${error.message}.`));
    }
  })();
  return section;
}
