// DOM helpers, formatters and small shared components. Everything is built
// with createElement and textContent: no HTML strings, so nothing from the
// API can inject markup.

import { asAPIError } from './api.js';

/**
 * h('div', {class, testid, on: {click}, ...attrs}, ...children)
 * Props: class, testid (→ data-testid), text, on (event listeners), dataset,
 * boolean attributes as true/false, everything else as an attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** svg('rect', {x, y, ...}, ...children): an SVG element. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

function applyProps(el, props) {
  if (!props) return;
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'testid') el.setAttribute('data-testid', v);
    else if (k === 'text') el.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) { if (dv !== undefined && dv !== null) el.dataset[dk] = dv; }
    else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) el.value = v;
    else if (k === 'checked' || k === 'selected') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces el's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---- formatting -----------------------------------------------------------

const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const numberFmt = new Intl.NumberFormat();
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export const fmt = {
  number: (n) => (n === null || n === undefined ? '—' : numberFmt.format(n)),
  /**
   * A fraction as a percentage, with one rule everywhere (captions, tables,
   * charts): one decimal, a trailing .0 dropped (4.5%, 67%, 100%); a value
   * that rounds to 0% or 100% without being it says so (<0.1%, >99.9%).
   */
  percent(f) {
    if (f === null || f === undefined || Number.isNaN(f)) return '—';
    const tenths = Math.round(f * 1000);
    if (tenths === 0 && f > 0) return '<0.1%';
    if (tenths === 1000 && f < 1) return '>99.9%';
    return `${fmt.percentPoints(tenths / 10)}%`;
  },
  /** A number of percentage points with the percent rule (24.5, 65). */
  percentPoints: (p) => String(Math.round(p * 10) / 10),
  date: (iso) => (iso ? dateFmt.format(new Date(iso)) : '—'),
  shortDate: (iso) => (iso ? shortDateFmt.format(new Date(iso)) : '—'),
  dateTime: (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : '—'),
  /** "3 minutes ago" */
  relative(iso, now = Date.now()) {
    if (!iso) return '—';
    const s = (new Date(iso).getTime() - now) / 1000;
    const abs = Math.abs(s);
    if (abs < 45) return relFmt.format(Math.round(s), 'second');
    if (abs < 2700) return relFmt.format(Math.round(s / 60), 'minute');
    if (abs < 64800) return relFmt.format(Math.round(s / 3600), 'hour');
    if (abs < 86400 * 25) return relFmt.format(Math.round(s / 86400), 'day');
    return relFmt.format(Math.round(s / (86400 * 30)), 'month');
  },
  /** 850 ms, 4.2 s, 3 min 12 s, 2 h 5 min, 3 d 4 h */
  duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
    const m = Math.floor(s / 60);
    const rest = Math.round(s % 60);
    if (m < 60) return m >= 10 || rest === 0 ? `${m} min` : `${m} min ${rest} s`;
    const hr = Math.floor(m / 60);
    if (hr < 48) return `${hr} h ${m % 60} min`;
    return `${Math.floor(hr / 24)} d ${hr % 24} h`;
  },
  bytes(n) {
    if (n === null || n === undefined) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
  },
  /** PROVISIONING_FAILED → Provisioning failed */
  enumLabel(s) {
    if (!s) return '—';
    const t = String(s).replace(/_/g, ' ').toLowerCase();
    return t.charAt(0).toUpperCase() + t.slice(1);
  },
};

/** <time> with the local date-time and the ISO value as tooltip. */
export function timeEl(iso, { relative = false } = {}) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: new Date(iso).toISOString() }, relative ? fmt.relative(iso) : fmt.dateTime(iso));
}

// ---- components -------------------------------------------------------------

export function stateBadge(state, testid) {
  return h('span', { class: `badge state-${state}`, testid, dataset: { state } }, state || '—');
}

