// The delivery drawer: every attempt of one delivery (code, latency,
// error, response excerpt) and Retry now, refreshed while it is open.

import { api, poll } from './api.js';
import { h, badge, fmtMs, fmtTime, toast } from './dom.js';

const EVERY = 2000;

export function openDrawer(id, signal) {
  const title = h('h2', { id: 'drawer-title' }, 'Delivery ', h('span', { class: 'mono' }, id));
  const close = h('button', { type: 'button', class: 'close', id: 'drawer-close', 'aria-label': 'Close' }, '×');
  const retry = h('button', { type: 'button', class: 'primary', id: 'retry-now', disabled: true }, 'Retry now');
  const retryNote = h('p', { class: 'help', id: 'retry-note', role: 'status' });
  const body = h('div', { class: 'drawer-body' }, h('p', { class: 'loading' }, 'Loading…'));
  const dlg = h('dialog', { class: 'drawer', id: 'drawer', 'aria-labelledby': 'drawer-title' },
    h('div', { class: 'drawer-head' }, title, close),
    h('div', { class: 'actions' }, retry),
    retryNote,
    body);
  let d = null;
  const render = () => {
    retry.disabled = !(d.status === 'dead' || d.status === 'retrying');
    if (!retryNote.dataset.sticky) {
      retryNote.textContent = retry.disabled
        ? (d.status === 'delivered' ? 'Delivered: nothing to retry.' : 'This delivery was split into smaller ones; retry those.')
        : 'Sends it again now, with the same delivery id and body.';
    }
    body.replaceChildren(
      h('dl', { class: 'summary' },
        h('dt', {}, 'Status'), h('dd', { id: 'drawer-status' }, badge(d.status, null)),
        h('dt', {}, 'Attempts'), h('dd', { id: 'drawer-attempts' }, String(d.attempts)),
        h('dt', {}, 'Events'), h('dd', {}, String(d.items)),
        h('dt', {}, 'First attempt'), h('dd', {}, fmtTime(d.firstAt)),
        h('dt', {}, 'Last attempt'), h('dd', {}, fmtTime(d.lastAt)),
        d.nextDue && d.status === 'retrying' ? [h('dt', {}, 'Next due'), h('dd', {}, fmtTime(d.nextDue))] : null,
        d.lastError ? [h('dt', {}, 'Last error'), h('dd', {}, d.lastError)] : null,
        d.splitInto && d.splitInto.length ? [h('dt', {}, 'Split into'), h('dd', { class: 'mono' }, d.splitInto.join(', '))] : null,
        d.splitFrom ? [h('dt', {}, 'Split from'), h('dd', { class: 'mono' }, d.splitFrom)] : null),
      h('h3', {}, 'Attempts'),
      h('ol', { class: 'attempts', id: 'attempts' }, (d.history || []).slice().reverse().map(attemptItem)));
  };
  const refresh = async () => {
    d = await api('GET', '/v1/deliveries/' + encodeURIComponent(id), undefined, { signal });
    render();
  };
  const stop = poll(refresh, EVERY, (e) => { if (e) body.prepend(h('p', { class: 'form-error', role: 'alert' }, 'Refresh failed: ' + e.message)); });
  retry.addEventListener('click', async () => {
    retry.disabled = true;
    try {
      await api('POST', '/v1/deliveries/' + encodeURIComponent(id) + '/retry');
      retryNote.dataset.sticky = '1';
      retryNote.textContent = 'Retry requested: the delivery is due now. Its attempt appears here in a moment.';
      toast('Retry requested.');
      setTimeout(() => { delete retryNote.dataset.sticky; }, 10000);
    } catch (e) {
      retryNote.textContent = 'Retry failed: ' + e.message;
      retry.disabled = false;
    }
  });
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => { stop(); dlg.remove(); });
  if (signal) signal.addEventListener('abort', () => { if (dlg.open) dlg.close(); });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
}

function attemptItem(a) {
  const ok = a.status >= 200 && a.status < 300;
  return h('li', { class: 'attempt ' + (ok ? 'ok' : 'bad') },
    h('div', { class: 'attempt-head' },
      h('strong', {}, a.outcome === 'split' ? 'split' : `Attempt ${a.attempt}`),
      h('span', { class: 'code' }, a.status ? 'HTTP ' + a.status : 'no response'),
      h('span', {}, fmtMs(a.latencyMs)),
      h('span', { class: 'outcome' }, a.outcome),
      h('time', { datetime: a.at }, fmtTime(a.at))),
    a.error ? h('p', { class: 'attempt-error' }, a.error) : null,
    a.nextDue ? h('p', { class: 'help' }, 'Next attempt due ' + fmtTime(a.nextDue)) : null,
    a.response ? h('pre', { class: 'excerpt', tabindex: '0', 'aria-label': 'Response excerpt' }, a.response) : null);
}
