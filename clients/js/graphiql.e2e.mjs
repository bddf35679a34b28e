// graphiql.e2e.mjs opens tenantd's /graphiql (development) in a real
// Chromium with playwright-core: the editor loads from the binary's embedded
// assets with no request to any other origin, the headers editor holds the
// development admin token's Authorization header, `{ viewer { role } }`
// answers ADMIN, a subscription streams over the server's WebSocket with
// that header, and the token is not kept in the browser's storage.
// tenantd's Go test suite runs it (internal/console/graphiql_browser_test.go).
//
//   node graphiql.e2e.mjs <baseURL> <devAdminToken> <artifactsDir>
//
// Exit 0 on success; on failure it prints what failed, saves failure
// screenshots and exits 1. CHROMIUM_PATH overrides /usr/bin/chromium.
import { randomUUID } from 'node:crypto';
import { harness, check, until } from './e2e-harness.mjs';

const [base, token, artifacts] = process.argv.slice(2);
if (!base || !token || !artifacts) {
  console.error('usage: node graphiql.e2e.mjs <baseURL> <devAdminToken> <artifactsDir>');
  process.exit(2);
}

const { newPage, shot, step, run, log } = await harness({ base, artifacts, overallMs: 100_000 });
const origin = new URL(base).origin;
const host = new URL(base).host;

// The values of the page's CodeMirror editors matching sel.
const editors = (page, sel) => page.evaluate((s) => [...document.querySelectorAll(s)]
  .map((el) => (el.CodeMirror ? el.CodeMirror.getValue() : '')), sel);

await run(async () => {
  const page = await newPage('graphiql', { width: 1400, height: 900 });
  const elsewhere = [];
  const requests = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    requests.push(`${req.method()} ${u.pathname}`);
    if (u.origin !== origin && u.protocol !== 'data:') elsewhere.push(req.url());
  });
  page.on('websocket', (ws) => {
    if (new URL(ws.url()).host !== host) elsewhere.push(ws.url());
  });

  await step('GraphiQL loads from the binary', async () => {
    const resp = await page.goto('/graphiql');
    check(resp.status() === 200, `/graphiql answered ${resp.status()}`);
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
    await page.locator('.graphiql-execute-button').waitFor();
    check(!(await page.locator('text=Loading GraphiQL').count()), 'the page still says Loading');
  });

  await step('the headers editor holds the development admin token', async () => {
    await until(page, 'the Authorization header in the headers editor',
      (t) => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
        .some((el) => el.CodeMirror && el.CodeMirror.getValue().includes(`"Authorization": "Bearer ${t}"`)), token);
    await page.locator('.graphiql-editor-tool .CodeMirror:visible').first().waitFor();
  });

  await step('{ viewer { role } } answers ADMIN', async () => {
    await page.evaluate(() => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ viewer { role } }'));
    await page.locator('.graphiql-execute-button').click();
    await until(page, 'the result "role": "ADMIN"',
      () => [...document.querySelectorAll('.graphiql-response .CodeMirror')]
        .some((el) => el.CodeMirror && /"role":\s*"ADMIN"/.test(el.CodeMirror.getValue())));
    const [result] = await editors(page, '.graphiql-response .CodeMirror');
    log(`  result: ${result.replace(/\s+/g, ' ')}`);
    await shot(page, 'viewer-role-admin');
  });

  await step('a subscription streams over the WebSocket with the headers editor\'s token', async () => {
    const slug = `gi-${randomUUID().slice(0, 8)}`;
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        query: 'mutation($in: SignUpInput!) { signUp(input: $in) { tenant { id } } }',
        variables: { in: { name: 'GraphiQL test', slug, email: `owner@${slug}.example.com`, plan: 'free', paymentMethod: 'pm_card_visa', idempotencyKey: randomUUID() } },
      }),
    });
    const { data, errors } = await res.json();
    check(!errors, `signUp: ${JSON.stringify(errors)}`);
    const id = data.signUp.tenant.id;
    await page.evaluate((q) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q),
      `subscription { tenantEvents(tenantId: "${id}") { kind tenant { slug } } }`);
    await page.locator('.graphiql-execute-button').click();
    await until(page, 'the SNAPSHOT event in the result',
      (s) => [...document.querySelectorAll('.graphiql-response .CodeMirror')]
        .some((el) => el.CodeMirror && el.CodeMirror.getValue().includes('"SNAPSHOT"') && el.CodeMirror.getValue().includes(s)), slug);
    await shot(page, 'subscription');
    await page.locator('.graphiql-execute-button').click(); // stop it
  });

  await step('the documentation explorer reads the schema', async () => {
    await page.locator('button[aria-label="Show Documentation Explorer"]').click();
    await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor();
    await shot(page, 'docs');
  });

  await step('the settings dialog opens within the page\'s CSP', async () => {
    await page.locator('button[aria-label="Open settings dialog"]').click();
    await page.locator('[role=dialog]').getByText('Settings').first().waitFor();
    await shot(page, 'settings');
    await page.keyboard.press('Escape');
    await page.locator('[role=dialog]').waitFor({ state: 'detached' });
  });

  await step('the token is not kept in the browser; a reload prefills it again', async () => {
    const stored = await page.evaluate((t) => Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes(t)), token);
    check(stored.length === 0, `localStorage keeps the token under ${stored.join(', ')}`);
    const history = await page.evaluate(() => localStorage.getItem('graphiql:queries') || '');
    check(history.includes('viewer'), `the history lost the query: ${history}`);
    await page.reload();
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
    await until(page, 'the Authorization header after a reload',
      (t) => [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')]
        .some((el) => el.CodeMirror && el.CodeMirror.getValue().includes(`Bearer ${t}`)), token);
  });

  await step('no request left the server\'s origin', async () => {
    check(elsewhere.length === 0, `requests to other origins: ${elsewhere.join(', ')}`);
    check(requests.some((r) => r.endsWith('/graphiql/vendor/graphiql.min.js')), `GraphiQL was not loaded from the server: ${requests.join(', ')}`);
    log(`  ${requests.length} requests, all to ${origin}`);
  });
});
