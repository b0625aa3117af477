// The viewer in a real browser: playwright-core driving Debian's Chromium against a running service.
//
//   AUDIT_URL   the service's root (default http://127.0.0.1:3050, `make dev`'s runner)
//   AUDIT_KEY   an API key with logs:read and logs:write, for a service whose auth is required;
//               without one, the service must serve keyless requests (AUDIT_AUTH=optional)
//   CHROMIUM    the browser (default /usr/bin/chromium)
//   SCREENSHOTS where screenshots go (default target/browser/ at the repository's root)
//
// The test seeds its own events through `POST /api/write/batch`, every name starting with a prefix
// unique to the run, and filters by it: whatever else the tenant holds is never seen. It needs
// `GET /api/read`, `/api/logs/{id}`, `/api/stats` and `/api/export` (CSV) on the same origin.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { parseCsv } from './csv.mjs';

const BASE = new URL(process.env.AUDIT_URL || 'http://127.0.0.1:3050');
const KEY = process.env.AUDIT_KEY || '';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOTS || fileURLToPath(new URL('../../target/browser/', import.meta.url));
const KEY_ITEM = 'audit-log.api-key';
const XSS = '<img src=x onerror=alert(1)>';
const TRICKY = 'paid "in full", 12,50 €\nsecond line: ünïcödé, Ελληνικά, кириллица; a tab\there';
const CSV_HEADER = ['id', 'created_at', 'event_name', 'description', 'customer_id', 'metadata'];

const RUN = `vt${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
const CUSTOMER_A = 700_000_000_000 + Math.floor(Math.random() * 1e9);
const CUSTOMER_B = CUSTOMER_A + 1;

let browser;
/** The seeded events, as the API stored them, newest first. */
let seeded = [];

// ---- the API, from the test's side ----

function authHeaders() {
  return KEY ? { Authorization: `Bearer ${KEY}` } : {};
}

async function api(path, init = {}) {
  const response = await fetch(new URL(path, BASE), {
    ...init,
    headers: { 'Content-Type': 'application/json', ...authHeaders(), ...init.headers },
  });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

async function eventually(what, check, { timeout = 30_000, every = 250 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last.ok) return last.value;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(last.value)} after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** 25 events over the last 50 minutes, two minutes apart, so each minute holds at most one. */
function events() {
  const now = Date.now();
  const at = (i) => new Date(now - 60_000 - i * 120_000).toISOString();
  const list = [];
  for (let i = 0; i < 25; i += 1) {
    const event = { created_at: at(i) };
    if (i === 3) {
      Object.assign(event, {
        event_name: `${RUN}.xss`, description: XSS, customer_id: CUSTOMER_B,
        metadata: { html: '<script>alert(2)</script>', [XSS]: 'as a key' },
      });
    } else if (i === 5) {
      Object.assign(event, {
        event_name: `${RUN}.invoice.paid`, description: TRICKY,
        metadata: { note: TRICKY, amount: 12.5, nested: { ok: true, list: [1, 'two'] } },
      });
    } else if (i === 7) {
      Object.assign(event, { event_name: `${RUN}.Bare`, description: 'no customer, no metadata' });
    } else if (i % 3 === 0) {
      Object.assign(event, {
        event_name: `${RUN}.key.rotated`, description: `key ${i} was rotated`, customer_id: CUSTOMER_B,
      });
    } else {
      Object.assign(event, {
        event_name: `${RUN}.user.signed_in`, description: `sign-in ${i} from 10.0.0.${i}`,
        customer_id: CUSTOMER_A, metadata: { ip: `10.0.0.${i}`, attempt: i },
      });
    }
    list.push(event);
  }
  return list;
}

const byNewest = (a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id);

before(async () => {
  const written = await api('api/write/batch', { method: 'POST', body: JSON.stringify(events()) });
  assert.equal(written.status, 201, `seeding: ${JSON.stringify(written.body)}`);
  seeded = [...written.body.logs].sort(byNewest);
  const query = `api/read?event_name=${encodeURIComponent(RUN)}&page_size=100`;
  await eventually('seeded events readable', async () => {
    const read = await api(query);
    return { ok: read.body?.metadata?.total_records === seeded.length, value: read.body?.metadata ?? read };
  });
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Playwright adds --headless and a fresh --user-data-dir of its own.
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic',
    ],
  });
});

after(async () => {
  await browser?.close();
});

// ---- pages ----

/**
 * A fresh page at `width`, with the key in sessionStorage when the run has one. Console errors,
 * page errors, CSP violations and JavaScript dialogs are collected; `done()` asserts there were none.
 */
async function open(t, search = '', { width = 1280, key = KEY } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  if (key) {
    await context.addInitScript(([item, value]) => {
      if (!sessionStorage.getItem(item)) sessionStorage.setItem(item, value);
    }, [KEY_ITEM, key]);
  }
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs each 4xx answer as an error; the API's 401, 404 and 422 are answers the page
    // shows, not faults of its own.
    const answered = /^Failed to load resource: the server responded with a status of 4\d\d/;
    if (message.type() === 'error' && !answered.test(message.text())) {
      problems.push(`console: ${message.text()}`);
    }
  });
  page.on('dialog', (dialog) => {
    problems.push(`a JavaScript dialog opened: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  t.after(() => context.close());
  const response = await page.goto(new URL(search ? `/${search}` : '/', BASE).href);
  assert.equal(response.status(), 200);
  const done = () => assert.deepEqual(problems, [], 'the page reported problems');
  return { page, context, response, done, problems };
}

