// One event's detail: every field it has, `metadata` pretty-printed, and a button that copies the id.

import { h, replace, localTime } from './dom.js';
import { integrityPanel } from './integrity.js';

const KNOWN = ['id', 'created_at', 'event_name', 'description', 'customer_id', 'metadata'];

function row(term, ...value) {
  return [h('dt', null, term), h('dd', null, ...value)];
}

function pretty(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

async function copy(text, status, fallback) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = 'Copied';
  } catch {
    // No clipboard (an insecure origin, or permission refused): select the id for a manual copy.
    const range = document.createRange();
    range.selectNodeContents(fallback);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    status.textContent = 'Selected: press Ctrl+C to copy';
  }
}

/**
 * Fills `body` with `log`, as `GET /api/logs/{id}` answered it, and its integrity check (which
 * fetches the proof with `api`, aborted by `signal`).
 */
export function showDetail(body, log, { api, signal } = {}) {
  const id = h('code', { class: 'id' }, log.id);
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copyButton = h('button', { type: 'button', class: 'copy', onclick: () => copy(log.id, status, id) },
    'Copy id');
  const fields = [
    row('ID', id, ' ', copyButton, ' ', status),
    row('Time', h('span', null, localTime(log.created_at)), h('br'),
      h('span', { class: 'utc' }, `${log.created_at} (UTC)`)),
    row('Event name', log.event_name),
    row('Description', h('span', { class: 'text' }, log.description)),
    row('Customer', log.customer_id === undefined || log.customer_id === null
      ? h('span', { class: 'absent' }, 'none')
      : String(log.customer_id)),
    row('Metadata', log.metadata === undefined || log.metadata === null
      ? h('span', { class: 'absent' }, 'none')
      : pretty(log.metadata)),
  ];
  // Fields this page does not know yet are shown too, as JSON: the detail shows every field.
  const others = Object.keys(log).filter((k) => !KNOWN.includes(k))
    .map((k) => row(k, pretty(log[k])));
  const parts = [h('dl', { class: 'event-fields' }, fields, others)];
  const integrity = integrityPanel(log, { api, signal });
  if (integrity) parts.push(integrity);
  replace(body, parts);
}

/** Shows a message (loading, not found, an error) in place of the detail. */
export function showDetailMessage(body, message, { alert = false } = {}) {
  replace(body, h('p', { class: alert ? 'error' : 'muted', role: alert ? 'alert' : 'status' }, message));
}
