// DOM helpers. Every text from the API goes in through textContent (or
// an attribute), never as markup.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

export function clear(el) { el.replaceChildren(); return el; }

// memo keeps what must outlive a view change but never a reload: the
// secret of an endpoint just created or rotated, shown once.
export const memo = { secret: null, secretFor: '', secretWhy: '', notice: '' };

export function takeSecret(id) {
  if (memo.secretFor !== id || !memo.secret) return null;
  const s = { secret: memo.secret, why: memo.secretWhy };
  memo.secret = null;
  memo.secretFor = '';
  return s;
}

let toastTimer = 0;

// toast announces a result politely (the region is aria-live).
export function toast(msg, kind) {
  const el = document.getElementById('toast');
  el.textContent = msg;
  el.className = 'toast show' + (kind ? ' ' + kind : '');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, 6000);
}

// Formatting.

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return '—';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtAgo(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < -5) return 'in ' + span(-s);
  if (s < 5) return 'just now';
  return span(s) + ' ago';
}

function span(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

export function fmtRate(rate, attempts) {
  if (!attempts) return '—';
  return (rate * 100).toFixed(rate === 1 ? 0 : 1) + ' %';
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms >= 1000 ? (ms / 1000).toFixed(1) + ' s' : ms + ' ms';
}

export function fmtCode(code) { return code ? String(code) : 'no response'; }

// secondsOf reads a Go duration ("1m30s", "250ms", "2h0m0s") as seconds.
export function secondsOf(dur) {
  if (!dur) return 0;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let m;
  while ((m = re.exec(dur))) {
    const n = parseFloat(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
  }
  return total;
}

export function badge(status, reason) {
  return h('span', { class: 'badge ' + status, title: reason || null }, status, reason && status === 'disabled' ? h('span', { class: 'reason' }, ': ' + reason) : null);
}

// Errors next to fields: a control group carries data-field="<api field>"
// and holds one .field-error element.

export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const top = form.querySelector('.form-error');
  if (top) { top.textContent = ''; top.hidden = true; }
}

// showError puts err next to the field it names, or at the top of the
// form, and moves focus there.
export function showError(form, err) {
  const group = err.field ? form.querySelector(`[data-field="${CSS.escape(err.field)}"]`) : null;
  if (group) {
    const slot = group.querySelector('.field-error');
    slot.textContent = err.message;
    const ctl = group.matches('input,select,textarea') ? group : group.querySelector('input,select,textarea');
    if (ctl) { ctl.setAttribute('aria-invalid', 'true'); ctl.focus(); }
    return;
  }
  const top = form.querySelector('.form-error');
  top.textContent = err.message;
  top.hidden = false;
  top.focus();
}

// confirmDialog asks one question in a modal dialog and resolves true
// when the user presses the confirm button.
export function confirmDialog(title, text, confirmLabel, danger) {
  return new Promise((resolve) => {
    const yes = h('button', { type: 'button', class: danger ? 'danger' : 'primary', value: 'yes' }, confirmLabel);
    const no = h('button', { type: 'button', value: 'no' }, 'Cancel');
    const dlg = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', { id: 'confirm-text' }, text),
      h('div', { class: 'actions' }, no, yes));
    let answer = false;
    yes.addEventListener('click', () => { answer = true; dlg.close(); });
    no.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(answer); });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// secretPanel shows a secret once, with a copy button.
export function secretPanel(secret, why, onDone) {
  const input = h('input', { id: 'secret-value', type: 'text', readonly: true, value: secret, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'secret-help' });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = h('button', { type: 'button', id: 'copy-secret' }, 'Copy');
  copy.addEventListener('click', async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(secret);
      status.textContent = 'Copied.';
    } catch {
      status.textContent = document.execCommand && document.execCommand('copy') ? 'Copied.' : 'Selected: press Ctrl+C to copy.';
    }
  });
  const done = h('button', { type: 'button', id: 'secret-done' }, 'I have stored it');
  const panel = h('section', { class: 'secret-panel', id: 'secret-panel', 'aria-labelledby': 'secret-title' },
    h('h2', { id: 'secret-title' }, 'Signing secret'),
    h('p', { id: 'secret-help' }, why + ' It is shown this once: copy it into your receiver now. It will not be shown again.'),
    h('label', { for: 'secret-value' }, 'Secret'),
    h('div', { class: 'copy-row' }, input, copy),
    status,
    h('div', { class: 'actions' }, done));
  done.addEventListener('click', () => { panel.remove(); if (onDone) onDone(); });
  return panel;
}

// field builds a labelled control group with its error slot.
export function field(name, label, control, help) {
  const id = control.id || 'f-' + name;
  control.id = id;
  const helpId = help ? id + '-help' : null;
  // API field names such as auth.name hold dots, which would read as
  // classes in a CSS selector.
  const errId = 'err-' + name.replaceAll('.', '-');
  control.setAttribute('aria-describedby', [helpId, errId].filter(Boolean).join(' '));
  return h('div', { class: 'field', 'data-field': name },
    h('label', { for: id }, label),
    control,
    help ? h('p', { class: 'help', id: helpId }, help) : null,
    h('p', { class: 'field-error', id: errId }));
}