const rows = (page) => page.locator('#events tbody tr[data-id]');

async function settled(page) {
  await page.waitForFunction(() => document.querySelector('#events')?.getAttribute('aria-busy') === 'false');
}

async function shownIds(page) {
  await settled(page);
  return rows(page).evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
}

async function pageInfo(page) {
  return (await page.locator('#page-info').textContent()).replace(/\s+/g, ' ');
}

function search(params) {
  return `?${new URLSearchParams(params)}`;
}

const mine = { event_name: RUN };

// ---- the tests ----

test('load: the page, its headers, and the newest events with local times and UTC on hover', async (t) => {
  const { page, response, done } = await open(t, search(mine));
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /default-src 'self'/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe-inline/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['referrer-policy'], 'no-referrer');

  const ids = await shownIds(page);
  assert.deepEqual(ids, seeded.slice(0, 20).map((e) => e.id));
  assert.match(await pageInfo(page), /Page 1 of 2 · 25 events/);
  const time = page.locator('#events tbody tr').first().locator('time');
  assert.equal(await time.getAttribute('datetime'), seeded[0].created_at);
  assert.match(await time.getAttribute('title'), new RegExp(`^${seeded[0].created_at.replace(/[.]/g, '\\.')}`));
  assert.notEqual((await time.textContent()).trim(), seeded[0].created_at);
  assert.equal(await page.locator('#events thead th').count(), 4);
  done();
});

