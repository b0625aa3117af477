// The viewer's DOM-free modules under node alone: the URL state, the chart's intervals and ranges,
// the export's Link and Content-Disposition parsing, and the test's own CSV parser. Run with
// TZ set to a zone with an offset, so that local and UTC times differ.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as S from '../../crates/viewer/assets/state.js';
import { dispositionName, nextLink } from '../../crates/viewer/assets/export.js';
import { parseCsv } from './csv.mjs';

test('a query string round-trips through the state, defaults left out', () => {
  const search = '?event_name=user&customer_id=18&from=2026-10-01T00%3A00%3A00Z&sort=event_name&page_size=50&cursor=abc&event=01ABC';
  const state = S.fromSearch(search);
  assert.deepEqual(state, {
    filters: { event_name: 'user', customer_id: '18', from: '2026-10-01T00:00:00Z', to: '' },
    sort: 'event_name', pageSize: '50', cursor: 'abc', event: '01ABC',
  });
  assert.equal(S.toSearch(state), search);
  assert.equal(S.toSearch(S.fromSearch('?sort=-created_at&page_size=20')), '');
  assert.equal(S.toSearch(S.fromSearch('')), '');
});

test('the URL never carries a key, whatever the state holds', () => {
  const state = { ...S.fromSearch('?event_name=a'), key: 'alk_x_secret', apiKey: 'alk_x_secret' };
  assert.doesNotMatch(S.toSearch(state), /secret/);
});

test('invalid values are kept as written, for the API to name', () => {
  const state = S.fromSearch('?customer_id=eighteen&page_size=500&sort=time');
  assert.equal(S.readParams(state).toString(), 'customer_id=eighteen&sort=time&page_size=500');
});

test('read, export and stats parameters', () => {
  const state = S.fromSearch('?event_name=user&page_size=10&cursor=c1&event=E&sort=created_at');
  assert.equal(S.readParams(state).toString(), 'event_name=user&sort=created_at&page_size=10&cursor=c1');
  assert.equal(S.queryParams(state).toString(), 'event_name=user&sort=created_at');
  assert.equal(S.statsParams(state).toString(), 'event_name=user&interval=hour');
  assert.deepEqual(S.firstPage(state, { sort: 'event_name' }),
    { ...state, sort: 'event_name', cursor: '', event: '' });
});

test('a click sorts by the column, then flips its direction', () => {
  assert.equal(S.nextSort('-created_at', 'created_at'), 'created_at');
  assert.equal(S.nextSort('created_at', 'created_at'), '-created_at');
  assert.equal(S.nextSort('-created_at', 'event_name'), 'event_name');
  assert.equal(S.nextSort('event_name', 'event_name'), '-event_name');
  assert.equal(S.nextSort('-event_name', 'event_name'), 'event_name');
  assert.equal(S.nextSort('event_name', 'created_at'), '-created_at');
  assert.equal(S.ariaSort('-created_at', 'created_at'), 'descending');
  assert.equal(S.ariaSort('event_name', 'event_name'), 'ascending');
  assert.equal(S.ariaSort('event_name', 'created_at'), null);
});

test('presets reach back from now and leave the end open', () => {
  const now = new Date('2026-12-01T10:30:00Z');
  assert.deepEqual(S.presetRange('1h', now), { from: '2026-12-01T09:30:00Z', to: '' });
  assert.deepEqual(S.presetRange('1d', now), { from: '2026-11-30T10:30:00Z', to: '' });
  assert.deepEqual(S.presetRange('7d', now), { from: '2026-11-24T10:30:00Z', to: '' });
  assert.deepEqual(S.presetRange('30d', now), { from: '2026-11-01T10:30:00Z', to: '' });
  assert.throws(() => S.presetRange('1y', now));
});