export function statusBadge(status, testid) {
  return h('span', { class: `badge status-${status}`, testid, dataset: { status } }, status || '—');
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/**
 * A human-readable error: each error's extensions.code and message, its
 * field and path when given, and an optional Retry button. codes: false
 * (pages a customer reads) leaves out the codes, fields and paths.
 */
export function errorBox(err, { retry, title, testid = 'error', codes = true } = {}) {
  const e = asAPIError(err);
  const items = e.errors.map((x) => h('li', null,
    codes ? h('span', { class: 'code', testid: 'error-code' }, x.code) : null,
    h('span', { testid: 'error-message' }, x.message),
    codes && x.field ? h('div', { class: 'detail' }, `field: ${x.field}`) : null,
    codes && x.path ? h('div', { class: 'detail' }, `at: ${x.path}`) : null,
    x.extensions && x.extensions.allowedEvents ? h('div', { class: 'detail' }, `allowed now: ${x.extensions.allowedEvents.join(', ') || 'none'}`) : null,
  ));
  return h('div', { class: 'error-box', role: 'alert', testid },
    title ? h('strong', null, title) : null,
    h('ul', null, items),
    retry ? h('button', { type: 'button', class: 'small', on: { click: retry } }, 'Try again') : null,
  );
}

/** A progress bar with ARIA values and a done/total count. */
export function progressBar({ done = 0, total = 0, status = '', label = 'Progress', testid }) {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const fill = h('span');
  fill.style.width = `${(frac * 100).toFixed(1)}%`;
  const bar = h('div', {
    class: ['progress', status === 'SUCCEEDED' && 'done', (status === 'FAILED' || status === 'CANCELED') && 'failed'],
    role: 'progressbar', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': total, 'aria-valuenow': done,
    'aria-valuetext': `${done} of ${total} steps`,
  }, fill);
  return h('div', { class: 'progress-row', testid },
    bar, h('span', { class: 'count', testid: testid ? `${testid}-count` : undefined }, `${done}/${total}`));
}

const STEP_ICONS = { SUCCEEDED: '✓', FAILED: '✕', RUNNING: '●', PENDING: '○', SKIPPED: '–' };

/** The steps of an operation, each with its status. */
export function stepList(steps, { testid = 'op-step' } = {}) {
  return h('ol', { class: 'steps-list' }, (steps || []).map((s) => h('li', { testid, dataset: { step: s.name, status: s.status } },
    h('span', { class: `step-icon ${s.status}`, 'aria-hidden': 'true' }, STEP_ICONS[s.status] || '?'),
    h('div', { class: 'step-main' },
      h('span', { class: 'step-name' }, s.name),
      s.detail ? h('div', { class: 'step-detail' }, s.detail) : null),
    s.startedAt && s.finishedAt ? h('span', { class: 'step-time' }, fmt.duration(new Date(s.finishedAt) - new Date(s.startedAt))) : null,
    statusBadge(s.status),
  )));
}

/** A labelled form field; returns {wrap, input, setError}. */
export function field({ label, input, help, name }) {
  const id = input.id || `f-${name || Math.random().toString(36).slice(2)}`;
  input.id = id;
  const helpEl = help ? h('div', { class: 'help', id: `${id}-help` }, help) : null;
  const errEl = h('div', { class: 'field-error', id: `${id}-error`, testid: `field-error-${name}`, hidden: true });
  const describedBy = [helpEl && helpEl.id, errEl.id].filter(Boolean).join(' ');
  input.setAttribute('aria-describedby', describedBy);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input, helpEl, errEl);
  return {
    wrap, input,
    setError(msg) {
      errEl.textContent = msg || '';
      errEl.hidden = !msg;
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    },
  };
}

/**
 * stackable(table): on a phone (under 640 px) each row of table shows as
 * "label: value" lines (CSS table.stack-narrow), the labels taken from its
 * column headings; rows added later are labelled too. The first cell of a
 * row is its title. Returns table.
 */
export function stackable(table) {
  table.classList.add('stack-narrow');
  const label = () => {
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
    for (const tr of table.querySelectorAll('tbody tr')) {
      [...tr.children].forEach((c, i) => {
        if (i === 0 || c.hasAttribute('colspan')) return;
        if (heads[i] && !c.dataset.label) c.dataset.label = heads[i];
        // One box for the value, next to its label.
        if (c.childNodes.length > 1) { const box = document.createElement('span'); box.append(...c.childNodes); c.append(box); }
      });
    }
  };
  label();
  new MutationObserver(label).observe(table, { childList: true, subtree: true });
  return table;
}

/** A card: <section> with a heading, optional header tools and a body. */
export function card({ title, tools, testid, cls, headingId }) {
  const id = headingId || `h-${Math.random().toString(36).slice(2)}`;
  const body = h('div', { class: 'card-body' });
  const el = h('section', { class: ['card', cls], testid, 'aria-labelledby': id },
    h('header', null, h('h2', { id }, title), tools ? h('div', { class: 'toolbar' }, tools) : null),
    body);
  return { el, body };
}

/** Short-lived message in the corner (also read by screen readers). */
export function toast(message, { bad = false, ms = 4500 } = {}) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: ['toast', bad && 'bad'], testid: 'toast' }, message);
  box.append(t);
  setTimeout(() => t.remove(), ms);
}

/**
 * A confirmation dialog. onConfirm({reason}) may throw: the error shows in
 * the dialog and it stays open (onError(err) may show it itself, next to a
 * field, and return true). Resolves true when confirmed.
 *
 * body may be a function ({setConfirmEnabled}) → node, for dialogs whose
 * confirm button waits for input (a slug typed to confirm). cancelLabel
 * names the way out in words ("Keep tenant", not a bare "Cancel" next to
 * "Cancel subscription"); null leaves only the confirm button. focus is the
 * element focused first (default: the reason, else the confirm button).
 */
