// Sign in: paste an admin token (tda_…) or a tenant API key (tdk_…).

import { auth, gql, APIError, asAPIError } from '../api.js';
import { sentence } from '../retention.js';
import { h, mount, field, errorBox } from '../dom.js';

export default function signin(root, ctx) {
  const input = h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    testid: 'signin-token', placeholder: 'tda_… or tdk_…',
  });
  const tokenField = field({
    label: 'Token', input, name: 'token',
    help: 'An admin or partner token (tda_…) or a tenant API key (tdk_…). It is kept in this browser only (localStorage).',
  });
  const show = h('input', { type: 'checkbox', id: 'show-token' });
  show.addEventListener('change', () => { input.type = show.checked ? 'text' : 'password'; });
  const errorSlot = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'signin-submit' }, 'Sign in');

  const prior = sessionStorage.getItem('tenantd.console.signinError');
  if (prior) {
    sessionStorage.removeItem('tenantd.console.signinError');
    const [code, ...rest] = prior.split(': ');
    mount(errorSlot, errorBox(new APIError([{ message: rest.join(': '), extensions: { code } }]), { title: 'You were signed out', testid: 'signout-notice', codes: false }));
  }

  const form = h('form', { class: 'card stack', testid: 'signin-form', novalidate: true },
    tokenField.wrap,
    h('div', { class: 'field' }, h('label', { class: 'check-label', for: 'show-token' }, show, 'Show the token')),
    errorSlot,
    h('div', { class: 'toolbar' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    tokenField.setError('');
    mount(errorSlot);
    if (!token) {
      tokenField.setError('Paste a token to sign in.');
      input.focus();
      return;
    }
    if (!/^td[ak]_/.test(token)) {
      tokenField.setError('tenantd tokens start with tda_ (admin, partner) or tdk_ (tenant API key).');
      input.focus();
      return;
    }
    submit.disabled = true;
    mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Checking…');
    try {
      const data = await gql('query Viewer { viewer { role actor tenant { id name } } }', {}, { token });
      auth.set(token);
      const v = data.viewer;
      const next = ctx.query.get('next');
      if (next && next.startsWith('/') && !next.startsWith('/signin') && (v.role !== 'TENANT' || next.startsWith('/tenants/'))) ctx.go(next);
      else if (v.role === 'TENANT' && v.tenant) ctx.go(`/tenants/${encodeURIComponent(v.tenant.id)}`);
      else ctx.go('/dashboard');
    } catch (err) {
      // In words, no code: tenants (customers) sign in here too.
      const e = asAPIError(err);
      const words = e.code === 'UNAUTHENTICATED'
        ? `${sentence(e.message)} Check that you copied the whole token, or ask for a new one.`
        : e.code === 'NETWORK_ERROR' ? e.message : 'tenantd could not check the token. Try again in a moment.';
      mount(errorSlot, h('div', { class: 'error-box', role: 'alert', testid: 'signin-error' }, h('p', { class: 'words', testid: 'error-message' }, words)));
      submit.disabled = false;
      mount(submit, 'Sign in');
      input.focus();
    }
  });

  mount(root, h('div', { class: 'narrow' },
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Sign in to tenantd'),
      h('p', { class: 'sub' }, 'Operators use an admin token; tenants use one of their API keys.'))),
    form,
    h('p', { class: 'hint' }, 'New customer? ', h('a', { href: '#/signup', testid: 'signin-to-signup' }, 'Sign up and activate a workspace'), '.')));
  input.focus();
}
