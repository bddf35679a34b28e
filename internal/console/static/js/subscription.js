// Cancellation, pause and reactivation on the tenant page: the cancel
// dialog (why, the customer's words, at the end of the billing period or
// now), the banner of a scheduled cancellation with its undo, the pause
// dialog (a date from tomorrow to 90 days ahead) and the banner of a paused
// tenant, and the reactivation of a CANCELED tenant (payment method, a plan
// that keeps the data where it is, the REACTIVATE operation followed live,
// a declined card said in words, the new API key shown once). Errors are
// said in words next to the field they concern, not as codes.

import { gql, asAPIError } from './api.js';
import { h, mount, fmt, field, timeEl, confirmDialog, secretBox, progressBar, stepList } from './dom.js';
import { OP_FIELDS, TR_FIELDS, TENANT_HEAD } from './fragments.js';
import { inWords, sentence, wordsBox, showInWords } from './retention.js';

/** Stripe's cancellation feedback, in words, in the order a person reads them. */
export const FEEDBACK = [
  ['too_expensive', 'Too expensive'],
  ['missing_features', 'Missing features'],
  ['switched_service', 'Switched to another service'],
  ['unused', 'Not used enough'],
  ['too_complex', 'Too complex'],
  ['low_quality', 'Quality was too low'],
  ['customer_service', 'Unhappy with customer service'],
  ['other', 'Another reason'],
];
const FEEDBACK_WORDS = Object.fromEntries(FEEDBACK);

/** too_expensive → "Too expensive" */
export const feedbackWords = (f) => FEEDBACK_WORDS[f] || (f ? fmt.enumLabel(f) : '');

/** The payment method choices the reactivation offers; OTHER reveals a free-text id. */
export const OTHER = '__other';
const MISSING_ID = new Error('no payment method id');
export const PAYMENT_METHODS = [
  // Short labels: a phone's dialog is about 320 px wide.
  ['', 'The default payment method'],
  ['pm_card_visa', 'Test card, charged'],
  ['pm_card_chargeDeclined', 'Test card, declined'],
  [OTHER, 'Another payment method…'],
];

/** The longest pause the API accepts, and the comment's length. */
export const PAUSE = { minDays: 1, maxDays: 90, initialDays: 7 };
const MAX_COMMENT = 1000;

const M_CANCEL = `mutation CancelSubscription($input: CancelSubscriptionInput!) {
  cancelSubscription(input: $input) { tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} }
    scheduledCancellation { effectiveAt feedback requestedAt requestedBy } }
}`;
const M_UNDO = `mutation UndoCancellation($input: UndoCancellationInput!) {
  undoCancellation(input: $input) { tenant { ${TENANT_HEAD} } operation { ${OP_FIELDS} } }
}`;
const M_PAUSE = `mutation PauseSubscription($input: PauseSubscriptionInput!) {
  pauseSubscription(input: $input) { tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} } }
}`;
const M_REACTIVATE = `mutation ReactivateTenant($input: ReactivateTenantInput!) {
  reactivateTenant(input: $input) { tenant { ${TENANT_HEAD} } operation { ${OP_FIELDS} } apiKey }
}`;
const Q_PLANS = 'query SubscriptionPlans { plans { key name isolation priceCents } }';
const Q_PERIOD_END = 'query BillingPeriodEnd($id: ID!) { tenant(id: $id) { billingPeriodEnd } }';

const DAY_MS = 86_400_000;
const timeFmt = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
/** "Dec 9, 2026", with the time only when it is not local midnight (a pause chosen by date). */
const dayAndTime = (iso) => {
  const d = new Date(iso);
  return d.getHours() || d.getMinutes() ? `${fmt.date(iso)}, ${timeFmt.format(d)}` : fmt.date(iso);
};
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);
const price = (p) => (p.priceCents ? `$${(p.priceCents / 100).toFixed(2)}/mo` : 'free');
const where = (isolation) => (isolation === 'SILO' ? 'its own database' : 'the shared tables');

