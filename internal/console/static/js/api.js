// The console's GraphQL client: POST /graphql with the bearer token, errors
// as APIError carrying each error's extensions.code.

const TOKEN_KEY = 'tenantd.console.token';

/** The token store (localStorage), with a change event for the shell. */
export const auth = {
  get token() {
    try { return localStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  },
  set(token) {
    try { localStorage.setItem(TOKEN_KEY, token); } catch { /* private mode: session only */ }
    window.dispatchEvent(new CustomEvent('tenantd:token', { detail: { token } }));
  },
  clear() {
    try { localStorage.removeItem(TOKEN_KEY); } catch { /* ignore */ }
    window.dispatchEvent(new CustomEvent('tenantd:token', { detail: { token: '' } }));
  },
};

/** A failed request: one or more GraphQL errors, or a network failure. */
export class APIError extends Error {
  constructor(errors, { status = 0, data = null } = {}) {
    const list = (Array.isArray(errors) && errors.length ? errors : [{ message: 'unknown error' }]).map(normalize);
    super(list.map((e) => e.message).join('; '));
    this.name = 'APIError';
    this.errors = list;
    this.status = status;
    this.data = data;
  }
  /** extensions.code of the first error. */
  get code() { return this.errors[0].code; }
  /** extensions.field of the first error that names one. */
  get field() { return this.errors.find((e) => e.field)?.field || ''; }
  hasCode(code) { return this.errors.some((e) => e.code === code); }
}

function normalize(e) {
  const ext = (e && e.extensions) || {};
  return {
    message: String((e && e.message) || 'unknown error'),
    code: String(ext.code || 'ERROR'),
    field: ext.field ? String(ext.field) : '',
    path: Array.isArray(e && e.path) ? e.path.join('.') : '',
    extensions: ext,
  };
}

/** Turns anything thrown into an APIError. */
export function asAPIError(err) {
  if (err instanceof APIError) return err;
  return new APIError([{ message: err && err.message ? err.message : String(err), extensions: { code: 'CLIENT_ERROR' } }]);
}

/**
 * Sends one GraphQL request. Resolves to {data, errors, status}; rejects
 * only when no GraphQL answer came back (network, non-JSON body).
 * token: '' sends no Authorization header (public calls such as signUp).
 */
export async function request(query, variables = {}, { token = auth.token, signal } = {}) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal, credentials: 'omit' });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new APIError([{ message: `Could not reach tenantd (${err && err.message ? err.message : 'network error'}). Check your connection and try again.`, extensions: { code: 'NETWORK_ERROR' } }]);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new APIError([{ message: `tenantd answered HTTP ${res.status} ${res.statusText} without a GraphQL response.`, extensions: { code: `HTTP_${res.status}` } }], { status: res.status });
  }
  const errors = Array.isArray(body.errors) ? body.errors : [];
  if (res.status === 401 && token && token === auth.token) {
    window.dispatchEvent(new CustomEvent('tenantd:unauthenticated', { detail: { errors } }));
  }
  return { data: body.data ?? null, errors, status: res.status };
}

/** Sends a request and returns its data; any GraphQL error rejects with APIError. */
export async function gql(query, variables, opts) {
  const r = await request(query, variables, opts);
  if (r.errors.length) throw new APIError(r.errors, { status: r.status, data: r.data });
  return r.data;
}

/** A v4 UUID: crypto.randomUUID where available (secure contexts), else getRandomValues. */
export function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The WebSocket URL of /graphql on this origin. */
export function wsURL() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
}
