// Create and edit an endpoint. The application (listed by the API, the
// default one first) gives the events offered and the defaults of every
// delivery setting, shown beside each; settings left alone are not sent,
// so the endpoint follows its application. Application, signature scheme
// and the receiver credentials' type are fixed once created; a new URL is
// pinged on save, and a failed ping stops the save unless the user
// chooses to save without it.

import { api } from './api.js';
import { h, field, clearErrors, showError, memo } from './dom.js';
import { authGroup } from './credentials.js';
import { payloadGroup } from './payload.js';
import { dialectFields, whose } from './dialect.js';

const allowHTTP = document.documentElement.dataset.allowHttp === 'true';
const enc = encodeURIComponent;

export function formView(main, id) {
  const ctl = new AbortController();
  const signal = ctl.signal;
  main.append(h('p', { class: 'loading' }, 'Loading…'));
  (async () => {
    try {
      const [apps, ep] = await Promise.all([
        api('GET', '/v1/applications', undefined, { signal }),
        id ? api('GET', '/v1/endpoints/' + enc(id), undefined, { signal }) : null,
      ]);
      // An endpoint of an application nobody registered takes the
      // built-in catalog, as the API holds it to.
      const app = ep ? apps.data.find((a) => a.id === (ep.application || 'default')) || apps.data[0] : apps.data[0];
      const types = await api('GET', '/v1/event-types?application=' + enc(app.id), undefined, { signal });
      if (signal.aborted) return;
      main.replaceChildren(buildForm(apps.data, app, types.data, ep, signal));
      main.querySelector('h1').focus();
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      main.replaceChildren(errorPage(e));
    }
  })();
  return () => ctl.abort();
}

export function errorPage(e) {
  const missing = e.status === 404;
  return h('section', { class: 'card' },
    h('h1', { tabindex: '-1' }, missing ? 'Endpoint not found' : 'Something went wrong'),
    h('p', { role: 'alert' }, missing ? 'There is no such endpoint for this tenant.' : e.message),
    h('p', {}, h('a', { href: '#/endpoints' }, 'Back to the endpoints')));
}

// checkURL says what is wrong with a URL before it is sent, or ''.
export function checkURL(v) {
  let u;
  try { u = new URL(v); } catch { return 'Enter an absolute URL such as https://example.com/webhooks.'; }
  if (u.protocol === 'https:') return '';
  if (u.protocol === 'http:') return allowHTTP ? '' : 'Use https://: plain http is allowed on development servers only.';
  return 'Use an https:// URL.';
}

const list = (s) => [...new Set(s.split(',').map((x) => x.trim()).filter(Boolean))];