test('filter: name prefix, customer and a preset go into the URL; back and forward restore them', async (t) => {
  const { page, done } = await open(t);
  await page.getByLabel('Event name starts with').fill(`${RUN}.key`);
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('event_name') === `${RUN}.key`);
  const keys = seeded.filter((e) => e.event_name.startsWith(`${RUN}.key`));
  assert.deepEqual(await shownIds(page), keys.map((e) => e.id));

  await page.getByLabel('Event name starts with').fill(RUN);
  await page.getByLabel('Customer id').fill(String(CUSTOMER_A));
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('customer_id') === String(CUSTOMER_A));
  const customers = seeded.filter((e) => e.customer_id === CUSTOMER_A);
  assert.deepEqual(await shownIds(page), customers.map((e) => e.id));

  await page.getByRole('button', { name: 'Last hour' }).click();
  await page.waitForURL((url) => url.searchParams.has('from'));
  const from = Date.parse(new URL(page.url()).searchParams.get('from'));
  assert.ok(Math.abs(Date.now() - 3_600_000 - from) < 120_000, 'from is an hour ago');
  assert.deepEqual(await shownIds(page), customers.map((e) => e.id));
  assert.notEqual(await page.getByLabel(/^From/).inputValue(), '');

  await page.goBack();
  await page.waitForURL((url) => !url.searchParams.has('from'));
  assert.equal(await page.getByLabel(/^From/).inputValue(), '');
  assert.equal(await page.getByLabel('Customer id').inputValue(), String(CUSTOMER_A));
  await page.goBack();
  await page.waitForURL((url) => url.searchParams.get('event_name') === `${RUN}.key`);
  assert.equal(await page.getByLabel('Customer id').inputValue(), '');
  assert.deepEqual(await shownIds(page), keys.map((e) => e.id));
  await page.goForward();
  await page.waitForURL((url) => url.searchParams.get('customer_id') === String(CUSTOMER_A));
  assert.deepEqual(await shownIds(page), customers.map((e) => e.id));
  assert.doesNotMatch(page.url(), /key=|alk_/);
  done();
});

test('sort: the time and name headers sort on click and say so with aria-sort', async (t) => {
  const { page, done } = await open(t, search({ ...mine, page_size: 100 }));
  const time = page.locator('th[data-column="created_at"]');
  const name = page.locator('th[data-column="event_name"]');
  assert.equal(await time.getAttribute('aria-sort'), 'descending');
  assert.equal(await name.getAttribute('aria-sort'), null);

  const names = async () => {
    await settled(page);
    return page.locator('#events tbody td.name').allTextContents();
  };
  const lower = (list) => list.map((n) => n.toLowerCase());

  await name.getByRole('button').click();
  await page.waitForURL((url) => url.searchParams.get('sort') === 'event_name');
  assert.equal(await name.getAttribute('aria-sort'), 'ascending');
  assert.equal(await time.getAttribute('aria-sort'), null);
  const ascending = await names();
  assert.deepEqual(lower(ascending), lower(ascending).toSorted());

  await name.getByRole('button').click();
  await page.waitForURL((url) => url.searchParams.get('sort') === '-event_name');
  assert.equal(await name.getAttribute('aria-sort'), 'descending');
  assert.deepEqual(lower(await names()), lower(ascending).toSorted().reverse());

  await time.getByRole('button').click();
  await page.waitForURL((url) => !url.searchParams.has('sort'));
  assert.equal(await time.getAttribute('aria-sort'), 'descending');
  await time.getByRole('button').click();
  await page.waitForURL((url) => url.searchParams.get('sort') === 'created_at');
  assert.equal(await time.getAttribute('aria-sort'), 'ascending');
  assert.deepEqual(await shownIds(page), [...seeded].reverse().map((e) => e.id));
  done();
});

