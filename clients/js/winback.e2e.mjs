// winback.e2e.mjs drives the console's win-back pages in a real Chromium
// with playwright-core, in two phases run by tenantd's Go test
// (internal/console/browser_test.go, TestWinBackInBrowser) around the sweep
// it runs on a fake clock:
//
//   node winback.e2e.mjs <baseURL> <adminToken> <artifactsDir> create
//     An admin opens Campaigns, submits the new-campaign form with four
//     mistakes (all said at their fields at once, in words), corrects them
//     and creates the campaign; it prints "CAMPAIGN <id>".
//   node winback.e2e.mjs <baseURL> <adminToken> <artifactsDir> links <reactivateURL> <unsubscribeURL> <campaignId>
//     A customer, signed out, opens a mail's reactivation link (a tampered
//     one first): the offer, one click with a card, the REACTIVATE operation
//     followed live, the new key shown once; opening the link again says it
//     is active already. Another opens an unsubscribe link and confirms. The
//     admin reads the campaign's figures per step and its chart, and pauses
//     it through a confirmation (one toast).
//
// Screenshots go to artifactsDir. Exit 0 on success, 1 on failure (with
// failure screenshots). CHROMIUM_PATH overrides /usr/bin/chromium.
import { harness, check, text, until, toastsMatching } from './e2e-harness.mjs';

const [base, adminToken, artifacts, phase, ...rest] = process.argv.slice(2);
if (!base || !adminToken || !artifacts || !['create', 'links'].includes(phase)) {
  console.error('usage: node winback.e2e.mjs <baseURL> <adminToken> <artifactsDir> create|links [reactivateURL unsubscribeURL campaignId]');
  process.exit(2);
}
const { newPage, shot, step, run, log } = await harness({ base, artifacts, prefix: `winback-${phase}-`, overallMs: 100_000 });

async function signIn(page) {
  await page.goto('/#/signin');
  await page.fill('[data-testid=signin-token]', adminToken);
  await page.click('[data-testid=signin-submit]');
  await until(page, 'the admin is signed in', () => document.querySelector('[data-testid=viewer-role]')?.textContent === 'ADMIN');
}

/** The visible field errors of the campaign form: {field: message}. */
const fieldErrors = (page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('[data-testid=campaign-form] .field-error')]
  .filter((e) => !e.hidden && e.textContent).map((e) => [e.dataset.testid.replace('field-error-', ''), e.textContent])));

