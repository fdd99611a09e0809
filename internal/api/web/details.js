// An endpoint's page: its application and the delivery settings in force
// (marking those it sets itself), health with a chart of recent
// statuses, recent deliveries (live), the delivery drawer with Retry now,
// bulk replay of dead letters, and rotate / test / inactivate / delete.

import { api, poll } from './api.js';
import { h, badge, fmtRate, fmtMs, fmtAgo, fmtTime, toast, confirmDialog, secretPanel, takeSecret, memo, clearErrors, showError } from './dom.js';
import { errorPage } from './form.js';
import { reconcile, actionRow, cell } from './list.js';
import { openDrawer } from './drawer.js';
import { statusChart } from './chart.js';
import { describeAuth } from './credentials.js';
import { whose, fmtDur, fmtBytes, batchText, POLICIES, FORMATS } from './dialect.js';

const EVERY = 2000;
const enc = encodeURIComponent;

export function detailsView(main, id) {
  const ctl = new AbortController();
  const signal = ctl.signal;
  const stops = [];
  main.append(h('p', { class: 'loading' }, 'Loading…'));
  (async () => {
    let ep, apps;
    try {
      [ep, apps] = await Promise.all([
        api('GET', '/v1/endpoints/' + enc(id), undefined, { signal }),
        // For the application's name and defaults; without them the
        // settings are shown alone.
        api('GET', '/v1/applications', undefined, { signal }).catch((e) => { if (e.name === 'AbortError') throw e; return { data: [] }; }),
      ]);
    } catch (e) {
      if (!signal.aborted && e.name !== 'AbortError') main.replaceChildren(errorPage(e));
      return;
    }
    if (signal.aborted) return;
    const page = new Details(main, ep, apps.data, signal);
    stops.push(page.start());
  })();
  return () => { ctl.abort(); stops.forEach((s) => s()); };
}

