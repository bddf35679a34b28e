// console.e2e.mjs drives tenantd's web console in a real Chromium with
// playwright-core: an admin reads the activation funnel, a visitor signs up
// through the activation wizard (provisioning watched live, a first upload, a
// first query), the funnel moves, and the admin finds the new tenant, reads
// its timeline and suspends it with a confirmation while the page follows it
// live, changes its plan (the data moving live), cancels its subscription
// at the period end and takes it back, cancels it now, reactivates it (a
// declined card said in words, then a charged one with the new key shown
// once), pauses it for a week and resumes it, exports its data (when the
// server has exports: found by introspection) and downloads the ZIP, deletes
// it with the slug typed to confirm, restores it (a new key shown once),
// deletes it again and purges it at once, and reads the purge certificate.
// tenantd's Go test suite runs it against a real server
// (internal/console/browser_test.go).
//
//   node console.e2e.mjs <baseURL> <adminToken> <artifactsDir>
//
// A screenshot after each major step goes to artifactsDir. Exit 0 on
// success; on failure it prints what failed, saves failure screenshots and
// exits 1. CHROMIUM_PATH overrides /usr/bin/chromium.
import { randomUUID } from 'node:crypto';
import { harness, check, text, until } from './e2e-harness.mjs';

const [base, adminToken, artifacts] = process.argv.slice(2);
if (!base || !adminToken || !artifacts) {
  console.error('usage: node console.e2e.mjs <baseURL> <adminToken> <artifactsDir>');
  process.exit(2);
}

// The Go test kills us at 3 minutes.
const { newPage, shot, step, run, log } = await harness({ base, artifacts, overallMs: 170_000 });
const count = async (page, sel) => Number(await text(page, sel));

