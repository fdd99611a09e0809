// Create and edit an endpoint. Application, signature scheme and the
// receiver credentials' type are fixed once created; a new URL is pinged on save, and a failed ping stops the
// save unless the user chooses to save without it.

import { api } from './api.js';
import { h, field, clearErrors, showError, secondsOf, memo } from './dom.js';
import { authGroup } from './credentials.js';
import { payloadGroup } from './payload.js';

const allowHTTP = document.documentElement.dataset.allowHttp === 'true';
const enc = encodeURIComponent;

export function formView(main, id) {
  const ctl = new AbortController();
  const signal = ctl.signal;
  main.append(h('p', { class: 'loading' }, 'Loading…'));
  (async () => {
    try {
      const [types, ep] = await Promise.all([
        api('GET', '/v1/event-types', undefined, { signal }),
        id ? api('GET', '/v1/endpoints/' + enc(id), undefined, { signal }) : null,
      ]);
      if (signal.aborted) return;
      main.replaceChildren(buildForm(types.data, ep));
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

function buildForm(types, ep) {
  const editing = !!ep;
  const v = ep || { name: '', url: '', application: '', eventTypes: [], scheme: 'hookline', timeout: '10s', active: true,
    maxItems: 1, maxWait: '30s', retryPolicy: 'any', maxAge: '', ignoreOrigins: [], ignoreFields: [], signatureFormat: 'sha256', auth: null, payload: null };

  const name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, value: v.name, autocomplete: 'off' });
  const application = h('input', { type: 'text', name: 'application', maxlength: 200, value: v.application || '', disabled: editing, autocomplete: 'off' });
  const url = h('input', { type: 'url', name: 'url', required: true, value: v.url, inputmode: 'url', autocomplete: 'off', spellcheck: 'false' });
  const timeout = h('input', { type: 'number', name: 'timeout', min: 1, max: 60, step: 1, value: Math.round(secondsOf(v.timeout)) || 10 });
  const ignoreAPI = h('input', { type: 'checkbox', id: 'f-ignore-api', checked: v.ignoreOrigins.includes('api') });
  const otherOrigins = h('input', { type: 'text', value: v.ignoreOrigins.filter((o) => o !== 'api').join(', '), autocomplete: 'off' });
  const ignoreFields = h('input', { type: 'text', value: v.ignoreFields.join(', '), autocomplete: 'off' });
  const active = h('input', { type: 'checkbox', id: 'f-active', checked: v.active });
  const retryPolicy = h('select', {},
    h('option', { value: 'any', selected: v.retryPolicy !== '5xx' }, 'Retry every failure (any non-2xx answer, timeout or network error)'),
    h('option', { value: '5xx', selected: v.retryPolicy === '5xx' }, 'Retry 5xx, 408, 429, timeouts and network errors; other 4xx are final'));
  const maxAge = h('input', { type: 'text', value: v.maxAge || '', placeholder: 'e.g. 24h', autocomplete: 'off', spellcheck: 'false' });

  const events = eventPicker(types, v.eventTypes);
  const scheme = radios('scheme', 'Signature scheme', [
    ['hookline', 'HMAC-SHA256 signature', 'X-Hookline-Signature: sha256=<hex of HMAC-SHA256(secret, body)>'],
    ['standard-webhooks', 'Standard Webhooks', 'webhook-id, webhook-timestamp and webhook-signature headers'],
  ], v.scheme, editing, editing ? 'Fixed once the endpoint is created.' : 'How your receiver checks that a request comes from us. Fixed once created.');
  const sigFormat = radios('signatureFormat', 'Signature format', [
    ['sha256', 'sha256=<hex>', 'The digest behind a sha256= prefix: the default.'],
    ['hex', 'Bare hex digest', 'The digest alone, for receivers that compare it without a prefix.'],
  ], v.signatureFormat || 'sha256', false, 'The value of the signature header.');
  const hooklineScheme = () => (editing ? v.scheme : scheme.querySelector('input:checked').value) === 'hookline';
  sigFormat.hidden = !hooklineScheme();
  scheme.addEventListener('change', () => { sigFormat.hidden = !hooklineScheme(); });
  const auth = authGroup(v.auth, editing);
  const payload = payloadGroup(v.payload);
  const single = v.maxItems === 1;
  const batching = batchingGroup(single, single ? 10000 : v.maxItems, Math.round(secondsOf(v.maxWait)) || 30);

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
      field('application', 'Application', application, editing ? 'Fixed once the endpoint is created.' : 'Optional: the source application whose events this endpoint receives (empty: every application). Fixed once created.'),
      events),
    h('fieldset', {}, h('legend', {}, 'Endpoint'),
      field('name', 'Name', name, 'Unique among your endpoints.'),
      field('url', 'URL', url, allowHTTP ? 'Where we POST events. This development server also accepts http://; production servers require https://.' : 'Where we POST events: an https:// URL.')),
    h('fieldset', {}, h('legend', {}, 'Authentication'),
      scheme, sigFormat,
      field('timeout', 'Timeout (seconds)', timeout, 'How long we wait for your answer: 1 to 60 s. Default 10.'),
      secretMode, secretField,
      editing ? h('p', { class: 'help' }, 'To change the secret, use Rotate secret on the endpoint’s page.') : null,
      auth),
    h('fieldset', {}, h('legend', {}, 'Delivery'),
      h('div', { class: 'field check', 'data-field': 'ignoreOrigins' }, ignoreAPI,
        h('label', { for: 'f-ignore-api' }, 'Ignore for API'),
        h('p', { class: 'help', id: 'f-ignore-api-help' }, 'Don’t send events caused by API calls (origin “api”), so a receiver that calls the API back cannot loop.'),
        h('p', { class: 'field-error' })),
      field('otherOrigins', 'Other origins to ignore (comma-separated)', otherOrigins),
      field('ignoreFields', 'Ignore updates that change only these fields (comma-separated)', ignoreFields, 'e.g. seenUtc'),
      h('div', { class: 'field check', 'data-field': 'active' }, active, h('label', { for: 'f-active' }, 'Active'),
        h('p', { class: 'help' }, 'Only active endpoints receive events.'), h('p', { class: 'field-error' })),
      batching,
      payload),
    h('fieldset', {}, h('legend', {}, 'Retries'),
      field('retryPolicy', 'Retry policy', retryPolicy),
      field('maxAge', 'Give up after', maxAge, 'A duration such as 24h. Empty: the retry schedule decides.')),
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
    const chosen = events.chosen();
    if (!chosen.length) return showError(form, { field: 'eventTypes', message: 'Pick at least one event.' });
    const single = batching.querySelector('input[value="single"]').checked;
    const body = {
      name: name.value.trim(), url: url.value.trim(), eventTypes: chosen,
      timeout: (timeout.value || '10') + 's',
      ignoreOrigins: list((ignoreAPI.checked ? 'api,' : '') + otherOrigins.value),
      ignoreFields: list(ignoreFields.value),
      active: active.checked,
      maxItems: single ? 1 : Number(batching.querySelector('[name="maxItems"]').value || 10000),
      maxWait: (batching.querySelector('[name="maxWait"]').value || '30') + 's',
      retryPolicy: retryPolicy.value,
    };
    if (maxAge.value.trim()) body.maxAge = maxAge.value.trim();
    else if (editing) body.maxAge = '0s';
    if (!skipWrap.hidden && skipPing.checked) body.verify = false;
    if (hooklineScheme()) body.signatureFormat = sigFormat.querySelector('input:checked').value;
    const creds = auth.body();
    if (creds) body.auth = creds;
    body.payload = payload.body();
    if (!editing) {
      body.scheme = scheme.querySelector('input:checked').value;
      if (application.value.trim()) body.application = application.value.trim();
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

// eventPicker lists the catalog's types with their descriptions, a
// pattern per family and "*"; chosen() returns the values ticked.
function eventPicker(types, selected) {
  const families = [...new Set(types.map((t) => t.type.split('.')[0]))];
  const box = (value, label, desc) => {
    const id = 'ev-' + value.replace(/[^a-z0-9]/gi, '-');
    return h('li', { class: 'check' },
      h('input', { type: 'checkbox', id, value, checked: selected.includes(value), 'aria-describedby': desc ? id + '-d' : null }),
      h('label', { for: id }, h('code', {}, value), label ? ' ' + label : ''),
      desc ? h('p', { class: 'help', id: id + '-d' }, desc) : null);
  };
  const known = new Set(['*', ...families.map((f) => f + '.*'), ...types.map((t) => t.type)]);
  const items = [box('*', 'every event', 'All types, including ones added later.')];
  for (const f of families) {
    items.push(box(f + '.*', `every ${f} event`, null));
    for (const t of types.filter((t) => t.type.startsWith(f + '.'))) items.push(box(t.type, '', t.description));
  }
  for (const s of selected.filter((s) => !known.has(s))) items.push(box(s, '', null));
  const group = h('fieldset', { class: 'field events', 'data-field': 'eventTypes', id: 'events' },
    h('legend', {}, 'Events'),
    h('p', { class: 'help' }, 'Which events trigger this endpoint.'),
    h('ul', { class: 'checks' }, items),
    h('p', { class: 'field-error', id: 'err-eventTypes' }));
  group.chosen = () => [...group.querySelectorAll('input:checked')].map((i) => i.value);
  return group;
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
    help ? h('p', { class: 'help' }, help) : null,
    h('p', { class: 'field-error' }));
}

function batchingGroup(single, maxItems, maxWait) {
  const items = h('input', { type: 'number', name: 'maxItems', min: 2, max: 10000, value: maxItems });
  const wait = h('input', { type: 'number', name: 'maxWait', min: 1, max: 300, value: maxWait });
  const limits = h('div', { class: 'sub-fields' },
    field('maxItems', 'Events per batch (at most)', items, '2 to 10,000.'),
    field('maxWait', 'Send a batch after (seconds)', wait, 'Counted from its first event; at most 300.'));
  const group = h('fieldset', { class: 'field radios', 'data-field': 'batching' },
    h('legend', {}, 'Batching'),
    h('div', { class: 'check' }, h('input', { type: 'radio', name: 'batching', id: 'f-batch-single', value: 'single', checked: single }),
      h('label', { for: 'f-batch-single' }, 'One event per request'),
      h('p', { class: 'help' }, 'The body is the event itself, sent as soon as it happens.')),
    h('div', { class: 'check' }, h('input', { type: 'radio', name: 'batching', id: 'f-batch-many', value: 'batch', checked: !single }),
      h('label', { for: 'f-batch-many' }, 'Batches'),
      h('p', { class: 'help' }, 'The body is a JSON array of events.')),
    limits);
  limits.hidden = single;
  group.addEventListener('change', () => { limits.hidden = group.querySelector('input[value="single"]').checked; });
  return group;
}
