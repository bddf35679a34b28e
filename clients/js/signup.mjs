// signup.mjs signs a tenant up through tenantd's public API with urql, then
// follows its provisioning live over WebSocket with graphql-ws until the
// subscription completes. It prints one JSON line per progress message and a
// final summary line; tenantd's Go test suite runs it against a real server.
//
//   node signup.mjs http://127.0.0.1:8080 <slug> [plan]
import { Client, fetchExchange, gql } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';

const [base, slug, plan = 'starter'] = process.argv.slice(2);
if (!base || !slug) {
  console.error('usage: node signup.mjs <tenantd url> <slug> [plan]');
  process.exit(2);
}

const http = new Client({ url: `${base}/graphql`, exchanges: [fetchExchange], requestPolicy: 'network-only' });

const SIGN_UP = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      apiKey
      tenant { id slug state }
      operation { id status }
    }
  }
`;

const result = await http
  .mutation(SIGN_UP, {
    input: {
      name: `JS ${slug}`, slug, email: `owner@${slug}.example.com`, plan,
      paymentMethod: 'pm_card_visa', idempotencyKey: randomUUID(),
    },
  })
  .toPromise();
if (result.error) {
  console.error(JSON.stringify({ error: result.error.message }));
  process.exit(1);
}
const { apiKey, tenant, operation } = result.data.signUp;

const ws = createClient({
  url: base.replace(/^http/, 'ws') + '/graphql',
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${apiKey}` },
  retryAttempts: 0,
});

const statuses = [];
await new Promise((resolve, reject) => {
  ws.subscribe(
    {
      query: `subscription($id: ID!) {
        operationProgress(id: $id) { status progress { done total } steps { name status } }
      }`,
      variables: { id: operation.id },
    },
    {
      next: (msg) => {
        if (msg.errors) return reject(new Error(JSON.stringify(msg.errors)));
        const p = msg.data.operationProgress;
        statuses.push(p.status);
        console.log(JSON.stringify({ progress: p }));
      },
      error: reject,
      complete: resolve,
    },
  );
});
await ws.dispose();

const after = await http
  .query(gql`query { viewer { tenant { id state } } }`, {}, {
    fetchOptions: { headers: { Authorization: `Bearer ${apiKey}` } },
  })
  .toPromise();
console.log(JSON.stringify({
  summary: {
    tenantId: tenant.id,
    operationId: operation.id,
    statuses,
    final: statuses[statuses.length - 1],
    state: after.data?.viewer?.tenant?.state ?? null,
  },
}));
