// The public pages a win-back mail links to. #/reactivate?token=… shows the
// campaign's offer to the canceled customer and reactivates in one step
// with a payment method (the REACTIVATE operation followed live, then the
// new API key shown once); #/unsubscribe?token=… stops the mails. The
// link's token is the credential: these pages send no Authorization
// header, so they work signed out (and an operator signed in on the same
// browser does not act for the customer by mistake).

import { gql, asAPIError, wsURL } from '../api.js';
import { createClient } from '../ws.js';
import { h, mount, fmt, field, loading, secretBox, progressBar, stepList } from '../dom.js';
import { OP_FIELDS } from '../fragments.js';
import { sentence, wordsBox } from '../retention.js';
import { PAYMENT_METHODS, OTHER, subscriptionWords, reactivationFailedWords } from '../subscription.js';

const Q_OFFER = `query WinBackOffer($token: String!) {
  winBackOffer(token: $token) { tenantName tenantState plan planName priceCents campaignName offer { percentOff durationMonths } expiresAt reactivated }
}`;
const M_REACTIVATE = `mutation ReactivateFromWinBack($input: ReactivateFromWinBackInput!) {
  reactivateFromWinBack(input: $input) { tenant { id name state } operation { ${OP_FIELDS} } apiKey }
}`;
const M_UNSUBSCRIBE = 'mutation UnsubscribeWinBack($token: String!) { unsubscribeWinBack(token: $token) { tenantName } }';
const S_PROGRESS = `subscription OperationProgress($id: ID!) { operationProgress(id: $id) { ${OP_FIELDS} } }`;
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);
const ANON = { token: '' };

const money = (cents) => `$${(cents / 100).toFixed(2)}`;
const months = (n) => `${n} month${n === 1 ? '' : 's'}`;

/** A link's error in words: every bad link is the same FORBIDDEN. */
function linkWords(err) {
  const e = asAPIError(err).errors[0];
  if (e.code === 'FORBIDDEN' && /unsubscribed/.test(e.message || '')) {
    return 'You unsubscribed from these emails, so this link no longer works. Sign in to the console to reactivate, or ask your administrator.';
  }
  if (e.code === 'FORBIDDEN') {
    return 'This link is not valid or has expired (links work for 30 days). Sign in to the console instead, or ask your administrator.';
  }
  if (e.code === 'INVALID_TRANSITION' && /already active/.test(e.message || '')) {
    return 'Your workspace is already active again: nothing was charged this time.';
  }
  if (e.code === 'CONFLICT') return 'Your reactivation is already under way: wait a moment and reload this page.';
  return subscriptionWords(err).message;
}

function page(title, sub, ...body) {
  return h('div', { class: 'narrow' },
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, title), sub ? h('p', { class: 'sub' }, sub) : null)),
    ...body);
}

function missingToken(root) {
  mount(root, page('This link is incomplete', null,
    h('div', { class: 'card stack', testid: 'winback-link-error' }, wordsBox('The link has no token: open it again from the email, copying the whole address.'))));
}

