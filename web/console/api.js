// api.js: every call the console makes, through the public HTTP API
// (docs/api.md) with the bearer token the user signed in with.

const tokenKey = 'truce.token';

// The token lives in sessionStorage: it is gone when the tab closes, and
// another site cannot read it.
export function token() { return sessionStorage.getItem(tokenKey) || ''; }
export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t); else sessionStorage.removeItem(tokenKey);
}

// ApiError is a problem+json answer (RFC 9457): status, code, detail and
// the rest of the problem's members.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || '';
    this.problem = problem;
  }
}

// authHeaders are the headers of every call.
export function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// call sends a request and returns {status, etag, headers, body}; a
// problem answer throws ApiError, and a 401 also tells the page to ask
// for a token again.
export async function call(method, path, { body, headers = {}, contentType = 'application/json' } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...authHeaders(), ...headers }, cache: 'no-store' };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = contentType;
  }
  const resp = await fetch(path, init);
  const text = resp.status === 204 ? '' : await resp.text();
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  if (!resp.ok) {
    const problem = parsed && typeof parsed === 'object' ? parsed : { detail: `HTTP ${resp.status}: ${text}` };
    if (resp.status === 401) window.dispatchEvent(new CustomEvent('truce:unauthorized', { detail: problem }));
    throw new ApiError(resp.status, problem);
  }
  return { status: resp.status, etag: resp.headers.get('ETag'), headers: resp.headers, body: parsed };
}

const enc = encodeURIComponent;

export const paths = {
  collections: () => '/v1/collections',
  collection: (c) => `/v1/collections/${enc(c)}`,
  docs: (c) => `/v1/collections/${enc(c)}/docs`,
  doc: (c, id) => `/v1/collections/${enc(c)}/docs/${enc(id)}`,
  versions: (c, id) => `/v1/collections/${enc(c)}/docs/${enc(id)}/versions`,
  version: (c, id, n) => `/v1/collections/${enc(c)}/docs/${enc(id)}/versions/${n}`,
  restore: (c, id, n) => `/v1/collections/${enc(c)}/docs/${enc(id)}/versions/${n}/restore`,
  diff: (c, id, a, b) => `/v1/collections/${enc(c)}/docs/${enc(id)}/diff?from=${a}&to=${b}`,
  lock: (c, id) => `/v1/collections/${enc(c)}/docs/${enc(id)}/lock`,
  conflicts: (q) => `/v1/conflicts?${new URLSearchParams(q)}`,
  conflict: (cid) => `/v1/conflicts/${enc(cid)}`,
};