test('pages: a page size, next by cursor, back by the cursors passed, and the browser history', async (t) => {
  const { page, done } = await open(t, search(mine));
  await page.getByLabel('Page size').selectOption('10');
  await page.waitForURL((url) => url.searchParams.get('page_size') === '10');
  const first = await shownIds(page);
  assert.deepEqual(first, seeded.slice(0, 10).map((e) => e.id));
  assert.match(await pageInfo(page), /Page 1 of 3 · 25 events/);
  assert.ok(await page.locator('#page-prev').isDisabled());

  await page.locator('#page-next').click();
  await page.waitForURL((url) => url.searchParams.has('cursor'));
  const second = await shownIds(page);
  assert.deepEqual(second, seeded.slice(10, 20).map((e) => e.id));
  assert.match(await pageInfo(page), /Page 2 of 3/);

  await page.locator('#page-next').click();
  await page.waitForFunction(() => /Page 3 of 3/.test(document.querySelector('#page-info').textContent));
  assert.deepEqual(await shownIds(page), seeded.slice(20).map((e) => e.id));
  assert.ok(await page.locator('#page-next').isDisabled());
  // The focus stays in the pager when Next is disabled under it.
  assert.equal(await page.evaluate(() => document.activeElement?.closest('nav')?.className), 'pager');

  await page.locator('#page-prev').click();
  await page.waitForFunction(() => /Page 2 of 3/.test(document.querySelector('#page-info').textContent));
  assert.deepEqual(await shownIds(page), second);
  await page.locator('#page-prev').click();
  await page.waitForFunction(() => /Page 1 of 3/.test(document.querySelector('#page-info').textContent));
  assert.deepEqual(await shownIds(page), first);
  assert.ok(await page.locator('#page-prev').isDisabled());

  await page.goBack(); // to page 2, as it was reached by Back
  await page.waitForFunction(() => /Page 2 of 3/.test(document.querySelector('#page-info').textContent));
  assert.deepEqual(await shownIds(page), second);
  await page.locator('#page-prev').click();
  await page.waitForFunction(() => /Page 1 of 3/.test(document.querySelector('#page-info').textContent));
  assert.deepEqual(await shownIds(page), first);
  done();
});

test('detail: every field, metadata pretty-printed, the id copied, closed by Escape', async (t) => {
  const { page, context, done } = await open(t, search(mine));
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE.origin });
  const event = seeded.find((e) => e.event_name === `${RUN}.invoice.paid`);
  await settled(page);
  await page.locator(`#events tbody tr[data-id="${event.id}"] td.name a`).click();
  await page.waitForURL((url) => url.searchParams.get('event') === event.id);
  const dialog = page.locator('#detail');
  await dialog.locator('dl.event-fields').waitFor();
  assert.ok(await dialog.evaluate((d) => d.open));
  const text = await dialog.locator('dl.event-fields').innerText();
  for (const value of [event.id, event.created_at, event.event_name]) assert.ok(text.includes(value), value);
  assert.equal(await dialog.locator('dd .text').textContent(), TRICKY);
  assert.equal(await dialog.locator('pre.json').textContent(), JSON.stringify(event.metadata, null, 2));
  assert.equal(await dialog.locator('dt').count(), 6);

  await dialog.getByRole('button', { name: 'Copy id' }).click();
  await dialog.locator('.copy-status').filter({ hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), event.id);

  await page.keyboard.press('Escape');
  await page.waitForURL((url) => !url.searchParams.has('event'));
  assert.equal(await dialog.evaluate((d) => d.open), false);

  // A link to the detail opens it on load; one without customer or metadata says so.
  const bare = seeded.find((e) => e.event_name === `${RUN}.Bare`);
  await page.goto(new URL(`/${search({ ...mine, event: bare.id })}`, BASE).href);
  await dialog.locator('dl.event-fields').waitFor();
  assert.equal(await dialog.locator('.absent').count(), 2);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await page.waitForURL((url) => !url.searchParams.has('event'));

  // An id that names nothing is shown as not found.
  await page.goto(new URL(`/${search({ ...mine, event: '00000000000000000000000000' })}`, BASE).href);
  await dialog.getByText('No event has this id').waitFor();
  // Nor is anything fetched for one that could leave /api/logs/.
  const asked = [];
  page.on('request', (request) => asked.push(new URL(request.url()).pathname));
  await page.goto(new URL(`/${search({ ...mine, event: '..' })}`, BASE).href);
  await dialog.getByText('No event has this id').waitFor();
  assert.ok(!asked.some((p) => p === '/api/' || p.startsWith('/api/logs')), asked.join(' '));
  done();
});

