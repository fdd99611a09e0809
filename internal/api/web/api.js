// The API client of the page: the tenant key lives in sessionStorage (this
// tab only, gone when it closes) and travels in the Authorization header,
// never in a URL.

const KEY = 'hookline.key';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

// APIError is an error answer: `field` names the request field at fault.
export class APIError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.error) || (status ? `HTTP ${status}` : 'request failed'));
    this.status = status;
    this.field = (body && body.field) || '';
    this.retryAfter = retryAfter || 0;
  }
}

let onUnauthorized = () => {};

// whenUnauthorized sets what happens when the key stops working.
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// api sends one request with the session's key (or opts.key) and returns
// the decoded JSON, null for 204.
export async function api(method, path, body, opts = {}) {
  const key = opts.key || session.key();
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = 'Bearer ' + key;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', signal: opts.signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new APIError(0, { error: 'the server cannot be reached (' + e.message + ')' });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text.slice(0, 200) }; }
  }
  if (!res.ok) {
    const err = new APIError(res.status, data, Number(res.headers.get('Retry-After')) || 0);
    if (res.status === 401 && !opts.key) onUnauthorized(err);
    throw err;
  }
  return data;
}

// listAll follows nextCursor through every page.
export async function listAll(path, opts) {
  const out = [];
  let cursor = '';
  for (let i = 0; i < 100; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', path + sep + 'limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''), undefined, opts);
    out.push(...page.data);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  return out;
}

// poll runs fn now and then every `every` ms until the returned stop is
// called: slower while the tab is hidden, and as long as a 429 asks.
export function poll(fn, every, onError) {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    let wait = every;
    try {
      await fn();
      if (onError) onError(null);
    } catch (e) {
      if (stopped || e.name === 'AbortError') return;
      if (e.status === 401) return;
      if (e.status === 429) wait = Math.max(every, e.retryAfter * 1000);
      if (onError) onError(e);
    }
    if (!stopped) timer = setTimeout(tick, document.hidden ? Math.max(wait, every * 5) : wait);
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

// mapLimit runs fn over items, at most n at a time, keeping order.
export async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
