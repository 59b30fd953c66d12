// The REST API as the page uses it: every call sends the token the user entered (if any) and
// answers { ok, status, body, error } — never throws, so each card shows its own error.

const TOKEN_KEY = 'adclick.apiToken';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** GET or POST a JSON route; timeoutMs bounds a hung request so polling never piles up. */
export async function call(path, { method = 'GET', body, timeoutMs = 8000 } = {}) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal, cache: 'no-store',
    });
    let json = null;
    try { json = await res.json(); } catch { /* a non-JSON answer: reported below */ }
    if (!res.ok) {
      const what = json && json.error ? json.error : `HTTP ${res.status}`;
      const param = json && json.parameter ? ` (parameter ${json.parameter})` : '';
      return { ok: false, status: res.status, body: json, error: `${what}${param}` };
    }
    if (json === null) return { ok: false, status: res.status, body: null, error: 'the server answered something that is not JSON' };
    return { ok: true, status: res.status, body: json, error: '' };
  } catch (e) {
    const error = e.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : `server unreachable (${e.message})`;
    return { ok: false, status: 0, body: null, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A query string of the defined, non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