class Details {
  constructor(main, ep, apps, signal) {
    this.ep = ep;
    this.apps = apps;
    this.signal = signal;
    this.limit = 20;
    this.heading = h('h1', { tabindex: '-1' }, ep.name);
    this.badge = h('span', { class: 'status' });
    this.toggle = h('button', { type: 'button', id: 'toggle-active', onclick: () => this.setActive(!this.ep.active) });
    this.pingResult = h('p', { class: 'ping-result', id: 'ping-result', role: 'status' });
    this.secretSlot = h('div');
    this.summary = h('dl', { class: 'summary' });
    this.health = h('div', { class: 'health', id: 'health' });
    this.tbody = h('tbody');
    this.empty = h('p', { class: 'empty', hidden: true }, 'No deliveries yet. They appear here within seconds of an event.');
    this.live = h('p', { class: 'live', id: 'deliveries-live' });
    this.more = h('button', { type: 'button', class: 'small', hidden: true, onclick: () => { this.limit = 100; this.more.hidden = true; this.refresh(); } }, 'Show up to 100');
    const notice = memo.notice;
    memo.notice = '';
    main.replaceChildren(...[
      h('p', { class: 'crumbs' }, h('a', { href: '#/endpoints' }, '← Endpoints')),
      h('div', { class: 'bar' }, h('div', { class: 'title' }, this.heading, this.badge),
        h('div', { class: 'actions wrap' },
          h('a', { class: 'button', href: '#/endpoints/' + enc(ep.id) + '/edit', id: 'edit' }, 'Edit'),
          h('button', { type: 'button', id: 'test-ping', onclick: () => this.testPing() }, 'Send test ping'),
          h('button', { type: 'button', id: 'rotate', onclick: () => this.rotate() }, 'Rotate secret'),
          this.toggle,
          h('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => this.remove() }, 'Delete'))),
      notice ? h('p', { class: 'notice', role: 'status', id: 'notice' }, notice) : null,
      this.pingResult,
      this.secretSlot,
      h('section', { class: 'card', 'aria-labelledby': 'settings-h' }, h('h2', { id: 'settings-h' }, 'Settings'), this.summary),
      h('section', { class: 'card', 'aria-labelledby': 'health-h' }, h('h2', { id: 'health-h' }, 'Health'), this.health),
      h('section', { class: 'card', 'aria-labelledby': 'deliveries-h' },
        h('h2', { id: 'deliveries-h' }, 'Recent deliveries'), this.live,
        h('div', { class: 'table-wrap' }, h('table', { class: 'grid', id: 'deliveries' },
          h('caption', { class: 'sr-only' }, 'Recent deliveries, newest first'),
          h('thead', {}, h('tr', {}, ['Delivery', 'Status', 'Attempts', 'Last code', 'Next due', 'Events', 'Last attempt'].map((c) => h('th', { scope: 'col' }, c)))),
          this.tbody)),
        this.empty, this.more),
      this.replayForm()].filter(Boolean));
    const shown = takeSecret(ep.id);
    if (shown) this.showSecret(shown.secret, shown.why);
    this.renderEndpoint();
    this.heading.focus();
  }

  start() {
    return poll(() => this.refresh(), EVERY, (e) => {
      if (e) this.live.textContent = 'Refresh failed: ' + e.message + ' (retrying)';
    });
  }

  async refresh() {
    const o = { signal: this.signal };
    const base = '/v1/endpoints/' + enc(this.ep.id);
    const [ep, apps, health, page] = await Promise.all([
      api('GET', base, undefined, o),
      // The application's defaults change too: a value is the endpoint's
      // own only while it differs from the current ones.
      api('GET', '/v1/applications', undefined, o).catch((e) => { if (e.name === 'AbortError') throw e; return null; }),
      api('GET', base + '/health', undefined, o).catch((e) => ({ unavailable: e })),
      api('GET', base + '/deliveries?limit=' + this.limit, undefined, o).catch((e) => ({ unavailable: e })),
    ]);
    if (this.signal.aborted) return;
    this.ep = ep;
    if (apps) this.apps = apps.data;
    this.renderEndpoint();
    this.renderHealth(health);
    this.renderDeliveries(page);
    this.live.textContent = 'Updated ' + fmtTime(new Date().toISOString()) + ' · refreshes every 2 s';
  }

  renderEndpoint() {
    const ep = this.ep;
    this.heading.textContent = ep.name;
    this.badge.replaceChildren(badge(ep.status, ep.disabledReason));
    this.toggle.textContent = ep.active ? 'Inactivate' : 'Activate';
    const row = (k, v, id) => [h('dt', {}, k), h('dd', { id }, v)];
    // Every setting shows the value deliveries use; one the endpoint sets
    // itself (the API's own list) says so, beside its application's.
    const app = this.apps.find((a) => a.id === (ep.application || 'default'));
    const d = app && app.dialect;
    const set = (k, text, own, appText) => row(k, own && d ? [text, h('span', { class: 'own' }, ` (set on this endpoint; ${whose(app)} default: ${appText})`)] : text, 'ep-' + k.toLowerCase().replaceAll(' ', '-'));
    const ignored = ep.ignoreOrigins.length ? ep.ignoreOrigins.join(', ') : 'none';
    const hookline = ep.scheme === 'hookline';
    const schedule = (s) => (s && s.length ? s.map(fmtDur).join(', ') : 'the deployment’s retry tiers');
    const shape = (p) => (p && p.shape) || 'full';
    const mine = (...fields) => fields.some((f) => (ep.own || []).includes(f));
    const batchOwn = mine('maxItems', 'maxWait');
    this.summary.replaceChildren(...[
      row('URL', h('span', { class: 'url', id: 'ep-url' }, ep.url)),
      row('Application', app
        ? [app.default ? 'Default (the built-in catalog)' : `${app.name} (${app.id})`, h('span', { class: 'sub' }, 'Settings the endpoint does not set follow its defaults.')]
        : `${ep.application} (not registered: the built-in catalog and this deployment’s defaults)`, 'ep-application'),
      row('Events', ep.eventTypes.join(', ')),
      row('Authentication', hookline ? `HMAC-SHA256 signature in ${ep.headerPrefix}-Signature` : 'Standard Webhooks signatures', 'ep-authentication'),
      hookline ? set('Signature format', FORMATS[ep.signatureFormat] || ep.signatureFormat, mine('signatureFormat'), FORMATS[d && d.signatureFormat]) : [],
      hookline ? set('Header prefix', ep.headerPrefix, mine('headerPrefix'), d && d.headerPrefix) : [],
      row('Receiver credentials', describeAuth(ep.auth)),
      row('Secret', ep.rotatedUntil ? `set; the previous one also signs until ${fmtTime(ep.rotatedUntil)}` : ep.secretSet ? 'set (never shown again)' : 'none'),
      set('Timeout', fmtDur(ep.timeout), mine('timeout'), d && fmtDur(d.timeout)),
      set('Batching', batchText(ep.maxItems, ep.maxWait), batchOwn, d && batchText(d.maxItems, d.maxWait)),
      set('Max body', fmtBytes(ep.maxBytes), mine('maxBytes'), d && fmtBytes(d.maxBytes)),
      set('Payload', shape(ep.payload), mine('payload'), d && shape(d.payload)),
      set('User-Agent', ep.userAgent, mine('userAgent'), d && d.userAgent),
      row('Ignored origins', ignored + (ep.ignoreOrigins.includes('api') ? ' (ignore for API)' : '')),
      ep.ignoreFields.length ? row('Ignored fields', ep.ignoreFields.join(', ')) : [],
      set('Retry policy', POLICIES[ep.retryPolicy] || ep.retryPolicy, mine('retryPolicy'), d && POLICIES[d.retryPolicy]),
      set('Retry schedule', schedule(ep.retrySchedule), mine('retrySchedule'), d && schedule(d.retrySchedule)),
      set('Give up after', ep.maxAge ? fmtDur(ep.maxAge) : 'never: the retry schedule decides', mine('maxAge'), d && (d.maxAge ? fmtDur(d.maxAge) : 'never')),
      row('Created', fmtTime(ep.createdAt)),
      row('Updated', fmtTime(ep.updatedAt)),
    ].flat());
  }

  renderHealth(hl) {
    if (hl.unavailable) {
      this.health.replaceChildren(h('p', {}, 'Health is not available: ' + hl.unavailable.message));
      return;
    }
    const tile = (label, value, id) => h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, label), h('span', { class: 'tile-value', id }, value));
    this.health.replaceChildren(
      h('p', { class: 'state' }, 'State: ', badge(hl.state, null), hl.reason ? h('span', { class: 'reason', id: 'health-reason' }, ' ' + hl.reason) : null),
      h('div', { class: 'tiles' },
        tile('Success 1 h', fmtRate(hl.successRate1h, hl.attempts1h) + (hl.attempts1h ? ` of ${hl.attempts1h}` : ''), 'rate-1h'),
        tile('Success 24 h', fmtRate(hl.successRate24h, hl.attempts24h) + (hl.attempts24h ? ` of ${hl.attempts24h}` : ''), 'rate-24h'),
        tile('Latency p50', hl.attempts1h ? fmtMs(hl.p50Ms) : '—', 'p50'),
        tile('Latency p99', hl.attempts1h ? fmtMs(hl.p99Ms) : '—', 'p99'),
        tile('Failures in a row', String(hl.consecutiveFailures), 'failures'),
        tile('Last delivery', hl.lastDelivery ? fmtAgo(hl.lastDelivery) : 'never', 'last-delivery')),
      statusChart(hl.recent));
  }

  renderDeliveries(page) {
    if (page.unavailable) {
      this.empty.hidden = false;
      this.empty.textContent = 'The delivery log is not available: ' + page.unavailable.message;
      return;
    }
    const byId = new Map(page.data.map((d) => [d.id, d]));
    reconcile(this.tbody, page.data.map((d) => d.id), (id) => this.deliveryRow(byId.get(id)));
    this.empty.hidden = page.data.length > 0;
    this.more.hidden = !page.nextCursor || this.limit >= 100;
  }

  deliveryRow(d) {
    return actionRow(d.id, { open: () => openDrawer(d.id, this.signal) },
      cell('Delivery', h('button', { type: 'button', class: 'link mono', 'data-action': 'open', 'aria-label': `Delivery ${d.id}: show attempts` }, d.id)),
      cell('Status', badge(d.status, null)),
      cell('Attempts', String(d.attempts)),
      cell('Last code', d.lastCode ? String(d.lastCode) : d.attempts ? 'no response' : '—'),
      cell('Next due', d.status === 'retrying' && d.nextDue ? h('time', { datetime: d.nextDue }, fmtTime(d.nextDue)) : '—'),
      cell('Events', String(d.items)),
      cell('Last attempt', h('time', { datetime: d.lastAt, title: fmtTime(d.lastAt) }, fmtAgo(d.lastAt))));
  }

  showSecret(secret, why) {
    this.secretSlot.replaceChildren(secretPanel(secret, why, () => this.heading.focus()));
    this.secretSlot.querySelector('#secret-value').focus();
  }

  async testPing() {
    this.pingResult.textContent = 'Sending a test ping…';
    try {
      const r = await api('POST', '/v1/endpoints/' + enc(this.ep.id) + '/test');
      this.pingResult.className = 'ping-result ' + (r.ok ? 'ok' : 'bad');
      this.pingResult.textContent = r.ok
        ? `Test ping answered HTTP ${r.status} in ${fmtMs(r.latencyMs)}.`
        : `Test ping failed: ${r.error || 'HTTP ' + r.status} (after ${fmtMs(r.latencyMs)}).`;
    } catch (e) {
      this.pingResult.className = 'ping-result bad';
      this.pingResult.textContent = 'Test ping failed: ' + e.message;
    }
  }

  async rotate() {
    const ep = this.ep;
    const how = ep.scheme === 'standard-webhooks'
      ? 'The current secret keeps signing alongside the new one for 24 hours, so you can update your receiver in that time.'
      : 'There is no overlap: the very next delivery is signed with the new secret only, so update your receiver right away.';
    if (!await confirmDialog('Rotate the signing secret?', `Replace the signing secret of “${ep.name}”? ${how}`, 'Rotate secret', false)) return;
    try {
      const got = await api('POST', '/v1/endpoints/' + enc(ep.id) + '/rotate-secret');
      this.ep = got;
      this.renderEndpoint();
      this.showSecret(got.secret, 'The secret was rotated.');
    } catch (e) { toast('Rotate failed: ' + e.message, 'error'); }
  }

  async setActive(on) {
    try {
      this.ep = await api('PATCH', '/v1/endpoints/' + enc(this.ep.id), { active: on });
      this.renderEndpoint();
      toast(on ? `“${this.ep.name}” is active again.` : `“${this.ep.name}” is inactive: it receives no events until activated.`);
    } catch (e) { toast('Change failed: ' + e.message, 'error'); }
  }

  async remove() {
    const ep = this.ep;
    if (!await confirmDialog('Delete endpoint?', `Delete the endpoint “${ep.name}” (${ep.url})? Deliveries to it stop at once; this cannot be undone.`, `Delete ${ep.name}`, true)) return;
    try {
      await api('DELETE', '/v1/endpoints/' + enc(ep.id));
      memo.notice = `Deleted “${ep.name}”.`;
      location.hash = '#/endpoints';
    } catch (e) { toast('Delete failed: ' + e.message, 'error'); }
  }

  replayForm() {
    const since = h('select', { id: 'replay-since' },
      h('option', { value: '1' }, 'the last hour'),
      h('option', { value: '24', selected: true }, 'the last 24 hours'),
      h('option', { value: '168' }, 'the last 7 days'));
    const rate = h('input', { id: 'replay-rate', type: 'number', min: 1, max: 1000, value: 50, 'aria-describedby': 'replay-rate-help err-rate' });
    const progress = h('p', { class: 'progress', id: 'replay-progress', role: 'status' });
    const topError = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
    const submit = h('button', { type: 'submit', id: 'replay' }, 'Replay dead letters');
    const form = h('form', { class: 'card replay', 'aria-labelledby': 'replay-h', novalidate: true },
      h('h2', { id: 'replay-h' }, 'Replay dead letters'),
      h('p', { class: 'help' }, 'Sends the endpoint’s dead letters again, with their ids and bodies. A delivery once answered 2xx is never sent twice.'),
      topError,
      h('div', { class: 'inline' },
        h('div', { class: 'field', 'data-field': 'since' }, h('label', { for: 'replay-since' }, 'Dead letters from'), since, h('p', { class: 'field-error' })),
        h('div', { class: 'field', 'data-field': 'rate' }, h('label', { for: 'replay-rate' }, 'Rate (deliveries a second)'), rate,
          h('p', { class: 'help', id: 'replay-rate-help' }, '1 to 1000.'), h('p', { class: 'field-error', id: 'err-rate' })),
        submit),
      progress);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const body = { since: new Date(Date.now() - Number(since.value) * 3600e3).toISOString(), rate: Number(rate.value) };
      submit.disabled = true;
      try {
        const job = await api('POST', '/v1/endpoints/' + enc(this.ep.id) + '/replay', body);
        this.watchJob(job, progress);
      } catch (e) {
        showError(form, e);
      } finally { submit.disabled = false; }
    });
    return form;
  }

  watchJob(job, progress) {
    const show = (j) => {
      const total = j.total || j.done;
      progress.textContent = `Replay ${j.state}: ${j.done}${total ? ' of ' + total : ''} dead letters re-enqueued at up to ${j.rate}/s.` + (j.error ? ' ' + j.error : '');
    };
    show(job);
    const stop = poll(async () => {
      const j = await api('GET', '/v1/replays/' + enc(job.id), undefined, { signal: this.signal });
      show(j);
      if (j.state !== 'running') stop();
    }, EVERY);
    this.signal.addEventListener('abort', stop);
  }
}