await run(async () => {
  if (phase === 'create') {
    const admin = await newPage('admin');
    await step('the admin opens Campaigns', async () => {
      await signIn(admin);
      await admin.click('[data-testid=nav-campaigns]');
      await admin.locator('[data-testid=campaign-empty]').waitFor();
      check(await admin.getAttribute('[data-testid=nav-campaigns]', 'aria-current') === 'page', 'the nav marks Campaigns');
    });
    await step('the form says every mistake at its field at once', async () => {
      await admin.click('[data-testid=campaign-new]');
      await admin.locator('[data-testid=campaign-form]').waitFor();
      await admin.locator('[data-testid=campaign-plan-starter]').waitFor();
      await admin.fill('[data-testid=campaign-percent]', '150');
      await admin.fill('[data-testid=campaign-step] >> nth=0 >> [data-testid=step-subject]', 'Hello {{firstName}}');
      await admin.click('[data-testid=campaign-add-step]');
      await admin.fill('[data-testid=campaign-step] >> nth=1 >> [data-testid=step-after-days]', '0');
      await admin.fill('[data-testid=campaign-step] >> nth=1 >> [data-testid=step-subject]', 'Still {{offer}} off');
      await admin.fill('[data-testid=campaign-step] >> nth=1 >> [data-testid=step-body]', 'Your workspace waits: {{reactivateUrl}}');
      await admin.click('[data-testid=campaign-create]');
      const errs = await fieldErrors(admin);
      log(`  field errors: ${JSON.stringify(errs)}`);
      check(errs.name && /name/.test(errs.name), 'the missing name is said at its field');
      check(errs.percentOff && /1 to 100/.test(errs.percentOff), 'the 150% offer is said at its field');
      check(errs['steps-0-subject'] && /firstName/.test(errs['steps-0-subject']), 'the unknown placeholder is named at its field');
      check(errs['steps-1-afterDays'] && /after the one before/.test(errs['steps-1-afterDays']), 'the step out of order is said at its field');
      const words = await admin.locator('[data-testid=campaign-form]').innerText();
      check(!/INVALID_INPUT/.test(words), 'no raw code on the form');
      check(await admin.evaluate(() => document.activeElement?.dataset.testid) === 'campaign-name', 'the first field in error takes the focus');
      await shot(admin, 'campaign-form-errors');
    });
    await step('corrected, the campaign is created', async () => {
      await admin.fill('[data-testid=campaign-name]', 'Come back (e2e)');
      await admin.fill('[data-testid=campaign-percent]', '30');
      await admin.fill('[data-testid=campaign-months]', '3');
      await admin.check('[data-testid=campaign-plan-starter]');
      await admin.check('[data-testid=campaign-feedback-too_expensive]');
      await admin.fill('[data-testid=campaign-step] >> nth=0 >> [data-testid=step-subject]', 'We miss you, {{tenantName}}');
      await admin.fill('[data-testid=campaign-step] >> nth=1 >> [data-testid=step-after-days]', '7');
      check(Object.keys(await fieldErrors(admin)).length === 0, 'typing in a field clears its error');
      await admin.click('[data-testid=campaign-create]');
      await until(admin, 'the new campaign’s page opens', () => /^#\/campaigns\/[0-9a-f-]{36}$/.test(location.hash));
      await admin.locator('[data-testid=campaign-step-row]').first().waitFor();
      check(await admin.locator('[data-testid=campaign-step-row]').count() === 2, 'two steps in the figures');
      check(await text(admin, '[data-testid=campaign-total-sent]') === '0', 'nothing sent yet');
      check(await toastsMatching(admin, /created/) === 1, 'one toast for the creation');
      check((await text(admin, '[data-testid=campaign-offer]')).includes('30% off for 3 months'), 'the offer is shown');
      await shot(admin, 'campaign-created');
      const id = await admin.evaluate(() => location.hash.split('/').pop());
      console.log(`CAMPAIGN ${id}`);
    });
    return;
  }

  const [reactivateURL, unsubscribeURL, campaignId] = rest;
  check(reactivateURL && unsubscribeURL && campaignId, 'links needs <reactivateURL> <unsubscribeURL> <campaignId>');
  const customer = await newPage('customer');
  await step('a tampered link is refused in words', async () => {
    const bad = reactivateURL.replace(/(.)(..)$/, (m, c, tail) => (c === 'A' ? 'B' : 'A') + tail);
    await customer.goto(bad);
    await customer.locator('[data-testid=winback-link-error]').waitFor();
    const words = await text(customer, '[data-testid=winback-link-error]');
    check(/not valid or has expired/.test(words) && !/FORBIDDEN/.test(words), `the refusal is said in words: ${words}`);
  });
  await step('the reactivation page shows the offer and reactivates in one step', async () => {
    await customer.goto('about:blank');
    await customer.goto(reactivateURL);
    await customer.locator('[data-testid=winback-offer]').waitFor();
    check((await text(customer, '[data-testid=winback-offer]')).includes('30% off for 3 months'), 'the offer is shown');
    check(await customer.locator('[data-testid=viewer-role]').count() === 0, 'the customer is not signed in');
    await shot(customer, 'reactivation-offer');
    await customer.selectOption('[data-testid=winback-payment]', 'pm_card_visa');
    await customer.click('[data-testid=winback-reactivate]');
    await customer.locator('[data-testid=winback-succeeded]').waitFor({ timeout: 30_000 });
    const key = await text(customer, '[data-testid=winback-api-key]');
    check(key.startsWith('tdk_'), `the new API key is shown once (${key.slice(0, 8)}…)`);
    check((await text(customer, '[data-testid=winback-succeeded]')).includes('30% off for 3 months is applied'), 'the offer is said applied');
    await shot(customer, 'reactivation-done');
  });
  await step('the link again: already active, nothing charged', async () => {
    await customer.goto('about:blank');
    await customer.goto(reactivateURL);
    await customer.locator('[data-testid=winback-already]').waitFor();
  });
  const leaver = await newPage('leaver');
  await step('the unsubscribe link asks, then unsubscribes', async () => {
    await leaver.goto(unsubscribeURL);
    await leaver.locator('[data-testid=unsubscribe-submit]').waitFor();
    await leaver.click('[data-testid=unsubscribe-submit]');
    await leaver.locator('[data-testid=unsubscribe-done]').waitFor();
    await shot(leaver, 'unsubscribed');
  });
  const admin = await newPage('admin');
  await step('the admin reads the figures per step and the chart', async () => {
    await signIn(admin);
    await admin.goto(`/#/campaigns/${campaignId}`);
    await admin.locator('[data-testid=campaign-step-row]').first().waitFor();
    const step0 = admin.locator('[data-testid=campaign-step-row][data-step="0"]');
    const cell = (id) => step0.locator(`[data-testid=${id}]`).textContent().then((s) => s.trim());
    check(await cell('step-eligible') === '2', 'step 1: two eligible');
    check(await cell('step-sent') === '2', 'step 1: two sent');
    check(await cell('step-opened') === '1', 'step 1: one opened');
    check(await cell('step-converted') === '1', 'step 1: one converted');
    check(await cell('step-rate') === '50%', 'step 1: a 50% rate');
    check(await text(admin, '[data-testid=campaign-total-converted]') === '1', 'one conversion in all');
    check((await text(admin, '[data-testid=campaign-total-revenue]')).startsWith('$'), 'the recovered monthly revenue');
    check(await admin.locator('[data-testid=campaign-conversions-chart] rect.bar').count() === 1, 'the chart has one day of conversions');
    await shot(admin, 'campaign-figures');
  });
  await step('pause: the dialog names its ways out, one toast', async () => {
    await admin.click('[data-testid=campaign-pause]');
    const dialog = admin.locator('[data-testid=confirm-dialog]');
    await dialog.waitFor();
    check(await text(admin, '[data-testid=confirm-cancel]') === 'Keep sending', 'the way out says "Keep sending"');
    await admin.click('[data-testid=confirm-cancel]');
    await dialog.waitFor({ state: 'detached' });
    check(await text(admin, '[data-testid=campaign-status]') === 'Active', 'kept: still active');
    await admin.click('[data-testid=campaign-pause]');
    await admin.click('[data-testid=confirm-submit]');
    await dialog.waitFor({ state: 'detached' });
    await until(admin, 'the campaign shows paused', () => document.querySelector('[data-testid=campaign-status]')?.textContent === 'Paused');
    check(await admin.locator('[data-testid=campaign-pause]').count() === 0, 'no Pause on a paused campaign');
    check(await toastsMatching(admin, /paused/) === 1, 'one toast for the pause');
    await shot(admin, 'campaign-paused');
    await admin.click('[data-testid=campaigns-back]');
    await until(admin, 'the list shows it paused', () => document.querySelector('[data-testid=campaign-row]')?.dataset.status === 'PAUSED');
  });
});
