// The API on the page's own origin, and the key it is read with. The key lives in sessionStorage
// only (gone when the tab closes) and goes in the Authorization header, never in a URL. A request
// is first sent as it is: under optional auth no key is needed, and a 401 asks for one.

const KEY_ITEM = 'audit-log.api-key';

/** The key, for when sessionStorage refuses to keep it. */
let memoryKey = '';

/** An answer other than 2xx. `fields` holds a 422's errors, keyed by field. */
export class ApiError extends Error {
  constructor(status, message, fields = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fields = fields;
  }
}

export function storedKey() {
  try {
    return sessionStorage.getItem(KEY_ITEM) || '';
  } catch {
    return '';
  }
}

export function storeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch {
    // Storage refused (a privacy mode): the key then lasts only as long as this page.
  }
  memoryKey = key;
}

function currentKey() {
  return storedKey() || memoryKey;
}

/** `path` (relative to the page, such as `api/read`) with `params`, on the page's own origin. */
export function apiUrl(path, params) {
  const url = new URL(path, document.baseURI);
  if (params && [...params].length) url.search = params.toString();
  return url;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's page, say): the status is all there is.
  }
  const error = body?.error;
  if (response.status === 422 && error && typeof error === 'object') {
    const fields = Object.fromEntries(Object.entries(error).map(([k, v]) => [k, String(v)]));
    return new ApiError(422, Object.values(fields).join('; '), fields);
  }
  const message = typeof error === 'string' ? error : `the server answered ${response.status}`;
  return new ApiError(response.status, message);
}

/**
 * Creates the client. `askKey(reason)` shows the key prompt and resolves to a key, or to '' when
 * the person declines; `onKeyChange()` is told whenever the stored key changes.
 */
export function createApi({ askKey, onKeyChange }) {
  /** Fetches `url` (a URL on this origin) with the key, asking for one on 401; the Response. */
  async function send(url, { signal, accept = 'application/json' } = {}) {
    if (url.origin !== location.origin) throw new Error(`refusing to send the key to ${url.origin}`);
    for (;;) {
      const key = currentKey();
      const headers = { Accept: accept };
      if (key) headers.Authorization = `Bearer ${key}`;
      const response = await fetch(url, { headers, signal, cache: 'no-store', credentials: 'omit' });
      if (response.status !== 401) return response;
      if (key) {
        storeKey('');
        onKeyChange?.();
      }
      const next = await askKey(key ? 'refused' : 'required');
      if (!next) throw await errorOf(response);
      storeKey(next);
      onKeyChange?.();
    }
  }

  /** GETs `path` with `params` and answers its JSON; a non-2xx answer throws an ApiError. */
  async function getJson(path, params, options) {
    const response = await send(apiUrl(path, params), options);
    if (!response.ok) throw await errorOf(response);
    return response.json();
  }

  /** GETs `url` and answers the Response; a non-2xx answer throws an ApiError. */
  async function get(url, options) {
    const response = await send(url, options);
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  return { getJson, get };
}