test('integrity: the detail checks the proof and the signature in the browser, and a tampered answer fails', async (t) => {
  // The runner signs at most every second here (AUDIT_SEAL_INTERVAL_SECONDS=1 in test-browser.sh).
  const event = seeded.find((e) => e.event_name === `${RUN}.invoice.paid`);
  const proof = await eventually('the event in a signed checkpoint', async () => {
    const answer = await api(`api/logs/${event.id}/proof`);
    return { ok: answer.status === 200, value: answer.status === 200 ? answer.body : answer };
  });
  const { page, done } = await open(t, search({ ...mine, event: event.id }));
  const dialog = page.locator('#detail');
  const status = dialog.locator('.integrity-status');
  const check = (name) => dialog.locator(`.integrity-checks [data-check="${name}"]`);
  await dialog.locator('.integrity-status[data-state="verified"]').waitFor();
  assert.match(await status.textContent(), /Verified in this browser/);
  assert.equal(await check('signature').getAttribute('data-ok'), 'true');
  assert.equal(await check('inclusion').getAttribute('data-ok'), 'true');
  const leaf = proof.versions.at(-1).leaf_index;
  assert.match(await check('inclusion').textContent(), new RegExp(`leaf ${leaf} of the signed log`));
  const [origin, size] = proof.checkpoint.checkpoint.split('\n');
  assert.match(await check('signature').textContent(), new RegExp(`${origin.replace(/[/.]/g, '\\$&')}, size ${size}`));
  // The fingerprint is SHA-256 over the key's DER, worked out here by node.
  const { createHash } = await import('node:crypto');
  const fingerprint = createHash('sha256').update(Buffer.from(proof.checkpoint.public_key, 'base64')).digest('hex');
  assert.equal(await dialog.locator('.fingerprint code').getAttribute('title'), fingerprint);

  // The event as the page receives it, changed by one character: its leaf is not in the log.
  const logPath = `/api/logs/${event.id}`;
  await page.route((url) => url.pathname === logPath, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.log.description = `${body.log.description}.`;
    await route.fulfill({ response, json: body });
  });
  await page.reload();
  await dialog.locator('.integrity-status[data-state="failed"]').waitFor();
  assert.equal(await check('inclusion').getAttribute('data-ok'), 'false');
  assert.equal(await check('signature').getAttribute('data-ok'), 'true');
  await page.unroute((url) => url.pathname === logPath);

  // A checkpoint whose body was changed after signing (a larger size): the signature fails.
  const proofPath = `${logPath}/proof`;
  const forged = (answer) => {
    const lines = answer.checkpoint.checkpoint.split('\n');
    lines[1] = String(Number(lines[1]) + 1);
    return { ...answer, tree_size: answer.tree_size + 1, checkpoint: { ...answer.checkpoint, checkpoint: lines.join('\n') } };
  };
  await page.route((url) => url.pathname === proofPath, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, json: forged(await response.json()) });
  });
  await page.reload();
  await dialog.locator('.integrity-status[data-state="failed"]').waitFor();
  assert.equal(await check('signature').getAttribute('data-ok'), 'false');
  await page.unroute((url) => url.pathname === proofPath);

  // Not yet sealed: the API's 409 is shown as such, not as a failure.
  await page.route((url) => url.pathname === proofPath, (route) => route.fulfill({
    status: 409, contentType: 'application/json', body: JSON.stringify({ error: 'not yet in a signed checkpoint' }),
  }));
  await page.reload();
  await dialog.locator('.integrity-status[data-state="pending"]').waitFor();
  assert.match(await status.textContent(), /Not yet in a signed checkpoint/);
  done();
});