function buildForm(apps, firstApp, types, ep, signal) {
  const editing = !!ep;
  const v = ep || { name: '', url: '', application: '', eventTypes: [], active: true, ignoreOrigins: [], ignoreFields: [], auth: null };
  let app = firstApp;
  const appById = (id) => apps.find((a) => a.id === id);

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, value: v.name, autocomplete: 'off' });
  const application = h('select', { name: 'application', disabled: editing },
    apps.map((a) => h('option', { value: a.id }, a.default ? 'Default: the built-in catalog' : `${a.name} (${a.id})`)),
    editing && ep.application && !appById(ep.application)
      ? h('option', { value: ep.application }, `${ep.application} (not registered: the built-in catalog and this deployment’s defaults)`) : null);
  application.value = editing ? ep.application || 'default' : app.id;
  const url = h('input', { type: 'url', name: 'url', required: true, value: v.url, inputmode: 'url', autocomplete: 'off', spellcheck: 'false' });
  const ignoreAPI = h('input', { type: 'checkbox', id: 'f-ignore-api', checked: v.ignoreOrigins.includes('api') });
  const otherOrigins = h('input', { type: 'text', value: v.ignoreOrigins.filter((o) => o !== 'api').join(', '), autocomplete: 'off' });
  const ignoreFields = h('input', { type: 'text', value: v.ignoreFields.join(', '), autocomplete: 'off' });
  const active = h('input', { type: 'checkbox', id: 'f-active', checked: v.active });

  const events = eventPicker(types, v.eventTypes, app);
  const payload = payloadGroup(ep, app);
  const dialect = dialectFields(ep, app, editing, payload.controls);
  const w = dialect.wraps;
  const scheme = radios('scheme', 'Signature scheme', [
    ['hookline', 'HMAC-SHA256 signature', 'A signature header: sha256=<hex of HMAC-SHA256(secret, body)>, named by the header prefix.'],
    ['standard-webhooks', 'Standard Webhooks', 'webhook-id, webhook-timestamp and webhook-signature headers'],
  ], editing ? ep.scheme : app.dialect.scheme, editing, '');
  const schemeHelp = scheme.querySelector('.help:not([id])');
  schemeHelp.id = 'f-scheme-help';
  scheme.setAttribute('aria-describedby', 'f-scheme-help');
  const schemeNow = () => (editing ? ep.scheme : scheme.querySelector('input:checked').value);
  const hooklineScheme = () => schemeNow() === 'hookline';
  const showScheme = () => {
    w.signatureFormat.hidden = w.headerPrefix.hidden = !hooklineScheme();
    schemeHelp.textContent = editing ? 'Fixed once the endpoint is created.'
      : `How your receiver checks that a request comes from us; ${whose(app)} default is ${SCHEMES[app.dialect.scheme]}. Fixed once created.`;
  };
  showScheme();
  scheme.addEventListener('change', showScheme);
  const auth = authGroup(v.auth, editing);

  const secretMode = editing ? null : radios('secretMode', 'Signing secret', [
    ['generate', 'Generate one for me', 'A random secret, shown once after saving.'],
    ['own', 'Use my own', 'Paste the secret your receiver already has.'],
  ], 'generate', false, null);
  const secret = h('input', { type: 'text', name: 'secret', autocomplete: 'off', spellcheck: 'false' });
  const secretField = editing ? null : field('secret', 'Your secret', secret, 'At least 24 characters; for Standard Webhooks, whsec_ followed by base64 of 24 to 64 bytes.');
  if (secretField) {
    secretField.hidden = true;
    secretMode.addEventListener('change', () => { secretField.hidden = secretMode.querySelector('input:checked').value !== 'own'; });
  }

  const appField = field('application', 'Application', application, 'The application whose events this endpoint receives.');
  const appHelp = appField.querySelector('.help');
  const showApp = () => {
    const what = app.description ? app.description.replace(/\.?$/, '. ') : '';
    const count = `${app.eventTypes.length} event type${app.eventTypes.length === 1 ? '' : 's'}.`;
    appHelp.textContent = `${what}${count} The delivery settings below that you leave empty follow ${whose(app)} defaults, shown beside each, and change when they do. ${editing ? 'Fixed once the endpoint is created.' : 'Fixed once created.'}`;
  };
  showApp();

  // Another application: its types, its defaults beside each setting,
  // and its scheme unless the user picked one.
  let loading = null;
  application.addEventListener('change', async () => {
    const next = appById(application.value);
    if (!next || next === app) return;
    const schemeWasDefault = schemeNow() === app.dialect.scheme;
    app = next;
    showApp();
    dialect.setApp(app);
    payload.setApp(app);
    if (schemeWasDefault) scheme.querySelector(`input[value="${CSS.escape(app.dialect.scheme)}"]`).checked = true;
    showScheme();
    if (loading) loading.abort();
    const mine = new AbortController();
    loading = mine;
    events.loading(app);
    try {
      const got = await api('GET', '/v1/event-types?application=' + enc(app.id), undefined, { signal: AbortSignal.any([signal, mine.signal]) });
      if (loading === mine) events.setTypes(got.data, app);
    } catch (e) {
      if (e.name === 'AbortError' || loading !== mine) return;
      events.failed(`The event types of ${app.name} could not be loaded (${e.message}). Choose the application again, or reload the page.`);
    } finally {
      if (loading === mine) loading = null;
    }
  });

  const skipPing = h('input', { type: 'checkbox', id: 'f-skip-ping' });
  const skipWrap = h('div', { class: 'field check warn', hidden: true, 'data-field': 'verify' },
    skipPing, h('label', { for: 'f-skip-ping' }, 'Save without a successful test ping'),
    h('p', { class: 'help' }, 'The endpoint is saved although the receiver did not answer 2xx; deliveries will be retried until it does.'),
    h('p', { class: 'field-error' }));

  const submit = h('button', { type: 'submit', class: 'primary', id: 'save' }, editing ? 'Save changes' : 'Create endpoint');
  const topError = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  const form = h('form', { class: 'card endpoint-form', id: 'endpoint-form', novalidate: true },
    h('h1', { tabindex: '-1' }, editing ? 'Edit ' + ep.name : 'Create endpoint'),
    topError,
    h('fieldset', {}, h('legend', {}, 'Application'),
      appField,
      dialect.followBox,
      events),
    h('fieldset', {}, h('legend', {}, 'Endpoint'),
      field('name', 'Name', name, 'Unique among your endpoints.'),
      field('url', 'URL', url, allowHTTP ? 'Where we POST events. This development server also accepts http://; production servers require https://.' : 'Where we POST events: an https:// URL.')),
    h('fieldset', {}, h('legend', {}, 'Authentication'),
      scheme, w.signatureFormat, w.headerPrefix,
      secretMode, secretField,
      editing ? h('p', { class: 'help' }, 'To change the secret, use Rotate secret on the endpoint’s page.') : null,
      auth),
    h('fieldset', {}, h('legend', {}, 'Delivery'),
      w.timeout, w.userAgent,
      h('div', { class: 'field check', 'data-field': 'ignoreOrigins' }, ignoreAPI,
        h('label', { for: 'f-ignore-api' }, 'Ignore for API'),
        h('p', { class: 'help', id: 'f-ignore-api-help' }, 'Don’t send events caused by API calls (origin “api”), so a receiver that calls the API back cannot loop.'),
        h('p', { class: 'field-error' })),
      field('otherOrigins', 'Other origins to ignore (comma-separated)', otherOrigins),
      field('ignoreFields', 'Ignore updates that change only these fields (comma-separated)', ignoreFields, 'e.g. seenUtc'),
      h('div', { class: 'field check', 'data-field': 'active' }, active, h('label', { for: 'f-active' }, 'Active'),
        h('p', { class: 'help' }, 'Only active endpoints receive events.'), h('p', { class: 'field-error' })),
      h('fieldset', { class: 'field', id: 'batching' }, h('legend', {}, 'Batching'), w.maxItems, w.maxWait),
      payload),
    h('fieldset', {}, h('legend', {}, 'Retries'),
      w.retryPolicy, w.retrySchedule, w.maxAge),
    skipWrap,
    h('div', { class: 'actions' }, h('a', { class: 'button', href: editing ? '#/endpoints/' + enc(ep.id) : '#/endpoints' }, 'Cancel'), submit));
  ignoreAPI.setAttribute('aria-describedby', 'f-ignore-api-help');

  url.addEventListener('change', () => {
    const slot = url.parentElement.querySelector('.field-error');
    const msg = url.value ? checkURL(url.value) : '';
    slot.textContent = msg;
    if (msg) url.setAttribute('aria-invalid', 'true'); else url.removeAttribute('aria-invalid');
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!name.value.trim()) return showError(form, { field: 'name', message: 'Give the endpoint a name.' });
    const urlMsg = checkURL(url.value.trim());
    if (urlMsg) return showError(form, { field: 'url', message: urlMsg });
    if (loading) return showError(form, { field: 'eventTypes', message: `The event types of ${app.name} are still loading: pick the events once they show.` });
    const chosen = events.chosen();
    if (!chosen.length) return showError(form, { field: 'eventTypes', message: 'Pick at least one event.' });
    // Settings left empty are not sent: the endpoint follows its
    // application's defaults for them.
    const [settings, bad] = dialect.body(hooklineScheme());
    if (bad) return showError(form, bad);
    const body = {
      name: name.value.trim(), url: url.value.trim(), eventTypes: chosen,
      ignoreOrigins: list((ignoreAPI.checked ? 'api,' : '') + otherOrigins.value),
      ignoreFields: list(ignoreFields.value),
      active: active.checked,
      ...settings,
    };
    if (!('payload' in settings)) {
      const p = payload.body();
      if (p) body.payload = p;
    }
    if (!skipWrap.hidden && skipPing.checked) body.verify = false;
    const creds = auth.body();
    if (creds) body.auth = creds;
    if (!editing) {
      if (schemeNow() !== app.dialect.scheme) body.scheme = schemeNow();
      if (!app.default) body.application = app.id;
      if (secretMode.querySelector('input:checked').value === 'own') body.secret = secret.value;
    }
    const pinged = body.verify !== false && (!editing || body.url !== ep.url || !!creds);
    submit.disabled = true;
    submit.textContent = pinged ? 'Saving: sending a test ping…' : 'Saving…';
    try {
      const got = editing
        ? await api('PATCH', '/v1/endpoints/' + enc(ep.id), body)
        : await api('POST', '/v1/endpoints', body);
      const ping = body.verify === false ? 'Saved without a test ping.' : pinged ? 'The test ping was answered 2xx.' : '';
      memo.notice = (editing ? `Saved “${got.name}”. ` : `Created “${got.name}”. `) + ping;
      if (got.secret) { memo.secret = got.secret; memo.secretFor = got.id; memo.secretWhy = 'The endpoint was created.'; }
      location.hash = '#/endpoints/' + enc(got.id);
    } catch (e) {
      const m = (e.field === 'url' || e.field === 'auth') && /test POST (?:to url failed|could not get an OAuth2 token) \((.*)\);/.exec(e.message);
      if (m) {
        skipWrap.hidden = false;
        e.message = `${e.field === 'auth' ? 'The test ping got no OAuth 2.0 token' : 'Test ping failed'} (${m[1]}). Nothing was saved. Fix the receiver and save again, or choose “Save without a successful test ping”.`;
      }
      showError(form, e);
    } finally {
      submit.disabled = false;
      submit.textContent = editing ? 'Save changes' : 'Create endpoint';
    }
  });
  return form;
}

