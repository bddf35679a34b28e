// The activation wizard (public): sign up → watch provisioning live → upload
// a first document → run a first query → done.

import { auth, gql, uuid, wsURL, APIError, asAPIError } from '../api.js';
import { sentence } from '../retention.js';
import { createClient } from '../ws.js';
import { h, mount, fmt, field, errorBox, progressBar, stepList, statusBadge, copyText, toast } from '../dom.js';
import { uploadForm, searchPanel } from '../workspace.js';

/** The test payment methods: value, label (short: it must fit a phone), what it does. */
const PAYMENTS = [
  ['pm_card_visa', 'Visa test card', 'A test card that is charged successfully (pm_card_visa).'],
  ['pm_card_chargeDeclined', 'Declined test card', 'A test card whose charge is declined, to see what a customer sees (pm_card_chargeDeclined).'],
];
const SLUG_RE = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;
const RESERVED = new Set(['admin', 'api', 'www', 'graphql', 'console', 'app', 'tenantd', 'status', 'mail', 'support']);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** "Shared tables · 250,000 documents · 10,000 queries a month" */
function planWords(p) {
  return [p.isolation === 'SILO' ? 'Its own database' : 'Shared tables',
    p.maxDocuments ? `${fmt.number(p.maxDocuments)} documents` : 'unlimited documents',
    p.maxQueriesPerMonth ? `${fmt.number(p.maxQueriesPerMonth)} queries a month` : 'unlimited queries'].join(' · ') + '.';
}

/**
 * The signup's mistakes, every field at once, as the server checks them:
 * {field: message}; {} when it may be sent.
 */
export function checkSignup(input, plans = []) {
  const p = {};
  if (!input.name) p.name = 'Enter your company name.';
  else if (input.name.length > 100) p.name = 'The company name is too long: 100 characters at most.';
  else if (CONTROL.test(input.name)) p.name = 'The company name must be one line of text.';
  if (!input.slug) p.slug = 'Choose a workspace URL name, e.g. acme-inc.';
  else if (input.slug.length < 3 || input.slug.length > 63) p.slug = 'The URL name must be 3 to 63 characters long.';
  else if (!SLUG_RE.test(input.slug)) p.slug = 'Use only lower-case letters, digits and hyphens, starting and ending with a letter or digit (e.g. acme-inc).';
  else if (RESERVED.has(input.slug)) p.slug = `“${input.slug}” is reserved: choose another URL name.`;
  if (!input.email) p.email = 'Enter the owner’s email address.';
  else if (input.email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email)) p.email = 'Enter an email address like owner@example.com.';
  if (!input.plan) p.plan = 'Choose a plan.';
  else if (plans.length && !plans.some((x) => x.key === input.plan)) p.plan = 'This plan is not offered: choose another.';
  if (!PAYMENTS.some(([v]) => v === input.paymentMethod)) p.paymentMethod = 'Choose a payment method.';
  return p;
}

/** A signup error in words: {field, message}; field is '' when it concerns no one field. */
function signupWords(err) {
  const e = asAPIError(err).errors[0];
  switch (e.code) {
    case 'INVALID_INPUT':
      if (e.field === 'idempotencyKey') return { field: '', message: 'Something went wrong on this page. Reload it and try again.' };
      return { field: e.field, message: sentence(e.message) };
    case 'PAYMENT_DECLINED':
      return { field: 'paymentMethod', message: 'The card was declined, and nothing was charged. Choose another payment method.' };
    case 'NOT_FOUND':
      return { field: 'plan', message: 'This plan is not offered any more: choose another.' };
    case 'CONFLICT':
    case 'IDEMPOTENCY_MISMATCH':
      return { field: '', message: 'This sign-up is already under way. Wait a moment, then try again.' };
    case 'NETWORK_ERROR':
      return { field: '', message: e.message };
    default:
      return { field: '', message: 'tenantd could not complete the sign-up. Try again in a moment; nothing was charged twice.' };
  }
}

