// The viewer's controller. The page's URL is its state (state.js): every change of filters, sort,
// page size, page or open event is a history entry, so links share a view, and back and forward
// (popstate) redraw it. The cursors of the pages passed are kept in each entry's history state, for
// the Back button. What the API answers is drawn by table.js, chart.js and detail.js.

import { ApiError, createApi, storedKey, storeKey } from './api.js';
import { drawChart } from './chart.js';
import { showDetail, showDetailMessage } from './detail.js';
import { count, h, replace, TIME_ZONE } from './dom.js';
import { download, fetchExport } from './export.js';
import * as S from './state.js';
import { showLoading, showNothing, showRows, showSort } from './table.js';

const $ = (id) => document.getElementById(id);

const form = $('filters');
const inputs = {
  event_name: $('f-event_name'),
  customer_id: $('f-customer_id'),
  from: $('f-from'),
  to: $('f-to'),
  page_size: $('page-size'),
};
const table = $('events');
const pager = { first: $('page-first'), prev: $('page-prev'), next: $('page-next'), info: $('page-info') };
const chart = { section: $('chart-section'), box: $('chart'), caption: $('chart-caption'), status: $('chart-status') };
const detail = { dialog: $('detail'), body: $('detail-body') };
const keyDialog = { dialog: $('key-dialog'), input: $('key-input'), reason: $('key-reason') };

// ---- the key ----

let keyPrompt = null;

const REASONS = {
  required: 'This API needs an API key to show events.',
  refused: 'The API refused that key: it is unknown, expired or revoked. Enter another.',
  manual: 'Enter the API key to read events with.',
};

/** Shows the key prompt (once, however many requests ask); resolves to the key, or '' if declined. */
function askKey(reason) {
  if (keyPrompt) return keyPrompt;
  keyDialog.reason.textContent = REASONS[reason];
  keyDialog.input.value = '';
  keyDialog.dialog.returnValue = '';
  keyPrompt = new Promise((resolve) => {
    keyDialog.dialog.addEventListener('close', () => {
      const key = keyDialog.dialog.returnValue === 'use' ? keyDialog.input.value.trim() : '';
      keyDialog.input.value = '';
      keyPrompt = null;
      resolve(key);
    }, { once: true });
  });
  keyDialog.dialog.showModal();
  return keyPrompt;
}

function showKeyState() {
  const hasKey = Boolean(storedKey());
  $('key-state').textContent = hasKey ? 'Using an API key for this tab' : 'No API key';
  $('key-forget').hidden = !hasKey;
}

const api = createApi({ askKey, onKeyChange: showKeyState });

$('key-set').addEventListener('click', async () => {
  const key = await askKey('manual');
  if (!key) return;
  storeKey(key);
  showKeyState();
  reload();
});

$('key-forget').addEventListener('click', () => {
  storeKey('');
  showKeyState();
  $('key-set').focus();
  reload();
});

// ---- state and history ----

let state = S.fromSearch(location.search);
/** The cursors of the pages before this one, oldest first ('' is the first page). */
let back = history.state?.back ?? [];

/** Moves to `next`: a new history entry (or a replaced one), then redraws what changed. */
function go(next, { replace = false, backStack = [], opened = false } = {}) {
  const entry = { back: backStack, opened };
  const url = `${location.pathname}${S.toSearch(next)}`;
  const same = url === `${location.pathname}${location.search}`;
  history[replace || same ? 'replaceState' : 'pushState'](entry, '', url);
  apply(next, entry);
}

function apply(next, entry) {
  state = next;
  back = entry?.back ?? [];
  render();
}

addEventListener('popstate', (event) => apply(S.fromSearch(location.search), event.state));

function reload() {
  tableKey = null;
  chartKey = null;
  detailFor = null;
  render();
}

function render() {
  syncForm();
  showSort(table, state.sort);
  $('events-caption').textContent = describeSort(state.sort);
  loadTable();
  loadChart();
  syncDetail();
}

function describeSort(sort) {
  return {
    '-created_at': 'Events, newest first',
    created_at: 'Events, oldest first',
    event_name: 'Events by name, A to Z',
    '-event_name': 'Events by name, Z to A',
  }[sort] ?? 'Events';
}

// ---- the filters ----

function syncForm() {
  inputs.event_name.value = state.filters.event_name;
  inputs.customer_id.value = state.filters.customer_id;
  inputs.from.value = S.toLocalInput(state.filters.from);
  inputs.to.value = S.toLocalInput(state.filters.to);
  const select = inputs.page_size;
  if (![...select.options].some((o) => o.value === state.pageSize)) {
    select.append(h('option', { value: state.pageSize }, state.pageSize));
  }
  select.value = state.pageSize;
}

/** A time input's value as the filter: unchanged when it still shows the filter's time. */
function timeFilter(input, current) {
  if (!input.value) return '';
  return input.value === S.toLocalInput(current) ? current : S.fromLocalInput(input.value);
}

function formFilters() {
  return {
    event_name: inputs.event_name.value.trim(),
    customer_id: inputs.customer_id.value.trim(),
    from: timeFilter(inputs.from, state.filters.from),
    to: timeFilter(inputs.to, state.filters.to),
  };
}

