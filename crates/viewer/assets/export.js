// Export of the current filters and sort through `GET /api/export`. The key must stay out of URLs,
// so the page cannot simply link to the export: it fetches each page with the key header, follows
// `Link: <...>; rel="next"` to the end, and hands the joined pages to the browser as one download.

import { apiUrl } from './api.js';

export const FORMATS = {
  csv: { type: 'text/csv;charset=utf-8', extension: 'csv' },
  ndjson: { type: 'application/x-ndjson;charset=utf-8', extension: 'ndjson' },
};

/** The target of `Link`'s `rel="next"`, or null. */
export function nextLink(header) {
  for (const link of (header ?? '').split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(link);
    const rel = match && /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(match[2]);
    if (rel && (rel[1] ?? rel[2]).toLowerCase().split(/\s+/).includes('next')) return match[1];
  }
  return null;
}

/** The file name of a `Content-Disposition: attachment; filename="..."`, or null. */
export function dispositionName(header) {
  const match = /filename="([^"]+)"/i.exec(header ?? '') ?? /filename=([^;\s]+)/i.exec(header ?? '');
  // Only the last path segment, whatever the server sent.
  return match ? match[1].split(/[\\/]/).pop() || null : null;
}

/** The first line of `text`, with its line break: a CSV page's header. */
function firstLine(text) {
  const end = text.indexOf('\n');
  return end === -1 ? text : text.slice(0, end + 1);
}

/**
 * Fetches every page of the export of `params` as `format`; `onPage(n)` reports each page
 * fetched. Resolves to `{ blob, filename }`.
 */
export async function fetchExport(api, params, format, { onPage, signal } = {}) {
  const query = new URLSearchParams(params);
  query.set('format', format);
  let url = apiUrl('api/export', query);
  const parts = [];
  let filename = null;
  let header = null;
  for (let page = 1; url; page += 1) {
    const response = await api.get(url, { signal, accept: FORMATS[format].type.split(';')[0] });
    filename ??= dispositionName(response.headers.get('Content-Disposition'));
    let text = await response.text();
    // Each CSV page may start with the header: the file keeps only the first page's.
    if (format === 'csv') {
      if (header === null) header = firstLine(text);
      else if (text.startsWith(header)) text = text.slice(header.length);
    }
    if (text && !text.endsWith('\n')) text += '\n';
    parts.push(text);
    onPage?.(page);
    const next = nextLink(response.headers.get('Link'));
    // The Link is relative to the API's root; a next page elsewhere would be sent the key.
    url = next ? new URL(next, document.baseURI) : null;
    if (url && url.origin !== location.origin) throw new Error('the export linked to another origin');
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    blob: new Blob(parts, { type: FORMATS[format].type }),
    filename: filename ?? `audit-log-${stamp}.${FORMATS[format].extension}`,
  };
}

/** Gives `blob` to the browser as a download named `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
