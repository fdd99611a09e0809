// Receiver credentials: what a delivery carries besides its signature so
// that the receiver lets it in. The type is chosen at create and fixed
// afterwards. Tokens, passwords and client secrets are write-only: the
// API never returns them, so on edit their fields start empty and an
// empty one keeps the stored value.

import { h, field } from './dom.js';

const TYPES = [
  ['none', 'None: the signature alone'],
  ['header', 'A static token in a header'],
  ['basic', 'HTTP Basic: username and password'],
  ['oauth2', 'OAuth 2.0 client credentials: a bearer token'],
];

// The public parts of each type, as the API reads and writes them, and
// its write-only parts.
const PUBLIC = { header: ['name'], basic: ['username'], oauth2: ['tokenUrl', 'clientId', 'scopes'] };
const SECRET = { header: ['value'], basic: ['password'], oauth2: ['clientSecret'] };

const KEEP = 'set; leave empty to keep';

const words = (s) => [...new Set(s.split(/[\s,]+/).filter(Boolean))];

// authGroup builds the credentials fieldset from the endpoint's auth
// view (null on create). Its body() is the request's "auth" object, or
// undefined when there is nothing to send.
export function authGroup(cur, editing) {
  const a = cur || { type: 'none' };
  const type = h('select', { id: 'f-auth-type', disabled: editing },
    TYPES.map(([val, label]) => h('option', { value: val, selected: val === a.type }, label)));
  const inputs = {};
  const text = (key, extra) => {
    const v = key === 'scopes' ? (a.scopes || []).join(' ') : a[key] || '';
    inputs[key] = h('input', { type: 'text', id: 'f-auth-' + key, value: v, autocomplete: 'off', spellcheck: 'false', ...extra });
    return inputs[key];
  };
  const secret = (key) => {
    const stored = editing && (SECRET[a.type] || []).includes(key);
    inputs[key] = h('input', { type: 'password', id: 'f-auth-' + key, autocomplete: 'new-password', spellcheck: 'false', placeholder: stored ? KEEP : null });
    return inputs[key];
  };
  const kept = (what) => editing ? `Stored and never shown: leave empty to keep it, or enter a new ${what}.` : `Stored sealed; it is never shown again.`;

  const parts = {
    header: [
      field('auth.name', 'Header name', text('name', { maxlength: 100 }), 'e.g. X-Webhook-Token. Sent with every delivery and the test ping.'),
      field('auth.value', 'Header value', secret('value'), kept('token')),
    ],
    basic: [
      field('auth.username', 'Username', text('username')),
      field('auth.password', 'Password', secret('password'), kept('password')),
    ],
    oauth2: [
      field('auth.tokenUrl', 'Token URL', text('tokenUrl', { type: 'url', inputmode: 'url' }), 'We fetch a bearer token here with the client credentials grant, and again when it expires or a delivery is answered 401.'),
      field('auth.clientId', 'Client ID', text('clientId')),
      field('auth.clientSecret', 'Client secret', secret('clientSecret'), kept('client secret')),
      field('auth.scopes', 'Scopes (space- or comma-separated)', text('scopes'), 'Optional.'),
    ],
  };
  const sections = Object.entries(parts).map(([t, kids]) => h('div', { class: 'sub-fields', 'data-auth': t }, kids));
  const show = () => { for (const s of sections) s.hidden = s.dataset.auth !== type.value; };
  show();
  type.addEventListener('change', show);

  const group = h('fieldset', { class: 'field', 'data-field': 'auth', id: 'auth' },
    h('legend', {}, 'Receiver credentials'),
    h('p', { class: 'field-error', id: 'err-auth' }),
    field('auth.type', 'Sent with each delivery', type, editing ? 'Fixed once the endpoint is created; the credentials themselves can change.' : 'For receivers that also want a token or a login. Fixed once created.'),
    sections);

  group.body = () => {
    const t = type.value;
    if (t === 'none') return undefined;
    const out = { type: t };
    let changed = !editing;
    for (const k of PUBLIC[t]) {
      out[k] = k === 'scopes' ? words(inputs[k].value) : inputs[k].value.trim();
      const was = k === 'scopes' ? (a.scopes || []).join(' ') : a[k] || '';
      if ((k === 'scopes' ? out[k].join(' ') : out[k]) !== was) changed = true;
    }
    for (const k of SECRET[t]) {
      if (inputs[k].value) { out[k] = inputs[k].value; changed = true; }
    }
    return changed ? out : undefined;
  };
  return group;
}

// describeAuth says in words what an auth view sends, for the details page.
export function describeAuth(a) {
  switch (a && a.type) {
    case 'header': return `header ${a.name} with a stored token`;
    case 'basic': return `HTTP Basic as ${a.username}`;
    case 'oauth2': return `OAuth 2.0 bearer token from ${a.tokenUrl} (client ${a.clientId}${a.scopes && a.scopes.length ? ', scopes ' + a.scopes.join(' ') : ''})`;
  }
  return 'none (the signature alone)';
}
