// Deletion with a retention window, restore and purge on the tenant page:
// the deletion dialog (the slug typed to confirm, 30–90 days, a reason, the
// purge date), the PENDING_DELETION banner with Restore and Purge now, the
// new API key shown once after a restore, and a purged tenant's certificate.
// Errors are said in words next to the field they concern, not as codes.

import { gql, asAPIError } from './api.js';
import { h, mount, fmt, card, field, timeEl, confirmDialog, secretBox, progressBar, copyText, toast } from './dom.js';
import { OP_FIELDS, TR_FIELDS, TENANT_HEAD } from './fragments.js';

/** The retention window the API accepts, in days. */
export const RETENTION = { min: 30, max: 90, initial: 30 };

/** The certificate of a purged tenant (null for any other). */
export const CERT_FIELDS = 'purgeCertificate { operation purgedAt sha256 rowsRemoved { table rows } filesRemoved workspace json }';

const M_DELETE = `mutation RequestTenantDeletion($input: RequestTenantDeletionInput!) {
  requestTenantDeletion(input: $input) { tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} } purgeAfter }
}`;
const M_RESTORE = `mutation RestoreTenant($input: RestoreTenantInput!) {
  restoreTenant(input: $input) { tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} } apiKey }
}`;
const M_PURGE = `mutation PurgeTenant($input: PurgeTenantInput!) {
  purgeTenant(input: $input) { tenant { ${TENANT_HEAD} } operation { ${OP_FIELDS} } }
}`;

const DAY_MS = 86_400_000;

/** "in 45 days", "in 1 day", "today" */
function daysLeft(iso) {
  const d = Math.ceil((new Date(iso).getTime() - Date.now()) / DAY_MS);
  if (d <= 0) return 'due now';
  return d === 1 ? 'in 1 day' : `in ${d} days`;
}

/** PENDING_DELETION → "pending deletion" */
const stateWords = (s) => (s ? fmt.enumLabel(s).toLowerCase() : 'its former state');

/**
 * An API error as a sentence a person can act on: {field, message}. field
 * names the input it concerns (confirmSlug, retentionDays, reason) or is ''.
 */
export function inWords(err, { slug = '' } = {}) {
  const e = asAPIError(err).errors[0];
  const ext = e.extensions || {};
  switch (e.code) {
    case 'INVALID_INPUT':
      if (e.field === 'confirmSlug') return { field: e.field, message: `That is not this tenant's slug. Type ${slug || 'its slug'} exactly as shown.` };
      if (e.field === 'retentionDays') return { field: e.field, message: `Choose a retention of ${RETENTION.min} to ${RETENTION.max} days.` };
      if (e.field === 'reason') return { field: e.field, message: 'The reason is too long: 500 characters at most.' };
      return { field: e.field, message: sentence(e.message) };
    case 'INVALID_TRANSITION': {
      const allowed = Array.isArray(ext.allowedEvents) && ext.allowedEvents.length
        ? ` What it allows now: ${ext.allowedEvents.map((a) => a.replace(/_/g, ' ')).join(', ')}.` : '';
      return { field: '', message: `This is not possible while the tenant is ${ext.state ? stateWords(ext.state) : 'in its current state'}.${allowed} The page shows its state as it is now.` };
    }
    case 'FORBIDDEN':
      return { field: '', message: 'Your token is not allowed to do this: it takes an admin token.' };
    case 'UNAUTHENTICATED':
      return { field: '', message: 'Your token is no longer valid: sign in again.' };
    case 'NOT_FOUND':
      return { field: '', message: 'This tenant no longer exists, or your token cannot see it.' };
    case 'CONFLICT':
      return { field: '', message: 'Another change to this tenant is under way. Wait a moment, then try again.' };
    case 'INTERNAL':
      return { field: '', message: 'tenantd could not do this because of an internal error. Try again; if it keeps failing, the server log says why.' };
    default:
      return { field: '', message: sentence(e.message) };
  }
}

/** s as a sentence: a capital first letter and a full stop. */
export function sentence(s) {
  const t = String(s || 'Something went wrong.').trim();
  const c = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(c) ? c : `${c}.`;
}

/** A dialog's general error, in words (no code), read out at once. */
export function wordsBox(message) {
  return h('div', { class: 'error-box', role: 'alert', testid: 'confirm-error' }, h('p', { class: 'words', testid: 'error-message' }, message));
}