const SCHEMES = { hookline: 'the HMAC-SHA256 signature', 'standard-webhooks': 'Standard Webhooks' };

// eventPicker lists an application's types with their descriptions and
// versions, a pattern per family and "*"; chosen() returns the values
// ticked, setTypes shows another application's types (keeping the ticks
// they still have).
function eventPicker(types, selected, app) {
  const list = h('ul', { class: 'checks', id: 'event-list' });
  const status = h('p', { class: 'help', id: 'events-status', role: 'status' });
  const error = h('p', { class: 'field-error', id: 'err-eventTypes', role: 'alert' });
  const group = h('fieldset', { class: 'field events', 'data-field': 'eventTypes', id: 'events', 'aria-describedby': 'events-help events-status' },
    h('legend', {}, 'Events'),
    h('p', { class: 'help', id: 'events-help' }, 'Which events trigger this endpoint. A pattern such as task.* or * also takes the types the application adds later.'),
    status, list, error);
  const fill = (types, app, keep, keepUnknown) => {
    list.replaceChildren(...eventItems(types, keep, app, keepUnknown));
    list.setAttribute('aria-label', `Event types of ${app.default ? 'the default application' : app.name}`);
    group.removeAttribute('aria-busy');
    status.textContent = '';
    error.textContent = '';
  };
  fill(types, app, selected, true);
  group.chosen = () => [...list.querySelectorAll('input:checked')].map((i) => i.value);
  group.setTypes = (types, app) => fill(types, app, group.chosen(), false);
  group.loading = (app) => {
    group.setAttribute('aria-busy', 'true');
    for (const i of list.querySelectorAll('input')) i.disabled = true;
    status.textContent = `Loading the event types of ${app.name}…`;
  };
  group.failed = (msg) => {
    group.removeAttribute('aria-busy');
    list.replaceChildren();
    status.textContent = '';
    error.textContent = msg;
  };
  return group;
}