test('chart: bars of /api/stats for the filters, and a bar narrows the time range to it', async (t) => {
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const filters = { event_name: RUN, from };
  // The counters behind /api/stats follow the table's stream, a moment behind the events.
  const stats = await eventually('stats counted', async () => {
    const answer = await api(`api/stats${search({ ...filters, interval: 'minute' })}`);
    return { ok: answer.body?.total === seeded.length, value: answer.body };
  });
  const { page, done } = await open(t, search(filters));
  const chart = page.locator('#chart svg');
  await chart.waitFor();
  assert.equal(await page.locator('#chart-section').isVisible(), true);
  assert.equal(await chart.locator('.hit').count(), stats.buckets.length);
  const heights = await chart.locator('.bar').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))));
  assert.equal(heights.filter((h) => h > 0).length, stats.buckets.filter((b) => b.count > 0).length);
  assert.match(await page.locator('#chart-caption').textContent(), /per minute.*25 in all/);
  await page.locator('#chart-section').screenshot({ path: `${SHOTS}/viewer-chart.png` });

  const index = stats.buckets.findIndex((b) => b.count > 0);
  await chart.locator('.hit').nth(index).click();
  const bucket = stats.buckets[index];
  const end = new Date(Date.parse(bucket.start) + 60_000);
  await page.waitForURL((url) => url.searchParams.has('to'));
  const url = new URL(page.url());
  assert.ok(Date.parse(url.searchParams.get('from')) >= Date.parse(bucket.start));
  assert.equal(Date.parse(url.searchParams.get('to')), end.getTime());
  const inBucket = seeded.filter((e) => Date.parse(e.created_at) >= Date.parse(url.searchParams.get('from'))
    && Date.parse(e.created_at) < end.getTime());
  assert.ok(inBucket.length >= 1);
  assert.deepEqual(await shownIds(page), inBucket.map((e) => e.id));
  done();
});

