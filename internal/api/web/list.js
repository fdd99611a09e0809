// The endpoints list: name, events, application with the delivery
// settings in force, URL, status, success rate over 24 h and last
// delivery, filtered by status and searched by text, refreshed by
// polling.

import { api, listAll, poll, mapLimit } from './api.js';
import { h, badge, fmtRate, fmtAgo, fmtTime, toast, confirmDialog, memo } from './dom.js';
import { appName, deliveryText } from './dialect.js';

const EVERY = 5000;

export function listView(main) {
  const ctl = new AbortController();
  const search = h('input', { id: 'search', type: 'search', placeholder: 'name, URL or event', autocomplete: 'off' });
  const status = h('select', { id: 'status-filter' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'inactive' }, 'Inactive'),
    h('option', { value: 'disabled' }, 'Disabled'));
  const tbody = h('tbody');
  const table = h('table', { class: 'grid', id: 'endpoints' },
    h('caption', { class: 'sr-only' }, 'Endpoints'),
    h('thead', {}, h('tr', {},
      ['Name', 'Events', 'Application', 'URL', 'Status', 'Success 24 h', 'Last delivery'].map((c) => h('th', { scope: 'col' }, c)),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);
  const empty = h('p', { class: 'empty', hidden: true });
  const live = h('p', { class: 'live' });
  const heading = h('h1', { tabindex: '-1' }, 'Endpoints');
  main.append(...[
    h('div', { class: 'bar' }, heading, h('a', { class: 'button primary', href: '#/endpoints/new', id: 'create' }, 'Create endpoint')),
    memo.notice ? h('p', { class: 'notice', role: 'status' }, memo.notice) : null,
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: 'search' }, 'Search'), search),
      h('div', { class: 'field' }, h('label', { for: 'status-filter' }, 'Status'), status)),
    live,
    h('div', { class: 'table-wrap' }, table),
    empty].filter(Boolean));
  memo.notice = '';
  heading.focus();

  let rows = [];
  let apps = [];
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = rows.filter(({ ep }) => !q || [ep.name, ep.url, appName(apps, ep.application), ...ep.eventTypes].some((s) => s.toLowerCase().includes(q)));
    reconcile(tbody, shown.map((r) => r.ep.id), (id) => rowFor(shown.find((r) => r.ep.id === id), apps, refresh));
    empty.hidden = shown.length > 0;
    empty.textContent = rows.length ? 'No endpoint matches the filter.' : 'No endpoints yet. Create one to start receiving webhooks.';
  };
  const refresh = async () => {
    const want = status.value;
    const [eps, listed] = await Promise.all([
      listAll('/v1/endpoints' + (want ? '?status=' + want : ''), { signal: ctl.signal }),
      // Names only: without them the ids are shown.
      api('GET', '/v1/applications', undefined, { signal: ctl.signal }).catch(() => null),
    ]);
    const healths = await mapLimit(eps, 6, (ep) => api('GET', `/v1/endpoints/${encodeURIComponent(ep.id)}/health`, undefined, { signal: ctl.signal }).catch(() => null));
    if (ctl.signal.aborted || want !== status.value) return;
    rows = eps.map((ep, i) => ({ ep, health: healths[i] }));
    if (listed) apps = listed.data;
    render();
    live.textContent = 'Updated ' + fmtTime(new Date().toISOString()) + ' · refreshes every 5 s';
  };
  const onError = (e) => { if (e) live.textContent = 'Refresh failed: ' + e.message; };
  search.addEventListener('input', render);
  status.addEventListener('change', () => refresh().catch(onError));
  const stop = poll(refresh, EVERY, onError);
  return () => { stop(); ctl.abort(); };
}

// reconcile makes tbody hold the rows of ids in order, building each with
// make and leaving rows already in place where they are, so focus inside
// a row survives a refresh.
export function reconcile(tbody, ids, make) {
  const have = new Map([...tbody.children].map((tr) => [tr.dataset.id, tr]));
  let at = tbody.firstElementChild;
  for (const id of ids) {
    const fresh = make(id);
    const old = have.get(id);
    if (old) {
      have.delete(id);
      patchRow(old, fresh);
      if (old !== at) tbody.insertBefore(old, at);
      else at = at.nextElementSibling;
    } else {
      tbody.insertBefore(fresh, at);
    }
  }
  for (const tr of have.values()) tr.remove();
}

// patchRow copies fresh cells into old where their text differs, so a
// cell holding the focused control is kept while it is unchanged.
function patchRow(old, fresh) {
  const a = old.children, b = fresh.children;
  for (let i = 0; i < b.length; i++) {
    if (!a[i]) { old.append(b[i].cloneNode(true)); continue; }
    if (a[i].dataset.sig !== b[i].dataset.sig || a[i].textContent !== b[i].textContent) a[i].replaceWith(b[i].cloneNode(true));
  }
  Object.assign(old.dataset, fresh.dataset);
  old.className = fresh.className;
  // Cloned cells have no listeners: the row's one listener dispatches
  // data-action clicks to the newest handlers.
  old._actions = fresh._actions;
}

export function cell(label, ...kids) {
  const td = h('td', { 'data-label': label }, h('div', { class: 'cell' }, ...kids));
  td.dataset.sig = td.textContent;
  return td;
}

// actionRow lets rows carry buttons that survive patchRow: a click on a
// [data-action] element calls the row's handler of that name.
export function actionRow(id, actions, ...cells) {
  const tr = h('tr', { dataset: { id } }, ...cells);
  tr._actions = actions;
  tr.addEventListener('click', (e) => {
    const el = e.target.closest('[data-action]');
    if (el && tr._actions[el.dataset.action]) tr._actions[el.dataset.action](e);
  });
  return tr;
}

function rowFor({ ep, health }, apps, refresh) {
  const href = '#/endpoints/' + encodeURIComponent(ep.id);
  return actionRow(ep.id, {
    delete: async () => {
      const ok = await confirmDialog('Delete endpoint?', `Delete the endpoint “${ep.name}” (${ep.url})? Deliveries to it stop at once; this cannot be undone.`, `Delete ${ep.name}`, true);
      if (!ok) return;
      try {
        await api('DELETE', '/v1/endpoints/' + encodeURIComponent(ep.id));
        toast(`Deleted ${ep.name}.`);
        await refresh();
      } catch (e) { toast('Delete failed: ' + e.message, 'error'); }
    },
  },
  cell('Name', h('a', { href, class: 'ep-name' }, ep.name)),
  cell('Events', h('span', { class: 'events' }, ep.eventTypes.join(', '))),
  cell('Application', h('span', { class: 'app' }, appName(apps, ep.application)), h('span', { class: 'sub' }, deliveryText(ep))),
  cell('URL', h('span', { class: 'url' }, ep.url)),
  cell('Status', badge(ep.status, ep.disabledReason)),
  cell('Success 24 h', health ? fmtRate(health.successRate24h, health.attempts24h) : '—'),
  cell('Last delivery', health && health.lastDelivery ? h('time', { datetime: health.lastDelivery, title: fmtTime(health.lastDelivery) }, fmtAgo(health.lastDelivery)) : 'never'),
  cell('Actions', h('span', { class: 'row-actions' },
    h('a', { href, class: 'button small' }, 'Details', h('span', { class: 'sr-only' }, ' of ' + ep.name)),
    h('a', { href: href + '/edit', class: 'button small' }, 'Edit', h('span', { class: 'sr-only' }, ' ' + ep.name)),
    h('button', { type: 'button', class: 'small danger', 'data-action': 'delete' }, 'Delete', h('span', { class: 'sr-only' }, ' ' + ep.name)))));
}