/**
 * An API error of these mutations as {field, message}: field names the
 * input it concerns (feedback, comment, atPeriodEnd, resumesAt, plan,
 * paymentMethod) or is ''.
 */
export function subscriptionWords(err, { maxDate = '' } = {}) {
  const e = asAPIError(err).errors[0];
  const msg = e.message || '';
  if (e.code === 'INVALID_INPUT') {
    switch (e.field) {
      case 'atPeriodEnd':
        if (/already ended/.test(msg)) return { field: 'atPeriodEnd', message: 'The billing period has already ended, so there is nothing to wait for: choose “Now”.' };
        if (/no billing period/.test(msg)) return { field: 'atPeriodEnd', message: 'This tenant has no billing period to wait for: choose “Now”.' };
        return { field: 'atPeriodEnd', message: sentence(msg) };
      case 'feedback':
        return { field: 'feedback', message: 'Choose one of the reasons listed.' };
      case 'comment':
        return { field: 'comment', message: /limit/.test(msg)
          ? `The comment is too long: ${fmt.number(MAX_COMMENT)} characters at most.`
          : 'The comment holds a character that is not allowed (a line break, control or formatting character): remove it.' };
      case 'resumesAt':
        if (/90 days/.test(msg)) return { field: 'resumesAt', message: `A pause lasts at most ${PAUSE.maxDays} days: choose a date up to ${maxDate || `${PAUSE.maxDays} days from today`}.` };
        if (/future/.test(msg)) return { field: 'resumesAt', message: 'Choose a date from tomorrow on: the pause must end in the future.' };
        return { field: 'resumesAt', message: sentence(msg) };
      case 'plan':
        return { field: 'plan', message: /isolation|keeps the data/.test(msg)
          ? 'A reactivation keeps the data where it is: choose a plan of the same kind (own database or shared tables), and change the plan afterwards.'
          : sentence(msg) };
      case 'paymentMethod':
        return { field: 'paymentMethod', message: /limit/.test(msg) ? 'That payment method id is too long: 255 characters at most.' : sentence(msg) };
      default:
        break;
    }
  }
  if (e.code === 'CONFLICT' && /already scheduled/.test(msg)) {
    const at = e.extensions && e.extensions.effectiveAt;
    return { field: 'atPeriodEnd', message: `A cancellation is already scheduled${at ? ` for ${fmt.date(at)}` : ''}. Undo it first, or choose “Now”.` };
  }
  if (e.code === 'CONFLICT' && /reactivation/.test(msg)) {
    return { field: '', message: 'A reactivation of this tenant is already under way: follow its operation on the page.' };
  }
  if (e.code === 'PAYMENT_DECLINED') return { field: 'paymentMethod', message: declinedWords };
  return inWords(err);
}

const declinedWords = 'The card was declined: nothing was charged and the tenant stays canceled. Choose another payment method and try again.';

/** A failed REACTIVATE operation, in words. */
export function reactivationFailedWords(op) {
  const e = op && op.error;
  if (e && e.code === 'PAYMENT_DECLINED') return declinedWords;
  if (op && op.status === 'CANCELED') return 'The reactivation was canceled before billing was back: the tenant stays canceled.';
  return `The reactivation failed: ${sentence(e ? e.message : 'no reason given')} The tenant stays canceled.`;
}

/**
 * A group of radio buttons in a fieldset with its legend: {wrap, input,
 * value(), set(v), setError(msg), onChange(fn)}. options are [value, label,
 * {disabled, hint}]; input is the radio focused for an error.
 */
