// The management page: sign-in, routing between the views (the route is
// in the URL fragment; the key never is), and sign-out.

import { api, session, whenUnauthorized } from './api.js';
import { h, memo } from './dom.js';
import { listView } from './list.js';
import { formView } from './form.js';
import { detailsView } from './details.js';

const main = document.getElementById('main');
const signout = document.getElementById('signout');
let leave = null;

function route(message) {
  if (leave) { leave(); leave = null; }
  for (const d of document.querySelectorAll('dialog')) d.close();
  document.getElementById('toast').className = 'toast';
  main.replaceChildren();
  if (!session.key()) {
    signout.hidden = true;
    signIn(message);
    return;
  }
  signout.hidden = false;
  const hash = location.hash;
  let m;
  if (hash === '' || hash === '#' || hash === '#/' || hash === '#/endpoints') leave = listView(main);
  else if (hash === '#/endpoints/new') leave = formView(main, null);
  else if ((m = /^#\/endpoints\/([^/]+)\/edit$/.exec(hash))) leave = formView(main, decodeURIComponent(m[1]));
  else if ((m = /^#\/endpoints\/([^/]+)$/.exec(hash))) leave = detailsView(main, decodeURIComponent(m[1]));
  else {
    main.append(h('section', { class: 'card' }, h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', {}, h('a', { href: '#/endpoints' }, 'Go to the endpoints'))));
    main.querySelector('h1').focus();
  }
}

function signIn(message) {
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'key-help err-key' });
  const err = h('p', { class: 'field-error', id: 'err-key', role: 'alert' }, message || '');
  const submit = h('button', { type: 'submit', class: 'primary', id: 'signin-submit' }, 'Sign in');
  const form = h('form', { class: 'card signin', id: 'signin', novalidate: true },
    h('h1', {}, 'Sign in'),
    h('div', { class: 'field', 'data-field': 'Authorization' },
      h('label', { for: 'key' }, 'Tenant API key'),
      input,
      h('p', { class: 'help', id: 'key-help' }, 'It stays in this tab’s session storage until you sign out or close the tab, and is sent only in the Authorization header.'),
      err),
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) { err.textContent = 'Paste a tenant API key.'; input.setAttribute('aria-invalid', 'true'); input.focus(); return; }
    submit.disabled = true;
    try {
      await api('GET', '/v1/endpoints?limit=1', undefined, { key });
      session.set(key);
      route();
    } catch (e) {
      err.textContent = e.status === 401 ? 'That key is not valid.' : e.message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally { submit.disabled = false; }
  });
  main.append(form);
  input.focus();
}

signout.addEventListener('click', () => {
  session.clear();
  memo.secret = null;
  location.hash = '#/endpoints';
  route('Signed out.');
});

whenUnauthorized(() => {
  session.clear();
  route('The key is no longer valid: sign in again.');
});

document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  const target = main.querySelector('h1') || main;
  target.focus();
});

window.addEventListener('hashchange', () => route());
route();