function eventItems(types, selected, app, keepUnknown) {
  const families = [...new Set(types.map((t) => t.type.split('.')[0]))];
  const box = (value, label, desc, version) => {
    const id = 'ev-' + value.replace(/[^a-z0-9]/gi, '-');
    return h('li', { class: 'check' },
      h('input', { type: 'checkbox', id, value, checked: selected.includes(value), 'aria-describedby': desc ? id + '-d' : null }),
      h('label', { for: id }, h('code', {}, value), label ? ' ' + label : '', version ? h('span', { class: 'version' }, ' v' + version) : null),
      desc ? h('p', { class: 'help', id: id + '-d' }, desc) : null);
  };
  const known = new Set(['*', ...families.map((f) => f + '.*'), ...types.map((t) => t.type)]);
  const items = [box('*', 'every event', `All of ${app.default ? 'the default application' : app.name}’s types, including ones added later.`)];
  for (const f of families) {
    items.push(box(f + '.*', `every ${f} event`, null));
    for (const t of types.filter((t) => t.type.startsWith(f + '.'))) items.push(box(t.type, '', t.description, t.version));
  }
  if (keepUnknown) for (const s of selected.filter((s) => !known.has(s))) items.push(box(s, '', null));
  return items;
}

function radios(name, legend, options, value, disabled, help) {
  return h('fieldset', { class: 'field radios', 'data-field': name },
    h('legend', {}, legend),
    options.map(([val, label, desc]) => {
      const id = `f-${name}-${val}`;
      return h('div', { class: 'check' },
        h('input', { type: 'radio', name, id, value: val, checked: val === value, disabled, 'aria-describedby': desc ? id + '-d' : null }),
        h('label', { for: id }, label),
        desc ? h('p', { class: 'help', id: id + '-d' }, desc) : null);
    }),
    help !== null ? h('p', { class: 'help' }, help) : null,
    h('p', { class: 'field-error' }));
}
