// The delivery settings an application gives every endpoint of it: its
// dialect (timeout, batching, retries, signature format, payload, header
// prefix, User-Agent). Each control shows the chosen application's value
// as its placeholder and in a note beside it, and starts empty; only the
// settings the user changes are sent, so an endpoint left at the defaults
// follows its application, and changes when the application's do. The
// endpoint view says the values deliveries use, not which ones are the
// endpoint's own: on edit a value equal to the application's is shown as
// following it.

import { h, field, secondsOf } from './dom.js';

// fmtDur shortens a Go duration: "4h0m0s" is "4h", "1h30m0s" "1h30m".
export function fmtDur(d) {
  if (!d) return '';
  return String(d).replace(/(\d)h0m0s$/, '$1h').replace(/(\d)m0s$/, '$1m');
}

const seconds = (d) => (d ? String(+secondsOf(d).toFixed(3)) : '');
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;
const durations = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

// whose names the owner of the defaults in a sentence.
export function whose(app) {
  return app.default ? 'this deployment’s' : app.name + '’s';
}

export const POLICIES = { any: 'retry every failure', '5xx': 'retry 5xx, 408, 429, timeouts and network errors only' };
export const FORMATS = { sha256: 'sha256=<hex>', hex: 'bare hex digest' };

// batchText says what maxItems and maxWait do, in words.
export function batchText(maxItems, maxWait) {
  return maxItems === 1 ? 'one event per request' : `batches of up to ${maxItems} events, sent ${fmtDur(maxWait)} after the first`;
}

// Text settings: the control's text for a dialect (view or application),
// the note's words for the application's value, the value sent, and the
// value that makes the endpoint follow its application again.
const TEXT = {
  timeout: {
    label: 'Timeout (seconds)', help: 'How long we wait for your answer: at most 60 s.',
    attrs: { type: 'number', min: 1, max: 60, step: 'any', inputmode: 'decimal' },
    of: (d) => seconds(d.timeout), note: (d) => fmtDur(d.timeout),
    send: (v) => v + 's', reset: '0s',
    check: (v) => (+v > 0 && +v <= 60 ? '' : 'Enter at most 60 seconds'),
  },
  maxItems: {
    label: 'Events per request (at most)', help: '1 sends each event alone as the body; more sends a JSON array of up to that many events. 1 to 10,000.',
    attrs: { type: 'number', min: 1, max: 10000, step: 1, inputmode: 'numeric' },
    of: (d) => String(d.maxItems || ''), note: (d) => (d.maxItems === 1 ? '1 (one event per request)' : `${d.maxItems} (batches)`),
    send: (v) => Number(v), reset: 0,
    check: (v) => (Number.isInteger(+v) && +v >= 1 && +v <= 10000 ? '' : 'Enter a whole number from 1 to 10,000'),
  },
  maxWait: {
    label: 'Send a batch after (seconds)', help: 'Counted from its first event; at most 300.',
    attrs: { type: 'number', min: 1, max: 300, step: 'any', inputmode: 'decimal' },
    of: (d) => seconds(d.maxWait), note: (d) => fmtDur(d.maxWait),
    send: (v) => v + 's', reset: '0s',
    check: (v) => (+v > 0 && +v <= 300 ? '' : 'Enter at most 300 seconds'),
  },
  retrySchedule: {
    label: 'Retry schedule', help: 'The wait before each retry, comma-separated and rising, such as 1m, 5m, 1h; the delivery is dead after the last.',
    attrs: { type: 'text', spellcheck: 'false' },
    of: (d) => (d.retrySchedule || []).map(fmtDur).join(', '),
    note: (d) => ((d.retrySchedule || []).length ? d.retrySchedule.map(fmtDur).join(', ') : 'the deployment’s retry tiers'),
    send: (v) => durations(v), reset: [],
    check: (v) => (durations(v).every((x) => DURATION.test(x)) ? '' : 'Enter durations such as 1m, 5m, 1h'),
  },
  maxAge: {
    label: 'Give up after', help: 'A duration such as 24h, counted from the first attempt.',
    attrs: { type: 'text', spellcheck: 'false' },
    of: (d) => fmtDur(d.maxAge), note: (d) => (d.maxAge ? fmtDur(d.maxAge) : 'never: the retry schedule decides'),
    send: (v) => v, reset: '0s',
    check: (v) => (DURATION.test(v) ? '' : 'Enter a duration such as 24h or 90m'),
  },
  headerPrefix: {
    label: 'Header prefix', help: 'Names the headers we send: <prefix>-Signature, -Event, -Delivery, -Timestamp and -Batch-Size.',
    attrs: { type: 'text', spellcheck: 'false', maxlength: 64 },
    of: (d) => d.headerPrefix || '', note: (d) => d.headerPrefix,
    send: (v) => v, reset: '',
    check: (v) => (/^X-[A-Za-z0-9-]*[A-Za-z0-9]$/i.test(v) ? '' : 'Enter a prefix such as X-Acme (letters, digits and dashes, starting X-)'),
  },
  userAgent: {
    label: 'User-Agent', help: 'The User-Agent header of every request.',
    attrs: { type: 'text', spellcheck: 'false', maxlength: 200 },
    of: (d) => d.userAgent || '', note: (d) => d.userAgent,
    send: (v) => v, reset: '',
    check: (v) => (/^[\x20-\x7e]{1,200}$/.test(v) ? '' : 'Use at most 200 printable ASCII characters'),
  },
};