function choiceGroup({ legend, name, options, value, help }) {
  const id = `c-${name}-${Math.random().toString(36).slice(2)}`;
  const errEl = h('div', { class: 'field-error', id: `${id}-error`, testid: `field-error-${name}`, hidden: true });
  const helpEl = help ? h('div', { class: 'help', id: `${id}-help` }, help) : null;
  const listeners = [];
  const radios = options.map(([v, label, opt = {}]) => {
    const r = h('input', { type: 'radio', name: id, value: v, checked: v === value, disabled: Boolean(opt.disabled), testid: `${name}-${v}` });
    r.addEventListener('change', () => { if (r.checked) listeners.forEach((f) => f(v)); });
    return { r, label, opt };
  });
  const fs = h('fieldset', { class: 'choices', testid: `${name}-choices`, 'aria-describedby': [helpEl && helpEl.id, errEl.id].filter(Boolean).join(' ') },
    h('legend', null, legend),
    radios.map(({ r, label, opt }) => h('label', { class: 'check-label' }, r, h('span', null, label,
      opt.hint ? h('span', { class: 'hint' }, ` ${opt.hint}`) : null))),
    helpEl, errEl);
  const first = () => (radios.find((x) => x.r.checked && !x.r.disabled) || radios.find((x) => !x.r.disabled) || radios[0]).r;
  return {
    wrap: fs,
    get input() { return first(); },
    value: () => { const c = radios.find((x) => x.r.checked); return c ? c.r.value : ''; },
    set(v) { for (const x of radios) x.r.checked = x.r.value === v; },
    label(v, ...children) { const x = radios.find((y) => y.r.value === v); if (x) mount(x.r.nextElementSibling, ...children); },
    setError(msg) {
      errEl.textContent = msg || '';
      errEl.hidden = !msg;
      if (msg) fs.setAttribute('aria-invalid', 'true'); else fs.removeAttribute('aria-invalid');
    },
    onChange(fn) { listeners.push(fn); },
  };
}

/**
 * The end of the current billing period of an ACTIVE tenant (when a
 * cancellation at the period end takes effect), or null when it cannot be
 * told (another state, no subscription, the provider not answering).
 */
async function periodEndOf(tenant) {
  if (tenant.state !== 'ACTIVE') return null;
  try {
    return (await gql(Q_PERIOD_END, { id: tenant.id })).tenant.billingPeriodEnd || null;
  } catch {
    return null;
  }
}

/**
 * The cancel dialog. Resolves to the cancelSubscription payload, or null
 * when the subscription was kept. self: the tenant cancels with its own key
 * (the API's default is then the end of the billing period; an admin's is
 * now). guard(atPeriodEnd, send) wraps the request.
 */
