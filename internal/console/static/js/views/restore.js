// The public page a deletion email's restore link opens: #/restore?token=….
// It says which workspace the link restores and when its data is purged,
// and restores it in one click (restoreFromLink), then shows the new API key
// once: the deletion revoked every key, so the token is the credential. The
// page sends no Authorization header, so it works signed out (and an
// operator signed in on the same browser does not act for the customer).

import { gql, asAPIError } from '../api.js';
import { h, mount, fmt, loading, secretBox } from '../dom.js';
import { sentence, wordsBox } from '../retention.js';

const Q_LINK = 'query RestoreLink($token: String!) { restoreLink(token: $token) { tenantName state purgeAfter } }';
const M_RESTORE = `mutation RestoreFromLink($input: RestoreFromLinkInput!) {
  restoreFromLink(input: $input) { tenant { id name state } apiKey }
}`;
const ANON = { token: '' };

/** A restore link's error in words (no codes on a customer's page). */
function linkWords(err) {
  const e = asAPIError(err).errors[0];
  const msg = e.message || '';
  if (e.code === 'FORBIDDEN' && /purged/.test(msg) && !/expired/.test(msg)) {
    return 'This workspace was purged: its data no longer exists and cannot be restored. Sign up again to start a new one.';
  }
  if (e.code === 'FORBIDDEN' && (/expired/.test(msg) || /administrator deleted/.test(msg))) return sentence(msg);
  if (e.code === 'FORBIDDEN') {
    return 'This restore link is not valid. If the workspace was deleted more than once, use the link of the newest email; otherwise ask your administrator to restore it.';
  }
  if (e.code === 'INVALID_TRANSITION') {
    return 'This workspace was restored already, so nothing changed. Sign in with the API key shown then, or ask your administrator for a new one.';
  }
  return sentence(msg);
}

function page(title, ...body) {
  return h('div', { class: 'narrow' }, h('div', { class: 'page-head' }, h('div', null, h('h1', null, title))), ...body);
}

const signinLink = () => h('p', null, h('a', { href: '#/signin', testid: 'restore-signin' }, 'Sign in to the console'), '.');

/** #/restore?token=… */
export function restorePage(root, ctx) {
  const token = ctx.query.get('token') || '';
  if (!token) {
    mount(root, page('This link is incomplete',
      h('div', { class: 'card stack', testid: 'restore-link-error' }, wordsBox('The link has no token: open it again from the email, copying the whole address.'))));
    return null;
  }
  mount(root, loading('Reading the link…'));
  gql(Q_LINK, { token }, ANON).then((d) => render(d.restoreLink), (err) => {
    mount(root, page('This link does not work',
      h('div', { class: 'card stack', testid: 'restore-link-error' }, wordsBox(linkWords(err)), signinLink())));
  });

  function render(v) {
    ctx.setTitle(`Restore ${v.tenantName}`);
    if (v.state !== 'PENDING_DELETION') {
      mount(root, page(`“${v.tenantName}” is restored`,
        h('div', { class: 'card stack', testid: 'restore-already' },
          h('p', null, '✓ This workspace was restored already, with its data intact. Nothing more happens through this link.'),
          signinLink())));
      return;
    }
    const errorSlot = h('div', { 'aria-live': 'assertive' });
    const submit = h('button', { type: 'submit', class: 'primary', testid: 'restore-submit' }, 'Restore the workspace');
    const form = h('form', { class: 'card stack', testid: 'restore-form', novalidate: true },
      h('p', null, 'Its deletion was requested, so its API keys no longer work. Unless it is restored, all of its data is permanently deleted on ',
        h('strong', null, h('time', { datetime: v.purgeAfter, testid: 'restore-purge-after' }, fmt.dateTime(v.purgeAfter))), '.'),
      h('p', null, 'Restoring brings it back as it was before the deletion, with its documents and settings, and gives it a new API key. Billing resumes where it applies.'),
      errorSlot, h('div', { class: 'toolbar' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      mount(errorSlot);
      submit.disabled = true;
      mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Restoring…');
      try {
        const r = (await gql(M_RESTORE, { input: { token } }, ANON)).restoreFromLink;
        ctx.setTitle('Restored');
        mount(root, page(`“${r.tenant.name}” is restored`,
          h('div', { class: 'card stack', testid: 'restore-succeeded' },
            h('p', null, '✓ Your workspace is back, with its data intact. Its deletion is taken back: nothing will be purged.'),
            h('p', { class: 'warning', testid: 'api-key-once' }, h('strong', null, 'Your new API key, shown only this once.'),
              ' tenantd keeps only a hash of it: copy it now and keep it safe.'),
            secretBox(r.apiKey, { testid: 'restore-api-key', label: 'Copy key' }),
            h('p', null, h('a', { href: '#/signin', testid: 'restore-signin' }, 'Sign in with it'), ' to use your workspace.'))));
      } catch (err) {
        mount(errorSlot, wordsBox(linkWords(err)));
        submit.disabled = false;
        mount(submit, 'Restore the workspace');
      }
    });
    mount(root, page(`Restore “${v.tenantName}”?`, form));
    submit.focus();
  }
  return null;
}
