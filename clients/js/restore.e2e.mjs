// restore.e2e.mjs drives the console's public restore page in a real
// Chromium with playwright-core, run by tenantd's Go test
// (internal/console/restore_browser_test.go, TestRestoreLinkInBrowser):
//
//   node restore.e2e.mjs <baseURL> <artifactsDir> <restoreURL>
//
// A customer whose workspace's deletion was requested (so none of its keys
// works), signed out, opens the deletion email's restore link: a tampered
// one is refused in words; the real one names the workspace and the purge
// date and restores in one click, showing the new API key once; the
// customer signs in with it; opening the link again says it is restored
// already. Screenshots go to artifactsDir. Exit 0 on success, 1 on failure
// (with failure screenshots). CHROMIUM_PATH overrides /usr/bin/chromium.
import { harness, check, text, until } from './e2e-harness.mjs';

const [base, artifacts, restoreURL] = process.argv.slice(2);
if (!base || !artifacts || !restoreURL) {
  console.error('usage: node restore.e2e.mjs <baseURL> <artifactsDir> <restoreURL>');
  process.exit(2);
}
const { newPage, shot, step, run } = await harness({ base, artifacts, prefix: 'restore-', overallMs: 90_000 });

await run(async () => {
  const customer = await newPage('customer');
  await step('a tampered restore link is refused in words', async () => {
    const bad = restoreURL.replace(/(.)(..)$/, (m, c, tail) => (c === 'A' ? 'B' : 'A') + tail);
    await customer.goto(bad);
    await customer.locator('[data-testid=restore-link-error]').waitFor();
    const words = await text(customer, '[data-testid=restore-link-error]');
    check(/not valid/.test(words) && !/FORBIDDEN/.test(words), `the refusal is said in words: ${words}`);
    await shot(customer, 'tampered-link');
  });
  let key = '';
  await step('the restore page names the purge date and restores in one click', async () => {
    await customer.goto('about:blank');
    await customer.goto(restoreURL);
    await customer.locator('[data-testid=restore-form]').waitFor();
    check(await customer.locator('[data-testid=viewer-role]').count() === 0, 'the customer is not signed in');
    const at = await customer.getAttribute('[data-testid=restore-purge-after]', 'datetime');
    const days = (Date.parse(at) - Date.now()) / 86_400_000;
    check(days > 29 && days <= 30, `the purge date is 30 days ahead (${at})`);
    check(await customer.evaluate(() => document.activeElement?.dataset.testid) === 'restore-submit', 'the button has the focus');
    await shot(customer, 'restore-form');
    await customer.click('[data-testid=restore-submit]');
    await customer.locator('[data-testid=restore-succeeded]').waitFor();
    key = await text(customer, '[data-testid=restore-api-key]');
    check(key.startsWith('tdk_'), `the new API key is shown once (${key.slice(0, 8)}…)`);
    await shot(customer, 'restored');
  });
  await step('the customer signs in with the new key', async () => {
    await customer.click('[data-testid=restore-signin]');
    await customer.fill('[data-testid=signin-token]', key);
    await customer.click('[data-testid=signin-submit]');
    await until(customer, 'the tenant is signed in', () => document.querySelector('[data-testid=viewer-role]')?.textContent === 'TENANT');
  });
  const again = await newPage('again');
  await step('the link again: restored already, nothing changes', async () => {
    await again.goto(restoreURL);
    await again.locator('[data-testid=restore-already]').waitFor();
    await shot(again, 'restored-already');
  });
});