export async function cancelDialog(tenant, { self = false, uuid, guard = (_, send) => send() } = {}) {
  let result = null;
  const scheduled = tenant.scheduledCancellation;
  const who = self ? 'you' : 'the customer';
  const feedback = choiceGroup({
    legend: self ? 'Why are you leaving?' : 'Why is the customer leaving?', name: 'cancel-feedback',
    options: FEEDBACK, value: '', help: 'Optional. It is recorded with the cancellation, as Stripe records it.',
  });
  const commentEl = h('input', { type: 'text', name: 'comment', maxlength: MAX_COMMENT, autocomplete: 'off', testid: 'cancel-comment',
    placeholder: self ? 'Anything you want us to know' : 'e.g. moving to an in-house search' });
  const comment = field({ label: self ? 'Your comment' : 'The customer’s comment', input: commentEl, name: 'comment',
    help: `Optional, one line of at most ${fmt.number(MAX_COMMENT)} characters. It is personal data: erased at the purge.` });
  const periodLabel = (at) => (at
    ? ['At the end of the billing period (', h('time', { datetime: at, title: at, testid: 'cancel-period-end' }, fmt.date(at)), ')']
    : 'At the end of the billing period');
  const when = choiceGroup({
    legend: 'When does the subscription end?', name: 'cancel-when',
    options: [
      ['period_end', periodLabel(null), scheduled ? { disabled: true, hint: `(already scheduled for ${fmt.date(scheduled.effectiveAt)})` } : {}],
      ['now', 'Now'],
    ],
    value: self && !scheduled ? 'period_end' : 'now',
  });
  const consequence = h('p', { class: 'purge-date', testid: 'cancel-consequence', 'aria-live': 'polite' });
  let periodEnd = null;
  const sync = () => {
    if (when.value() === 'period_end') {
      mount(consequence, `${tenant.name || tenant.slug} stays ${tenant.state.toLowerCase()} until `,
        periodEnd ? h('strong', null, fmt.date(periodEnd)) : 'the end of the billing period',
        `, then it is canceled and billing stops. Until then ${who} can undo the cancellation.`);
    } else {
      mount(consequence, 'The subscription ends ', h('strong', null, 'now'), ' and billing stops. The data is kept, and the tenant can be reactivated later with a payment method.');
    }
  };
  when.onChange(() => { when.setError(''); sync(); });
  feedback.onChange(() => feedback.setError(''));
  commentEl.addEventListener('input', () => comment.setError(''));
  sync();
  if (!scheduled) {
    periodEndOf(tenant).then((at) => {
      periodEnd = at;
      if (at) when.label('period_end', periodLabel(at));
      sync();
    });
  }

  await confirmDialog({
    title: self ? 'Cancel your subscription?' : `Cancel the subscription of ${tenant.name || tenant.slug}?`,
    body: h('div', { class: 'stack', testid: 'cancel-dialog' }, feedback.wrap, comment.wrap, when.wrap, consequence),
    confirmLabel: 'Cancel subscription',
    cancelLabel: 'Keep subscription',
    danger: true,
    reason: self ? false : 'e.g. asked by the customer in ticket 4711',
    focus: feedback.input,
    onError: showInWords({ feedback, comment, atPeriodEnd: when }, tenant.slug, (err) => subscriptionWords(err)),
    onConfirm: async ({ reason }) => {
      const atPeriodEnd = when.value() === 'period_end';
      const input = { tenantId: tenant.id, atPeriodEnd, idempotencyKey: uuid() };
      if (feedback.value()) input.feedback = feedback.value();
      const c = commentEl.value.trim();
      if (c) input.comment = c;
      if (reason) input.reason = reason;
      result = (await guard(atPeriodEnd, () => gql(M_CANCEL, { input }))).cancelSubscription;
    },
  });
  return result;
}

/** Takes a scheduled cancellation back; resolves to the undoCancellation payload. */
export async function undoCancellation(tenant, { uuid }) {
  return (await gql(M_UNDO, { input: { tenantId: tenant.id, idempotencyKey: uuid() } })).undoCancellation;
}

/** yyyy-mm-dd of a local date. */
const isoDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
/** Local midnight days from today. */
const dayFromToday = (days) => { const d = new Date(); d.setHours(0, 0, 0, 0); d.setDate(d.getDate() + days); return d; };
/** "2026-12-09" → local midnight of that day, or null. */
function parseDay(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return d.getDate() === Number(m[3]) ? d : null;
}

/**
 * The pause dialog: a date from tomorrow to 90 days ahead. Resolves to the
 * pauseSubscription payload, or null. guard(send) wraps the request.
 */
