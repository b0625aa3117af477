// The chart of events over time: one SVG bar per stats bucket, drawn by the page itself. A bar is
// a button: a click, or Enter or Space, narrows the time range to its bucket. The bars are one tab
// stop; the arrow keys, Home and End move between them (a roving tabindex).

import { count, shortTime, svg, replace } from './dom.js';
import { INTERVAL_SECONDS } from './state.js';

const HEIGHT = 180;
const MARGIN = { top: 12, right: 8, bottom: 26, left: 44 };

function bucketLabel(bucket, interval) {
  const start = Date.parse(bucket.start);
  const end = start + INTERVAL_SECONDS[interval] * 1000;
  const events = bucket.count === 1 ? 'event' : 'events';
  return `${shortTime(start)} – ${shortTime(end)}: ${count(bucket.count)} ${events}`;
}

/**
 * Draws `series` (the body of `GET /api/stats`) into `container`, as wide as it is.
 * `onPick(bucket)` is called when a bar is chosen.
 */
export function drawChart(container, series, onPick) {
  const { buckets, interval } = series;
  const width = Math.max(280, Math.floor(container.clientWidth || 600));
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const step = buckets.length ? plotWidth / buckets.length : plotWidth;
  const gap = step > 4 ? 1 : 0;
  const bottom = MARGIN.top + plotHeight;

  const first = buckets.length ? Date.parse(buckets[0].start) : null;
  const last = buckets.length
    ? Date.parse(buckets[buckets.length - 1].start) + INTERVAL_SECONDS[interval] * 1000
    : null;
  const summary = buckets.length
    ? `Events per ${interval}, ${shortTime(first)} to ${shortTime(last)}: ${count(series.total)} in all`
    : 'No time range to chart';

  const bars = buckets.map((bucket, i) => {
    const x = MARGIN.left + i * step;
    const barHeight = (bucket.count / max) * plotHeight;
    const label = bucketLabel(bucket, interval);
    return svg('g', { class: 'bucket' },
      svg('rect', {
        class: 'bar', x, width: Math.max(1, step - gap), y: bottom - barHeight, height: barHeight,
      }),
      svg('rect', {
        class: 'hit', x, width: step, y: MARGIN.top, height: plotHeight,
        role: 'button', tabindex: i === 0 ? 0 : -1, 'aria-label': label, 'data-index': i,
      }, svg('title', null, label)),
    );
  });

  const chart = svg('svg', {
    class: 'chart', width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`,
    role: 'group', 'aria-label': summary,
  },
  svg('line', { class: 'axis', x1: MARGIN.left, x2: width - MARGIN.right, y1: bottom, y2: bottom }),
  svg('text', { class: 'label', x: MARGIN.left - 6, y: MARGIN.top + 4, 'text-anchor': 'end' }, count(max)),
  svg('text', { class: 'label', x: MARGIN.left - 6, y: bottom, 'text-anchor': 'end' }, '0'),
  buckets.length ? [
    svg('text', { class: 'label', x: MARGIN.left, y: HEIGHT - 8, 'text-anchor': 'start' }, shortTime(first)),
    svg('text', { class: 'label', x: width - MARGIN.right, y: HEIGHT - 8, 'text-anchor': 'end' }, shortTime(last)),
  ] : [],
  bars);

  const hits = [...chart.querySelectorAll('.hit')];
  const pick = (target) => {
    const index = Number(target?.dataset?.index);
    if (Number.isInteger(index) && buckets[index]) onPick(buckets[index]);
  };
  const focusBar = (index) => {
    const next = hits[Math.max(0, Math.min(hits.length - 1, index))];
    if (!next) return;
    for (const hit of hits) hit.setAttribute('tabindex', hit === next ? '0' : '-1');
    next.focus();
  };
  chart.addEventListener('click', (event) => pick(event.target.closest('.hit')));
  chart.addEventListener('keydown', (event) => {
    const current = event.target.closest('.hit');
    if (!current) return;
    const index = Number(current.dataset.index);
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: hits.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      focusBar(moves[event.key]);
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      pick(current);
    }
  });

  replace(container, chart);
  return summary;
}
