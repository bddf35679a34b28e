// polish.e2e.mjs checks the console's finish in Chromium (issue 12, item 9):
// the signup form says every mistake at once, at its field, in words (the
// server's too, never a code); no select is cut off at 1280 or 390 px (the
// signup page and the plan dialog); a dialog's way out is named for what it
// keeps; one toast per action (the live stream's copy of the change makes
// none); a heading focused after a navigation shows no focus box; the
// histogram's count axis has whole-number ticks; a rate shows with the same
// rounding in the funnel's chart, its table, its stats and its cohorts; at
// 390 px no column of the tenant table or the funnel table is cut off; and
// the tenant page's API keys card lists, creates (the secret shown once) and
// revokes keys, warning (and signing out) when the key is the browser's own.
// tenantd's Go test suite runs it (internal/console/polish_browser_test.go).
//
//   node polish.e2e.mjs <baseURL> <adminToken> <artifactsDir>
import { randomUUID } from 'node:crypto';
import { harness, check, text, until } from './e2e-harness.mjs';

const [base, adminToken, artifacts] = process.argv.slice(2);
if (!base || !adminToken || !artifacts) {
  console.error('usage: node polish.e2e.mjs <baseURL> <adminToken> <artifactsDir>');
  process.exit(2);
}
const { newPage, shot, step, run, log } = await harness({ base, artifacts, overallMs: 110_000 });

async function api(token, query, variables) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  return { ...body, status: res.status };
}
async function must(token, query, variables) {
  const r = await api(token, query, variables);
  if (r.errors) throw new Error(`API: ${JSON.stringify(r.errors)}`);
  return r.data;
}

const run36 = Date.now().toString(36);
const M_SIGNUP = 'mutation($in: SignUpInput!) { signUp(input: $in) { apiKey tenant { id } operation { id } } }';

/** Signs up an ACTIVE starter tenant; returns {id, key, slug}. */
async function activeTenant(name) {
  const slug = `pol-${name}-${run36}`;
  const d = await must('', M_SIGNUP, { in: { name: `Polish ${name}`, slug, email: `owner@${slug}.example.com`, plan: 'starter', paymentMethod: 'pm_card_visa', idempotencyKey: randomUUID() } });
  const { id } = d.signUp.tenant;
  for (let i = 0; i < 300; i++) {
    const t = await must(adminToken, 'query($id: ID!) { tenant(id: $id) { state } }', { id });
    if (t.tenant.state === 'ACTIVE') return { id, key: d.signUp.apiKey, slug };
    await new Promise((r) => setTimeout(r, 50)); // polling the API for the state, not a wait for time
  }
  throw new Error(`${slug} never became ACTIVE`);
}

// Every toast the page shows, and every tenant event its WebSockets bring.
function recorders() {
  window.__toasts = [];
  window.__events = [];
  new MutationObserver((ms) => {
    for (const m of ms) for (const n of m.addedNodes) if (n.nodeType === 1 && n.dataset.testid === 'toast') window.__toasts.push(n.textContent);
  }).observe(document, { childList: true, subtree: true });
  const Orig = window.WebSocket;
  window.WebSocket = class extends Orig {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (m) => {
        try {
          const ev = JSON.parse(m.data)?.payload?.data?.tenantEvents;
          if (ev) window.__events.push(`${ev.kind}:${ev.tenant && ev.tenant.state}`);
        } catch { /* not JSON */ }
      });
    }
  };
}

async function page(name, opts) {
  const p = await newPage(name, opts);
  await p.addInitScript(recorders);
  return p;
}

async function signIn(p, token) {
  await p.goto('/#/signin');
  await p.fill('[data-testid=signin-token]', token);
  await p.click('[data-testid=signin-submit]');
  await until(p, 'the sign-in lands', () => !location.hash.startsWith('#/signin'));
}