const STEPS = ['Sign up', 'Provisioning', 'Upload', 'First query', 'Done'];
const STORE = 'tenantd.console.wizard';

const Q_PLANS = 'query SignupPlans { plans { key name isolation priceCents maxDocuments maxQueriesPerMonth } }';
const M_SIGNUP = `mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) {
    apiKey
    tenant { id name slug state }
    operation { id status progress { done total } steps { name status } }
  }
}`;
const S_PROGRESS = `subscription WizardProgress($id: ID!) {
  operationProgress(id: $id) { id status progress { done total fraction } steps { name status startedAt finishedAt detail } error { code message } }
}`;

export default function signup(root, ctx) {
  let st = restore() || { step: 1 };
  let apiKey = ''; // in memory only: shown once
  let client = null;
  let unsubscribe = null;
  const disposers = [];

  const indicator = h('ol', { class: 'wizard-steps', testid: 'wizard-progress', 'aria-label': 'Activation steps' });
  const panel = h('section', { class: 'card', 'aria-label': 'Current step' });
  mount(root, h('div', { class: 'wizard' },
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Activate your workspace'),
      h('p', { class: 'sub' }, 'Sign up, watch your workspace being provisioned, upload a first document and run a first query.'))),
    indicator, panel));

  function save() {
    try { sessionStorage.setItem(STORE, JSON.stringify(st)); } catch { /* ignore */ }
  }
  function go(step) {
    st.step = step;
    save();
    render();
    const heading = panel.querySelector('h2');
    if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
  }

  function renderIndicator() {
    mount(indicator, STEPS.map((label, i) => {
      const n = i + 1;
      const state = n < st.step ? 'done' : n === st.step ? 'current' : 'todo';
      const finished = state === 'done' || (n === STEPS.length && st.step === STEPS.length);
      return h('li', { class: finished ? 'done' : '', 'aria-current': state === 'current' ? 'step' : undefined, testid: 'wizard-progress-step', dataset: { state } },
        h('span', null, label), h('span', { class: 'visually-hidden' }, state === 'done' ? ' (done)' : state === 'current' ? ' (current step)' : ''));
    }));
  }

  function render() {
    renderIndicator();
    if (unsubscribe && st.step !== 2) { unsubscribe(); unsubscribe = null; }
    if (st.step === 1) stepSignup();
    else if (st.step === 2) stepProvision();
    else if (st.step === 3) stepUpload();
    else if (st.step === 4) stepQuery();
    else stepDone();
  }

  // ---- 1: sign up ----
  let lastAttempt = null; // {key, input, network}
  function stepSignup() {
    const name = h('input', { type: 'text', name: 'name', maxlength: 100, required: true, autocomplete: 'organization', testid: 'signup-name' });
    const slug = h('input', { type: 'text', name: 'slug', maxlength: 63, required: true, autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false', testid: 'signup-slug' });
    const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'email', testid: 'signup-email' });
    const plan = h('select', { name: 'plan', required: true, testid: 'signup-plan' }, h('option', { value: '' }, 'Loading plans…'));
    // Short labels, so the choice is never cut off (a phone is 390 px wide);
    // what each one means is said under the field.
    const payment = h('select', { name: 'paymentMethod', testid: 'signup-payment' },
      PAYMENTS.map(([value, label]) => h('option', { value }, label)));
    const planHelp = h('span', { testid: 'signup-plan-help' }, '');
    const paymentHelp = h('span', { testid: 'signup-payment-help' }, '');
    const fields = {
      name: field({ label: 'Company name', input: name, name: 'name', help: '1 to 100 characters.' }),
      slug: field({ label: 'Workspace URL name (slug)', input: slug, name: 'slug', help: '3 to 63 lower-case letters, digits and hyphens.' }),
      email: field({ label: 'Owner email', input: email, name: 'email' }),
      plan: field({ label: 'Plan', input: plan, name: 'plan', help: planHelp }),
      paymentMethod: field({ label: 'Payment method', input: payment, name: 'paymentMethod', help: paymentHelp }),
    };
    const errorSlot = h('div', { 'aria-live': 'assertive' });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'signup-submit' }, 'Sign up');
    let slugEdited = false;
    name.addEventListener('input', () => { if (!slugEdited) slug.value = slugify(name.value); });
    slug.addEventListener('input', () => { slugEdited = slug.value !== ''; });
    // A mistake stays said until its field changes.
    for (const f of Object.values(fields)) f.input.addEventListener(f.input.tagName === 'SELECT' ? 'change' : 'input', () => f.setError(''));
    const describePayment = () => { paymentHelp.textContent = (PAYMENTS.find(([v]) => v === payment.value) || [])[2] || ''; };
    payment.addEventListener('change', describePayment);
    describePayment();

    let plans = [];
    const describePlan = () => {
      const p = plans.find((x) => x.key === plan.value);
      planHelp.textContent = p ? planWords(p) : '';
    };
    plan.addEventListener('change', describePlan);
    gql(Q_PLANS, {}, { token: '' }).then((d) => {
      plans = d.plans;
      mount(plan, d.plans.map((p) => h('option', { value: p.key }, `${p.name} · ${p.priceCents ? `$${(p.priceCents / 100).toFixed(0)}/mo` : 'free'}`)));
      plan.value = d.plans.some((p) => p.key === 'starter') ? 'starter' : d.plans[0]?.key || '';
      describePlan();
    }, (err) => {
      mount(plan, h('option', { value: '' }, 'Plans unavailable'));
      fields.plan.setError(`The plans could not be loaded: ${signupWords(err).message} Reload the page to try again.`);
    });

    const signedInAs = auth.token
      ? h('p', { class: 'hint', testid: 'signup-switch-note' }, 'Note: once you sign up, this console signs in with the new workspace’s API key instead of your current token.')
      : null;

    const form = h('form', { novalidate: true, testid: 'signup-form' },
      h('h2', null, '1. Sign up'), signedInAs,
      fields.name.wrap, fields.slug.wrap, fields.email.wrap,
      h('div', { class: 'inline-fields' }, fields.plan.wrap, fields.paymentMethod.wrap),
      errorSlot, h('div', { class: 'wizard-nav' }, h('span'), submit));

    /** Says each problem at its field; focuses the first. */
    const showProblems = (problems) => {
      let first = null;
      for (const [k, msg] of Object.entries(problems)) {
        fields[k].setError(msg);
        if (!first) first = fields[k].input;
      }
      if (first) first.focus();
    };

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const f of Object.values(fields)) f.setError('');
      mount(errorSlot);
      const input = { name: name.value.trim(), slug: slug.value.trim(), email: email.value.trim(), plan: plan.value, paymentMethod: payment.value };
      // Every field is checked at once, as the server would, so all the
      // mistakes are said in one go.
      const problems = checkSignup(input, plans);
      if (Object.keys(problems).length) {
        showProblems(problems);
        return;
      }
      // A fresh idempotency key per attempt; the same one only to retry an
      // attempt whose answer never arrived (network error) with the same input.
      const same = lastAttempt && lastAttempt.network && JSON.stringify(lastAttempt.input) === JSON.stringify(input);
      const key = same ? lastAttempt.key : uuid();
      lastAttempt = { key, input, network: false };
      submit.disabled = true;
      mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Signing up…');
      try {
        const d = await gql(M_SIGNUP, { input: { ...input, idempotencyKey: key } }, { token: '' });
        const p = d.signUp;
        apiKey = p.apiKey;
        auth.set(p.apiKey);
        st = { step: 2, tenant: p.tenant, operationId: p.operation.id, operation: p.operation };
        go(2);
      } catch (err) {
        const e = asAPIError(err);
        if (e.code === 'NETWORK_ERROR') lastAttempt.network = true;
        // The server's mistakes in words, each at the field it names; the
        // rest above the button. No error codes: this page is the customer's.
        const atFields = {};
        const general = [];
        for (const x of e.errors) {
          const w = signupWords(new APIError([{ message: x.message, extensions: x.extensions }]));
          if (w.field && fields[w.field] && !atFields[w.field]) atFields[w.field] = w.message;
          else if (!general.includes(w.message)) general.push(w.message);
        }
        showProblems(atFields);
        if (general.length) {
          mount(errorSlot, h('div', { class: 'error-box', role: 'alert', testid: 'signup-error' },
            h('strong', null, 'The sign-up did not go through.'), general.map((m) => h('p', { class: 'words', testid: 'error-message' }, m))));
        }
        submit.disabled = false;
        mount(submit, 'Sign up');
      }
    });
    mount(panel, form, h('p', { class: 'hint' }, 'Already have a key? ', h('a', { href: '#/signin' }, 'Sign in'), '.'));
    name.focus();
  }

  // ---- 2: provisioning, live ----
  function stepProvision() {
    const token = apiKey || auth.token;
    const status = h('span');
    const progress = h('div');
    const stepsSlot = h('div');
    const errorSlot = h('div', { 'aria-live': 'assertive' });
    const next = h('button', { type: 'button', class: 'primary', testid: 'wizard-next', disabled: true, on: { click: () => go(3) } }, 'Continue');
    const counter = h('span', { class: 'hint', testid: 'provision-messages', dataset: { count: 0 } }, '');
    const keyBox = apiKey
      ? h('div', { class: 'stack' },
        h('h3', null, 'Your API key'),
        h('p', null, 'Shown only this once: tenantd keeps only a hash. This console is now signed in with it.'),
        h('div', { class: 'secret' }, h('code', { testid: 'api-key' }, apiKey),
          h('button', { type: 'button', class: 'small', testid: 'copy-api-key', on: { click: async (ev) => {
            const ok = await copyText(apiKey);
            ev.currentTarget.textContent = ok ? 'Copied ✓' : 'Copy failed: select it';
            toast(ok ? 'API key copied' : 'Copy failed: select the key and copy it yourself', { bad: !ok });
          } } }, 'Copy')))
      : h('p', { class: 'hint', testid: 'api-key-stored' }, 'Your API key was shown when you signed up; this console keeps it as its token.');

    let messages = 0;
    const draw = (op) => {
      mount(status, statusBadge(op.status, 'provision-status'));
      mount(progress, progressBar({ done: op.progress.done, total: op.progress.total, status: op.status, label: 'Provisioning progress', testid: 'provision-progress' }));
      mount(stepsSlot, stepList(op.steps, { testid: 'provision-step' }));
      if (op.status === 'SUCCEEDED') {
        next.disabled = false;
        mount(errorSlot, h('p', { testid: 'provision-done' }, h('strong', null, '✓ Your workspace is ready.'), ' ', st.tenant.name, ' is ACTIVE.'));
      } else if (op.status === 'FAILED' || op.status === 'CANCELED') {
        mount(errorSlot, errorBox(new APIError([{ message: op.error ? op.error.message : `provisioning ${op.status.toLowerCase()}`, extensions: { code: op.error ? op.error.code : op.status } }]),
          { title: 'Provisioning did not finish. An operator can retry it from the tenant page; nothing was charged twice.', testid: 'provision-error', codes: false }));
      }
    };
    if (st.operation) draw(st.operation);
    else mount(progress, h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Connecting…'));

    mount(panel,
      h('div', { testid: 'wizard-step-provision' },
        h('h2', null, '2. Provisioning ', h('span', { class: 'mono' }, st.tenant.slug)),
        keyBox,
        h('h3', null, 'Progress ', status),
        progress, stepsSlot, counter, errorSlot,
        h('div', { class: 'wizard-nav' }, h('span'), next)));

    if (!client) {
      client = createClient({ url: wsURL(), token });
      disposers.push(() => client.dispose());
    }
    unsubscribe = client.subscribe({ query: S_PROGRESS, variables: { id: st.operationId } }, {
      next: (msg) => {
        if (msg.errors && msg.errors.length) { mount(errorSlot, errorBox(new APIError(msg.errors), { codes: false })); return; }
        const op = msg.data && msg.data.operationProgress;
        if (!op) return;
        messages += 1;
        counter.dataset.count = messages;
        counter.textContent = `${messages} live update${messages === 1 ? '' : 's'} received`;
        st.operation = op;
        save();
        draw(op);
      },
      error: (err) => mount(errorSlot, errorBox(err, { title: 'Live progress stopped', retry: () => render(), codes: false })),
      complete: () => { unsubscribe = null; },
    });
  }

  // ---- 3: upload ----
  function stepUpload() {
    const next = h('button', { type: 'button', class: 'primary', testid: 'wizard-next', disabled: !st.uploaded, on: { click: () => go(4) } }, 'Continue');
    const up = uploadForm({
      onUploaded: ({ document: doc }) => {
        st.uploaded = { id: doc.id, title: doc.title };
        save();
        next.disabled = false;
        renderIndicator();
      },
    });
    mount(panel, h('div', { testid: 'wizard-step-upload' },
      h('h2', null, '3. Upload a first document'),
      h('p', null, 'Add some text to your workspace. It is indexed for search right away.'),
      up.el,
      h('div', { class: 'wizard-nav' }, h('button', { type: 'button', class: 'ghost', on: { click: () => go(4) }, testid: 'wizard-skip' }, 'Skip for now'), next)));
    up.title.focus();
  }

  // ---- 4: first query ----
  function stepQuery() {
    const next = h('button', { type: 'button', class: 'primary', testid: 'wizard-next', disabled: !st.searched, on: { click: () => go(5) } }, 'Continue');
    const initial = st.uploaded ? (st.uploaded.title.split(/\s+/).find((w) => w.length > 3) || '') : '';
    const panelSearch = searchPanel({
      first: 5,
      initial,
      onSearched: () => { st.searched = true; save(); next.disabled = false; },
    });
    mount(panel, h('div', { testid: 'wizard-step-query' },
      h('h2', null, '4. Run a first query'),
      h('p', null, 'Search your workspace. Matches are highlighted in each snippet.'),
      panelSearch.el,
      h('div', { class: 'wizard-nav' }, h('button', { type: 'button', class: 'ghost', on: { click: () => go(3) } }, '← Back'), next)));
    panelSearch.input.focus();
  }

  // ---- 5: done ----
  function stepDone() {
    const t = st.tenant;
    try { sessionStorage.removeItem(STORE); } catch { /* ignore */ }
    mount(panel, h('div', { testid: 'wizard-step-done' },
      h('h2', null, '5. You are all set'),
      h('p', null, `${t.name} is active, with ${st.uploaded ? 'a first document' : 'an empty workspace'}${st.searched ? ' and a first query behind it' : ''}.`),
      h('p', null, h('a', { class: 'button primary', href: `#/tenants/${encodeURIComponent(t.id)}`, testid: 'wizard-tenant-link', dataset: { tenantId: t.id } }, `Open ${t.name}`)),
      h('p', { class: 'hint' }, h('a', { href: '#/signup', testid: 'wizard-again', on: { click: (ev) => { ev.preventDefault(); st = { step: 1 }; apiKey = ''; save(); render(); } } }, 'Sign up another tenant'))));
    ctx.refreshViewer();
  }

  render();
  return () => {
    if (unsubscribe) unsubscribe();
    disposers.forEach((f) => f());
  };
}

function restore() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    if (s && s.step > 1 && s.tenant && s.operationId && localStorage.getItem('tenantd.console.token')) return s;
  } catch { /* ignore */ }
  return null;
}

function slugify(s) {
  return s.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
}
