// Runs the GraphQL over HTTP specification's server audit suite (the
// graphql-http package's auditServer) against a tenantd /graphql endpoint
// and prints every result. Exits 1 on any error or warning, 0 otherwise
// (notices are printed and allowed).
//
//   node http-audit.mjs http://127.0.0.1:8080/graphql [token]
//
// The token (or TENANTD_TOKEN) is sent as "Authorization: Bearer <token>"
// on every audit request: tenantd answers an anonymous caller's
// `{ __typename }` with UNAUTHENTICATED, as it does every query but
// signUp and plans.
import { auditServer } from 'graphql-http';

const [url, tokenArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node http-audit.mjs <graphql url> [token]');
  process.exit(2);
}
const token = tokenArg || process.env.TENANTD_TOKEN || '';

function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const r of results) {
  counts[r.status]++;
  let line = `${r.status.toUpperCase().padEnd(6)} ${r.id} ${r.name}`;
  if (r.status !== 'ok') {
    let body = '';
    try {
      body = await r.response.text();
    } catch {
      // the audit may have read it already
    }
    line += `\n       ${r.reason}\n       response: ${r.response.status} ${r.response.headers.get('content-type') || ''} ${body.slice(0, 300)}`;
  }
  console.log(line);
}
console.log(`\n${results.length} audits: ${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} errors`);
process.exit(counts.warn + counts.error > 0 ? 1 : 0);
