// The API keys card of the tenant page (admins and the tenant itself): the
// tenant's keys (name, prefix, created, last used, revoked), a new key (its
// secret shown once), and revocation with a confirmation that warns when the
// key is the one this browser is signed in with (revoking it signs out).

import { gql, uuid, APIError, asAPIError } from './api.js';
import { h, mount, card, field, loading, errorBox, timeEl, confirmDialog, secretBox, toast } from './dom.js';
import { inWords, showInWords } from './retention.js';

const KEY_FIELDS = 'id name prefix createdAt createdBy lastUsedAt revokedAt';
const Q_KEYS = `query TenantApiKeys($id: ID!) {
  tenant(id: $id) { id apiKeys(first: 50, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { ${KEY_FIELDS} } } } }
}`;
const M_CREATE = `mutation CreateApiKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey key { ${KEY_FIELDS} } } }`;
const M_REVOKE = `mutation RevokeApiKey($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { key { ${KEY_FIELDS} } } }`;

/** An API key error in words: {field, message}. */
function keyWords(err) {
  const w = inWords(err);
  if (w.field === 'name') return { field: 'name', message: 'Give the key a name of 1 to 100 characters on one line, e.g. “CI deploys”.' };
  const code = asAPIError(err).code;
  if (code === 'INVALID_TRANSITION') return { field: '', message: 'A tenant that is deleted gets no new API keys. Restore it first.' };
  if (code === 'NOT_FOUND') return { field: '', message: 'This key or tenant no longer exists, or your token cannot see it.' };
  return w;
}

/**
 * apiKeysCard({tenant, viewer, onSignOut, beforeRevokeOwn}) → {el, setTenant}.
 * onSignOut(message) runs after the browser's own key was revoked;
 * beforeRevokeOwn() runs just before that revocation is sent (the page
 * stops reporting its live updates' end: it is expected).
 */