/** #/reactivate?token=… */
export function reactivatePage(root, ctx) {
  const token = ctx.query.get('token') || '';
  if (!token) { missingToken(root); return null; }
  let live = null;
  let unsub = () => {};
  mount(root, loading('Reading your offer…'));

  gql(Q_OFFER, { token }, ANON).then((d) => render(d.winBackOffer), (err) => {
    mount(root, page('This link does not work', null,
      h('div', { class: 'card stack', testid: 'winback-link-error' }, wordsBox(linkWords(err)),
        h('p', null, h('a', { href: '#/signin' }, 'Sign in to the console'), '.'))));
  });

  function render(o) {
    ctx.setTitle(`Come back to ${o.planName}`);
    if (o.reactivated || o.tenantState === 'ACTIVE') {
      mount(root, page(`Welcome back, ${o.tenantName}`, null,
        h('div', { class: 'card stack', testid: 'winback-already' },
          h('p', null, '✓ Your workspace is active again, with its data intact. Nothing more is charged through this link.'),
          h('p', null, h('a', { href: '#/signin' }, 'Sign in with your API key'), ' to use it.'))));
      return;
    }
    const offer = o.offer
      ? h('p', { class: 'stat', testid: 'winback-offer' }, h('strong', null, `${o.offer.percentOff}% off for ${months(o.offer.durationMonths)}`),
        ` on ${o.planName} (${money(o.priceCents)}/month), then ${money(o.priceCents)}/month.`)
      : h('p', { testid: 'winback-offer' }, `${o.planName} at ${money(o.priceCents)}/month.`);
    const pmEl = h('select', { name: 'paymentMethod', testid: 'winback-payment' },
      PAYMENT_METHODS.map(([v, label]) => h('option', { value: v }, v ? label : 'The card you paid with before')));
    const pm = field({ label: 'Payment method', input: pmEl, name: 'paymentMethod',
      help: 'Charged for the plan before your workspace is active again. The test ids work with the built-in test provider and Stripe’s test mode.' });
    const otherEl = h('input', { type: 'text', name: 'paymentMethodId', maxlength: 255, autocomplete: 'off', spellcheck: 'false', placeholder: 'pm_…', testid: 'winback-payment-other' });
    const other = field({ label: 'Payment method id', input: otherEl, name: 'paymentMethodId' });
    other.wrap.hidden = true;
    pmEl.addEventListener('change', () => { other.wrap.hidden = pmEl.value !== OTHER; pm.setError(''); other.setError(''); });
    const errorSlot = h('div', { 'aria-live': 'assertive' });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'winback-reactivate' }, `Reactivate ${o.planName}`);
    const outcome = h('div', { 'aria-live': 'polite', testid: 'winback-outcome' });
    const form = h('form', { class: 'card stack', testid: 'winback-form', novalidate: true },
      offer,
      h('p', null, 'Your documents and settings were kept: reactivating brings the workspace back as you left it, with a new API key.'),
      pm.wrap, other.wrap, errorSlot,
      h('div', { class: 'toolbar' }, submit),
      h('p', { class: 'hint' }, `This link works until ${fmt.dateTime(o.expiresAt)}.`));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      mount(errorSlot);
      pm.setError('');
      other.setError('');
      const method = pmEl.value === OTHER ? otherEl.value.trim() : pmEl.value;
      if (pmEl.value === OTHER && !method) {
        other.setError('Type the payment method id, or choose one above.');
        otherEl.focus();
        return;
      }
      submit.disabled = true;
      mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Reactivating…');
      try {
        const input = { token };
        if (method) input.paymentMethod = method;
        const r = (await gql(M_REACTIVATE, { input }, ANON)).reactivateFromWinBack;
        form.remove();
        follow(o, r);
      } catch (err) {
        const words = linkWords(err);
        const e = asAPIError(err).errors[0];
        if (e.code === 'PAYMENT_DECLINED' || e.field === 'paymentMethod') (pmEl.value === OTHER ? other : pm).setError(words);
        else mount(errorSlot, wordsBox(words));
        submit.disabled = false;
        mount(submit, `Reactivate ${o.planName}`);
      }
    });
    mount(root, page(`Come back, ${o.tenantName}`, `An offer from ${o.campaignName}.`, form, outcome));
    pmEl.focus();

    /** The REACTIVATE operation, live over a WebSocket with the new key. */
    function follow(offerView, r) {
      const show = (op) => {
        if (!FINAL.has(op.status)) {
          mount(outcome, h('div', { class: 'card stack', testid: 'winback-progress', dataset: { status: op.status } },
            h('p', null, h('span', { class: 'spinner', 'aria-hidden': 'true' }), ' Charging your subscription; the workspace is active once the payment goes through.'),
            progressBar({ done: op.progress ? op.progress.done : 0, total: op.progress ? op.progress.total : 0, status: op.status, label: 'Reactivation progress' }),
            stepList(op.steps, { testid: 'winback-step' })));
          return;
        }
        unsub();
        if (op.status === 'SUCCEEDED') {
          ctx.setTitle('Welcome back');
          root.querySelector('h1').textContent = `Welcome back, ${offerView.tenantName}`;
          mount(outcome, h('div', { class: 'card stack', testid: 'winback-succeeded' },
            h('p', null, '✓ Your workspace is active again, with its data intact',
              offerView.offer ? `, and ${offerView.offer.percentOff}% off for ${months(offerView.offer.durationMonths)} is applied.` : '.'),
            h('p', { class: 'warning', testid: 'api-key-once' }, h('strong', null, 'Your new API key, shown only this once.'),
              ' tenantd keeps only a hash of it: copy it now and keep it safe.'),
            secretBox(r.apiKey, { testid: 'winback-api-key', label: 'Copy key' }),
            h('p', null, h('a', { href: '#/signin', testid: 'winback-signin' }, 'Sign in with it'), ' to use your workspace.')));
        } else {
          mount(outcome, h('div', { class: 'card stack', testid: 'winback-failed' },
            wordsBox(reactivationFailedWords(op).replace('The tenant stays', 'Your workspace stays').replace('the tenant stays', 'your workspace stays')),
            h('p', null, 'Open the link from the email again to try another payment method.')));
        }
      };
      show(r.operation);
      if (FINAL.has(r.operation.status)) return;
      live = createClient({ url: wsURL(), token: r.apiKey });
      unsub = live.subscribe({ query: S_PROGRESS, variables: { id: r.operation.id } }, {
        next: (msg) => { if (msg.data && msg.data.operationProgress) show(msg.data.operationProgress); },
        error: (err) => mount(outcome, wordsBox(`The progress could not be followed (${sentence(asAPIError(err).errors[0].message)}) Reload the page to see where it stands.`)),
        complete: () => {},
      });
    }
  }

  return () => { unsub(); if (live) live.dispose(); };
}

/** #/unsubscribe?token=… */
export function unsubscribePage(root, ctx) {
  const token = ctx.query.get('token') || '';
  if (!token) { missingToken(root); return null; }
  const errorSlot = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'unsubscribe-submit' }, 'Unsubscribe');
  const form = h('form', { class: 'card stack', testid: 'unsubscribe-form', novalidate: true },
    h('p', null, 'You will get no more win-back or reminder emails about this workspace. Its links stop working; the console still works.'),
    errorSlot, h('div', { class: 'toolbar' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(errorSlot);
    submit.disabled = true;
    mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Unsubscribing…');
    try {
      const d = await gql(M_UNSUBSCRIBE, { token }, ANON);
      mount(root, page('You are unsubscribed', null, h('div', { class: 'card stack', testid: 'unsubscribe-done' },
        h('p', null, `✓ No more of these emails for ${d.unsubscribeWinBack.tenantName}.`))));
    } catch (err) {
      mount(errorSlot, wordsBox(linkWords(err)));
      submit.disabled = false;
      mount(submit, 'Unsubscribe');
    }
  });
  mount(root, page('Unsubscribe from these emails', null, form));
  submit.focus();
  return null;
}
