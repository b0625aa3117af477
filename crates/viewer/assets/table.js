// The table of events: its rows, its sortable headers, and its empty and loading states.

import { h, replace, timeElement } from './dom.js';
import { ariaSort } from './state.js';

const COLUMNS = 4;

/** `name` with a line-break opportunity after each `.`, `_`, `-`, `/` or `:`, for narrow screens. */
function breakable(name) {
  return name.split(/(?<=[._\-/:])/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

/** Marks the header of the column `sort` orders by (`aria-sort`), and no other. */
export function showSort(table, sort) {
  for (const th of table.querySelectorAll('th[data-column]')) {
    const direction = ariaSort(sort, th.dataset.column);
    if (direction) th.setAttribute('aria-sort', direction);
    else th.removeAttribute('aria-sort');
  }
}

/**
 * Fills the body with `logs`; `detailHref(id)` is each row's link to its detail. Every value is
 * set as text.
 */
export function showRows(table, logs, detailHref) {
  const body = table.tBodies[0];
  if (logs.length === 0) {
    replace(body, h('tr', { class: 'empty' },
      h('td', { colspan: COLUMNS }, 'No events match these filters.')));
    return;
  }
  replace(body, logs.map((log) => h('tr', { 'data-id': log.id },
    h('td', { class: 'time' }, timeElement(log.created_at)),
    h('td', { class: 'name' }, h('a', { href: detailHref(log.id), 'data-id': log.id }, breakable(log.event_name))),
    h('td', { class: 'customer' }, log.customer_id === undefined || log.customer_id === null
      ? h('span', { class: 'absent', title: 'no customer' }, '—')
      : String(log.customer_id)),
    h('td', { class: 'description' }, log.description),
  )));
}

/** Shows that a page is on its way; the rows already shown stay, dimmed, until it arrives. */
export function showLoading(table, loading) {
  table.setAttribute('aria-busy', loading ? 'true' : 'false');
  const body = table.tBodies[0];
  if (loading && body.rows.length === 0) {
    replace(body, h('tr', { class: 'loading' }, h('td', { colspan: COLUMNS }, 'Loading events…')));
  }
}

/** Empties the body after an error, which is shown beside the table. */
export function showNothing(table) {
  replace(table.tBodies[0]);
}