test('export: the CSV of the current filters downloads and parses', async (t) => {
  const { page, done } = await open(t, search({ ...mine, sort: 'created_at' }));
  await settled(page);
  const status = page.locator('#export-status');
  const [outcome] = await Promise.all([
    Promise.race([
      page.waitForEvent('download').then((download) => ({ download })),
      // A refused export says so at once: fail with its words rather than wait for the time-out.
      status.filter({ hasText: /not available|failed/ }).waitFor()
        .then(async () => ({ refused: await status.textContent() })),
    ]),
    page.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  assert.ok(outcome.download, `no download: ${outcome.refused}`);
  const { download } = outcome;
  assert.match(download.suggestedFilename(), /\.csv$/);
  const path = `${SHOTS}/export.csv`;
  await download.saveAs(path);
  const records = parseCsv(readFileSync(path, 'utf8'));
  assert.deepEqual(records[0], CSV_HEADER);
  const body = records.slice(1).filter((r) => r.length > 1 || r[0] !== '');
  const oldestFirst = [...seeded].reverse();
  assert.deepEqual(body.map((r) => r[0]), oldestFirst.map((e) => e.id), 'the same events in the same order');
  for (const [record, event] of body.map((r, i) => [r, oldestFirst[i]])) {
    assert.equal(record[1], event.created_at);
    assert.equal(record[2], event.event_name);
    assert.equal(record[3], event.description);
    assert.equal(record[4], event.customer_id === undefined ? '' : String(event.customer_id));
    assert.deepEqual(record[5] === '' ? undefined : JSON.parse(record[5]), event.metadata);
  }
  await status.filter({ hasText: 'Downloaded' }).waitFor();
  done();
});

test('XSS: markup in a description, a name or metadata shows as text and never runs', async (t) => {
  const { page, done, problems } = await open(t, search({ event_name: `${RUN}.xss` }));
  const event = seeded.find((e) => e.event_name === `${RUN}.xss`);
  assert.deepEqual(await shownIds(page), [event.id]);
  assert.equal(await page.locator('#events tbody td.description').textContent(), XSS);
  assert.equal(await page.locator('#events img, #detail img, #events script').count(), 0);
  await page.locator('#events tbody td.name a').click();
  const dialog = page.locator('#detail');
  await dialog.locator('pre.json').waitFor();
  assert.ok((await dialog.locator('dd .text').textContent()) === XSS);
  assert.ok((await dialog.locator('pre.json').textContent()).includes('<script>alert(2)</script>'));
  assert.equal(await page.locator('body img, body script').count(), 0);
  await page.waitForTimeout(300); // an onerror would have fired by now
  assert.deepEqual(problems, []);
  done();
});

test('422: an invalid field is refused by the API and shown beside that field', async (t) => {
  const { page, done } = await open(t, search(mine));
  await settled(page);
  const customer = page.getByLabel('Customer id');
  await customer.fill('eighteen');
  await page.getByRole('button', { name: 'Apply' }).click();
  const error = page.locator('#e-customer_id');
  await error.filter({ hasText: /\S/ }).waitFor();
  assert.equal(await customer.getAttribute('aria-invalid'), 'true');
  assert.ok((await customer.getAttribute('aria-describedby')).split(' ').includes('e-customer_id'));
  assert.ok(await customer.evaluate((input) => document.activeElement === input), 'the invalid field has the focus');
  assert.equal(await rows(page).count(), 0);
  const message = await error.textContent();
  const direct = await api(`api/read${search({ ...mine, customer_id: 'eighteen' })}`);
  assert.equal(direct.status, 422);
  assert.equal(message, direct.body.error.customer_id);

  // `to` before `from` is `to`'s error; fixing the customer clears its message.
  await customer.fill('');
  await page.getByLabel(/^From/).fill('2026-01-02T00:00:00');
  await page.getByLabel(/^To/).fill('2026-01-01T00:00:00');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.locator('#e-to').filter({ hasText: /\S/ }).waitFor();
  assert.equal(await error.textContent(), '');
  assert.equal(await page.getByLabel(/^To/).getAttribute('aria-invalid'), 'true');
  await page.screenshot({ path: `${SHOTS}/viewer-422.png` });
  done();
});

test('keyboard only: filter, sort, open and close a detail, page, and pick a chart bar', async (t) => {
  const { page, done } = await open(t, search({ ...mine, from: new Date(Date.now() - 3_600_000).toISOString() }));
  await settled(page);
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return { id: el?.id ?? '', tag: el?.tagName ?? '', text: el?.textContent?.trim() ?? '', cls: el?.getAttribute('class') ?? '' };
  });
  /** Presses Tab (Shift+Tab with `back`) until `match(focused)` holds, at most `limit` times. */
  async function tabTo(what, match, { limit = 80, back = false } = {}) {
    for (let i = 0; i < limit; i += 1) {
      await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
      const now = await focused();
      if (match(now)) {
        // What has the focus shows it.
        const outline = await page.evaluate(() => {
          const style = getComputedStyle(document.activeElement);
          return style.outlineStyle !== 'none' || style.stroke !== 'none';
        });
        assert.ok(outline, `${what} shows no focus`);
        return now;
      }
    }
    assert.fail(`Tab never reached ${what}`);
  }

  await tabTo('the name filter', (f) => f.id === 'f-event_name');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(`${RUN}.user`);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.get('event_name') === `${RUN}.user`);
  const users = seeded.filter((e) => e.event_name.startsWith(`${RUN}.user`));
  assert.deepEqual(await shownIds(page), users.map((e) => e.id));

  await tabTo('the Event header', (f) => f.tag === 'BUTTON' && f.text === 'Event');
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.get('sort') === 'event_name');
  assert.equal(await page.locator('th[data-column="event_name"]').getAttribute('aria-sort'), 'ascending');
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.get('sort') === '-event_name');
  await settled(page); // the rows are redrawn once the page arrives

  await tabTo('an event link', (f) => f.tag === 'A' && f.text.startsWith(RUN));
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.has('event'));
  await page.locator('#detail dl.event-fields').waitFor();
  await tabTo('the copy button', (f) => f.text === 'Copy id', { limit: 10 });
  await page.keyboard.press('Escape');
  await page.waitForURL((url) => !url.searchParams.has('event'));
  assert.equal((await focused()).tag, 'A', 'the focus is back on the link');

  await tabTo('the page size', (f) => f.id === 'page-size', { back: true });
  await page.keyboard.press('ArrowUp'); // 20 -> 10
  await page.waitForURL((url) => url.searchParams.get('page_size') === '10');
  await tabTo('Next', (f) => f.id === 'page-next');
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.has('cursor'));
  await settled(page);
  assert.match(await pageInfo(page), /Page 2 of 2/);

  await tabTo('a chart bar', (f) => f.cls === 'hit', { back: true });
  await page.keyboard.press('End');
  await page.keyboard.press('Home');
  const label = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.match(label, /events?$/);
  await page.keyboard.press('Enter');
  await page.waitForURL((url) => url.searchParams.has('to'));
  done();
});