async function adminAPI(query, variables) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`API: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const slug = `e2e-${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
const word = `zephyrine${randomUUID().replace(/\D/g, '').slice(0, 6)}`;
let before;
let tenantId;

await run(async () => {
  // (a) The admin signs in and reads the funnel.
  const admin = await newPage('admin');
  await step('admin signs in', async () => {
    await admin.goto('/');
    await until(admin, 'an unauthenticated visit lands on the sign-in page', () => location.hash.startsWith('#/signin'));
    await admin.fill('[data-testid=signin-token]', 'tda_not_a_real_token_0000000000');
    await admin.click('[data-testid=signin-submit]');
    await admin.locator('[data-testid=signin-error] [data-testid=error-message]').first().waitFor();
    const refusal = await text(admin, '[data-testid=signin-error]');
    check(/not valid/.test(refusal) && !/UNAUTHENTICATED/.test(refusal), `a bad token is said in words, without a code: ${refusal}`);
    await admin.fill('[data-testid=signin-token]', adminToken);
    await admin.click('[data-testid=signin-submit]');
    await until(admin, 'the sign-in answers', () => location.hash.startsWith('#/dashboard') || !!document.querySelector('[data-testid=signin-error]'));
    const refused = await admin.locator('[data-testid=signin-error]').allTextContents();
    check(refused.length === 0, `the admin token is refused: ${refused.join(' ')}`);
    await until(admin, 'the header shows the ADMIN viewer', () => document.querySelector('[data-testid=viewer-role]')?.textContent === 'ADMIN');
  });

  await step('dashboard shows the funnel, states, provisioning and readiness', async () => {
    await admin.locator('[data-testid=funnel-count-SIGNED_UP]').waitFor();
    await admin.locator('[data-testid=funnel-chart]').waitFor();
    await admin.locator('[data-testid=state-chart] svg').waitFor();
    await admin.locator('[data-testid=activation-gauge] svg').waitFor();
    await admin.locator('[data-testid=prov-p50]').waitFor();
    await admin.locator('[data-testid=readiness-status]').waitFor();
    for (const card of ['card-states', 'card-funnel', 'card-provisioning', 'card-readiness']) {
      const errors = await admin.locator(`[data-testid=${card}] [data-testid=error]`).allTextContents();
      check(errors.length === 0, `the ${card} card shows an error: ${errors.join(' / ')}`);
    }
    before = {
      signedUp: await count(admin, '[data-testid=funnel-count-SIGNED_UP]'),
      firstQuery: await count(admin, '[data-testid=funnel-count-FIRST_QUERY]'),
    };
    log(`  funnel before: SIGNED_UP=${before.signedUp} FIRST_QUERY=${before.firstQuery}`);
    await until(admin, 'the dashboard follows tenantEvents live (indicator open)',
      () => document.querySelector('[data-testid=live-indicator]')?.dataset.state === 'open');
    await shot(admin, 'admin-dashboard');
  });

  // (b) A visitor signs up through the wizard, in a fresh context.
  const visitor = await newPage('visitor');
  await step('wizard: field errors and a declined card', async () => {
    await visitor.goto('/#/signup');
    await visitor.locator('[data-testid=signup-plan] option[value=starter]').waitFor({ state: 'attached' });
    await visitor.fill('[data-testid=signup-name]', `E2E ${slug}`);
    check(await visitor.inputValue('[data-testid=signup-slug]') === `e2e-${slug}`, 'the slug is derived from the name');
    await visitor.fill('[data-testid=signup-slug]', 'Not A Slug!');
    await visitor.fill('[data-testid=signup-email]', `owner@${slug}.example.com`);
    await visitor.selectOption('[data-testid=signup-plan]', 'starter');
    await visitor.click('[data-testid=signup-submit]');
    await visitor.locator('[data-testid=field-error-slug]').waitFor({ state: 'visible' });
    check(/lower-case letters/.test(await text(visitor, '[data-testid=field-error-slug]')), 'a bad slug is said in words at its field');
    await visitor.fill('[data-testid=signup-slug]', slug);
    await visitor.selectOption('[data-testid=signup-payment]', 'pm_card_chargeDeclined');
    await visitor.click('[data-testid=signup-submit]');
    await until(visitor, 'a declined card is said at the payment method',
      () => /declined/.test(document.querySelector('[data-testid=field-error-paymentMethod]')?.textContent || ''));
    check(!/PAYMENT_DECLINED|INVALID_INPUT/.test(await visitor.locator('main').innerText()), 'no error code on the signup page');
    await shot(visitor, 'wizard-errors');
  });

  await step('wizard: sign up and watch provisioning live to 4/4', async () => {
    await visitor.selectOption('[data-testid=signup-payment]', 'pm_card_visa');
    await visitor.click('[data-testid=signup-submit]');
    await visitor.locator('[data-testid=wizard-step-provision]').waitFor();
    const key = await text(visitor, '[data-testid=api-key]');
    check(key.startsWith('tdk_'), `the API key is shown once (got ${key.slice(0, 8)}…)`);
    await until(visitor, 'the provisioning progress reaches 4/4',
      () => document.querySelector('[data-testid=provision-progress-count]')?.textContent === '4/4', null, 60_000);
    await until(visitor, 'every provisioning step is SUCCEEDED', () => {
      const steps = [...document.querySelectorAll('[data-testid=provision-step]')];
      return steps.length === 4 && steps.every((s) => s.dataset.status === 'SUCCEEDED');
    });
    check(await text(visitor, '[data-testid=provision-status]') === 'SUCCEEDED', 'the operation is SUCCEEDED');
    check(Number(await visitor.getAttribute('[data-testid=provision-messages]', 'data-count')) >= 1, 'progress arrived over the subscription');
    check(await visitor.evaluate(() => localStorage.getItem('tenantd.console.token')) === key, 'the API key became the console token');
    await until(visitor, 'the header shows the TENANT viewer', () => document.querySelector('[data-testid=viewer-role]')?.textContent === 'TENANT');
    await shot(visitor, 'wizard-provisioned');
  });

  await step('wizard: upload a first document', async () => {
    await visitor.click('[data-testid=wizard-next]');
    await visitor.locator('[data-testid=wizard-step-upload]').waitFor();
    await visitor.fill('[data-testid=upload-title]', `Field guide ${slug}`);
    await visitor.fill('[data-testid=upload-content]',
      `The ${word} is a small migratory bird. Every spring the ${word} crosses the mountains, and rangers count it at dawn.\n\nUnrelated paragraph about invoices and refunds.`);
    await visitor.click('[data-testid=upload-submit]');
    await visitor.locator('[data-testid=upload-result]').waitFor();
    await shot(visitor, 'wizard-uploaded');
  });

  await step('wizard: a first query finds it, highlighted', async () => {
    await visitor.click('[data-testid=wizard-next]');
    await visitor.locator('[data-testid=wizard-step-query]').waitFor();
    await visitor.fill('[data-testid=search-query]', word);
    await visitor.click('[data-testid=search-submit]');
    await visitor.locator('[data-testid=search-hit]').first().waitFor();
    const marks = await visitor.locator('[data-testid=search-hit] [data-testid=search-snippet] mark').allTextContents();
    check(marks.some((m) => m.toLowerCase().includes(word)), `a hit highlights "${word}" (marks: ${JSON.stringify(marks)})`);
    await shot(visitor, 'wizard-first-query');
    await visitor.click('[data-testid=wizard-next]');
    await visitor.locator('[data-testid=wizard-step-done]').waitFor();
    tenantId = await visitor.getAttribute('[data-testid=wizard-tenant-link]', 'data-tenant-id');
    check(tenantId, 'the last step links to the tenant');
    log(`  tenant ${tenantId} (${slug})`);
    await shot(visitor, 'wizard-done');
  });

  await step('a tenant key lands on its own tenant page', async () => {
    await visitor.goto('/#/');
    await until(visitor, 'the tenant key lands on its tenant page', (id) => location.hash === `#/tenants/${id}`, tenantId);
    await until(visitor, 'its state is ACTIVE', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'ACTIVE');
    check(await visitor.locator('[data-testid=action-suspend]').count() === 0, 'a tenant key cannot suspend');
    check(await visitor.locator('[data-testid=action-cancel]').count() === 1, 'a tenant key may cancel its subscription');
    check(await visitor.locator('[data-testid=action-pause]').count() === 1, 'a tenant key may pause its subscription');
  });

  // (c) The funnel moved.
  await step('dashboard: SIGNED_UP moved live, FIRST_QUERY after a refresh', async () => {
    await admin.bringToFront();
    await until(admin, `SIGNED_UP moves live to ${before.signedUp + 1} (tenantEvents)`,
      (n) => Number(document.querySelector('[data-testid=funnel-count-SIGNED_UP]')?.textContent) === n, before.signedUp + 1, 20_000);
    // A first query is a milestone, not a lifecycle event: refresh.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const fq = await count(admin, '[data-testid=funnel-count-FIRST_QUERY]');
      if (fq === before.firstQuery + 1) break;
      check(Date.now() < deadline, `FIRST_QUERY is ${fq}, want ${before.firstQuery + 1}`);
      await admin.click('[data-testid=dashboard-refresh]');
      await admin.waitForTimeout(700);
    }
    check(await count(admin, '[data-testid=funnel-count-SIGNED_UP]') === before.signedUp + 1, 'SIGNED_UP is +1');
    check(await admin.locator(`[data-testid=dropoff-tenant][data-tenant-id="${tenantId}"]`).count() === 0, 'the new tenant is in no drop-off list');
    await admin.locator('[data-testid=funnel-chart] svg').waitFor();
    await admin.locator('[data-testid=durations-chart] svg rect.bar').first().waitFor();
    await shot(admin, 'dashboard-after-signup');
  });

  // (d) The admin finds the tenant and suspends it.
  await step('tenant list: search finds the new tenant', async () => {
    await admin.click('[data-testid=nav-tenants]');
    await admin.locator('[data-testid=tenant-search]').waitFor();
    await admin.fill('[data-testid=tenant-search]', slug);
    await until(admin, 'exactly the new tenant matches', (s) => {
      const rows = [...document.querySelectorAll('[data-testid=tenant-row]')];
      return rows.length === 1 && rows[0].dataset.slug === s;
    }, slug);
    check(await text(admin, '[data-testid=tenant-row] [data-testid=tenant-row-state]') === 'ACTIVE', 'the row shows ACTIVE');
    await shot(admin, 'tenant-search');
  });

  await step('tenant page: the timeline shows signup, provision, activate', async () => {
    await admin.click('[data-testid=tenant-row] [data-testid=tenant-link]');
    await until(admin, 'the tenant page opens', (id) => location.hash === `#/tenants/${id}`, tenantId);
    await until(admin, 'the state is ACTIVE', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'ACTIVE');
    await until(admin, 'the timeline reads signup, provision, activate', () => {
      const ev = [...document.querySelectorAll('[data-testid=timeline-item]')].map((li) => li.dataset.event);
      return ev.slice(0, 3).join() === 'signup,provision,activate';
    });
    await until(admin, 'the PROVISION operation shows 4/4',
      () => document.querySelector('[data-testid=operation][data-kind=PROVISION] [data-testid=operation-progress-count]')?.textContent === '4/4');
    await admin.locator('[data-testid=action-suspend]').waitFor();
    check(await admin.locator('[data-testid=action-resume]').count() === 0, 'resume is not offered to an ACTIVE tenant');
    await until(admin, 'the page follows the tenant live', () => document.querySelector('[data-testid=live-indicator]')?.dataset.state === 'open');
    await shot(admin, 'tenant-page');
  });

  await step('tenant page: suspend with confirmation', async () => {
    await admin.click('[data-testid=action-suspend]');
    const dialog = admin.locator('[data-testid=confirm-dialog]');
    await dialog.waitFor({ state: 'visible' });
    await admin.click('[data-testid=confirm-cancel]');
    await dialog.waitFor({ state: 'detached' });
    check(await text(admin, '[data-testid=tenant-state]') === 'ACTIVE', 'cancelling the dialog changes nothing');
    await admin.click('[data-testid=action-suspend]');
    await dialog.waitFor({ state: 'visible' });
    await admin.fill('[data-testid=confirm-reason]', 'e2e: suspended from the console');
    await shot(admin, 'suspend-confirm');
    await admin.click('[data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await until(admin, 'the state badge turns SUSPENDED', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'SUSPENDED');
    await until(admin, 'the timeline gains the suspend row with its reason', () => {
      const li = document.querySelector('[data-testid=timeline-item][data-event=suspend]');
      return li && li.textContent.includes('e2e: suspended from the console');
    });
    await admin.locator('[data-testid=action-resume]').waitFor();
    check(await admin.locator('[data-testid=action-suspend]').count() === 0, 'suspend is gone once SUSPENDED');
    await shot(admin, 'suspended');
  });

  await step('tenant page: a change made elsewhere arrives live', async () => {
    const before = await admin.evaluate(() => performance.getEntriesByType('navigation').length);
    await adminAPI('mutation($input: TenantTransitionInput!) { resumeTenant(input: $input) { tenant { state } } }',
      { input: { tenantId, reason: 'e2e: resumed through the API' } });
    await until(admin, 'the badge turns ACTIVE without a reload', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'ACTIVE');
    await until(admin, 'the resume row arrives live', () => !!document.querySelector('[data-testid=timeline-item][data-event=resume]'));
    check(await admin.evaluate(() => performance.getEntriesByType('navigation').length) === before, 'the page did not reload');
    await shot(admin, 'resumed-live');
  });

  // (e) The admin changes the tenant's plan: the preview, the data moving
  // live, then a scheduled downgrade and its undo.
  await step('tenant page: change plan shows the preview', async () => {
    await admin.click('[data-testid=action-change-plan]');
    const dialog = admin.locator('[data-testid=confirm-dialog]');
    await dialog.waitFor({ state: 'visible' });
    await admin.selectOption('[data-testid=change-plan-select]', 'pro');
    await until(admin, 'the preview says the data moves', () =>
      document.querySelector('[data-testid=preview-data-moves]')?.textContent.includes('moves from the shared tables to its own database'));
    check((await text(admin, '[data-testid=preview-direction]')).startsWith('upgrade'), 'an upgrade');
    check((await text(admin, '[data-testid=preview-effective]')).startsWith('now'), 'an upgrade takes effect now');
    check((await text(admin, '[data-testid=preview-limits]')).includes('documents'), 'the new limits are shown');
    await shot(admin, 'change-plan-preview');
    await admin.click('[data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
  });

  await step('tenant page: the data move streams to DONE', async () => {
    await until(admin, 'the CHANGE_PLAN operation succeeds', () =>
      document.querySelector('[data-testid=operation][data-kind=CHANGE_PLAN]')?.dataset.status === 'SUCCEEDED', null, 60_000);
    await until(admin, 'the move shows DONE with the write pause', () => {
      const m = document.querySelector('[data-testid=operation][data-kind=CHANGE_PLAN] [data-testid=operation-move]');
      return m && m.dataset.phase === 'DONE' && !!m.querySelector('[data-testid=move-pause]');
    });
    await until(admin, 'the plan reads Pro', () => document.querySelector('[data-testid=tenant-plan]')?.textContent.includes('(pro)'));
    check((await text(admin, '[data-testid=tenant-plan]')).includes('own database'), 'the tenant is a silo now');
    await shot(admin, 'change-plan-moved');
  });

  await step('tenant page: a downgrade is scheduled, and undone', async () => {
    await admin.click('[data-testid=action-change-plan]');
    const dialog = admin.locator('[data-testid=confirm-dialog]');
    await dialog.waitFor({ state: 'visible' });
    await admin.selectOption('[data-testid=change-plan-select]', 'starter');
    await until(admin, 'the preview says at the end of the period', () =>
      document.querySelector('[data-testid=preview-effective]')?.textContent.startsWith('at the end of the billing period'));
    await admin.click('[data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await until(admin, 'the scheduled change shows', () =>
      document.querySelector('[data-testid=scheduled-plan-change]')?.textContent.includes('to Starter'));
    await shot(admin, 'change-plan-scheduled');
    await admin.click('[data-testid=scheduled-undo]');
    await until(admin, 'the undo clears it', () =>
      document.querySelector('[data-testid=scheduled-plan-change]')?.textContent.includes('none scheduled'));
  });

  const toastsMatching = (re) => admin.evaluate((src) => [...document.querySelectorAll('[data-testid=toast]')]
    .filter((t) => new RegExp(src).test(t.textContent)).length, re.source);
  const dialog = admin.locator('[data-testid=confirm-dialog]');
  const submitDisabled = () => admin.isDisabled('[data-testid=confirm-dialog] [data-testid=confirm-submit]');

  // (f) The subscription: a cancellation at the end of the billing period
  // and its undo, a cancellation now, reactivation (declined, then charged),
  // a pause and its early resume.
  const stateIs = (s) => until(admin, `the state turns ${s}`, (want) => document.querySelector('[data-testid=tenant-state]')?.textContent === want, s, 30_000);
  const daysAway = (iso) => (new Date(iso).getTime() - Date.now()) / 86_400_000;
  // Toasts of earlier steps may still show: each step counts its own.
  const clearToasts = () => admin.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  // The live stream may redraw the page before the mutation's answer brings the toast.
  const oneToast = async (re, message) => {
    await until(admin, message, (src) => [...document.querySelectorAll('[data-testid=toast]')].some((t) => new RegExp(src).test(t.textContent)), re.source, 5000);
    check(await toastsMatching(re) === 1, message);
  };

  await step('cancel dialog: a tenant key waits for the period end by default', async () => {
    await visitor.click('[data-testid=action-cancel]');
    const vd = visitor.locator('[data-testid=confirm-dialog]');
    await vd.waitFor({ state: 'visible' });
    check(await visitor.isChecked('[data-testid=cancel-when-period_end]'), 'a tenant key’s default is the end of the billing period');
    check(await text(visitor, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep subscription', 'the way out says "Keep subscription"');
    await visitor.click('[data-testid=confirm-dialog] [data-testid=confirm-cancel]');
    await vd.waitFor({ state: 'detached' });
  });

  let periodEnd;
  await step('cancel at the end of the billing period: "too expensive", the banner with its date', async () => {
    await admin.bringToFront();
    await clearToasts();
    await admin.click('[data-testid=action-cancel]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep subscription', 'the way out says "Keep subscription"');
    check(await admin.isChecked('[data-testid=cancel-when-now]'), 'an admin’s default is now');
    const reasons = await text(admin, '[data-testid=cancel-feedback-choices]');
    check(reasons.includes('Too expensive') && reasons.includes('Switched to another service') && !reasons.includes('too_expensive'), `the reasons are in words: ${reasons}`);
    await admin.locator('[data-testid=cancel-period-end]').waitFor();
    periodEnd = await admin.getAttribute('[data-testid=cancel-period-end]', 'datetime');
    check(daysAway(periodEnd) > 0 && daysAway(periodEnd) <= 32, `the choice names the period end, within a month (${periodEnd})`);
    await admin.check('[data-testid=cancel-feedback-too_expensive]');
    await admin.check('[data-testid=cancel-when-period_end]');
    check((await text(admin, '[data-testid=cancel-consequence]')).includes('stays active until'), 'the dialog says it stays active until then');
    await admin.fill('[data-testid=cancel-comment]', 'e2e: the price went up');
    await admin.fill('[data-testid=confirm-reason]', 'e2e: the customer asked by mail');
    await shot(admin, 'cancel-dialog');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    const banner = admin.locator('[data-testid=cancellation-banner]');
    await banner.waitFor({ state: 'visible' });
    const words = await text(admin, '[data-testid=cancellation-banner-text]');
    check(words.startsWith('Cancels on') && words.includes('— Too expensive'), `the banner says when and why: ${words}`);
    check(await admin.getAttribute('[data-testid=banner-cancel-date]', 'datetime') === periodEnd, 'the banner’s date is the period end');
    check(await text(admin, '[data-testid=tenant-state]') === 'ACTIVE', 'the tenant stays ACTIVE until then');
    await oneToast(/Cancellation scheduled/, 'one toast for the cancellation');
    await until(admin, 'the CANCEL operation shows on the page', () => !!document.querySelector('[data-testid=operation][data-kind=CANCEL]'));
    await shot(admin, 'cancellation-scheduled');
  });

  await step('undo cancellation: the banner goes', async () => {
    await clearToasts();
    await admin.click('[data-testid=banner-undo-cancel]');
    await admin.locator('[data-testid=cancellation-banner]').waitFor({ state: 'detached' });
    await oneToast(/Cancellation taken back/, 'one toast for the undo');
    check(await text(admin, '[data-testid=tenant-state]') === 'ACTIVE', 'still ACTIVE');
    const after = (await adminAPI('query($id: ID!) { tenant(id: $id) { scheduledCancellation { effectiveAt } } }', { id: tenantId })).tenant;
    check(after.scheduledCancellation === null, 'the API has no cancellation scheduled');
  });

  await step('cancel now: CANCELED', async () => {
    await clearToasts();
    await admin.click('[data-testid=action-cancel]');
    await dialog.waitFor({ state: 'visible' });
    await admin.check('[data-testid=cancel-feedback-switched_service]');
    check(await admin.isChecked('[data-testid=cancel-when-now]'), 'now is chosen');
    check((await text(admin, '[data-testid=cancel-consequence]')).includes('ends now'), 'the dialog says it ends now');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await stateIs('CANCELED');
    await until(admin, 'the timeline gains the cancel row', () => !!document.querySelector('[data-testid=timeline-item][data-event=cancel]'));
    await oneToast(/^Canceled:/, 'one toast for the cancellation');
    check(await toastsMatching(/is now CANCELED/) === 0, 'no second toast from the live stream');
    check(await admin.locator('[data-testid=cancellation-banner]').count() === 0, 'no banner of a scheduled cancellation');
    await admin.locator('[data-testid=action-reactivate]').waitFor();
    check(await admin.locator('[data-testid=action-cancel], [data-testid=action-pause], [data-testid=action-change-plan]').count() === 0, 'a canceled tenant cannot be canceled, paused or moved to another plan');
    await shot(admin, 'canceled');
  });

  await step('reactivate with a declined card: said in words, still CANCELED', async () => {
    await clearToasts();
    await admin.click('[data-testid=action-reactivate]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep canceled', 'the way out says "Keep canceled"');
    const offered = await admin.locator('[data-testid=reactivate-plan] option').evaluateAll((os) => os.map((o) => o.value));
    check(offered.includes('pro') && !offered.includes('free') && !offered.includes('starter'), `only plans of its isolation (silo) are offered: ${offered}`);
    check(await admin.inputValue('[data-testid=reactivate-plan]') === 'pro', 'its plan is chosen');
    await admin.selectOption('[data-testid=reactivate-payment]', 'pm_card_chargeDeclined');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    const progress = admin.locator('[data-testid=reactivate-progress]');
    await progress.waitFor({ state: 'visible' });
    await admin.locator('[data-testid=reactivate-failed]').waitFor({ timeout: 30_000 });
    const words = await text(admin, '[data-testid=reactivate-failed] [data-testid=error-message]');
    check(words.includes('declined') && words.includes('nothing was charged') && words.includes('stays canceled'), `the failure is said in words: ${words}`);
    check(!/PAYMENT_DECLINED/.test(await text(admin, '[data-testid=reactivate-progress]')), 'no raw code in the dialog');
    check(await admin.locator('[data-testid=reactivate-api-key]').count() === 0, 'no key is shown for a failed reactivation');
    await oneToast(/Not reactivated/, 'one toast for the failure');
    await shot(admin, 'reactivate-declined');
    await admin.click('[data-testid=reactivate-close]');
    await progress.waitFor({ state: 'detached' });
    check(await text(admin, '[data-testid=tenant-state]') === 'CANCELED', 'still CANCELED');
    await until(admin, 'the REACTIVATE operation shows FAILED', () => !!document.querySelector('[data-testid=operation][data-kind=REACTIVATE][data-status=FAILED]'));
  });

  await step('reactivate with a card that is charged: ACTIVE, the new key shown once', async () => {
    await clearToasts();
    await admin.click('[data-testid=action-reactivate]');
    await dialog.waitFor({ state: 'visible' });
    await admin.selectOption('[data-testid=reactivate-payment]', 'pm_card_visa');
    await admin.fill('[data-testid=confirm-reason]', 'e2e: the customer is coming back');
    await shot(admin, 'reactivate-dialog');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    const progress = admin.locator('[data-testid=reactivate-progress]');
    await progress.waitFor({ state: 'visible' });
    await admin.locator('[data-testid=reactivate-succeeded]').waitFor({ timeout: 30_000 });
    const key = await text(admin, '[data-testid=reactivate-api-key]');
    check(key.startsWith('tdk_'), `the new API key is shown (got ${key.slice(0, 8)}…)`);
    check((await text(admin, '[data-testid=reactivate-progress] [data-testid=api-key-once]')).includes('shown only this once'), 'it warns that the key is shown once');
    await admin.click('[data-testid=copy-reactivate-api-key]');
    await until(admin, 'the copy button answers', () => /Copied|Copy failed/.test(document.querySelector('[data-testid=copy-reactivate-api-key]')?.textContent || ''));
    await shot(admin, 'reactivated-key-once');
    await admin.click('[data-testid=reactivate-done]');
    await progress.waitFor({ state: 'detached' });
    await stateIs('ACTIVE');
    check(!(await admin.evaluate((k) => document.body.innerText.includes(k), key)), 'once closed, the key is nowhere on the page');
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ viewer { role tenant { id state } } }' }),
    });
    const v = (await res.json()).data?.viewer;
    check(v && v.role === 'TENANT' && v.tenant.id === tenantId && v.tenant.state === 'ACTIVE', `the new key works for the tenant (${JSON.stringify(v)})`);
    await until(admin, 'the timeline gains the reactivate row', () => !!document.querySelector('[data-testid=timeline-item][data-event=reactivate]'));
    const toasts = await admin.locator('[data-testid=toast]').allTextContents();
    await oneToast(/^Reactivated:/, `one toast for the reactivation: ${toasts.join(' | ')}`);
    check(await toastsMatching(/is now ACTIVE/) === 0, `no second toast from the live stream: ${toasts.join(' | ')}`);
  });

  await step('pause for 7 days: SUSPENDED with the paused banner', async () => {
    await clearToasts();
    await admin.click('[data-testid=action-pause]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep active', 'the way out says "Keep active"');
    const day = (n) => admin.evaluate((k) => {
      const d = new Date(); d.setHours(0, 0, 0, 0); d.setDate(d.getDate() + k);
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    }, n);
    check(await admin.getAttribute('[data-testid=pause-until]', 'min') === await day(1), 'the earliest date is tomorrow');
    check(await admin.getAttribute('[data-testid=pause-until]', 'max') === await day(90), 'the latest date is 90 days ahead');
    await admin.fill('[data-testid=pause-until]', await day(120));
    await admin.press('[data-testid=pause-until]', 'Tab');
    await admin.locator('[data-testid=field-error-resumesAt]').waitFor({ state: 'visible' });
    check((await text(admin, '[data-testid=field-error-resumesAt]')).includes('1 to 90 days'), 'a date beyond 90 days is said in words next to the field');
    check(await submitDisabled(), 'Pause is disabled with a date beyond 90 days');
    await admin.fill('[data-testid=pause-until]', await day(7));
    await admin.locator('[data-testid=field-error-resumesAt]').waitFor({ state: 'hidden' });
    check((await text(admin, '[data-testid=pause-summary]')).includes('(7 days)'), 'the dialog says how long');
    await admin.fill('[data-testid=confirm-reason]', 'e2e: seasonal business');
    await shot(admin, 'pause-dialog');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await stateIs('SUSPENDED');
    await admin.locator('[data-testid=paused-banner]').waitFor({ state: 'visible' });
    const words = await text(admin, '[data-testid=paused-banner-text]');
    check(words.startsWith('Paused until') && words.includes('resumes by itself'), `the banner says until when: ${words}`);
    const away = daysAway(await admin.getAttribute('[data-testid=banner-paused-until]', 'datetime'));
    check(away > 6 && away <= 7.01, `it resumes in 7 days (${away.toFixed(3)})`);
    await oneToast(/^Paused:/, 'one toast for the pause');
    check(await toastsMatching(/is now SUSPENDED/) === 0, 'no second toast from the live stream');
    check(await admin.locator('[data-testid=action-resume]').count() === 0, 'the banner, not the actions, offers Resume');
    await shot(admin, 'paused');
  });

  await step('resume the paused tenant (admin): ACTIVE, the banner goes', async () => {
    await clearToasts();
    await admin.click('[data-testid=banner-resume]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep paused', 'the way out says "Keep paused"');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await stateIs('ACTIVE');
    await admin.locator('[data-testid=paused-banner]').waitFor({ state: 'detached' });
    await oneToast(/^Resume: recorded/, 'one toast for the resume');
    check(await toastsMatching(/is now ACTIVE/) === 0, 'no second toast from the live stream');
    await until(admin, 'the RESUME operation shows', () => !!document.querySelector('[data-testid=operation][data-kind=RESUME]'));
    await shot(admin, 'resumed-from-pause');
  });

  // (g) Export, deletion with its retention window, restore, deletion again
  // and an immediate purge with its certificate.
  const mutations = (await adminAPI('{ __type(name: "Mutation") { fields { name } } }')).__type.fields.map((f) => f.name);
  const hasExport = mutations.includes('requestDataExport');
  if (hasExport) {
    await step('tenant page: export JSON, follow it live, download the ZIP', async () => {
      await admin.locator('[data-testid=card-exports]').waitFor({ state: 'visible' });
      await admin.locator('[data-testid=export-format-toggle] label', { hasText: 'JSON' }).click();
      await admin.click('[data-testid=export-start]');
      await until(admin, 'the export shows its progress (or is already done)',
        () => !!document.querySelector('[data-testid=export-progress], [data-testid=export-ready]'));
      await until(admin, 'the EXPORT operation is followed on the page', () => !!document.querySelector('[data-testid=operation][data-kind=EXPORT]'));
      await shot(admin, 'export-progress');
      await admin.locator('[data-testid=export-download]').waitFor({ timeout: 60_000 });
      check(await admin.locator('[data-testid=operation][data-kind=EXPORT]').first().getAttribute('data-status') === 'SUCCEEDED', 'the EXPORT operation SUCCEEDED');
      const href = await admin.getAttribute('[data-testid=export-download]', 'href');
      check(href, 'the download link has a URL');
      check((await text(admin, '[data-testid=export-expiry]')).includes('works until'), 'the link says when it expires');
      const res = await fetch(new URL(href, base));
      const type = res.headers.get('content-type') || '';
      const zip = Buffer.from(await res.arrayBuffer());
      check(res.status === 200, `the signed download link answers 200, not ${res.status}`);
      check(type.startsWith('application/zip'), `the download is application/zip, not ${type}`);
      check(zip.subarray(0, 2).toString('latin1') === 'PK', 'the download is a ZIP archive');
      log(`  downloaded ${zip.length} bytes (${type})`);
      await until(admin, 'the export list shows it READY', () => !!document.querySelector('[data-testid=export-row][data-status=READY]'));
      await shot(admin, 'export-ready');
    });
  } else {
    await step('tenant page: no export in this tenantd, so no export button', async () => {
      log('  SKIP export: the schema has no requestDataExport mutation (introspection), so the export step cannot run; checking that the console hides the export card');
      await until(admin, 'the console finds out that exports are missing', () => document.querySelector('[data-testid=card-exports]')?.dataset.supported === 'false');
      check(await admin.locator('[data-testid=card-exports]').isHidden(), 'the export card is hidden');
      check(await admin.locator('[data-testid=export-start]').isHidden(), 'no export button');
    });
  }

  await step('deletion dialog: the slug must match, 30–90 days, the purge date', async () => {
    await admin.click('[data-testid=action-delete]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep tenant', 'the way out says "Keep tenant"');
    check(await admin.inputValue('[data-testid=delete-retention]') === '30', 'the retention is 30 days unless chosen');
    check(await submitDisabled(), 'Delete is disabled before the slug is typed');
    await admin.fill('[data-testid=delete-confirm-slug]', `${slug}x`);
    check(await submitDisabled(), 'Delete is disabled with a wrong slug');
    check((await text(admin, '[data-testid=delete-slug-status]')).includes('Does not match'), 'a wrong slug is said not to match');
    await admin.fill('[data-testid=delete-confirm-slug]', slug);
    await admin.fill('[data-testid=delete-retention]', '120');
    await admin.press('[data-testid=delete-retention]', 'Tab');
    await admin.locator('[data-testid=field-error-retentionDays]').waitFor({ state: 'visible' });
    check((await text(admin, '[data-testid=field-error-retentionDays]')).includes('from 30 to 90'), 'an out-of-range retention is said in words next to the field');
    check(await submitDisabled(), 'Delete is disabled with 120 days');
    await admin.fill('[data-testid=delete-retention]', '45');
    await admin.locator('[data-testid=field-error-retentionDays]').waitFor({ state: 'hidden' });
    check(!(await submitDisabled()), 'Delete is enabled with the slug and 45 days');
    check((await text(admin, '[data-testid=delete-purge-date]')).includes('in 45 days'), 'the dialog shows the purge date');
    await admin.fill('[data-testid=delete-reason]', 'e2e: the customer asked to close the account');
    await shot(admin, 'delete-dialog');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
  });

  await step('pending deletion: the banner gives the purge date, with Restore and Purge now', async () => {
    await until(admin, 'the state turns PENDING_DELETION', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'PENDING_DELETION');
    const banner = admin.locator('[data-testid=deletion-banner]');
    await banner.waitFor({ state: 'visible' });
    check((await text(admin, '[data-testid=deletion-banner-text]')).includes('will be purged on'), 'the banner says when it will be purged');
    const at = new Date(await admin.getAttribute('[data-testid=banner-purge-date]', 'datetime'));
    const days = (at.getTime() - Date.now()) / 86_400_000;
    check(days > 44.9 && days <= 45.01, `the purge date is 45 days away (${days.toFixed(3)})`);
    await admin.locator('[data-testid=banner-restore]').waitFor();
    await admin.locator('[data-testid=banner-purge]').waitFor();
    check(await admin.locator('[data-testid=action-delete]').count() === 0, 'no second deletion');
    await until(admin, 'the timeline gains the request_deletion row', () => !!document.querySelector('[data-testid=timeline-item][data-event=request_deletion]'));
    check(await toastsMatching(/Deletion requested/) === 1, 'one toast for the deletion');
    check(await toastsMatching(/is now PENDING_DELETION/) === 0, 'no second toast from the live stream');
    await shot(admin, 'pending-deletion');
  });

  let newKey;
  await step('restore: back to ACTIVE with a new API key, shown once', async () => {
    await admin.click('[data-testid=banner-restore]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep deleted', 'the way out says "Keep deleted"');
    await admin.fill('[data-testid=confirm-reason]', 'e2e: deleted by mistake');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    const keyDialog = admin.locator('[data-testid=api-key-dialog]');
    await keyDialog.waitFor({ state: 'visible' });
    newKey = await text(admin, '[data-testid=restore-api-key]');
    check(newKey.startsWith('tdk_'), `the new API key is shown (got ${newKey.slice(0, 8)}…)`);
    check((await text(admin, '[data-testid=api-key-once]')).includes('Shown only this once'), 'it warns that the key is shown once');
    await admin.click('[data-testid=copy-restore-api-key]');
    await until(admin, 'the copy button answers', () => /Copied|Copy failed/.test(document.querySelector('[data-testid=copy-restore-api-key]')?.textContent || ''));
    await shot(admin, 'restore-key-once');
    await admin.click('[data-testid=api-key-dialog] [data-testid=confirm-submit]');
    await keyDialog.waitFor({ state: 'detached' });
    await until(admin, 'the state is ACTIVE again', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'ACTIVE');
    await admin.locator('[data-testid=deletion-banner]').waitFor({ state: 'detached' });
    check(!(await admin.evaluate((k) => document.body.innerText.includes(k), newKey)), 'once closed, the key is nowhere on the page');
    const res = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${newKey}` },
      body: JSON.stringify({ query: '{ viewer { role tenant { id state } } }' }),
    });
    const v = (await res.json()).data?.viewer;
    check(v && v.role === 'TENANT' && v.tenant.id === tenantId, `the new key works for the tenant (${JSON.stringify(v)})`);
    await until(admin, 'the timeline gains the restore row', () => !!document.querySelector('[data-testid=timeline-item][data-event=restore]'));
    await shot(admin, 'restored');
  });

  await step('delete again: a deletion made elsewhere meanwhile is said in words', async () => {
    await admin.click('[data-testid=action-delete]');
    await dialog.waitFor({ state: 'visible' });
    await admin.fill('[data-testid=delete-confirm-slug]', slug);
    // Someone else deletes it first (with the default retention): the
    // dialog's request meets INVALID_TRANSITION.
    await adminAPI('mutation($input: RequestTenantDeletionInput!) { requestTenantDeletion(input: $input) { purgeAfter } }',
      { input: { tenantId, confirmSlug: slug, reason: 'e2e: deleted through the API' } });
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await admin.locator('[data-testid=confirm-dialog] [data-testid=confirm-error]').waitFor();
    const words = await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-error]');
    check(words.includes('not possible while the tenant is pending deletion'), `the error is said in words: ${words}`);
    check(!/INVALID_TRANSITION|PENDING_DELETION/.test(words), `no raw code in the error: ${words}`);
    await shot(admin, 'delete-error-in-words');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-cancel]');
    await dialog.waitFor({ state: 'detached' });
    await admin.locator('[data-testid=banner-purge]').waitFor();
    const at = new Date(await admin.getAttribute('[data-testid=banner-purge-date]', 'datetime'));
    const days = (at.getTime() - Date.now()) / 86_400_000;
    check(days > 29.9 && days <= 30.01, `the default retention is 30 days (${days.toFixed(3)})`);
  });

  await step('Purge now (admin): the slug typed again', async () => {
    await admin.click('[data-testid=banner-purge]');
    await dialog.waitFor({ state: 'visible' });
    check(await text(admin, '[data-testid=confirm-dialog] [data-testid=confirm-cancel]') === 'Keep tenant', 'the way out says "Keep tenant"');
    check(await submitDisabled(), 'Purge now is disabled before the slug is typed');
    await admin.fill('[data-testid=purge-confirm-slug]', slug.slice(0, -1));
    check(await submitDisabled(), 'Purge now is disabled with a wrong slug');
    await admin.fill('[data-testid=purge-confirm-slug]', slug);
    check(!(await submitDisabled()), 'Purge now is enabled with the slug');
    await shot(admin, 'purge-confirm');
    await admin.click('[data-testid=confirm-dialog] [data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
  });

  await step('purged: the certificate with the rows removed per table', async () => {
    await until(admin, 'the state turns PURGED', () => document.querySelector('[data-testid=tenant-state]')?.textContent === 'PURGED', null, 60_000);
    await admin.locator('[data-testid=purged-banner]').waitFor();
    await admin.locator('[data-testid=card-purge-certificate]').waitFor();
    check(/^[0-9a-f]{64}$/.test(await text(admin, '[data-testid=cert-sha256]')), 'the certificate shows its SHA-256');
    check((await text(admin, '[data-testid=cert-operation]')).length === 36, 'the certificate names its operation');
    check((await text(admin, '[data-testid=cert-purged-at]')) !== '—', 'the certificate says when');
    const rows = await admin.locator('[data-testid=cert-row]').evaluateAll((trs) => trs.map((tr) => [tr.dataset.table, Number(tr.dataset.rows)]));
    check(rows.length > 0 && rows.some(([, n]) => n > 0), `rows removed per table are shown (${JSON.stringify(rows)})`);
    check(Number(await admin.getAttribute('[data-testid=cert-rows-total]', 'data-rows')) > 0, 'the total of rows removed');
    await until(admin, 'the browser checked the SHA-256 against the JSON', () => document.querySelector('[data-testid=cert-verified]')?.dataset.ok === 'true');
    check(await admin.locator('[data-testid=cert-json]').isHidden(), 'the raw JSON is folded away');
    await admin.click('[data-testid=cert-json-details] summary');
    const json = JSON.parse(await text(admin, '[data-testid=cert-json]'));
    check(json.tenant === tenantId && json.rowsRemoved, 'the raw JSON is the certificate');
    const personal = await admin.evaluate(([s, e]) => {
      const page = document.getElementById('main').innerText;
      return page.includes(s) || page.includes(e);
    }, [slug, `owner@${slug}.example.com`]);
    check(!personal, 'no slug or email of the tenant on its purged page');
    check(await admin.locator('[data-testid=card-usage], [data-testid=card-exports], [data-testid=action-delete]').count() === 0, 'no usage, export or actions on a purged tenant');
    check(await toastsMatching(/purged: its certificate/) === 1, 'one toast for the purge');
    await shot(admin, 'purge-certificate');
  });

});
