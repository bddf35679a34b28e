// The tenant page's data export (GDPR Art. 15 and 20): choose JSON or CSV,
// start an EXPORT operation, follow it live, then a signed download link
// with its expiry; and the list of the tenant's exports. A tenantd without
// exports (no Tenant.exports in its schema) gets no card at all.

import { gql, uuid, asAPIError } from './api.js';
import { h, mount, fmt, card, loading, errorBox, statusBadge, progressBar, timeEl, segmented, toast, stackable } from './dom.js';
import { OP_FIELDS } from './fragments.js';
import { inWords } from './retention.js';

const EXPORT_FIELDS = 'id format status createdAt readyAt expiresAt sizeBytes sha256 downloadUrl downloads files { name records bytes sha256 }';
// If a field of the full selection is not in the server's DataExport (an
// older or newer shape), the list still shows with these.
const EXPORT_FIELDS_MIN = 'id format status createdAt expiresAt sizeBytes downloadUrl';

const qExports = (fields) => `query TenantExports($id: ID!) { tenant(id: $id) { id exports { ${fields} } } }`;
// The input is spelled inline so the query names no input, enum or key
// type: the format is an enum literal from FORMATS and the key a UUID made
// here, never user text.
const mExport = (format, key, fields) => `mutation RequestDataExport($tenantId: ID!) {
  requestDataExport(input: {tenantId: $tenantId, format: ${format}, idempotencyKey: "${key}"}) { operation { ${OP_FIELDS} } export { ${fields} } }
}`;

const FORMATS = [['JSON', 'JSON'], ['CSV', 'CSV']];
const FORMAT_HELP = {
  JSON: 'One JSON file per kind of record, each with its JSON Schema: for moving to another system or importing back.',
  CSV: 'One CSV file per table, for spreadsheets; the manifest and tenant profile stay JSON.',
};
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);

/** True when err says the server's schema has no such field (a tenantd without exports). */
function missingField(err, field, type) {
  return asAPIError(err).errors.some((e) => e.message.includes(`Cannot query field "${field}" on type "${type}"`));
}

/** True when err is a validation error about a DataExport field. */
function exportShapeError(err) {
  return asAPIError(err).errors.some((e) => /on type "DataExport"|must have a selection of subfields|must not have a selection/.test(e.message));
}

/**
 * exportsCard({tenant, viewer, onOperation}) → {el, opChanged(op), setTenant(t)}.
 * onOperation(op) hands a started EXPORT operation to the page, which
 * follows it live and calls opChanged with every update.
 */