/**
 * onError for a dialog: an error about a field shows under that field (and
 * takes the focus), any other in words above the buttons. words turns the
 * error into {field, message} (default: inWords).
 */
export function showInWords(fields, slug, words = (err) => inWords(err, { slug })) {
  return (err, slot) => {
    const { field: name, message } = words(err);
    const f = name && fields[name];
    if (f) {
      f.setError(message);
      f.input.focus();
      mount(slot);
    } else {
      mount(slot, wordsBox(message));
    }
    return true;
  };
}

/** A text input for a slug typed to confirm: no autocorrect, no autofill. */
function slugInput(testid) {
  return h('input', { type: 'text', name: 'confirmSlug', autocomplete: 'off', autocapitalize: 'off', autocorrect: 'off', spellcheck: 'false', testid });
}

/** "Matches" / "Does not match yet", for the confirm button that waits. */
function matchStatus(input, slug, el) {
  const v = input.value;
  el.dataset.match = String(v === slug);
  el.textContent = !v ? '' : v === slug ? '✓ Matches the slug.' : 'Does not match the slug yet.';
  el.className = v && v !== slug ? 'hint bad' : 'hint';
}

/**
 * The deletion dialog. Resolves to the requestTenantDeletion payload, or
 * null when the user kept the tenant. guard(send) wraps the request (the
 * page uses it to expect the state change it asks for).
 */
export async function deletionDialog(tenant, { guard = (send) => send() } = {}) {
  const slug = tenant.slug || '';
  let result = null;
  const slugEl = slugInput('delete-confirm-slug');
  const slugField = field({
    label: 'Type the tenant’s slug to confirm', input: slugEl, name: 'confirmSlug',
    help: ['The slug is ', h('code', { testid: 'delete-slug-expected' }, slug), '.'],
  });
  const slugStatus = h('p', { class: 'hint', testid: 'delete-slug-status', 'aria-live': 'polite' });
  const daysEl = h('input', { type: 'number', name: 'retentionDays', inputmode: 'numeric', min: RETENTION.min, max: RETENTION.max, step: 1, value: String(RETENTION.initial), testid: 'delete-retention', class: 'days' });
  const daysField = field({ label: 'Keep it restorable for (days)', input: daysEl, name: 'retentionDays', help: `${RETENTION.min} to ${RETENTION.max} days; ${RETENTION.initial} unless you choose otherwise.` });
  const reasonEl = h('textarea', { name: 'reason', maxlength: 500, rows: 3, testid: 'delete-reason', placeholder: 'e.g. the customer asked to close the account (ticket 4711)' });
  const reasonField = field({ label: 'Reason (for the audit trail)', input: reasonEl, name: 'reason', help: 'At most 500 characters. It is erased at the purge, like all personal text.' });
  const purgeDate = h('p', { class: 'purge-date', testid: 'delete-purge-date', 'aria-live': 'polite' });

  const days = () => {
    const n = Number(daysEl.value);
    return daysEl.value.trim() !== '' && Number.isInteger(n) && n >= RETENTION.min && n <= RETENTION.max ? n : null;
  };
  let api = null;
  const sync = () => {
    matchStatus(slugEl, slug, slugStatus);
    const d = days();
    if (d) {
      const at = new Date(Date.now() + d * DAY_MS).toISOString();
      mount(purgeDate, 'It will be purged on ', h('strong', { testid: 'delete-purge-date-value' }, fmt.date(at)), ` (in ${d} days) unless it is restored before.`);
    } else {
      mount(purgeDate, h('span', { class: 'hint' }, 'Choose the retention to see the purge date.'));
    }
    if (api) api.setConfirmEnabled(Boolean(slug) && slugEl.value === slug && d !== null);
  };
  slugEl.addEventListener('input', () => { slugField.setError(''); sync(); });
  daysEl.addEventListener('input', () => { if (days() !== null) daysField.setError(''); sync(); });
  daysEl.addEventListener('change', () => {
    daysField.setError(days() === null ? `Choose a whole number of days from ${RETENTION.min} to ${RETENTION.max}.` : '');
  });
  reasonEl.addEventListener('input', () => reasonField.setError(''));

  await confirmDialog({
    title: `Delete ${tenant.name || slug}?`,
    testid: 'confirm-dialog',
    body: (dlg) => {
      api = dlg;
      sync();
      return h('div', { class: 'stack', testid: 'delete-dialog' },
        h('p', null, 'The deletion takes effect at once:'),
        h('ul', { class: 'consequences' },
          h('li', null, 'its API keys stop working and its live connections close;'),
          h('li', null, 'its workspace can no longer be read or written;'),
          h('li', null, 'its billing subscription is canceled, and the owner is emailed the purge date with a link to restore it.')),
        h('p', null, 'Until the purge date it can be restored with its data intact, by an administrator or by the owner through that link. Then everything is destroyed for good and only a tombstone with a purge certificate remains.'),
        slugField.wrap, slugStatus, daysField.wrap, purgeDate, reasonField.wrap);
    },
    confirmLabel: 'Delete tenant',
    cancelLabel: 'Keep tenant',
    danger: true,
    confirmEnabled: false,
    focus: slugEl,
    onError: showInWords({ confirmSlug: slugField, retentionDays: daysField, reason: reasonField }, slug),
    onConfirm: async () => {
      const input = { tenantId: tenant.id, confirmSlug: slugEl.value, retentionDays: days() };
      const reason = reasonEl.value.trim();
      if (reason) input.reason = reason;
      result = (await guard(() => gql(M_DELETE, { input }))).requestTenantDeletion;
    },
  });
  return result;
}