export async function pauseDialog(tenant, { self = false, guard = (send) => send() } = {}) {
  let result = null;
  const min = dayFromToday(PAUSE.minDays);
  const max = dayFromToday(PAUSE.maxDays);
  const dateEl = h('input', { type: 'date', name: 'resumesAt', min: isoDay(min), max: isoDay(max), value: isoDay(dayFromToday(PAUSE.initialDays)), required: true, testid: 'pause-until' });
  const date = field({ label: 'Resumes by itself on', input: dateEl, name: 'resumesAt',
    help: `From tomorrow (${fmt.date(min)}) to ${PAUSE.maxDays} days ahead (${fmt.date(max)}); at midnight, your time.` });
  const summary = h('p', { class: 'purge-date', testid: 'pause-summary', 'aria-live': 'polite' });
  let api = null;
  const chosen = () => {
    const d = parseDay(dateEl.value);
    return d && d >= min && d <= max ? d : null;
  };
  const sync = () => {
    const d = chosen();
    if (d) {
      const days = Math.round((d - dayFromToday(0)) / DAY_MS);
      mount(summary, 'Paused until ', h('strong', { testid: 'pause-summary-date' }, fmt.date(d.toISOString())), ` (${days === 1 ? '1 day' : `${days} days`}); then it resumes by itself${self ? '' : ', or earlier when an admin resumes it'}.`);
    } else {
      mount(summary, h('span', { class: 'hint' }, 'Choose the date the pause ends.'));
    }
    if (api) api.setConfirmEnabled(Boolean(d));
  };
  dateEl.addEventListener('input', () => { if (chosen()) date.setError(''); sync(); });
  dateEl.addEventListener('change', () => {
    date.setError(chosen() ? '' : `Choose a date from ${fmt.date(min)} to ${fmt.date(max)}: a pause lasts 1 to ${PAUSE.maxDays} days.`);
    sync();
  });

  await confirmDialog({
    title: self ? 'Pause your subscription?' : `Pause ${tenant.name || tenant.slug}?`,
    body: (dlg) => {
      api = dlg;
      sync();
      return h('div', { class: 'stack', testid: 'pause-dialog' },
        h('p', null, 'While paused the tenant is suspended: its data is kept and can be read, but not changed, and billing is paused.'),
        date.wrap, summary);
    },
    confirmLabel: 'Pause subscription',
    cancelLabel: 'Keep active',
    reason: self ? false : 'e.g. seasonal business, back in spring',
    focus: dateEl,
    onError: showInWords({ resumesAt: date }, tenant.slug, (err) => subscriptionWords(err, { maxDate: fmt.date(max) })),
    onConfirm: async ({ reason }) => {
      const d = chosen();
      if (!d) throw new Error('no date'); // the button waits for one
      const input = { tenantId: tenant.id, resumesAt: d.toISOString() };
      if (reason) input.reason = reason;
      result = (await guard(() => gql(M_PAUSE, { input }))).pauseSubscription;
    },
  });
  return result;
}

/**
 * The reactivation dialog of a CANCELED tenant: payment method and plan.
 * Resolves to the reactivateTenant payload (its operation still running),
 * or null when the tenant stays canceled.
 */
export async function reactivateDialog(tenant, { self = false, uuid, guard = (send) => send() } = {}) {
  let plans;
  try {
    plans = (await gql(Q_PLANS)).plans.filter((p) => p.isolation === tenant.plan.isolation);
  } catch {
    plans = [tenant.plan];
  }
  if (!plans.some((p) => p.key === tenant.plan.key)) plans.unshift(tenant.plan);
  let result = null;
  const pmEl = h('select', { name: 'paymentMethod', testid: 'reactivate-payment' },
    PAYMENT_METHODS.map(([v, label]) => h('option', { value: v }, label)));
  const pm = field({ label: 'Payment method', input: pmEl, name: 'paymentMethod',
    help: 'Charged for the plan before the tenant is active again. The test cards (pm_card_visa, pm_card_chargeDeclined) work with the built-in test provider and Stripe’s test mode.' });
  const otherEl = h('input', { type: 'text', name: 'paymentMethodId', maxlength: 255, autocomplete: 'off', spellcheck: 'false', placeholder: 'pm_…', testid: 'reactivate-payment-other' });
  const other = field({ label: 'Payment method id', input: otherEl, name: 'paymentMethodId', help: 'A payment method of the customer at the billing provider.' });
  other.wrap.hidden = true;
  const planEl = h('select', { name: 'plan', testid: 'reactivate-plan' },
    plans.map((p) => h('option', { value: p.key, selected: p.key === tenant.plan.key }, `${p.name} · ${price(p)}${p.key === tenant.plan.key ? ' (its plan)' : ''}`)));
  const plan = field({ label: 'Plan', input: planEl, name: 'plan',
    help: `Only plans that keep the data where it is (${where(tenant.plan.isolation)}) are offered; change the plan afterwards for the others.` });
  pmEl.addEventListener('change', () => { other.wrap.hidden = pmEl.value !== OTHER; pm.setError(''); other.setError(''); if (pmEl.value === OTHER) otherEl.focus(); });
  otherEl.addEventListener('input', () => other.setError(''));
  planEl.addEventListener('change', () => plan.setError(''));
  // The API's paymentMethod error belongs to the free-text id when that is used.
  const pmField = { get wrap() { return pm.wrap; }, get input() { return pmEl.value === OTHER ? otherEl : pmEl; },
    setError: (m) => (pmEl.value === OTHER ? other : pm).setError(m) };

  await confirmDialog({
    title: self ? 'Reactivate your subscription?' : `Reactivate ${tenant.name || tenant.slug}?`,
    body: h('div', { class: 'stack', testid: 'reactivate-dialog' },
      h('p', null, 'The subscription is charged first; once the payment goes through the tenant is ACTIVE again with its data intact.'),
      h('p', null, 'tenantd makes a new API key for it and shows it once, when the reactivation is done.'),
      pm.wrap, other.wrap, plan.wrap),
    confirmLabel: 'Reactivate',
    cancelLabel: 'Keep canceled',
    reason: self ? false : 'e.g. the customer is coming back',
    focus: pmEl,
    onError: (err, slot) => {
      if (err === MISSING_ID) { // said at the field already
        mount(slot);
        return true;
      }
      return showInWords({ paymentMethod: pmField, plan }, tenant.slug, (e) => subscriptionWords(e))(err, slot);
    },
    onConfirm: async ({ reason }) => {
      const input = { tenantId: tenant.id, idempotencyKey: uuid() };
      const method = pmEl.value === OTHER ? otherEl.value.trim() : pmEl.value;
      if (pmEl.value === OTHER && !method) {
        other.setError('Type the payment method id, or choose one above.');
        otherEl.focus();
        throw MISSING_ID;
      }
      if (method) input.paymentMethod = method;
      if (planEl.value !== tenant.plan.key) input.plan = planEl.value;
      if (reason) input.reason = reason;
      result = (await guard(() => gql(M_REACTIVATE, { input }))).reactivateTenant;
    },
  });
  return result;
}