/** The visible selects whose chosen option's text does not fit. */
const clippedSelects = (p) => p.evaluate(() => {
  const ctx = document.createElement('canvas').getContext('2d');
  return [...document.querySelectorAll('select')].filter((s) => s.offsetParent !== null).map((s) => {
    const cs = getComputedStyle(s);
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const label = s.selectedOptions[0] ? s.selectedOptions[0].textContent : '';
    const need = ctx.measureText(label).width;
    const room = s.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20; // the arrow
    return { id: s.dataset.testid || s.name, label, need: Math.round(need), room: Math.round(room) };
  }).filter((x) => x.need > x.room);
});

/** The cells of table sel that are hidden or cut off by their scroll box or the viewport. */
const clippedCells = (p, sel) => p.evaluate((sel) => {
  const table = document.querySelector(sel);
  if (!table) return ['no table'];
  const wrap = table.closest('.table-wrap') || table.parentElement;
  const box = wrap.getBoundingClientRect();
  const out = [];
  if (table.scrollWidth > wrap.clientWidth + 1) out.push(`the table is ${table.scrollWidth} px wide in ${wrap.clientWidth} px`);
  for (const c of table.querySelectorAll('tbody td, tbody th')) {
    const r = c.getBoundingClientRect();
    const what = `${c.dataset.label || c.textContent.trim().slice(0, 20)}`;
    if (r.width === 0 || r.height === 0) out.push(`${what}: hidden`);
    else if (r.right > box.right + 1 || r.left < box.left - 1 || r.right > window.innerWidth) out.push(`${what}: cut off (${Math.round(r.left)}–${Math.round(r.right)} in ${Math.round(box.left)}–${Math.round(box.right)})`);
  }
  return out;
}, sel);

const toasts = (p) => p.evaluate(() => window.__toasts.slice());
const events = (p) => p.evaluate(() => window.__events.slice());

