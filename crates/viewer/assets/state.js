// The viewer's state and its one written form, the page's query string: filters, sort, page size,
// the cursor of the page shown and the event open in the detail. Nothing here touches the DOM, so
// the same functions serve the page and its unit tests. The API key is never part of it.

export const SORTS = ['-created_at', 'created_at', 'event_name', '-event_name'];
export const DEFAULT_SORT = '-created_at';
export const PAGE_SIZES = ['10', '20', '50', '100'];
export const DEFAULT_PAGE_SIZE = '20';
export const FILTERS = ['event_name', 'customer_id', 'from', 'to'];

/** Seconds in one bucket of each `GET /api/stats` interval (days are UTC days). */
export const INTERVAL_SECONDS = { minute: 60, hour: 3600, day: 86400 };

/** The time-range presets: their labels and how far back each reaches. */
export const PRESETS = [
  { id: '1h', label: 'Last hour', seconds: 3600 },
  { id: '1d', label: 'Last day', seconds: 86400 },
  { id: '7d', label: 'Last 7 days', seconds: 7 * 86400 },
  { id: '30d', label: 'Last 30 days', seconds: 30 * 86400 },
];

/**
 * The state a query string describes. Values are kept as written, even invalid ones, so that the
 * API's 422 can name them beside their field.
 */
export function fromSearch(search) {
  const params = new URLSearchParams(search);
  const value = (name) => (params.get(name) ?? '').trim();
  const filters = {};
  for (const name of FILTERS) filters[name] = value(name);
  return {
    filters,
    sort: value('sort') || DEFAULT_SORT,
    pageSize: value('page_size') || DEFAULT_PAGE_SIZE,
    cursor: value('cursor'),
    event: value('event'),
  };
}

/** The query string (with its `?`, or empty) for `state`: defaults and empty values are left out. */
export function toSearch(state) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  if (state.sort && state.sort !== DEFAULT_SORT) params.set('sort', state.sort);
  if (state.pageSize && state.pageSize !== DEFAULT_PAGE_SIZE) params.set('page_size', state.pageSize);
  if (state.cursor) params.set('cursor', state.cursor);
  if (state.event) params.set('event', state.event);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** The filters and sort, as `/api/read` and `/api/export` take them. */
export function queryParams(state) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  if (state.sort !== DEFAULT_SORT) params.set('sort', state.sort);
  return params;
}

/** The parameters of `/api/read` for the page `state` shows. */
export function readParams(state) {
  const params = queryParams(state);
  if (state.pageSize !== DEFAULT_PAGE_SIZE) params.set('page_size', state.pageSize);
  if (state.cursor) params.set('cursor', state.cursor);
  return params;
}

/** The parameters of `/api/stats` for the chart of `state`'s filters. */
export function statsParams(state, now = new Date()) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state.filters[name]) params.set(name, state.filters[name]);
  params.set('interval', chooseInterval(state.filters, now));
  return params;
}

/** `state` moved to the first page of a new query: no cursor, no open event. */
export function firstPage(state, changes = {}) {
  return { ...state, ...changes, cursor: '', event: '' };
}

/**
 * The sort a click on `column` (`created_at` or `event_name`) asks for: the other direction when it
 * already sorts, otherwise the column's natural one (newest first; names from A).
 */
export function nextSort(sort, column) {
  if (sort === column) return `-${column}`;
  if (sort === `-${column}`) return column;
  return column === 'created_at' ? '-created_at' : 'event_name';
}

/** The `aria-sort` of `column` under `sort`, or null when the column does not sort. */
export function ariaSort(sort, column) {
  if (sort === column) return 'ascending';
  if (sort === `-${column}`) return 'descending';
  return null;
}

/** An RFC 3339 UTC timestamp, to the second when there are no milliseconds. */
export function rfc3339(date) {
  return date.toISOString().replace('.000Z', 'Z');
}

/** The filters' `from` and `to` for a preset, `now` being its end (left open, so new events show). */
export function presetRange(id, now = new Date()) {
  const preset = PRESETS.find((p) => p.id === id);
  if (!preset) throw new Error(`unknown preset ${id}`);
  return { from: rfc3339(new Date(now.getTime() - preset.seconds * 1000)), to: '' };
}

function parseTime(text) {
  if (!text) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * The stats interval for a time range: minutes up to 3 hours, hours up to 14 days, days beyond,
 * so that a chart has at most a few hundred bars. Without `from`, hours: the API then charts the
 * 24 hours before `to` (or now).
 */
export function chooseInterval(filters, now = new Date()) {
  const from = parseTime(filters.from);
  if (from === null) return 'hour';
  const to = parseTime(filters.to) ?? now.getTime();
  const span = (to - from) / 1000;
  if (span <= 3 * 3600) return 'minute';
  if (span <= 14 * 86400) return 'hour';
  return 'day';
}

/**
 * The `from` and `to` that narrow the filters to one stats bucket: the bucket, within the range
 * already chosen (the first and last buckets can reach past it).
 */
export function bucketRange(start, interval, filters) {
  const begin = Date.parse(start);
  let from = begin;
  let to = begin + INTERVAL_SECONDS[interval] * 1000;
  const lo = parseTime(filters.from);
  const hi = parseTime(filters.to);
  if (lo !== null && lo > from) from = lo;
  if (hi !== null && hi < to) to = hi;
  return { from: rfc3339(new Date(from)), to: rfc3339(new Date(to)) };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** The value of a `datetime-local` input showing `text` (RFC 3339) in the local zone, or ''. */
export function toLocalInput(text) {
  const ms = parseTime(text);
  if (ms === null) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The RFC 3339 UTC timestamp a `datetime-local` value means in the local zone, or ''. */
export function fromLocalInput(value) {
  if (!value) return '';
  const ms = Date.parse(value); // a date-time without an offset is local time
  return Number.isNaN(ms) ? '' : rfc3339(new Date(ms));
}