/** A new query from the form: the first page, freshly read, invalid fields focused. */
function query(changes) {
  focusInvalid = true;
  tableKey = null;
  chartKey = null;
  go(S.firstPage(state, changes));
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  query({ filters: formFilters() });
});

$('filters-clear').addEventListener('click', () => {
  query({ filters: { event_name: '', customer_id: '', from: '', to: '' } });
});

for (const preset of S.PRESETS) {
  $('presets').append(h('button', {
    type: 'button',
    onclick: () => query({ filters: { ...formFilters(), ...S.presetRange(preset.id) } }),
  }, preset.label));
}

for (const size of S.PAGE_SIZES) inputs.page_size.append(h('option', { value: size }, size));
inputs.page_size.addEventListener('change', () => go(S.firstPage(state, { pageSize: inputs.page_size.value })));

for (const zone of document.querySelectorAll('.tz')) zone.textContent = `(${TIME_ZONE})`;

table.tHead.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-sort]');
  if (button) go(S.firstPage(state, { sort: S.nextSort(state.sort, button.dataset.sort) }));
});

// ---- errors ----

let focusInvalid = false;

/** Where each field's 422 is shown, and the control it describes. */
const FIELD_ERRORS = {
  event_name: inputs.event_name,
  customer_id: inputs.customer_id,
  from: inputs.from,
  to: inputs.to,
  page_size: inputs.page_size,
  sort: table,
};

function clearErrors() {
  for (const [field, control] of Object.entries(FIELD_ERRORS)) {
    $(`e-${field}`).textContent = '';
    control.removeAttribute('aria-invalid');
  }
  $('error').hidden = true;
  replace($('error'));
}

function showError(message, ...actions) {
  const box = $('error');
  replace(box, h('p', null, message), actions.length ? h('p', { class: 'actions' }, actions) : null);
  box.hidden = false;
}

function actionButton(label, onclick) {
  return h('button', { type: 'button', onclick }, label);
}

function showTableError(error) {
  showNothing(table);
  pager.info.textContent = '';
  $('status').textContent = '';
  if (error instanceof ApiError && error.fields) {
    const others = [];
    let first = null;
    for (const [field, message] of Object.entries(error.fields)) {
      const control = FIELD_ERRORS[field];
      if (control) {
        $(`e-${field}`).textContent = message;
        control.setAttribute('aria-invalid', 'true');
        first ??= control;
      } else {
        others.push(`${field}: ${message}`);
      }
    }
    if ('cursor' in error.fields) {
      showError('This page’s link is no longer valid for this query or key.',
        actionButton('Go to the first page', () => go(S.firstPage(state))));
    } else if (others.length) {
      showError(`The API refused the query: ${others.join('; ')}`);
    } else {
      $('status').textContent = 'Correct the marked fields.';
    }
    if (first && focusInvalid && first !== table) first.focus();
  } else if (error instanceof ApiError && error.status === 401) {
    showError('This API needs an API key to show events.',
      actionButton('Enter a key', () => $('key-set').click()));
  } else if (error instanceof ApiError) {
    showError(`The API answered ${error.status}: ${error.message}`, actionButton('Try again', reload));
  } else {
    showError('Could not reach the API.', actionButton('Try again', reload));
  }
  focusInvalid = false;
}

// ---- the table and its pages ----

let tableKey = null;
let tableAbort = null;
let tableLoading = false;
let metadata = null;

async function loadTable() {
  const params = S.readParams(state);
  const key = params.toString();
  if (key === tableKey) return;
  tableKey = key;
  tableAbort?.abort();
  const abort = new AbortController();
  tableAbort = abort;
  tableLoading = true;
  clearErrors();
  showLoading(table, true);
  $('status').textContent = 'Loading events…';
  try {
    const body = await api.getJson('api/read', params, { signal: abort.signal });
    if (abort !== tableAbort) return;
    const detailHref = (id) => `${location.pathname}${S.toSearch({ ...state, event: id })}`;
    showRows(table, body.logs, detailHref);
    showPages(body.metadata);
    focusInvalid = false;
  } catch (error) {
    if (abort.signal.aborted) return;
    tableKey = null;
    metadata = null;
    showTableError(error);
    showPages(null);
  } finally {
    if (abort === tableAbort) {
      tableLoading = false;
      showLoading(table, false);
    }
  }
}

let pressed = null;

function showPages(meta) {
  metadata = meta;
  if (meta) {
    const events = meta.total_records === 1 ? 'event' : 'events';
    const text = `Page ${count(meta.current_page)} of ${count(meta.last_page)} · ${count(meta.total_records)} ${events}`;
    pager.info.textContent = text;
    $('status').textContent = meta.total_records === 0 ? 'No events match these filters.' : '';
  }
  pager.next.disabled = !meta?.next_cursor;
  pager.prev.disabled = back.length === 0;
  pager.first.disabled = !state.cursor;
  // A button that moved to the last (or first) page is disabled now: keep the focus in the pager.
  if (pressed?.disabled) {
    const other = [pager.next, pager.prev, pager.first].find((b) => !b.disabled);
    (other ?? $('events-title')).focus();
  }
  pressed = null;
}