test('the chart interval keeps a year or less to a few hundred bars (the API allows 1000)', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  const at = (hoursBefore) => new Date(now - hoursBefore * 3_600_000).toISOString();
  assert.equal(S.chooseInterval({ from: '', to: '' }, now), 'hour');
  assert.equal(S.chooseInterval({ from: at(1), to: '' }, now), 'minute');
  assert.equal(S.chooseInterval({ from: at(3), to: '' }, now), 'minute');
  assert.equal(S.chooseInterval({ from: at(3.01), to: '' }, now), 'hour');
  assert.equal(S.chooseInterval({ from: at(24 * 14), to: '' }, now), 'hour');
  assert.equal(S.chooseInterval({ from: at(24 * 30), to: '' }, now), 'day');
  assert.equal(S.chooseInterval({ from: at(48), to: at(47) }, now), 'minute');
  assert.equal(S.chooseInterval({ from: 'garbage', to: '' }, now), 'hour');
  for (const hours of [0.5, 3, 3.01, 100, 336, 337, 24 * 365]) {
    const interval = S.chooseInterval({ from: at(hours), to: '' }, now);
    const buckets = (hours * 3600) / S.INTERVAL_SECONDS[interval] + 1;
    assert.ok(buckets <= 400, `${hours} h as ${interval}: ${buckets} buckets`);
  }
});

test('a bar narrows to its bucket, clipped to the range already chosen', () => {
  assert.deepEqual(S.bucketRange('2026-12-01T10:00:00Z', 'hour', { from: '', to: '' }),
    { from: '2026-12-01T10:00:00Z', to: '2026-12-01T11:00:00Z' });
  assert.deepEqual(S.bucketRange('2026-12-01T10:00:00Z', 'hour', { from: '2026-12-01T10:20:00Z', to: '' }),
    { from: '2026-12-01T10:20:00Z', to: '2026-12-01T11:00:00Z' });
  assert.deepEqual(S.bucketRange('2026-12-01T00:00:00Z', 'day', { from: '', to: '2026-12-01T06:00:00.5Z' }),
    { from: '2026-12-01T00:00:00Z', to: '2026-12-01T06:00:00.500Z' });
  assert.deepEqual(S.bucketRange('2026-12-01T10:07:00Z', 'minute', { from: '', to: '' }),
    { from: '2026-12-01T10:07:00Z', to: '2026-12-01T10:08:00Z' });
});

test('datetime-local values are local time; the filters are UTC', () => {
  // The npm script runs this file with TZ=America/New_York (UTC-5 in December).
  const local = S.toLocalInput('2026-12-01T15:04:05Z');
  if (process.env.TZ === 'America/New_York') assert.equal(local, '2026-12-01T10:04:05');
  assert.equal(S.fromLocalInput(local), '2026-12-01T15:04:05Z');
  assert.equal(S.fromLocalInput(''), '');
  assert.equal(S.fromLocalInput('nonsense'), '');
  assert.equal(S.toLocalInput('yesterday'), '');
  assert.equal(S.toLocalInput(''), '');
});

test('the export follows rel="next" only', () => {
  assert.equal(nextLink('</api/export?cursor=abc&format=csv>; rel="next"'), '/api/export?cursor=abc&format=csv');
  assert.equal(nextLink('</a>; rel="prev", </b>; rel=next'), '/b');
  assert.equal(nextLink('</a>; rel="prev next"'), '/a');
  assert.equal(nextLink('</a>; rel="nextish"'), null);
  assert.equal(nextLink('</a>; title="next"'), null);
  assert.equal(nextLink(null), null);
  assert.equal(nextLink(''), null);
});

test('the download is named by Content-Disposition, without any path', () => {
  assert.equal(dispositionName('attachment; filename="audit-log-acme-20261201T100000Z.csv"'),
    'audit-log-acme-20261201T100000Z.csv');
  assert.equal(dispositionName('attachment; filename=plain.ndjson'), 'plain.ndjson');
  assert.equal(dispositionName('attachment; filename="../../etc/passwd"'), 'passwd');
  assert.equal(dispositionName('attachment'), null);
  assert.equal(dispositionName(null), null);
});

test('the CSV parser reads quoted commas, quotes and line breaks', () => {
  const text = 'a,b,c\r\n1,"x, ""y""\r\nz",\r\n"ü",,"日本"\n';
  assert.deepEqual(parseCsv(text), [['a', 'b', 'c'], ['1', 'x, "y"\r\nz', ''], ['ü', '', '日本']]);
  assert.deepEqual(parseCsv('a,b'), [['a', 'b']]);
  assert.throws(() => parseCsv('"open'));
  assert.throws(() => parseCsv('"a"b'));
});