// Choice settings: a select whose first option, "", follows the
// application and says its value.
const CHOICE = {
  retryPolicy: { label: 'Retry policy', options: POLICIES, of: (d) => d.retryPolicy || 'any', help: 'Every failure: any non-2xx answer, a timeout or a network error. Otherwise other 4xx answers are final.' },
  signatureFormat: { label: 'Signature format', options: FORMATS, of: (d) => d.signatureFormat || 'sha256', help: 'The value of the signature header.' },
};

// dialectFields builds the controls. ep is the endpoint view (null on
// create), app the chosen application, extra the payload's controls (its
// own group sends them). It returns the fields to place in the form,
// setApp to follow another application's defaults, and body() for the
// settings the user changed (or the first bad one).
export function dialectFields(ep, app, editing, extra) {
  const ctl = {};
  const notes = {};
  const initial = {};
  const wraps = {};
  let cur = app;
  for (const [name, f] of Object.entries(TEXT)) {
    const input = h('input', { name, autocomplete: 'off', ...f.attrs });
    const note = h('p', { class: 'help default', id: `f-${name}-default` });
    const wrap = field(name, f.label, input, f.help);
    wrap.querySelector('.field-error').before(note);
    input.setAttribute('aria-describedby', `f-${name}-help f-${name}-default err-${name}`);
    initial[name] = ep && f.of(ep) !== f.of(app.dialect) ? f.of(ep) : '';
    input.value = initial[name];
    ctl[name] = input;
    notes[name] = note;
    wraps[name] = wrap;
  }
  for (const [name, f] of Object.entries(CHOICE)) {
    const select = h('select', { name },
      h('option', { value: '' }),
      Object.entries(f.options).map(([v, label]) => h('option', { value: v }, capital(label))));
    initial[name] = ep && f.of(ep) !== f.of(app.dialect) ? f.of(ep) : '';
    select.value = initial[name];
    ctl[name] = select;
    wraps[name] = field(name, f.label, select, f.help || null);
  }

  const show = (a) => {
    cur = a;
    const d = a.dialect;
    for (const [name, f] of Object.entries(TEXT)) {
      ctl[name].placeholder = name === 'maxAge' && !d.maxAge ? 'never' : name === 'retrySchedule' && !f.of(d) ? 'the deployment’s tiers' : f.of(d);
      notes[name].textContent = `Empty: follows ${whose(a)} default, ${f.note(d)}.`;
    }
    for (const [name, f] of Object.entries(CHOICE)) {
      ctl[name].options[0].textContent = `Follow ${whose(a)} default: ${f.options[f.of(d)]}`;
    }
  };
  show(app);

  // On edit, one box makes every setting follow the application again,
  // for endpoints that stored values of their own.
  let follow = null;
  if (editing) {
    follow = h('input', { type: 'checkbox', id: 'f-follow-app', 'aria-describedby': 'f-follow-app-help' });
    follow.addEventListener('change', () => {
      for (const c of [...Object.values(ctl), ...extra]) {
        if (follow.checked) { c.dataset.kept = c.value; c.value = ''; } else c.value = c.dataset.kept || '';
        c.disabled = follow.checked;
        // The payload's template shows only for its shape.
        if (c.tagName === 'SELECT') c.dispatchEvent(new Event('change'));
      }
    });
  }
  const followBox = follow && h('div', { class: 'field check', 'data-field': 'follow' }, follow,
    h('label', { for: 'f-follow-app' }, 'Follow the application for every delivery setting'),
    h('p', { class: 'help', id: 'f-follow-app-help' }, 'Clears the endpoint’s own timeout, batching, retries, signature format, payload, header prefix and User-Agent, so each takes the application’s default and changes with it.'),
    h('p', { class: 'field-error' }));

  return {
    ctl, wraps, followBox, setApp: show,
    // body returns [fields, error]: the changed settings, or the first
    // bad one as {field, message}. hookline says whether the signature
    // format and header prefix apply.
    body(hookline) {
      const out = {};
      if (follow && follow.checked) {
        for (const f of Object.keys(TEXT)) out[f] = TEXT[f].reset;
        for (const f of Object.keys(CHOICE)) out[f] = '';
        out.maxBytes = 0;
        out.payload = {};
        return [out, null];
      }
      for (const [name, f] of Object.entries(TEXT)) {
        if (name === 'headerPrefix' && !hookline) continue;
        const v = ctl[name].value.trim();
        if (v === initial[name]) continue;
        if (v === '') { out[name] = f.reset; continue; }
        const bad = f.check(v);
        if (bad) return [null, { field: name, message: `${bad}, or leave it empty to follow ${whose(cur)} default (${f.note(cur.dialect)}).` }];
        out[name] = f.send(v);
      }
      for (const name of Object.keys(CHOICE)) {
        if (name === 'signatureFormat' && !hookline) continue;
        if (ctl[name].value !== initial[name]) out[name] = ctl[name].value;
      }
      return [out, null];
    },
  };
}

function capital(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

// appName is the name of the application an endpoint view names ("" is
// the default one) as apps lists it, else its id.
export function appName(apps, id) {
  const a = apps.find((x) => x.id === (id || 'default'));
  if (a) return a.default ? 'Default' : a.name;
  return id || 'Default';
}

// deliveryText sums up in a line the batching and timeout an endpoint
// view's deliveries use.
export function deliveryText(ep) {
  return `${ep.maxItems === 1 ? 'one event per request' : `batches of up to ${ep.maxItems}`} · timeout ${fmtDur(ep.timeout)}`;
}

// fmtBytes writes a body size in MiB or KiB when it is a whole number of
// them.
export function fmtBytes(n) {
  if (n && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