await run(async () => {
  // Three ACTIVE tenants; one uploads and queries, so its funnel reads 3 → 3 → 1 → 1.
  const [a, b, c] = [await activeTenant('a'), await activeTenant('b'), await activeTenant('c')];
  const word = `quokka${randomUUID().replace(/\D/g, '').slice(0, 6)}`;
  await must(a.key, 'mutation($in: UploadDocumentInput!) { uploadDocument(input: $in) { document { id } } }', { in: { title: `Notes on ${word}`, content: `The ${word} is a small marsupial.` } });
  await must(a.key, 'query($q: String!) { searchDocuments(query: $q) { score } }', { q: word });
  log(`tenants ${a.slug} ${b.slug} ${c.slug}`);

  const visitor = await page('visitor');
  await step('signup: every mistake at once, at its field, in words', async () => {
    await visitor.goto('/#/signup');
    await visitor.locator('[data-testid=signup-plan] option[value=starter]').waitFor({ state: 'attached' });
    await visitor.fill('[data-testid=signup-slug]', 'Not A Slug!');
    await visitor.fill('[data-testid=signup-email]', 'owner-at-example');
    await visitor.click('[data-testid=signup-submit]');
    const errs = await visitor.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid=signup-form] .field-error')]
      .filter((e) => !e.hidden && e.textContent).map((e) => [e.dataset.testid.replace('field-error-', ''), e.textContent])));
    check(errs.name && errs.slug && errs.email, `the name, the slug and the email are all said at once: ${JSON.stringify(errs)}`);
    check(/lower-case letters/.test(errs.slug) && /like owner@example\.com/.test(errs.email), `in words: ${JSON.stringify(errs)}`);
    check(await visitor.evaluate(() => document.activeElement?.dataset.testid) === 'signup-name', 'the first field at fault has the focus');
    await shot(visitor, 'signup-all-mistakes');

    // The server's own mistakes: a slug that is taken, then a declined card.
    await visitor.fill('[data-testid=signup-name]', 'Polish visitor');
    await visitor.fill('[data-testid=signup-slug]', a.slug);
    await visitor.fill('[data-testid=signup-email]', 'owner@visitor.example.com');
    check(await visitor.locator('[data-testid=field-error-email]').isHidden(), 'a mistake goes once its field is changed');
    await visitor.click('[data-testid=signup-submit]');
    await until(visitor, 'the taken slug is said at the slug', () => /taken/.test(document.querySelector('[data-testid=field-error-slug]')?.textContent || ''));
    await visitor.fill('[data-testid=signup-slug]', `pol-visitor-${run36}`);
    await visitor.selectOption('[data-testid=signup-payment]', 'pm_card_chargeDeclined');
    await visitor.click('[data-testid=signup-submit]');
    await until(visitor, 'the declined card is said at the payment method',
      () => /declined/.test(document.querySelector('[data-testid=field-error-paymentMethod]')?.textContent || ''));
    const words = await visitor.locator('main').innerText();
    check(!/INVALID_INPUT|PAYMENT_DECLINED|NOT_FOUND|\bfield:/.test(words), `no error code on the signup page: ${words.slice(0, 400)}`);
    await shot(visitor, 'signup-server-mistakes');
  });

  await step('signup: no select is cut off at 1280 or 390 px', async () => {
    for (const width of [1280, 390]) {
      await visitor.setViewportSize({ width, height: 900 });
      for (const pm of ['pm_card_visa', 'pm_card_chargeDeclined']) {
        await visitor.selectOption('[data-testid=signup-payment]', pm);
        for (const plan of ['free', 'starter', 'pro', 'enterprise']) {
          await visitor.selectOption('[data-testid=signup-plan]', plan);
          const cut = await clippedSelects(visitor);
          check(cut.length === 0, `at ${width} px a select is cut off: ${JSON.stringify(cut)}`);
        }
      }
      await shot(visitor, `signup-${width}`);
    }
  });

  const admin = await page('admin');
  await step('a heading focused after a navigation shows no focus box', async () => {
    await signIn(admin, adminToken);
    await admin.locator('[data-testid=funnel-count-SIGNED_UP]').waitFor();
    // Keyboard navigation is when :focus-visible would draw the box.
    await admin.locator('[data-testid=nav-tenants]').focus();
    await admin.keyboard.press('Enter');
    await until(admin, 'the tenant list heading has the focus', () => document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Tenants');
    const outline = await admin.evaluate(() => { const s = getComputedStyle(document.activeElement); return `${s.outlineStyle} ${s.outlineWidth}`; });
    check(outline.startsWith('none'), `the focused heading has no outline (got ${outline})`);
    await admin.locator('[data-testid=nav-dashboard]').click();
    await until(admin, 'the dashboard heading has the focus', () => document.activeElement?.tagName === 'H1' && document.activeElement.textContent === 'Dashboard');
    check((await admin.evaluate(() => getComputedStyle(document.activeElement).outlineStyle)) === 'none', 'no outline after a click either');
    // A control reached with the keyboard still shows where the focus is.
    await admin.keyboard.press('Tab');
    const ring = await admin.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(ring !== 'none', `the next control shows its focus ring (got ${ring} on ${await admin.evaluate(() => document.activeElement.outerHTML.slice(0, 80))})`);
  });

  await step('dashboard: whole-number count ticks; one rounding for a rate everywhere', async () => {
    await until(admin, 'the funnel counts the three tenants', () => document.querySelector('[data-testid=funnel-count-FIRST_QUERY]')?.dataset.count === '1'
      && document.querySelector('[data-testid=funnel-count-SIGNED_UP]')?.dataset.count === '3');
    await admin.locator('[data-testid=durations-toggle] label', { hasText: 'Histogram' }).click();
    const ticks = await admin.locator('.chart-box[data-testid=durations-histogram] g.grid text').allTextContents();
    check(ticks.length >= 2, `the histogram has a count axis (${ticks.join(', ')})`);
    check(ticks.every((t) => /^\d+$/.test(t)), `the count axis has whole-number ticks only: ${ticks.join(', ')}`);

    const fig = await admin.evaluate(() => {
      const notes = [...document.querySelectorAll('[data-testid=funnel-chart] text')].map((t) => t.textContent).filter((t) => /of previous/.test(t)).map((t) => t.split(' ')[0]);
      const table = [...document.querySelectorAll('[data-testid=funnel-from-previous]')].slice(1).map((t) => t.textContent);
      const rate = document.querySelector('[data-testid=activation-rate]').textContent;
      const cohorts = [...document.querySelectorAll('[data-testid=cohort-table] tbody tr')].map((r) => r.lastElementChild.textContent);
      return { notes, table, rate, cohort: cohorts[cohorts.length - 1], verdict: document.querySelector('[data-testid=activation-verdict]').textContent };
    });
    check(fig.notes.length === 3 && JSON.stringify(fig.notes) === JSON.stringify(fig.table), `the chart's notes and the table agree: ${JSON.stringify(fig)}`);
    check(fig.table[1] === '33.3%', `a third is 33.3%: ${JSON.stringify(fig)}`);
    check(fig.rate === '33.3%' && fig.cohort === fig.rate, `the activation rate and its cohort agree: ${JSON.stringify(fig)}`);
    check(/by 36\.7 points/.test(fig.verdict), `the gap to 70% is taken from the rate shown: ${fig.verdict}`);
    const readiness = await text(admin, '[data-testid=readiness-status]');
    check(readiness === 'NOT RUN', `checks that never ran do not read as failed (got ${readiness})`);
    await shot(admin, 'dashboard-1280');
  });

  await step('test tenants: out of the list and the figures unless asked for', async () => {
    const slug = `pol-test-${run36}`;
    const d = await must(adminToken, M_SIGNUP, { in: { name: `Polish test ${run36}`, slug, email: `owner@${slug}.example.com`, plan: 'starter', paymentMethod: 'pm_card_visa', idempotencyKey: randomUUID(), synthetic: true } });
    check(d.signUp.tenant.id, 'an admin signs up a test tenant');
    await admin.locator('[data-testid=dashboard-include-test]').check();
    await until(admin, 'with test tenants the funnel counts four signups', () => document.querySelector('[data-testid=funnel-count-SIGNED_UP]')?.dataset.count === '4', null, 15_000);
    await admin.locator('[data-testid=dashboard-include-test]').uncheck();
    await until(admin, 'without them, three again', () => document.querySelector('[data-testid=funnel-count-SIGNED_UP]')?.dataset.count === '3');
    await admin.locator('[data-testid=nav-tenants]').click();
    await until(admin, 'the tenant list loads', () => document.querySelectorAll('[data-testid=tenant-row]').length >= 3);
    const slugs = () => admin.evaluate(() => [...document.querySelectorAll('[data-testid=tenant-row]')].map((r) => r.dataset.slug));
    check(!(await slugs()).includes(slug), 'the test tenant is not listed among the customers');
    await admin.selectOption('[data-testid=tenant-kind-filter]', 'test');
    await until(admin, 'the kind filter lists the test tenant', (s) => [...document.querySelectorAll('[data-testid=tenant-row]')].some((r) => r.dataset.slug === s), slug);
    check((await slugs()).every((x) => x === slug || x.startsWith('pol-test-') || !x.startsWith('pol-')), 'only test tenants under that filter');
    await shot(admin, 'tenants-test-filter');
    await admin.locator('[data-testid=nav-dashboard]').click();
    await admin.locator('[data-testid=funnel-count-SIGNED_UP]').waitFor();
  });

  await step('390 px: no column of the funnel table or the tenant table is cut off', async () => {
    await admin.setViewportSize({ width: 390, height: 900 });
    await admin.locator('[data-testid=funnel-table]').waitFor();
    let cut = await clippedCells(admin, '[data-testid=funnel-table]');
    check(cut.length === 0, `the funnel table at 390 px: ${cut.join('; ')}`);
    await shot(admin, 'dashboard-390');
    await admin.locator('[data-testid=nav-tenants]').click();
    await until(admin, 'the tenant list shows the three tenants', () => document.querySelectorAll('[data-testid=tenant-row]').length >= 3);
    cut = await clippedCells(admin, '[data-testid=tenant-table]');
    check(cut.length === 0, `the tenant table at 390 px: ${cut.join('; ')}`);
    await shot(admin, 'tenants-390');
  });

  await step('390 px: the plan dialog\'s selects fit; its way out keeps the plan', async () => {
    await admin.goto(`/#/tenants/${b.id}`);
    await admin.locator('[data-testid=action-change-plan]').click();
    await admin.locator('[data-testid=change-plan-preview] [data-testid=preview-direction]').waitFor();
    for (const when of ['', 'IMMEDIATE', 'PERIOD_END']) {
      await admin.selectOption('[data-testid=change-plan-effective]', when);
      const cut = await clippedSelects(admin);
      check(cut.length === 0, `a select of the plan dialog is cut off at 390 px: ${JSON.stringify(cut)}`);
    }
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep current plan', 'the way out says what it keeps');
    await shot(admin, 'change-plan-390');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-cancel]');
    await admin.setViewportSize({ width: 1280, height: 900 });
  });

  await step('dialogs: no bare "Cancel" or "Close" next to an action', async () => {
    const exits = [];
    for (const [open, dialogSel] of [['[data-testid=action-suspend]', 'confirm-dialog'], ['[data-testid=action-pause]', 'confirm-dialog'],
      ['[data-testid=action-cancel]', 'confirm-dialog'], ['[data-testid=action-delete]', 'confirm-dialog']]) {
      await admin.click(open);
      const dlg = admin.locator(`dialog[data-testid=${dialogSel}]`);
      await dlg.waitFor();
      const label = (await dlg.locator('[data-testid=confirm-cancel]').textContent()).trim();
      exits.push(label);
      await dlg.locator('[data-testid=confirm-cancel]').click();
      await dlg.waitFor({ state: 'detached' });
    }
    check(exits.every((l) => !/^(cancel|close)$/i.test(l)), `every way out is named for what it keeps: ${exits.join(', ')}`);
  });

  /** Runs act, waits for the live event that reports the state it leads to, and returns the toasts it raised. */
  async function toastsOf(p, state, act) {
    const t0 = (await toasts(p)).length;
    const e0 = (await events(p)).length;
    await act();
    await until(p, `the live stream tells ${state}`, ([n, s]) => window.__events.slice(n).includes(`TRANSITION:${s}`), [e0, state]);
    await until(p, 'the action toasts', (n) => window.__toasts.length > n, t0);
    // One more round trip: whatever the event would toast is on the page by then.
    await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
    return (await toasts(p)).slice(t0);
  }

  await step('one toast per action: suspend, resume', async () => {
    let got = await toastsOf(admin, 'SUSPENDED', async () => {
      await admin.click('[data-testid=action-suspend]');
      await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    });
    check(got.length === 1, `one toast for the suspension: ${got.join(' | ')}`);
    got = await toastsOf(admin, 'ACTIVE', async () => {
      await admin.click('[data-testid=action-resume]');
      await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    });
    check(got.length === 1, `one toast for the resume: ${got.join(' | ')}`);
  });

  await step('one toast per action: a plan change that moves the data, an export', async () => {
    let t0 = (await toasts(admin)).length;
    await admin.click('[data-testid=action-change-plan]');
    await admin.selectOption('[data-testid=change-plan-select]', 'pro');
    await admin.selectOption('[data-testid=change-plan-effective]', 'IMMEDIATE');
    await until(admin, 'the preview of Pro', () => /to Pro/.test(document.querySelector('[data-testid=preview-direction]')?.textContent || ''));
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await until(admin, 'the data move ends', () => !!document.querySelector('[data-testid=operation][data-kind=CHANGE_PLAN][data-status=SUCCEEDED]'), undefined, 30_000);
    await until(admin, 'the page shows the Pro plan', () => /^Pro/.test(document.querySelector('[data-testid=tenant-plan]')?.textContent || ''));
    let got = (await toasts(admin)).slice(t0);
    check(got.length === 1, `one toast for the plan change: ${got.join(' | ')}`);
    if (await admin.locator('[data-testid=export-start]').count()) {
      t0 = (await toasts(admin)).length;
      await admin.click('[data-testid=export-start]');
      await admin.locator('[data-testid=export-ready]').waitFor({ timeout: 30_000 });
      await until(admin, 'the export is listed as ready', () => !!document.querySelector('[data-testid=export-row][data-status=READY]'));
      got = (await toasts(admin)).slice(t0);
      check(got.length === 1, `one toast for the export: ${got.join(' | ')}`);
      await admin.setViewportSize({ width: 390, height: 900 });
      const cut = await clippedCells(admin, '[data-testid=exports-table]');
      check(cut.length === 0, `the exports table at 390 px: ${cut.join('; ')}`);
      await admin.setViewportSize({ width: 1280, height: 900 });
    } else {
      log('  this server has no exports: the export is not tried');
    }
  });

  let secret;
  await step('API keys: list, create (shown once), keep, revoke', async () => {
    const cardSel = '[data-testid=card-api-keys]';
    await admin.locator(`${cardSel} [data-testid=apikey-row]`).first().waitFor();
    check((await admin.locator(`${cardSel} [data-testid=apikey-row]`).count()) === 1, 'the owner key is listed');
    check((await text(admin, `${cardSel} [data-testid=apikey-row] td:nth-child(2)`)).startsWith('tdk_'), 'with its prefix');
    const t0 = (await toasts(admin)).length;
    await admin.click('[data-testid=apikey-create]');
    await admin.click('[data-testid=apikey-create-dialog] [data-testid=confirm-submit]');
    await admin.locator('[data-testid=field-error-name]').waitFor({ state: 'visible' });
    check(/name/i.test(await text(admin, '[data-testid=field-error-name]')), 'a missing name is said at its field');
    check(await text(admin, '[data-testid=apikey-create-dialog] [data-testid=confirm-cancel]') === 'Don’t create', 'the way out keeps things as they are');
    await admin.fill('[data-testid=apikey-name]', 'CI deploys');
    await admin.click('[data-testid=apikey-create-dialog] [data-testid=confirm-submit]');
    await admin.locator('[data-testid=apikey-secret-dialog]').waitFor();
    secret = await text(admin, '[data-testid=apikey-secret]');
    check(secret.startsWith('tdk_'), 'the secret is shown');
    check(/Shown only this once/.test(await text(admin, '[data-testid=apikey-once]')), 'with the warning that it is shown once');
    await shot(admin, 'apikey-secret');
    await admin.click('[data-testid=apikey-secret-dialog] [data-testid=confirm-submit]');
    await until(admin, 'the new key is listed', () => document.querySelectorAll('[data-testid=card-api-keys] [data-testid=apikey-row]').length === 2);
    check(!(await admin.locator('main').innerText()).includes(secret), 'the secret is not on the page once the dialog is closed');
    const who = await must(secret, '{ viewer { role tenant { id } } }');
    check(who.viewer.role === 'TENANT' && who.viewer.tenant.id === b.id, 'the new key works as the tenant');
    check((await toasts(admin)).length - t0 === 1, `one toast for the new key: ${(await toasts(admin)).slice(t0).join(' | ')}`);

    const row = admin.locator('[data-testid=apikey-row]', { hasText: 'CI deploys' });
    await row.locator('[data-testid=apikey-revoke]').click();
    const dlg = admin.locator('[data-testid=apikey-revoke-dialog]');
    check(await dlg.locator('[data-testid=confirm-cancel]').textContent() === 'Keep key', 'the way out says "Keep key"');
    check(await dlg.locator('[data-testid=confirm-submit]').textContent() === 'Revoke key', 'the action says "Revoke key"');
    check(await dlg.locator('[data-testid=apikey-revoke-own]').count() === 0, 'no sign-out warning for a key this browser does not use');
    await dlg.locator('[data-testid=confirm-cancel]').click();
    check((await must(secret, '{ viewer { role } }')).viewer.role === 'TENANT', '"Keep key" keeps it');
    const t1 = (await toasts(admin)).length;
    await row.locator('[data-testid=apikey-revoke]').click();
    await dlg.locator('[data-testid=confirm-submit]').click();
    await until(admin, 'the key shows as revoked', () => [...document.querySelectorAll('[data-testid=apikey-row]')].some((r) => r.textContent.includes('CI deploys') && r.dataset.revoked === 'true'));
    const r = await api(secret, '{ viewer { role } }');
    check(r.errors && r.errors[0].extensions.code === 'UNAUTHENTICATED', `the revoked key no longer works: ${JSON.stringify(r)}`);
    check((await toasts(admin)).length - t1 === 1, `one toast for the revocation: ${(await toasts(admin)).slice(t1).join(' | ')}`);
    await shot(admin, 'apikeys');
    await admin.setViewportSize({ width: 390, height: 900 });
    const cut = await clippedCells(admin, '[data-testid=apikey-table]');
    check(cut.length === 0, `the key table at 390 px: ${cut.join('; ')}`);
    await shot(admin, 'apikeys-390');
  });

  await step('API keys: the tenant revokes the key it is signed in with, warned, and is signed out', async () => {
    const own = (await must(c.key, 'mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { apiKey } }', { in: { tenantId: c.id, name: 'My laptop' } })).createApiKey.apiKey;
    const tenantPage = await page('tenant');
    await signIn(tenantPage, own);
    await tenantPage.locator('[data-testid=card-api-keys] [data-testid=apikey-row]').first().waitFor();
    // The workspace's upload form says both of its mistakes at once too.
    await tenantPage.locator('[data-testid=card-workspace] summary', { hasText: 'Upload a document' }).click();
    await tenantPage.click('[data-testid=upload-submit]');
    check(await tenantPage.locator('[data-testid=field-error-title]').isVisible() && await tenantPage.locator('[data-testid=field-error-content]').isVisible(),
      'a missing title and an empty document are said at once');
    const mine = tenantPage.locator('[data-testid=apikey-row]', { has: tenantPage.locator('[data-testid=apikey-this-browser]') });
    check(await mine.count() === 1 && (await mine.textContent()).includes('My laptop'), 'the key this browser uses is marked');
    await mine.locator('[data-testid=apikey-revoke]').click();
    const dlg = tenantPage.locator('[data-testid=apikey-revoke-dialog]');
    check(/signs you out/.test(await dlg.locator('[data-testid=apikey-revoke-own]').textContent()), 'the dialog warns that it signs you out');
    check(await dlg.locator('[data-testid=confirm-cancel]').textContent() === 'Keep key', 'the way out says "Keep key"');
    await shot(tenantPage, 'apikey-revoke-own');
    await dlg.locator('[data-testid=confirm-submit]').click();
    await until(tenantPage, 'the console signs out', () => location.hash.startsWith('#/signin'));
    const notice = await text(tenantPage, '[data-testid=signout-notice]');
    check(/My laptop/.test(notice) && !/UNAUTHENTICATED/.test(notice), `the sign-in page says in words which key was revoked: ${notice}`);
    const bad = (await toasts(tenantPage)).filter((t) => /stopped/.test(t));
    check(bad.length === 0, `no "live updates stopped" toast for an expected sign-out: ${bad.join(' | ')}`);
    const r = await api(own, '{ viewer { role } }');
    check(r.errors && r.errors[0].extensions.code === 'UNAUTHENTICATED', 'the key is revoked');
    check((await must(c.key, '{ viewer { role } }')).viewer.role === 'TENANT', 'its other keys still work');
    await shot(tenantPage, 'signed-out');
  });
});
