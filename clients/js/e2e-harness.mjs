// The scaffolding of tenantd's browser tests (console.e2e.mjs,
// winback.e2e.mjs): one headless
// Chromium, pages that record uncaught errors and CSP violations (they fail
// the run), named steps, screenshots numbered in artifactsDir, waits that say
// what they waited for, failure screenshots of every page, and a watchdog.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export const T = 15_000; // default wait

/** check(cond, message): throws message unless cond. */
export function check(cond, message) {
  if (!cond) throw new Error(message);
}

/** The trimmed text of the first element matching sel. */
export const text = (page, sel) => page.locator(sel).first().textContent({ timeout: T }).then((s) => (s || '').trim());

/** Waits until fn(arg) is truthy in the page; message says what was expected. */
export async function until(page, message, fn, arg, timeout = T) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`${message} (waited ${timeout / 1000} s): ${err.message.split('\n')[0]}`);
  }
}

/** How many toasts on the page match re. */
export const toastsMatching = (page, re) => page.evaluate((src) => [...document.querySelectorAll('[data-testid=toast]')]
  .filter((t) => new RegExp(src).test(t.textContent)).length, re.source);

/**
 * harness({base, artifacts, prefix, overallMs}) launches Chromium and
 * returns {newPage, shot, step, log, run}. run(fn) runs the test body and
 * exits the process: 0 on success, 1 (with failure screenshots) on failure.
 */
export async function harness({ base, artifacts, prefix = '', overallMs = 100_000 }) {
  mkdirSync(artifacts, { recursive: true });
  const started = Date.now();
  const pages = new Map();
  const problems = [];
  const notes = [];
  let current = 'start';
  let shots = 0;
  const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`, ...a);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });

  async function fail(err) {
    console.error(`\nFAIL at step "${current}": ${err && err.stack ? err.stack : err}`);
    if (problems.length) console.error(`page errors:\n  ${problems.join('\n  ')}`);
    for (const [name, page] of pages) {
      try {
        const file = path.join(artifacts, `${prefix}failure-${name}.png`);
        await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        console.error(`failure screenshot: ${file} (at ${page.url()})`);
      } catch (e) {
        console.error(`no failure screenshot of ${name}: ${e.message}`);
      }
    }
    if (notes.length) console.error(`console errors:\n  ${notes.join('\n  ')}`);
    try { await browser.close(); } catch { /* ignore */ }
    process.exit(1);
  }

  return {
    log,
    async newPage(name, { width = 1280, height = 900 } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, baseURL: base });
      const page = await context.newPage();
      page.setDefaultTimeout(T);
      page.on('pageerror', (err) => problems.push(`${name}: uncaught ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const t = msg.text();
        if (/Content Security Policy/i.test(t)) problems.push(`${name}: CSP violation: ${t}`);
        else notes.push(`${name}: console error: ${t}`);
      });
      pages.set(name, page);
      return page;
    },
    async shot(page, name) {
      shots += 1;
      const file = path.join(artifacts, `${prefix}${String(shots).padStart(2, '0')}-${name}.png`);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: file, fullPage: true });
      log(`  screenshot ${file}`);
    },
    async step(name, fn) {
      current = name;
      const t0 = Date.now();
      await fn();
      if (problems.length) throw new Error(`errors in the page:\n  ${problems.join('\n  ')}`);
      log(`ok  ${name} (${Date.now() - t0} ms)`);
    },
    async run(fn) {
      const watchdog = setTimeout(() => fail(new Error(`the run took longer than ${overallMs / 1000} s`)), overallMs);
      try {
        await fn();
      } catch (err) {
        clearTimeout(watchdog);
        await fail(err);
      }
      clearTimeout(watchdog);
      if (notes.length) log(`console errors (not fatal):\n  ${notes.join('\n  ')}`);
      log(`PASS: ${shots} screenshots in ${artifacts}`);
      await browser.close();
      process.exit(0);
    },
  };
}