export function apiKeysCard({ tenant, viewer, onSignOut, beforeRevokeOwn = () => {} }) {
  let current = tenant;
  const createBtn = h('button', { type: 'button', class: 'primary small', testid: 'apikey-create', on: { click: create } }, 'Create key');
  const c = card({ title: 'API keys', testid: 'card-api-keys', cls: 'wide', tools: createBtn });
  const list = h('div');
  mount(c.body,
    h('p', { class: 'hint' }, 'Keys let programs call the API as this tenant. A key’s secret is shown once, when it is made; tenantd keeps only a hash.'),
    list);
  let keys = [];
  let total = 0;
  const mine = (k) => viewer.role === 'TENANT' && viewer.actor === `key:${k.prefix}`;

  async function load() {
    if (!keys.length) mount(list, loading('Loading the keys…'));
    try {
      const d = await gql(Q_KEYS, { id: current.id });
      keys = (d.tenant.apiKeys.edges || []).filter((e) => e && e.node).map((e) => e.node);
      total = d.tenant.apiKeys.totalCount;
      draw();
    } catch (err) {
      mount(list, errorBox(err, { retry: load, title: 'Could not load the API keys' }));
    }
  }

  function draw() {
    if (!keys.length) { mount(list, h('p', { class: 'empty', testid: 'apikey-empty' }, 'No API keys.')); return; }
    mount(list, total > keys.length ? h('p', { class: 'hint', testid: 'apikey-more' }, `The ${keys.length} newest of ${total} keys.`) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'stack-narrow', testid: 'apikey-table' },
      h('caption', { class: 'visually-hidden' }, 'API keys, newest first'),
      h('thead', null, h('tr', null, ['Name', 'Key', 'Created', 'Last used', 'Status', ''].map((t) => h('th', { scope: 'col' }, t ? t : h('span', { class: 'visually-hidden' }, 'Actions'))))),
      h('tbody', null, keys.map((k) => h('tr', { testid: 'apikey-row', dataset: { keyId: k.id, prefix: k.prefix, revoked: k.revokedAt ? 'true' : 'false' } },
        h('td', null, h('strong', null, k.name), mine(k) ? h('span', { class: 'chip', testid: 'apikey-this-browser', title: 'This console is signed in with this key' }, 'this browser') : null),
        h('td', { class: 'mono', dataset: { label: 'Key' } }, `${k.prefix}…`),
        h('td', { dataset: { label: 'Created' } }, h('span', null, timeEl(k.createdAt, { relative: true }), h('span', { class: 'hint' }, ` by ${k.createdBy}`))),
        h('td', { dataset: { label: 'Last used' } }, k.lastUsedAt ? timeEl(k.lastUsedAt, { relative: true }) : h('span', { class: 'hint' }, 'never')),
        h('td', { dataset: { label: 'Status' }, testid: 'apikey-status' }, k.revokedAt
          ? h('span', null, h('span', { class: 'badge' }, 'Revoked'), ' ', timeEl(k.revokedAt, { relative: true }))
          : h('span', { class: 'badge ok' }, 'Active')),
        h('td', { class: 'actions-cell', dataset: { label: k.revokedAt ? undefined : 'Action' } }, k.revokedAt ? null
          : h('button', { type: 'button', class: 'small', testid: 'apikey-revoke', on: { click: () => revoke(k) } }, 'Revoke…'))))))));
  }

  async function create() {
    const nameEl = h('input', { type: 'text', name: 'name', maxlength: 100, autocomplete: 'off', testid: 'apikey-name', placeholder: 'e.g. CI deploys' });
    const nameField = field({ label: 'Name', input: nameEl, name: 'name', help: 'What the key is for, so you can tell it apart later.' });
    nameEl.addEventListener('input', () => nameField.setError(''));
    let made = null;
    const idem = uuid();
    await confirmDialog({
      title: `A new API key for ${current.name || current.slug}`,
      testid: 'apikey-create-dialog',
      body: h('div', { class: 'stack' }, nameField.wrap,
        h('p', { class: 'hint' }, 'It can do everything the tenant’s other keys can. Its secret is shown once, on the next screen.')),
      confirmLabel: 'Create key',
      cancelLabel: 'Don’t create',
      focus: nameEl,
      onError: showInWords({ name: nameField }, '', keyWords),
      onConfirm: async () => {
        const name = nameEl.value.trim();
        if (!name) throw new APIError([{ message: 'name is required', extensions: { code: 'INVALID_INPUT', field: 'name' } }]);
        made = (await gql(M_CREATE, { input: { tenantId: current.id, name, idempotencyKey: idem } })).createApiKey;
      },
    });
    if (!made) { createBtn.focus(); return; }
    if (!keys.some((k) => k.id === made.key.id)) total += 1;
    keys = [made.key, ...keys.filter((k) => k.id !== made.key.id)];
    draw();
    await confirmDialog({
      title: `The API key “${made.key.name}”`,
      testid: 'apikey-secret-dialog',
      body: h('div', { class: 'stack' },
        h('p', { class: 'warning', testid: 'apikey-once' }, h('strong', null, 'Shown only this once.'),
          ' tenantd keeps only a hash of it: copy it now and keep it somewhere safe, such as a secrets manager. A lost key cannot be shown again; revoke it and make a new one.'),
        secretBox(made.apiKey, { testid: 'apikey-secret', label: 'Copy key' })),
      confirmLabel: 'I have copied the key',
      cancelLabel: null,
    });
    toast(`API key “${made.key.name}” created`);
    createBtn.focus();
  }

  async function revoke(k) {
    const own = mine(k);
    let revoked = null;
    await confirmDialog({
      title: `Revoke the API key “${k.name}”?`,
      testid: 'apikey-revoke-dialog',
      body: h('div', { class: 'stack' },
        own ? h('p', { class: 'warning', testid: 'apikey-revoke-own' }, h('strong', null, 'This browser is signed in with this key.'),
          ' Revoking it signs you out of the console; sign in again with another key of this tenant.') : null,
        h('p', null, 'Programs that use ', h('code', null, `${k.prefix}…`), ' stop working at once, and their live connections close within a second. This cannot be undone.')),
      confirmLabel: own ? 'Revoke key and sign out' : 'Revoke key',
      cancelLabel: 'Keep key',
      danger: true,
      onError: showInWords({}, '', keyWords),
      onConfirm: async () => {
        if (own) beforeRevokeOwn();
        revoked = (await gql(M_REVOKE, { input: { id: k.id } })).revokeApiKey.key;
      },
    });
    if (!revoked) {
      const btn = list.querySelector(`[data-key-id="${k.id}"] [data-testid=apikey-revoke]`);
      if (btn) btn.focus();
      return;
    }
    if (own) {
      onSignOut(`The API key “${k.name}” (${k.prefix}…) is revoked, so this console signed out. Sign in with another key of ${current.name || current.slug}.`);
      return;
    }
    keys = keys.map((x) => (x.id === revoked.id ? revoked : x));
    draw();
    toast(`API key “${k.name}” revoked`);
    createBtn.focus();
  }

  let lastState = tenant.state;
  function setTenant(t) {
    current = t;
    createBtn.hidden = t.state === 'PENDING_DELETION' || t.state === 'PURGED';
    // A deletion revokes the keys, a restore makes one: show them as they are.
    if (t.state !== lastState) { lastState = t.state; load(); }
  }

  setTenant(tenant);
  load();
  return { el: c.el, setTenant, reload: load };
}