/**
 * The REACTIVATE operation followed live in a dialog, then either the new
 * API key (shown this once) or the failure in words. watch(fn) calls
 * fn(op) with every update of the operation and returns an unsubscribe.
 * Resolves to 'done', 'failed' or 'retry' (the user wants another card).
 */
export function reactivationProgress(tenant, { operation, apiKey, watch }) {
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const title = h('h2', { id: titleId, tabindex: '-1' }, `Reactivating ${tenant.name || tenant.slug}…`);
    const body = h('div', { 'aria-live': 'polite' });
    const actions = h('div', { class: 'dialog-actions' });
    const dlg = h('dialog', { 'aria-labelledby': titleId, testid: 'reactivate-progress' }, h('div', { class: 'dialog-body' }, title, body, actions));
    let state = 'running';
    let unwatch = () => {};
    const finish = (how) => {
      unwatch();
      dlg.close();
      dlg.remove();
      resolve(how);
    };
    // While billing is asked the key is not shown yet: closing now would lose it.
    dlg.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      if (state === 'failed') finish('failed');
    });
    const button = (label, cls, testid, fn) => h('button', { type: 'button', class: cls, testid, on: { click: fn } }, label);
    const render = (op) => {
      // An outcome is final: an older update arriving after it (the
      // subscription's first snapshot, a page refresh of the operations)
      // must not turn the dialog back to "Working…".
      if (state !== 'running') return;
      dlg.dataset.status = op.status;
      if (!FINAL.has(op.status)) {
        mount(body,
          h('p', null, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Charging the subscription; the tenant becomes ACTIVE once the payment goes through.'),
          progressBar({ done: op.progress ? op.progress.done : 0, total: op.progress ? op.progress.total : 0, status: op.status, label: 'Reactivation progress', testid: 'reactivate-progress-bar' }),
          stepList(op.steps, { testid: 'reactivate-step' }));
        mount(actions, h('button', { type: 'button', disabled: true, testid: 'reactivate-wait' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Working…'));
        return;
      }
      if (op.status === 'SUCCEEDED') {
        state = 'done';
        title.textContent = `${tenant.name || tenant.slug} is active again`;
        mount(body, h('div', { class: 'stack', testid: 'reactivate-succeeded' },
          h('p', null, '✓ Billing is back and the tenant is ACTIVE, with its data intact.'),
          h('p', { class: 'warning', testid: 'api-key-once' }, h('strong', null, 'Its new API key, shown only this once.'),
            ' tenantd keeps only a hash of it: copy it now and hand it over on a safe channel.'),
          secretBox(apiKey, { testid: 'reactivate-api-key', label: 'Copy key' }),
          h('p', { class: 'hint' }, 'Once this dialog is closed the key cannot be shown again; a lost key is replaced by a new one.')));
        const ok = button('I have copied the key', 'primary', 'reactivate-done', () => finish('done'));
        mount(actions, ok);
        ok.focus();
      } else {
        state = 'failed';
        title.textContent = 'The reactivation did not go through';
        mount(body, h('div', { class: 'stack', testid: 'reactivate-failed' },
          wordsBox(reactivationFailedWords(op)),
          stepList(op.steps, { testid: 'reactivate-step' })));
        const retry = button('Try another payment method', 'primary', 'reactivate-retry', () => finish('retry'));
        mount(actions, button('Close', '', 'reactivate-close', () => finish('failed')), retry);
        retry.focus();
      }
    };
    document.body.append(dlg);
    dlg.showModal();
    title.focus(); // the outcome's button takes the focus when it comes
    render(operation);
    unwatch = watch((op) => render(op));
  });
}

/**
 * The banner of a tenant with a cancellation scheduled or a pause under
 * way (null otherwise).
 */
export function subscriptionBanner(tenant, { canUndo = false, canResume = false, onUndo, onResume } = {}) {
  const id = `sub-banner-${tenant.id}`;
  const sc = tenant.scheduledCancellation;
  if (sc && (tenant.state === 'ACTIVE' || tenant.state === 'SUSPENDED')) {
    const why = feedbackWords(sc.feedback);
    return h('section', { class: 'banner warn', testid: 'cancellation-banner', 'aria-labelledby': id },
      h('div', { class: 'banner-main' },
        h('h2', { id }, 'Cancellation scheduled'),
        h('p', { testid: 'cancellation-banner-text' },
          h('strong', null, 'Cancels on ', h('time', { datetime: sc.effectiveAt, title: sc.effectiveAt, testid: 'banner-cancel-date' }, fmt.date(sc.effectiveAt)),
            why ? [' — ', h('span', { testid: 'banner-cancel-reason' }, why)] : null),
          `. Until the end of the billing period it stays ${tenant.state.toLowerCase()} and is billed as now; then it is canceled.`),
        sc.requestedBy || sc.requestedAt ? h('p', { class: 'hint' },
          'Asked', sc.requestedBy ? [' by ', h('span', { class: 'mono' }, sc.requestedBy)] : null,
          sc.requestedAt ? [' on ', timeEl(sc.requestedAt)] : null, '.') : null),
      canUndo ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', testid: 'banner-undo-cancel', on: { click: onUndo } }, 'Undo cancellation')) : null);
  }
  if (tenant.pausedUntil && tenant.state === 'SUSPENDED') {
    return h('section', { class: 'banner neutral', testid: 'paused-banner', 'aria-labelledby': id },
      h('div', { class: 'banner-main' },
        h('h2', { id }, 'Paused'),
        h('p', { testid: 'paused-banner-text' },
          h('strong', null, 'Paused until ', h('time', { datetime: tenant.pausedUntil, title: fmt.dateTime(tenant.pausedUntil), testid: 'banner-paused-until' }, dayAndTime(tenant.pausedUntil)),
            '; resumes by itself'),
          `. Its billing is paused; its data is kept and can be read, not changed${canResume ? '. Resume it to end the pause now' : ''}.`)),
      canResume ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', testid: 'banner-resume', on: { click: onResume } }, 'Resume now')) : null);
  }
  return null;
}