test('the key: a refused one is dropped and asked for again, and never goes in a URL', async (t) => {
  const bogus = 'alk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const urls = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  t.after(() => context.close());
  await context.addInitScript(([item, value]) => {
    if (!sessionStorage.getItem('seeded')) {
      sessionStorage.setItem('seeded', '1');
      sessionStorage.setItem(item, value);
    }
  }, [KEY_ITEM, bogus]);
  const page = await context.newPage();
  page.on('request', (request) => urls.push(request.url()));
  await page.goto(new URL(`/${search(mine)}`, BASE).href);
  const prompt = page.locator('#key-dialog');
  await prompt.getByText('The API refused that key').waitFor();
  assert.equal(await page.evaluate((item) => sessionStorage.getItem(item), KEY_ITEM), null);
  if (KEY) {
    await prompt.locator('#key-input').fill(KEY);
    await prompt.getByRole('button', { name: 'Use key' }).click();
    assert.equal((await shownIds(page)).length, 20);
    assert.equal(await page.evaluate((item) => sessionStorage.getItem(item), KEY_ITEM), KEY);
  } else {
    await prompt.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('#error').getByText('needs an API key').waitFor();
    await page.locator('#error').getByRole('button', { name: 'Enter a key' }).waitFor();
    await page.reload(); // no key now: the service's optional auth serves the page
    assert.equal((await shownIds(page)).length, 20);
  }
  for (const url of urls) {
    assert.ok(!url.includes(bogus) && !(KEY && url.includes(KEY)), `a key in ${url}`);
  }
});

test('both widths: usable at 1280 and 390 px, without sideways scrolling; screenshots', async (t) => {
  for (const width of [1280, 390]) {
    const { page, done } = await open(t, search(mine), { width });
    await settled(page);
    await page.locator('#chart svg').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${width} px: the page scrolls sideways by ${overflow} px`);
    const hidden = await page.locator('.table-wrap').evaluate((wrap) => wrap.scrollWidth - wrap.clientWidth);
    assert.ok(hidden <= 0, `${width} px: ${hidden} px of the table is out of sight`);
    for (const selector of ['#filters input', '#filters button', '#page-size', '#page-next', '#export-csv', '#key-set']) {
      const boxes = await page.locator(selector).evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON()));
      for (const box of boxes) {
        assert.ok(box.left >= 0 && box.right <= width + 0.5, `${width} px: ${selector} is off screen`);
        assert.ok(box.height >= 24, `${width} px: ${selector} is too small to use`);
      }
    }
    const table = await page.locator('#events').boundingBox();
    assert.ok(table.width > 0.8 * Math.min(width, 1280) - 80, `${width} px: the table is squeezed`);
    await page.screenshot({ path: `${SHOTS}/viewer-${width}.png`, fullPage: true });
    await rows(page).first().locator('td.name a').click();
    await page.locator('#detail dl.event-fields').waitFor();
    const dialog = await page.locator('#detail').boundingBox();
    assert.ok(dialog.x >= 0 && dialog.x + dialog.width <= width, `${width} px: the detail is off screen`);
    await page.screenshot({ path: `${SHOTS}/viewer-${width}-detail.png` });
    done();
  }
  writeFileSync(`${SHOTS}/README.txt`, `Screenshots of the viewer at ${BASE.href}, run ${RUN}, ${new Date().toISOString()}.\n`);
});