/** The restore dialog. Resolves to the restoreTenant payload, or null. */
export async function restoreDialog(tenant, { guard = (send) => send() } = {}) {
  let result = null;
  await confirmDialog({
    title: `Restore ${tenant.name || tenant.slug}?`,
    body: h('div', { class: 'stack' },
      h('p', null, `It returns to ${stateWords(tenant.stateBeforeDeletion)} with its data intact, and its billing resumes.`),
      h('p', null, 'Its old API keys stay revoked: tenantd makes a new key and shows it once, on the next screen.')),
    confirmLabel: 'Restore tenant',
    cancelLabel: 'Keep deleted',
    reason: 'e.g. deleted by mistake, the customer is staying',
    onError: showInWords({}, tenant.slug),
    onConfirm: async ({ reason }) => {
      const input = { tenantId: tenant.id };
      if (reason) input.reason = reason;
      result = (await guard(() => gql(M_RESTORE, { input }))).restoreTenant;
    },
  });
  return result;
}

/** The new API key of a restored tenant, in a dialog: shown this once. */
export function showKeyOnce(tenant, apiKey) {
  return confirmDialog({
    title: 'The tenant’s new API key',
    testid: 'api-key-dialog',
    body: h('div', { class: 'stack' },
      h('p', { class: 'warning', testid: 'api-key-once' }, h('strong', null, 'Shown only this once.'),
        ' tenantd keeps only a hash of it: copy it now and hand it to the tenant over a safe channel. Its old keys stay revoked.'),
      secretBox(apiKey, { testid: 'restore-api-key', label: 'Copy key' }),
      h('p', { class: 'hint' }, `For ${tenant.name || tenant.slug}. Once this dialog is closed the key cannot be shown again; a lost key is replaced by a new one.`)),
    confirmLabel: 'I have copied the key',
    cancelLabel: null,
  });
}

/**
 * The purge dialog (admin): the slug typed again. Resolves to the
 * purgeTenant payload, or null.
 */
export async function purgeDialog(tenant, { guard = (send) => send() } = {}) {
  const slug = tenant.slug || '';
  let result = null;
  const slugEl = slugInput('purge-confirm-slug');
  const slugField = field({
    label: 'Type the tenant’s slug again to confirm', input: slugEl, name: 'confirmSlug',
    help: ['The slug is ', h('code', null, slug), '.'],
  });
  const slugStatus = h('p', { class: 'hint', testid: 'purge-slug-status', 'aria-live': 'polite' });
  let api = null;
  slugEl.addEventListener('input', () => {
    slugField.setError('');
    matchStatus(slugEl, slug, slugStatus);
    if (api) api.setConfirmEnabled(Boolean(slug) && slugEl.value === slug);
  });
  await confirmDialog({
    title: `Purge ${tenant.name || slug} now?`,
    body: (dlg) => {
      api = dlg;
      return h('div', { class: 'stack', testid: 'purge-dialog' },
        h('p', { class: 'warning' }, h('strong', null, 'This cannot be undone.'),
          ' Instead of waiting until ', tenant.purgeAfter ? fmt.date(tenant.purgeAfter) : 'the end of the retention window',
          ', tenantd now destroys its workspace, export archives, mail, API keys, billing customer and the personal text in its history.'),
        h('p', null, 'What remains is a tombstone (its id, a hash of its slug, timestamps and plan) and a purge certificate that lists what was removed. Use this for an erasure request that cannot wait.'),
        slugField.wrap, slugStatus);
    },
    confirmLabel: 'Purge now',
    cancelLabel: 'Keep tenant',
    danger: true,
    confirmEnabled: false,
    focus: slugEl,
    onError: showInWords({ confirmSlug: slugField }, slug),
    onConfirm: async () => {
      result = (await guard(() => gql(M_PURGE, { input: { tenantId: tenant.id, confirmSlug: slugEl.value } }))).purgeTenant;
    },
  });
  return result;
}

