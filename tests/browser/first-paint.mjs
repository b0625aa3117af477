// The viewer's first page, measured in Chromium (a benchmark, not a test: it asserts nothing but that
// the page showed its rows). `scripts/bench-viewer.sh` runs it against a runner of its own.
//
//   AUDIT_URL     the service (default http://127.0.0.1:3050)
//   BENCH_EVENTS  events the tenant should hold before measuring (default 30000); the script seeds
//                 the difference through POST /api/write/batch, 100 a request, and waits until
//                 /api/read counts them
//   BENCH_RUNS    page loads to measure, each in a fresh context with an empty cache (default 5)
//
// Per load: the requests and bytes of everything the page fetched until the network went quiet
// (the Resource Timing entries: transferSize, headers included, and the body bytes), the first
// contentful paint (the Paint Timing entry), and when the first row of events was in the table.

import { chromium } from 'playwright-core';

const BASE = new URL(process.env.AUDIT_URL || 'http://127.0.0.1:3050');
const TARGET = Number(process.env.BENCH_EVENTS || 30000);
const RUNS = Number(process.env.BENCH_RUNS || 5);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function api(path, init) {
  const response = await fetch(new URL(path, BASE), { ...init, headers: { 'Content-Type': 'application/json' } });
  return { status: response.status, body: await response.json() };
}

async function total() {
  const read = await api('api/read?page_size=1');
  return read.body?.metadata?.total_records ?? 0;
}

async function seed() {
  let have = await total();
  const missing = Math.max(0, TARGET - have);
  const started = Date.now();
  const now = Date.now();
  for (let sent = 0; sent < missing; sent += 100) {
    const batch = Array.from({ length: Math.min(100, missing - sent) }, (_, i) => {
      const n = sent + i;
      return {
        event_name: ['user.signed_in', 'user.signed_out', 'invoice.paid', 'key.rotated', 'export.started'][n % 5],
        description: `bench event ${n} from 10.0.${n % 256}.${(n >> 8) % 256}`,
        customer_id: 1000 + (n % 997),
        // Over the last 50 minutes: every distinct (name, minute) is a counter item, and the
        // emulator copies the counters table for every action of a transaction.
        created_at: new Date(now - 60_000 - (n % 3000) * 1000).toISOString(),
        metadata: { ip: `10.0.${n % 256}.${(n >> 8) % 256}`, n },
      };
    });
    const written = await api('api/write/batch', { method: 'POST', body: JSON.stringify(batch) });
    if (written.status !== 201) throw new Error(`seeding: ${written.status} ${JSON.stringify(written.body)}`);
    if ((sent / 100) % 50 === 0) process.stderr.write(`seeding: ${sent + batch.length}/${missing} sent\n`);
  }
  // Wait for the drain and the counters, bounded: 20 minutes, a line a minute.
  const deadline = Date.now() + 20 * 60_000;
  let said = 0;
  for (;;) {
    have = await total();
    if (have >= TARGET) break;
    if (Date.now() > deadline) throw new Error(`seeding: only ${have} of ${TARGET} counted after 20 minutes`);
    if (Date.now() - said > 60_000) {
      process.stderr.write(`seeding: ${have}/${TARGET} counted\n`);
      said = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return { have, seeded: missing, seconds: (Date.now() - started) / 1000 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function load(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(() => {
    // When the first event row is in the table.
    new MutationObserver((_, observer) => {
      if (document.querySelector('#events tbody tr[data-id]')) {
        window.firstRows = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const page = await context.newPage();
  await page.goto(BASE.href, { waitUntil: 'networkidle' });
  await page.waitForFunction(() => window.firstRows !== undefined);
  const figures = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    const paint = performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint');
    return {
      requests: entries.map((e) => ({
        path: new URL(e.name).pathname,
        transfer: e.transferSize,
        body: e.encodedBodySize,
      })),
      fcp: paint?.startTime ?? null,
      firstRows: window.firstRows,
      rows: document.querySelectorAll('#events tbody tr[data-id]').length,
      info: document.querySelector('#page-info')?.textContent.replace(/\s+/g, ' ').trim(),
    };
  });
  await context.close();
  return figures;
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic'],
});
try {
  const seeding = await seed();
  console.log(`tenant holds ${seeding.have} events (${seeding.seeded} seeded through the API in ${seeding.seconds.toFixed(0)} s)`);
  // One load to warm the runner's processes (not counted), then the measured ones.
  await load(browser);
  const runs = [];
  for (let i = 0; i < RUNS; i += 1) runs.push(await load(browser));
  const first = runs[0];
  console.log(`first page: "${first.info}", ${first.rows} rows`);
  console.log('requests of one load (path, transfer bytes with headers, body bytes):');
  for (const r of first.requests) console.log(`  ${r.path.padEnd(26)} ${String(r.transfer).padStart(7)} ${String(r.body).padStart(7)}`);
  const sum = (run, key) => run.requests.reduce((n, r) => n + r[key], 0);
  console.log(`requests per load: ${median(runs.map((r) => r.requests.length))}`
    + ` (api: ${first.requests.filter((r) => r.path.startsWith('/api/')).length})`);
  console.log(`bytes per load: transfer ${median(runs.map((r) => sum(r, 'transfer')))}, body ${median(runs.map((r) => sum(r, 'body')))}`);
  const ms = (xs) => `median ${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)} to ${Math.max(...xs).toFixed(0)})`;
  console.log(`first contentful paint over ${RUNS} loads: ${ms(runs.map((r) => r.fcp))}`);
  console.log(`first rows in the table over ${RUNS} loads: ${ms(runs.map((r) => r.firstRows))}`);
} finally {
  await browser.close();
}