export function exportsCard({ tenant, viewer, onOperation }) {
  const c = card({ title: 'Data export', testid: 'card-exports', cls: 'wide' });
  c.el.hidden = true; // until the server says it has exports
  let fields = EXPORT_FIELDS;
  let supported = null;
  let list = [];
  let current = null; // {opId, exportId, format, op, announced}
  let format = 'JSON';
  let retries = 0;
  let t = tenant;

  const formatHelp = h('p', { class: 'help', id: `export-format-help-${t.id}`, testid: 'export-format-help' }, FORMAT_HELP[format]);
  const toggle = segmented('export-format', FORMATS, format, (v) => { format = v; formatHelp.textContent = FORMAT_HELP[v]; }, 'Export format');
  toggle.setAttribute('aria-describedby', formatHelp.id);
  const startBtn = h('button', { type: 'button', class: 'primary', testid: 'export-start', on: { click: start } }, 'Export data');
  const controls = h('div', { class: 'export-controls' },
    h('div', { class: 'toolbar' }, h('span', { class: 'label', id: `export-format-label-${t.id}` }, 'Format'), toggle, startBtn),
    formatHelp);
  toggle.setAttribute('aria-labelledby', `export-format-label-${t.id}`);
  const currentSlot = h('div', { testid: 'export-current', 'aria-live': 'polite' });
  const errorSlot = h('div');
  const listSlot = h('div', { testid: 'exports-list' });
  mount(c.body,
    h('p', { class: 'hint' }, 'A ZIP of everything the tenant stored: profile and plan, documents with their content, the query log, its history, operations, API keys (metadata, never secrets) and milestones, with a manifest of checksums. The download link is signed and expires.'),
    controls, errorSlot, currentSlot,
    h('h3', null, 'Exports'), listSlot);

  const mayExport = () => t.state !== 'PURGED' && (viewer.role === 'ADMIN'
    || (viewer.role === 'TENANT' && viewer.tenant && viewer.tenant.id === t.id && t.state !== 'PENDING_DELETION'));

  function renderControls() {
    controls.hidden = !mayExport();
    const running = current && current.op && !FINAL.has(current.op.status);
    startBtn.disabled = Boolean(running);
    mount(startBtn, running ? [h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Exporting…'] : 'Export data');
  }

  async function load() {
    if (!list.length) mount(listSlot, loading('Loading the exports…'));
    try {
      const d = await gql(qExports(fields), { id: t.id });
      supported = true;
      c.el.hidden = false;
      list = (d.tenant && d.tenant.exports) || [];
      renderList();
      renderCurrent();
    } catch (err) {
      if (missingField(err, 'exports', 'Tenant')) {
        supported = false;
        c.el.hidden = true;
        c.el.dataset.supported = 'false';
        console.info('tenantd has no data export (its schema has no Tenant.exports): the export card is hidden.');
        return;
      }
      if (fields !== EXPORT_FIELDS_MIN && exportShapeError(err)) {
        fields = EXPORT_FIELDS_MIN;
        load();
        return;
      }
      c.el.hidden = false;
      mount(listSlot, errorBox(err, { retry: load, title: 'Could not load the exports' }));
    }
  }

  async function start() {
    mount(errorSlot);
    startBtn.disabled = true;
    mount(startBtn, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Starting…');
    try {
      if (!FORMATS.some(([f]) => f === format)) throw new Error(`unknown export format ${format}`);
      const key = uuid();
      if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error('could not make an idempotency key');
      const d = await gql(mExport(format, key, fields), { tenantId: t.id });
      const p = d.requestDataExport;
      current = { opId: p.operation.id, exportId: p.export ? p.export.id : null, format, op: p.operation, announced: false };
      if (p.export) upsertExport(p.export);
      renderList();
      renderCurrent();
      if (onOperation) onOperation(p.operation);
    } catch (err) {
      mount(errorSlot, h('div', { class: 'error-box', role: 'alert', testid: 'export-error' }, h('p', { class: 'words' }, `The export could not start. ${inWords(err).message}`)));
    } finally {
      renderControls();
    }
  }

  function upsertExport(x) {
    const i = list.findIndex((e) => e.id === x.id);
    if (i >= 0) list[i] = { ...list[i], ...x }; else list.push(x);
  }

  /** The export this page started: live progress, then its download link. */
  function renderCurrent() {
    renderControls();
    if (!current) { mount(currentSlot); return; }
    const op = current.op;
    const x = list.find((e) => e.id === current.exportId);
    if (op && !FINAL.has(op.status)) {
      const p = op.progress || {};
      const frac = p.rowsTotal ? Math.min(1, (p.rows || 0) / p.rowsTotal) : (p.bytesTotal ? Math.min(1, (p.bytes || 0) / p.bytesTotal) : null);
      mount(currentSlot, h('div', { class: 'export-progress', testid: 'export-progress', dataset: { status: op.status, phase: p.phase || '' } },
        h('p', null, h('strong', null, `Exporting (${current.format})… `), statusBadge(op.status, 'export-status'),
          p.phase ? h('span', { class: 'hint' }, ` · ${fmt.enumLabel(p.phase)}`) : null),
        progressBar({ done: p.done || 0, total: p.total || 0, status: op.status, label: 'Export steps', testid: 'export-steps' }),
        p.rowsTotal || p.bytes ? h('p', { class: 'hint', testid: 'export-counts' },
          p.rowsTotal ? `${fmt.number(p.rows || 0)} of ${fmt.number(p.rowsTotal)} records` : `${fmt.number(p.rows || 0)} records`,
          p.bytes ? ` · ${fmt.bytes(p.bytes)}${p.bytesTotal ? ` of ${fmt.bytes(p.bytesTotal)}` : ''} written` : '') : null,
        frac !== null ? h('progress', { max: 1, value: frac, 'aria-label': 'records exported' }) : null));
      return;
    }
    if (op && op.status !== 'SUCCEEDED') {
      mount(currentSlot, h('div', { class: 'error-box', role: 'alert', testid: 'export-failed' },
        h('p', { class: 'words' }, `The ${current.format} export ${op.status === 'CANCELED' ? 'was canceled' : 'failed'}: ${op.error ? op.error.message : 'no reason given'}. Start it again; the operation below has the details.`)));
      announce(false, op);
      return;
    }
    if (!x || !x.downloadUrl) {
      mount(currentSlot, loading('The archive is written; fetching its download link…'));
      if (retries++ < 10) setTimeout(load, 500);
      return;
    }
    mount(currentSlot, h('div', { class: 'export-ready', testid: 'export-ready', dataset: { exportId: x.id } },
      h('p', null, h('strong', null, `✓ The ${x.format} export is ready.`), ' ',
        h('a', { class: 'button primary', href: x.downloadUrl, download: '', rel: 'noopener', testid: 'export-download' }, `Download ZIP (${fmt.bytes(x.sizeBytes)})`)),
      h('p', { class: 'hint', testid: 'export-expiry' }, 'The link is signed and works until ', timeEl(x.expiresAt),
        ` (${fmt.relative(x.expiresAt)}). Anyone who has it can download the archive: share it with care. Each download is logged.`),
      x.sha256 ? h('p', { class: 'hint' }, 'SHA-256 of the archive: ', h('code', { class: 'hash', testid: 'export-sha256' }, x.sha256)) : null));
    announce(true);
  }

  // One toast per export this page started, when it ends.
  function announce(ok, op) {
    if (!current || current.announced) return;
    current.announced = true;
    if (ok) toast(`The ${current.format} export is ready to download`);
    else toast(`The ${current.format} export failed: ${op && op.error ? op.error.message : op ? op.status : 'no reason given'}`, { bad: true });
  }

  function renderList() {
    const rows = [...list].sort((a, b) => new Date(b.createdAt) - new Date(a.createdAt));
    if (!rows.length) { mount(listSlot, h('p', { class: 'empty', testid: 'exports-empty' }, 'No exports yet.')); return; }
    const now = Date.now();
    mount(listSlot, h('div', { class: 'table-wrap' }, stackable(h('table', { testid: 'exports-table' },
      h('caption', { class: 'visually-hidden' }, 'The tenant’s exports, newest first'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Requested'), h('th', { scope: 'col' }, 'Format'), h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col', class: 'num' }, 'Size'), h('th', { scope: 'col' }, 'Link expires'), h('th', { scope: 'col', class: 'num' }, 'Downloads'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Download')))),
      h('tbody', null, rows.map((x) => {
        const expired = x.status === 'EXPIRED' || (x.expiresAt && new Date(x.expiresAt).getTime() <= now);
        const records = Array.isArray(x.files) ? x.files.reduce((n, f) => n + (f.records || 0), 0) : null;
        return h('tr', { testid: 'export-row', dataset: { exportId: x.id, status: x.status, format: x.format } },
          h('td', null, timeEl(x.createdAt, { relative: true })),
          h('td', null, x.format),
          h('td', null, statusBadge(x.status, 'export-row-status')),
          h('td', { class: 'num' }, x.status === 'READY' || x.sizeBytes ? fmt.bytes(x.sizeBytes) : '—',
            records !== null && x.files.length ? h('div', { class: 'hint' }, `${fmt.number(records)} records in ${x.files.length} files`) : null),
          h('td', null, x.expiresAt ? [timeEl(x.expiresAt), expired ? h('div', { class: 'hint' }, 'expired') : null] : h('span', { class: 'hint' }, '—')),
          h('td', { class: 'num', testid: 'export-row-downloads' }, downloadsOf(x)),
          h('td', null, x.downloadUrl && !expired
            ? h('a', { href: x.downloadUrl, download: '', rel: 'noopener', testid: 'export-row-download', 'aria-label': `Download the ${x.format} export of ${fmt.dateTime(x.createdAt)}` }, 'Download')
            : null));
      }))))));
  }

  function downloadsOf(x) {
    if (x.downloads === undefined || x.downloads === null) return '—';
    if (Array.isArray(x.downloads)) return fmt.number(x.downloads.length);
    return fmt.number(x.downloads);
  }

  load();
  return {
    el: c.el,
    /** An operation update from the page: EXPORT ones drive this card. */
    opChanged(op) {
      if (supported === false || op.kind !== 'EXPORT') return;
      const mine = current && current.opId === op.id;
      if (mine) current.op = { ...(current.op || {}), ...op };
      if (FINAL.has(op.status)) { retries = 0; load(); } else if (mine) renderCurrent();
      if (mine && FINAL.has(op.status) && op.status !== 'SUCCEEDED') renderCurrent();
    },
    /** The tenant changed (state, role rules). */
    setTenant(nt) {
      t = nt;
      if (supported) renderControls();
    },
  };
}