/**
 * The banner above a PENDING_DELETION or PURGED tenant's page (null for
 * any other state). purgeOp is the PURGE operation under way, if any.
 */
export function stateBanner(tenant, { canRestore = false, canPurge = false, onRestore, onPurge, purgeOp = null } = {}) {
  const id = `banner-${tenant.id}`;
  if (tenant.state === 'PENDING_DELETION') {
    const purging = purgeOp && !['SUCCEEDED', 'FAILED', 'CANCELED'].includes(purgeOp.status);
    const buttons = [];
    if (canRestore && !purging) buttons.push(h('button', { type: 'button', class: 'primary', testid: 'banner-restore', on: { click: onRestore } }, 'Restore tenant'));
    if (canPurge && !purging) buttons.push(h('button', { type: 'button', class: 'danger', testid: 'banner-purge', on: { click: onPurge } }, 'Purge now…'));
    return h('section', { class: 'banner warn', testid: 'deletion-banner', dataset: { state: tenant.state }, 'aria-labelledby': id },
      h('div', { class: 'banner-main' },
        h('h2', { id }, 'Pending deletion'),
        h('p', { testid: 'deletion-banner-text' },
          h('strong', null, `${tenant.name || tenant.slug} will be purged on `,
            h('time', { datetime: tenant.purgeAfter, title: tenant.purgeAfter, testid: 'banner-purge-date' }, fmt.dateTime(tenant.purgeAfter))),
          ` (${daysLeft(tenant.purgeAfter)}). Until then it can be restored to ${stateWords(tenant.stateBeforeDeletion)} with its data intact. `,
          'Its API keys no longer work and its workspace cannot be read or written.'),
        purging ? h('div', { class: 'stack', testid: 'banner-purging', 'aria-live': 'polite' },
          h('p', null, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Purging now…'),
          progressBar({ done: purgeOp.progress.done, total: purgeOp.progress.total, status: purgeOp.status, label: 'Purge progress', testid: 'banner-purge-progress' })) : null,
        purgeOp && purgeOp.status === 'FAILED'
          ? wordsBox(`The purge failed: ${sentence(purgeOp.error ? purgeOp.error.message : 'no reason given')} It will be tried again by the next sweep, or purge it again.`) : null),
      buttons.length ? h('div', { class: 'actions' }, buttons) : null);
  }
  if (tenant.state === 'PURGED') {
    return h('section', { class: 'banner neutral', testid: 'purged-banner', dataset: { state: tenant.state }, 'aria-labelledby': id },
      h('div', { class: 'banner-main' },
        h('h2', { id }, 'Purged'),
        h('p', null, 'This tenant was purged on ', timeEl(tenant.purgedAt), '. Nothing personal remains: tenantd keeps a tombstone ',
          '(its id, a hash of its slug, timestamps and plan) and its audit chain, whose free text was erased. The certificate below records what was destroyed.')));
  }
  return null;
}

/** The purge certificate of a PURGED tenant, as a card. */
export function certificateCard(cert) {
  const c = card({ title: 'Purge certificate', testid: 'card-purge-certificate', cls: 'wide' });
  if (!cert) {
    mount(c.body, h('p', { class: 'empty' }, 'No certificate was recorded for this tenant.'));
    return c.el;
  }
  let doc = null;
  try { doc = JSON.parse(cert.json); } catch { doc = null; }
  const rows = [...cert.rowsRemoved].sort((a, b) => a.table.localeCompare(b.table));
  const total = rows.reduce((n, r) => n + r.rows, 0);
  const verified = h('span', { class: 'hint', testid: 'cert-verified', 'aria-live': 'polite' }, 'checking…');
  verify(cert, verified);
  const ws = cert.workspace && typeof cert.workspace === 'object' ? Object.entries(cert.workspace) : [];
  const list = (items, testid) => (items && items.length
    ? h('ul', { class: 'plain', testid }, items.map((x) => h('li', { class: 'mono' }, String(x))))
    : h('span', { class: 'hint', testid }, 'none'));
  mount(c.body,
    h('p', { class: 'hint' }, 'What the purge destroyed, as tenantd certified it. The SHA-256 of the JSON below is recorded in the last transition of the tenant’s audit chain, so the certificate cannot be changed unnoticed.'),
    h('div', { class: 'funnel-layout' },
      h('dl', { class: 'details', testid: 'cert-details' },
        h('dt', null, 'Purged at'), h('dd', { testid: 'cert-purged-at' }, timeEl(cert.purgedAt)),
        h('dt', null, 'Operation'), h('dd', { class: 'mono', testid: 'cert-operation' }, cert.operation),
        h('dt', null, 'SHA-256'), h('dd', null,
          h('code', { class: 'hash', testid: 'cert-sha256' }, cert.sha256), ' ',
          h('button', { type: 'button', class: 'small', testid: 'cert-copy-sha256', on: { click: async () => {
            const ok = await copyText(cert.sha256);
            toast(ok ? 'SHA-256 copied' : 'Copy failed: select the hash and copy it yourself', { bad: !ok });
          } } }, 'Copy'),
          h('div', null, verified)),
        h('dt', null, 'Rows removed'), h('dd', { testid: 'cert-rows-total', dataset: { rows: total } }, `${fmt.number(total)} in ${rows.length} table${rows.length === 1 ? '' : 's'}`),
        h('dt', null, 'Files removed'), h('dd', null, list(cert.filesRemoved, 'cert-files')),
        h('dt', null, 'Workspace'), h('dd', { testid: 'cert-workspace' }, ws.length
          ? h('ul', { class: 'plain' }, ws.map(([k, v]) => h('li', null, h('span', { class: 'hint' }, `${k}: `), h('span', { class: 'mono' }, typeof v === 'object' ? JSON.stringify(v) : String(v)))))
          : h('span', { class: 'hint' }, '—')),
        doc && Array.isArray(doc.personalDataWiped) ? [h('dt', null, 'Personal data wiped'), h('dd', { testid: 'cert-wiped' }, doc.personalDataWiped.map((x) => h('span', { class: 'chip' }, x)))] : null,
        doc && Array.isArray(doc.kept) ? [h('dt', null, 'Kept'), h('dd', { testid: 'cert-kept' }, h('ul', { class: 'plain' }, doc.kept.map((x) => h('li', null, x))))] : null),
      h('div', { class: 'table-wrap' },
        h('table', { testid: 'cert-rows' },
          h('caption', { class: 'visually-hidden' }, 'Rows removed per table'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Table'), h('th', { scope: 'col', class: 'num' }, 'Rows removed'))),
          h('tbody', null, rows.map((r) => h('tr', { testid: 'cert-row', dataset: { table: r.table, rows: r.rows } },
            h('td', { class: 'mono' }, r.table), h('td', { class: 'num' }, fmt.number(r.rows))))),
          h('tfoot', null, h('tr', null, h('th', { scope: 'row' }, 'Total'), h('td', { class: 'num' }, fmt.number(total))))))),
    h('details', { class: 'cert-json', testid: 'cert-json-details' },
      h('summary', null, 'The certificate’s JSON, exactly as hashed'),
      h('pre', { class: 'evidence', testid: 'cert-json' }, cert.json)));
  return c.el;
}

/** Checks the certificate's SHA-256 in the browser where Web Crypto is there (secure contexts). */
async function verify(cert, el) {
  const subtle = window.crypto && window.crypto.subtle;
  if (!subtle) {
    el.textContent = 'Check it yourself: the SHA-256 of the JSON below (sha256sum) must match.';
    return;
  }
  try {
    const sum = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(cert.json)));
    const hex = [...sum].map((b) => b.toString(16).padStart(2, '0')).join('');
    const ok = hex === cert.sha256;
    el.dataset.ok = String(ok);
    el.className = ok ? 'hint ok-text' : 'bad';
    el.textContent = ok ? '✓ Matches the JSON below (checked in your browser).' : `✕ Does not match the JSON below (it hashes to ${hex}).`;
  } catch {
    el.textContent = 'Check it yourself: the SHA-256 of the JSON below (sha256sum) must match.';
  }
}