function page(button, move) {
  button.addEventListener('click', () => {
    if (tableLoading) return;
    pressed = button;
    move();
  });
}

page(pager.next, () => {
  if (metadata?.next_cursor) {
    go({ ...state, cursor: metadata.next_cursor, event: '' }, { backStack: [...back, state.cursor] });
  }
});
page(pager.prev, () => {
  if (back.length) go({ ...state, cursor: back.at(-1), event: '' }, { backStack: back.slice(0, -1) });
});
page(pager.first, () => go(S.firstPage(state)));

// ---- the detail ----

let detailFor = null;
let detailAbort = null;
const NOT_FOUND = 'No event has this id (or it is not stored yet).';

table.tBodies[0].addEventListener('click', (event) => {
  const link = event.target.closest('a[data-id]');
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  go({ ...state, event: link.dataset.id }, { backStack: back, opened: true });
});

async function syncDetail() {
  if (!state.event) {
    detailFor = null;
    detailAbort?.abort();
    if (detail.dialog.open) detail.dialog.close();
    return;
  }
  if (!detail.dialog.open) detail.dialog.showModal();
  if (detailFor === state.event) return;
  detailFor = state.event;
  detailAbort?.abort();
  const abort = new AbortController();
  detailAbort = abort;
  // Only a well-formed id goes into the request path (`..` would climb out of /api/logs/).
  if (!/^[0-9A-Za-z]{26}$/.test(state.event)) {
    showDetailMessage(detail.body, NOT_FOUND, { alert: true });
    return;
  }
  showDetailMessage(detail.body, 'Loading the event…');
  try {
    const body = await api.getJson(`api/logs/${encodeURIComponent(state.event)}`, null, { signal: abort.signal });
    if (abort === detailAbort) showDetail(detail.body, body.log, { api, signal: abort.signal });
  } catch (error) {
    if (abort.signal.aborted) return;
    detailFor = null;
    const message = error instanceof ApiError && error.status === 404
      ? NOT_FOUND
      : `Could not load the event: ${error.message}`;
    showDetailMessage(detail.body, message, { alert: true });
  }
}

$('detail-close').addEventListener('click', () => detail.dialog.close());

// Closing the detail (its button, or Escape) leaves the event: back to the list's own entry when the
// detail was opened from it, otherwise the same entry without the event.
detail.dialog.addEventListener('close', () => {
  if (!state.event) return;
  if (history.state?.opened) history.back();
  else go({ ...state, event: '' }, { replace: true, backStack: back });
});

// ---- the chart ----

let chartKey = null;
let chartAbort = null;
let series = null;
let chartWidth = 0;

async function loadChart() {
  const params = S.statsParams(state);
  const key = params.toString();
  if (key === chartKey) return;
  chartKey = key;
  chartAbort?.abort();
  const abort = new AbortController();
  chartAbort = abort;
  chart.status.textContent = 'Loading the chart…';
  try {
    const body = await api.getJson('api/stats', params, { signal: abort.signal });
    if (abort !== chartAbort) return;
    chart.section.hidden = false;
    chart.status.textContent = '';
    series = body;
    draw();
  } catch (error) {
    if (abort.signal.aborted) return;
    chartKey = null;
    series = null;
    // A server without /api/stats has no chart to show.
    if (error instanceof ApiError && error.status === 404) {
      chart.section.hidden = true;
      return;
    }
    chart.section.hidden = false;
    replace(chart.box);
    chart.caption.textContent = '';
    chart.status.textContent = `The chart is unavailable: ${error.message}`;
  }
}

function draw() {
  if (!series) return;
  const hadFocus = chart.box.contains(document.activeElement);
  chartWidth = chart.box.clientWidth;
  chart.caption.textContent = drawChart(chart.box, series, pickBucket);
  if (hadFocus) chart.box.querySelector('.hit')?.focus();
}

function pickBucket(bucket) {
  const range = S.bucketRange(bucket.start, series.interval, state.filters);
  query({ filters: { ...state.filters, ...range } });
}

new ResizeObserver(() => {
  if (series && chart.box.clientWidth !== chartWidth) draw();
}).observe(chart.box);

// ---- export ----

let exporting = false;

async function exportAs(format) {
  if (exporting) return;
  exporting = true;
  const status = $('export-status');
  const label = format.toUpperCase();
  status.textContent = `Preparing the ${label} export…`;
  try {
    const { blob, filename } = await fetchExport(api, S.queryParams(state), format, {
      onPage: (n) => { status.textContent = `Preparing the ${label} export: page ${count(n)}…`; },
    });
    download(blob, filename);
    status.textContent = `Downloaded ${filename}`;
  } catch (error) {
    status.textContent = error instanceof ApiError && error.status === 404
      ? 'Export is not available on this server.'
      : `The export failed: ${error.message}`;
  } finally {
    exporting = false;
  }
}

$('export-csv').addEventListener('click', () => exportAs('csv'));
$('export-ndjson').addEventListener('click', () => exportAs('ndjson'));

// ---- start ----

showKeyState();
render();