export function confirmDialog({ title, body, confirmLabel = 'Confirm', cancelLabel = 'Not now', danger = false, reason = false,
  confirmEnabled = true, focus, onConfirm, onError, testid = 'confirm-dialog' }) {
  return new Promise((resolve) => {
    const errorSlot = h('div', { 'aria-live': 'assertive' });
    const reasonInput = reason ? h('textarea', { name: 'reason', maxlength: 500, rows: 3, testid: 'confirm-reason', placeholder: typeof reason === 'string' ? reason : 'e.g. chargeback on invoice 1042' }) : null;
    const confirmBtn = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', testid: 'confirm-submit', disabled: !confirmEnabled }, confirmLabel);
    const cancelBtn = cancelLabel ? h('button', { type: 'button', testid: 'confirm-cancel' }, cancelLabel) : null;
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    let busy = false;
    let enabled = confirmEnabled;
    const api = {
      setConfirmEnabled(on) {
        enabled = Boolean(on);
        if (!busy) confirmBtn.disabled = !enabled;
      },
      clearError() { mount(errorSlot); },
    };
    const content = typeof body === 'function' ? body(api) : body;
    const form = h('form', { method: 'dialog', novalidate: true },
      h('h2', { id: titleId }, title),
      content ? h('div', null, content) : null,
      reasonInput ? field({ label: 'Reason (for the audit trail)', input: reasonInput, name: 'reason', help: 'Optional, at most 500 characters.' }).wrap : null,
      errorSlot,
      h('div', { class: 'dialog-actions' }, cancelBtn, confirmBtn));
    const dlg = h('dialog', { 'aria-labelledby': titleId, testid }, form);
    let done = false;
    const finish = (ok) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    if (cancelBtn) cancelBtn.addEventListener('click', () => finish(false));
    dlg.addEventListener('cancel', (ev) => { ev.preventDefault(); if (!busy) finish(false); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (busy || !enabled) return;
      busy = true;
      confirmBtn.disabled = true;
      if (cancelBtn) cancelBtn.disabled = true;
      const label = confirmBtn.textContent;
      mount(confirmBtn, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Working…');
      mount(errorSlot);
      try {
        if (onConfirm) await onConfirm({ reason: reasonInput ? reasonInput.value.trim() : '' });
        finish(true);
      } catch (err) {
        const shown = onError ? onError(err, errorSlot) : false;
        if (!shown) mount(errorSlot, errorBox(err, { testid: 'confirm-error' }));
        mount(confirmBtn, label);
        busy = false;
        confirmBtn.disabled = !enabled;
        if (cancelBtn) cancelBtn.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    (focus || reasonInput || confirmBtn).focus();
  });
}

/**
 * A group of radio buttons drawn as one segmented control. options are
 * [value, label] pairs; onChange(value) runs when the choice changes.
 */
export function segmented(name, options, value, onChange, label) {
  const group = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': label, testid: `${name}-toggle` });
  for (const [v, text] of options) {
    const input = h('input', { type: 'radio', name: `seg-${name}`, value: v, checked: v === value, testid: `${name}-${v}` });
    input.addEventListener('change', () => { if (input.checked) onChange(v); });
    group.append(h('label', null, input, h('span', null, text)));
  }
  return group;
}

/** A secret shown once (an API key) with its Copy button. */
export function secretBox(value, { testid = 'secret', label = 'Copy' } = {}) {
  return h('div', { class: 'secret' }, h('code', { testid }, value),
    h('button', { type: 'button', class: 'small', testid: `copy-${testid}`, on: { click: async (ev) => {
      const btn = ev.currentTarget;
      const ok = await copyText(value);
      btn.textContent = ok ? 'Copied ✓' : 'Copy failed: select it';
      toast(ok ? 'Copied to the clipboard' : 'Copy failed: select the text and copy it yourself', { bad: !ok });
    } } }, label));
}

/** debounce(fn, ms) with .cancel(). */
export function debounce(fn, ms) {
  let t = 0;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

/** Copies text to the clipboard; falls back to a selection + execCommand. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall back */ }
  const ta = h('textarea', { readonly: true, class: 'visually-hidden' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

/** A snippet with its [matches] as <mark> elements. */
export function highlighted(snippet) {
  const out = [];
  const re = /\[([^\[\]]*)\]/g;
  let last = 0;
  let m;
  while ((m = re.exec(snippet)) !== null) {
    if (m.index > last) out.push(snippet.slice(last, m.index));
    out.push(h('mark', null, m[1]));
    last = m.index + m[0].length;
  }
  if (last < snippet.length) out.push(snippet.slice(last));
  return out;
}
