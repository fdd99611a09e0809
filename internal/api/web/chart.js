// A small chart of an endpoint's recent statuses, oldest to newest: tall
// bars for 2xx, short ones for failures, so it reads without colour too.

import { h, svg } from './dom.js';

export function statusChart(recent) {
  const codes = (recent || []).slice().reverse();
  if (!codes.length) return h('p', { class: 'help' }, 'No attempts yet.');
  const ok = codes.filter((c) => c >= 200 && c < 300).length;
  const none = codes.filter((c) => c === 0).length;
  const failed = codes.length - ok - none;
  // Slots for the 50 codes the API keeps, newest at the right, so a few
  // attempts draw as thin bars rather than wide blocks.
  const W = 8, GAP = 2, H = 40, SLOTS = Math.max(50, codes.length);
  const first = SLOTS - codes.length;
  const label = `Last ${codes.length} attempts, oldest to newest: ${ok} succeeded, ${failed} answered with an error, ${none} got no response.`;
  const chart = svg('svg', { class: 'chart', viewBox: `0 0 ${SLOTS * (W + GAP)} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label, id: 'status-chart' },
    codes.map((c, i) => {
      const kind = c >= 200 && c < 300 ? 'ok' : c === 0 ? 'none' : 'bad';
      const height = kind === 'ok' ? H : H * 0.45;
      return svg('rect', { class: kind, x: (first + i) * (W + GAP), y: H - height, width: W, height }, svg('title', {}, c ? 'HTTP ' + c : 'no response'));
    }));
  return h('figure', { class: 'chart-wrap' }, chart,
    h('figcaption', {}, h('span', { class: 'key ok' }, `${ok} 2xx`), h('span', { class: 'key bad' }, `${failed} error`), h('span', { class: 'key none' }, `${none} no response`), h('span', { class: 'axis' }, 'oldest → newest')));
}
