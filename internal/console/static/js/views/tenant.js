// One tenant: details, usage, data export, operations with live progress,
// the audited transition timeline (live), lifecycle actions (cancellation at
// the period end or now and its undo, pause, reactivation, deletion with
// its retention window, restore, purge), for the tenant's own key its
// workspace (documents and search), and for a purged tenant its certificate.

import { gql, uuid, APIError, auth } from '../api.js';
import { h, mount, fmt, card, loading, errorBox, stateBadge, statusBadge, progressBar, stepList, timeEl, confirmDialog, toast, debounce } from '../dom.js';
import { usageMeters, uploadForm, searchPanel, USAGE_FIELDS } from '../workspace.js';
import { OP_FIELDS, TR_FIELDS, TENANT_HEAD } from '../fragments.js';
import { CERT_FIELDS, deletionDialog, restoreDialog, showKeyOnce, purgeDialog, stateBanner, certificateCard } from '../retention.js';
import { exportsCard } from '../exports.js';
import { apiKeysCard } from '../apikeys.js';
import { cancelDialog, undoCancellation, pauseDialog, reactivateDialog, reactivationProgress, subscriptionBanner, feedbackWords, reactivationFailedWords, subscriptionWords } from '../subscription.js';

const Q_TENANT = `query TenantPage($id: ID!) {
  tenant(id: $id) {
    id name slug email state stateChangedAt createdAt synthetic purgeAfter purgedAt stateBeforeDeletion allowedEvents
    scheduledCancellation { effectiveAt feedback requestedAt requestedBy } pausedUntil
    plan { key name isolation priceCents }
    scheduledPlanChange { plan { key name } effectiveAt requestedBy }
    ${CERT_FIELDS}
  }
}`;
const Q_PLANS = 'query ChangePlanPlans { plans { key name isolation priceCents maxDocuments maxStorageBytes maxQueriesPerMonth } }';
const PREVIEW_FIELDS = `from { key name } to { key name isolation maxDocuments maxStorageBytes maxQueriesPerMonth } direction effective effectiveAt
  amountDueNowCents prorationCents monthlyDifferenceCents currency periodEnd dataMoves fromIsolation toIsolation documentsToMove bytesToMove
  overages { quota limit usage }`;
const M_CHANGE_PLAN = `mutation ChangePlan($input: ChangePlanInput!) {
  changePlan(input: $input) { tenant { id plan { key name isolation priceCents } scheduledPlanChange { plan { key name } effectiveAt requestedBy } }
    operation { ${OP_FIELDS} } preview { ${PREVIEW_FIELDS} } }
}`;
const M_CANCEL_SCHEDULED = `mutation CancelScheduledPlanChange($input: CancelScheduledPlanChangeInput!) {
  cancelScheduledPlanChange(input: $input) { tenant { id scheduledPlanChange { plan { key } effectiveAt } } canceled { plan { key name } effectiveAt } }
}`;
const Q_USAGE = `query TenantUsage($id: ID!) { tenant(id: $id) { id usage { ${USAGE_FIELDS} } } }`;
const Q_TIMELINE = `query TenantTimeline($id: ID!, $after: Cursor) {
  tenant(id: $id) {
    id
    transitions(first: 50, after: $after, orderBy: {field: SEQ, direction: ASC}) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { ${TR_FIELDS} } }
    }
  }
}`;
const Q_OPERATIONS = `query TenantOperations($id: ID!) {
  tenant(id: $id) { id operations(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount edges { node { ${OP_FIELDS} } } } }
}`;
const Q_DOCUMENTS = 'query TenantDocuments { documents(first: 10) { totalCount edges { node { id title sizeBytes createdAt } } } }';
const S_EVENTS = `subscription TenantPageEvents($id: ID!) {
  tenantEvents(tenantId: $id) { kind tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} } }
}`;
const S_PROGRESS = `subscription OperationProgress($id: ID!) { operationProgress(id: $id) { ${OP_FIELDS} } }`;

const mutationFor = (name, inputType = 'TenantTransitionInput', payload = null) => `mutation ${name[0].toUpperCase()}${name.slice(1)}($input: ${inputType}!) {
  ${name}(input: $input) { ${payload || `tenant { ${TENANT_HEAD} } transition { ${TR_FIELDS} } operation { ${OP_FIELDS} }`} }
}`;

/**
 * Lifecycle actions with a plain confirmation: shown when their event is
 * allowed and the viewer may act. keep names the dialog's way out, so it
 * never reads as a bare "Cancel"; to is the state it leads to. Cancelling,
 * pausing and reactivating have dialogs of their own (subscription.js).
 */
const ACTIONS = [
  { event: 'suspend', mutation: 'suspendTenant', label: 'Suspend', keep: 'Keep active', to: 'SUSPENDED', roles: ['ADMIN'], danger: true,
    explain: 'The tenant keeps its data, but its writes stop until it is resumed.' },
  // A paused tenant's banner offers its Resume (which also resumes billing).
  { event: 'resume', mutation: 'resumeTenant', label: 'Resume', keep: 'Keep suspended', to: 'ACTIVE', roles: ['ADMIN'], when: (t) => !t.pausedUntil,
    explain: 'The tenant becomes ACTIVE again.' },
  { event: 'provision', mutation: 'retryProvisioning', label: 'Retry provisioning', keep: 'Not now', to: 'PROVISIONING', roles: ['ADMIN'], when: (t) => t.state === 'PROVISIONING_FAILED',
    explain: 'Provisioning resumes at the step that failed.' },
];

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED']);

export default function tenantPage(root, ctx) {
  const [id] = ctx.params;
  const { viewer, live } = ctx;
  const disposers = [];
  let tenant = null;

  const titleEl = h('h1', { testid: 'tenant-name' }, 'Tenant');
  const head = h('div', { class: 'page-head' }, h('div', null, titleEl, h('p', { class: 'sub' }, id)));
  const bannerSlot = h('div', { testid: 'tenant-banner' });
  const body = h('div');
  mount(root, head, bannerSlot, body);
  mount(body, loading('Loading the tenant…'));

  async function loadTenant() {
    try {
      const d = await gql(Q_TENANT, { id });
      if (!d.tenant) throw notFound();
      tenant = d.tenant;
      build();
    } catch (err) {
      mount(body, errorBox(err, { retry: loadTenant, title: 'Could not load this tenant' }));
    }
  }

  function notFound() {
    return new APIError([{ message: 'No tenant with this id is visible to you.', extensions: { code: 'NOT_FOUND' } }]);
  }

  // ---- built once the tenant is known ----
  let stateSlot; let actionsSlot; let allowedSlot; let stateSinceSlot; let scheduledSlot; let planSlot; let headPlanSlot; let retentionSlot;
  let usageCard; let opsCard; let timelineCard; let exportsPart = null; let keysPart = null;
  let signingOut = false; // this page revoked the browser's own key: the live stream's end is expected
  const ops = new Map(); // id → op
  const opListeners = new Map(); // id → Set of fn(op): a dialog following an operation
  const opSubs = new Map(); // id → unsubscribe
  const timeline = { items: [], lastSeq: 0, hasNext: false, endCursor: null, loading: false, maxSeen: 0, total: 0 };
  // States this page's own action leads to: the live stream's copy of that
  // change gets no second toast (one toast per action).
  const expecting = new Set();
  let purgeOpId = null; // the PURGE this page started

  /** guard for a request that leads to state: expected while it is sent. */
  const expect = (state) => async (send) => {
    if (state) expecting.add(state);
    try {
      return await send();
    } catch (err) {
      expecting.delete(state);
      throw err;
    }
  };

  /** A tenant that became PURGED is drawn anew: its certificate, no workspace. */
  function rebuild() {
    disposers.splice(0).forEach((f) => f());
    for (const u of opSubs.values()) u();
    opSubs.clear();
    ops.clear();
    Object.assign(timeline, { items: [], lastSeq: 0, hasNext: false, endCursor: null, loading: false, maxSeen: 0, total: 0 });
    exportsPart = null;
    keysPart = null;
    loadTenant();
  }

  function build() {
    ctx.setTitle(tenant.name || tenant.slug || (tenant.state === 'PURGED' ? 'Purged tenant' : 'Tenant'));
    titleEl.textContent = tenant.name || (tenant.state === 'PURGED' ? 'Purged tenant' : '(no name)');
    const hadFocus = document.activeElement === titleEl;
    stateSlot = h('span');
    actionsSlot = h('div', { class: 'actions', testid: 'tenant-actions' });
    allowedSlot = h('span', { testid: 'allowed-events' });
    stateSinceSlot = h('span');
    scheduledSlot = h('span', { testid: 'scheduled-plan-change' });
    planSlot = h('span');
    headPlanSlot = h('span');
    retentionSlot = h('div', { class: 'dl-group' });
    mount(head,
      h('div', null,
        h('div', { class: 'tenant-title' }, titleEl, stateSlot,
          tenant.synthetic ? h('span', { class: 'chip', title: 'A test tenant (readiness check or load test): left out of the figures' }, 'test') : null),
        h('p', { class: 'sub' }, h('span', { class: 'mono', testid: 'tenant-slug' }, tenant.slug || '—'), ' · ', headPlanSlot)),
      actionsSlot);
    if (hadFocus) titleEl.focus();

    const details = card({ title: 'Details', testid: 'card-details' });
    mount(details.body, h('dl', { class: 'details' },
      h('dt', null, 'ID'), h('dd', { class: 'mono', testid: 'tenant-id' }, tenant.id),
      h('dt', null, 'Slug'), h('dd', { class: 'mono' }, tenant.slug || (tenant.state === 'PURGED' ? h('span', { class: 'hint' }, 'erased (the tombstone keeps its hash)') : '—')),
      h('dt', null, 'Owner email'), h('dd', null, tenant.email || (tenant.state === 'PURGED' ? h('span', { class: 'hint' }, 'erased') : '—')),
      h('dt', null, 'Plan'), h('dd', { testid: 'tenant-plan' }, planSlot),
      h('dt', null, 'Created'), h('dd', null, timeEl(tenant.createdAt)),
      h('dt', null, 'State since'), h('dd', null, stateSinceSlot),
      retentionSlot,
      h('dt', null, 'Allowed events'), h('dd', null, allowedSlot),
      h('dt', null, 'Plan change'), h('dd', null, scheduledSlot)));

    const purged = tenant.state === 'PURGED';
    usageCard = purged ? null : card({ title: 'Usage', testid: 'card-usage' });
    opsCard = card({ title: 'Operations', testid: 'card-operations' });
    exportsPart = purged ? null : exportsCard({ tenant, viewer, onOperation: (op) => upsertOp(op) });
    const loadMore = h('button', { type: 'button', class: 'small', testid: 'timeline-more', hidden: true, on: { click: () => loadTimeline(true) } }, 'Load more');
    timelineCard = card({ title: 'Timeline', testid: 'card-timeline', cls: 'wide', tools: h('span', { class: 'hint', testid: 'timeline-count' }) });
    timelineCard.more = loadMore;
    timelineCard.list = h('ol', { class: 'timeline', testid: 'timeline' });
    mount(timelineCard.body, h('p', { class: 'hint' }, 'Every state change, in order. Each row is hash-chained to the one before it.'), timelineCard.list, loadMore);

    const cards = purged
      ? [certificateCard(tenant.purgeCertificate), details.el, opsCard.el]
      : [details.el, usageCard.el, opsCard.el, exportsPart.el];
    if (!purged && viewer.role === 'TENANT' && viewer.tenant && viewer.tenant.id === tenant.id) cards.push(workspaceCard());
    keysPart = !purged && (viewer.role === 'ADMIN' || own()) ? apiKeysCard({
      tenant, viewer,
      beforeRevokeOwn: () => { signingOut = true; },
      onSignOut: (message) => {
        sessionStorage.setItem('tenantd.console.signinError', `UNAUTHENTICATED: ${message}`);
        auth.clear();
        ctx.go('/signin');
      },
    }) : null;
    if (keysPart) cards.push(keysPart.el);
    cards.push(timelineCard.el);
    mount(body, h('div', { class: 'grid' }, cards));

    applyTenant(tenant, { quiet: true });
    if (usageCard) loadUsage();
    loadOperations();
    loadTimeline(false);
    follow();
  }

  // ---- header, allowed events, actions ----
  function applyTenant(t, { quiet = false } = {}) {
    if (!t) return;
    // A mutation's answer can arrive after the live stream told of a later
    // transition (a REACTIVATE that ran at once): an older copy changes nothing.
    if (tenant.stateChangedAt && t.stateChangedAt && new Date(t.stateChangedAt) < new Date(tenant.stateChangedAt)) return;
    const changed = tenant.state !== t.state;
    const wasPurged = tenant.state === 'PURGED';
    const name = tenant.name || tenant.slug || 'The tenant';
    Object.assign(tenant, t);
    if (changed && tenant.state === 'PURGED' && !wasPurged) {
      // Nothing of the old page holds any more: draw the tombstone.
      expecting.delete('PURGED');
      toast('The tenant is purged: its certificate is on this page'); // its name is gone too
      rebuild();
      return;
    }
    mount(stateSlot, stateBadge(tenant.state, 'tenant-state'));
    mount(stateSinceSlot, timeEl(tenant.stateChangedAt), ` (${fmt.relative(tenant.stateChangedAt)})`);
    mount(allowedSlot, tenant.allowedEvents.length ? tenant.allowedEvents.map((e) => h('span', { class: 'chip' }, e)) : h('span', { class: 'hint' }, 'none'));
    renderActions();
    renderPlan();
    renderScheduled();
    renderRetention();
    if (exportsPart) exportsPart.setTenant(tenant);
    if (keysPart) keysPart.setTenant(tenant);
    if (changed) {
      if (expecting.has(tenant.state)) expecting.delete(tenant.state);
      else if (!quiet) toast(`${name} is now ${tenant.state}`);
      if (usageCard) reloadUsage();
    }
  }

  // ---- deletion, restore, purge ----
  const own = () => Boolean(viewer.tenant && viewer.tenant.id === tenant.id);
  const mayDelete = () => viewer.role === 'ADMIN' || (viewer.role === 'TENANT' && own());

  function renderRetention() {
    mount(retentionSlot,
      tenant.purgeAfter ? [h('dt', null, 'Purge after'), h('dd', { testid: 'tenant-purge-after' }, timeEl(tenant.purgeAfter))] : null,
      tenant.purgedAt ? [h('dt', null, 'Purged'), h('dd', null, timeEl(tenant.purgedAt))] : null,
      tenant.state === 'PENDING_DELETION' && tenant.stateBeforeDeletion ? [h('dt', null, 'Restores to'), h('dd', null, stateBadge(tenant.stateBeforeDeletion))] : null);
    renderBanner();
  }

  function renderBanner() {
    const purgeOp = purgeOpId ? ops.get(purgeOpId) : [...ops.values()].find((o) => o.kind === 'PURGE' && !FINAL.has(o.status));
    mount(bannerSlot, stateBanner(tenant, {
      canRestore: tenant.allowedEvents.includes('restore') && mayDelete(),
      canPurge: tenant.allowedEvents.includes('purge') && viewer.role === 'ADMIN',
      onRestore: restore,
      onPurge: purge,
      purgeOp,
    }), subscriptionBanner(tenant, {
      canUndo: mayDelete(),
      canResume: viewer.role === 'ADMIN' && tenant.allowedEvents.includes('resume'),
      onUndo: undoCancel,
      onResume: resumePaused,
    }));
  }

  // ---- cancellation, pause, reactivation ----
  async function cancelSubscription() {
    // Cancelling now leads to CANCELED; at the period end nothing changes yet.
    const p = await cancelDialog(tenant, { self: own(), uuid, guard: (atPeriodEnd, send) => expect(atPeriodEnd ? null : 'CANCELED')(send) });
    if (!p) {
      refocus(false, actionsSlot.querySelector('[data-testid=action-cancel]'));
      return;
    }
    applyTenant(p.tenant, { quiet: true });
    if (p.operation) upsertOp(p.operation);
    const name = tenant.name || tenant.slug;
    if (p.transition) {
      addTransition(p.transition);
      toast(`Canceled: ${name}’s subscription ended now (recorded as #${p.transition.seq})`);
    } else {
      const sc = p.scheduledCancellation || tenant.scheduledCancellation;
      const why = sc && sc.feedback ? ` (${feedbackWords(sc.feedback).toLowerCase()})` : '';
      toast(`Cancellation scheduled: ${name} cancels on ${sc ? fmt.date(sc.effectiveAt) : 'the end of the billing period'}${why}`);
    }
    refocus(true);
  }

  async function undoCancel(ev) {
    const btn = ev && ev.currentTarget;
    if (btn) { btn.disabled = true; mount(btn, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Undoing…'); }
    try {
      const at = tenant.scheduledCancellation ? tenant.scheduledCancellation.effectiveAt : null;
      const p = await undoCancellation(tenant, { uuid });
      applyTenant({ ...p.tenant, scheduledCancellation: null }, { quiet: true });
      if (p.operation) upsertOp(p.operation);
      toast(`Cancellation taken back: ${tenant.name || tenant.slug} stays subscribed${at ? ` past ${fmt.date(at)}` : ''}`);
      refocus(true);
    } catch (err) {
      toast(`Could not undo the cancellation: ${subscriptionWords(err).message}`, { bad: true });
      if (btn && btn.isConnected) { btn.disabled = false; mount(btn, 'Undo cancellation'); btn.focus(); }
    }
  }

  async function pauseSubscription() {
    const p = await pauseDialog(tenant, { self: own(), guard: expect('SUSPENDED') });
    if (!p) {
      refocus(false, actionsSlot.querySelector('[data-testid=action-pause]'));
      return;
    }
    applyTenant(p.tenant, { quiet: true });
    addTransition(p.transition);
    if (p.operation) upsertOp(p.operation);
    toast(`Paused: ${tenant.name || tenant.slug} resumes by itself on ${fmt.date(tenant.pausedUntil)}`);
    refocus(true);
  }

  function resumePaused() {
    const a = { event: 'resume', mutation: 'resumeTenant', label: 'Resume', keep: 'Keep paused', to: 'ACTIVE',
      explain: `The pause ends now instead of on ${fmt.date(tenant.pausedUntil)}: the tenant becomes ACTIVE and its billing resumes.` };
    return act(a, () => bannerSlot.querySelector('[data-testid=banner-resume]'));
  }

  async function reactivate() {
    const p = await reactivateDialog(tenant, { self: own(), uuid, guard: expect('ACTIVE') });
    if (!p) {
      refocus(false, actionsSlot.querySelector('[data-testid=action-reactivate]'));
      return;
    }
    applyTenant(p.tenant, { quiet: true });
    const name = tenant.name || tenant.slug;
    // One toast, when the operation ends (the dialog shows the same).
    let told = false;
    const stop = watchOpFor(p.operation.id, (op) => {
      if (told || !FINAL.has(op.status)) return;
      told = true;
      if (op.status === 'SUCCEEDED') {
        toast(`Reactivated: ${name} is ACTIVE again`);
      } else {
        expecting.delete('ACTIVE');
        toast(`Not reactivated: ${reactivationFailedWords(op)}`, { bad: true });
      }
    });
    upsertOp(p.operation);
    const outcome = await reactivationProgress(tenant, {
      operation: ops.get(p.operation.id) || p.operation,
      apiKey: p.apiKey,
      watch: (fn) => watchOpFor(p.operation.id, fn),
    });
    stop();
    if (outcome === 'retry' && tenant.state === 'CANCELED') { reactivate(); return; }
    refocus(true);
  }

  /** fn(op) now with the page's copy of the operation, then with each update; returns an unsubscribe. */
  function watchOpFor(opId, fn) {
    if (!opListeners.has(opId)) opListeners.set(opId, new Set());
    opListeners.get(opId).add(fn);
    if (ops.has(opId)) fn(ops.get(opId));
    return () => { const l = opListeners.get(opId); if (l) { l.delete(fn); if (!l.size) opListeners.delete(opId); } };
  }

  /** Focus after a dialog: the page heading, or where the user was. */
  function refocus(done, fallback) {
    const target = done ? titleEl : fallback;
    if (!target || !target.isConnected) { titleEl.setAttribute('tabindex', '-1'); titleEl.focus(); return; }
    if (done) target.setAttribute('tabindex', '-1');
    target.focus();
  }

  async function requestDeletion() {
    const p = await deletionDialog(tenant, { guard: expect('PENDING_DELETION') });
    if (!p) {
      refocus(false, actionsSlot.querySelector('[data-testid=action-delete]'));
      return;
    }
    if (viewer.role === 'TENANT') {
      // The tenant deleted itself: its key, this console's token, is revoked.
      sessionStorage.setItem('tenantd.console.signinError', `PENDING_DELETION: ${tenant.name || tenant.slug} is deleted and will be purged on ${fmt.date(p.purgeAfter)}. `
        + 'Its API keys no longer work, so this console signed out. Until the purge date an admin can restore it, with a new key.');
      auth.clear();
      ctx.go('/signin');
      return;
    }
    applyTenant(p.tenant, { quiet: true });
    addTransition(p.transition);
    if (p.operation) upsertOp(p.operation);
    toast(`Deletion requested: ${tenant.name || tenant.slug} will be purged on ${fmt.date(p.purgeAfter)} unless restored`);
    refocus(true);
  }

  async function restore() {
    const p = await restoreDialog(tenant, { guard: expect(tenant.stateBeforeDeletion) });
    if (!p) {
      refocus(false, bannerSlot.querySelector('[data-testid=banner-restore]'));
      return;
    }
    applyTenant(p.tenant, { quiet: true });
    addTransition(p.transition);
    if (p.operation) upsertOp(p.operation);
    toast(`Restored: ${tenant.name || tenant.slug} is ${tenant.state} again`);
    await showKeyOnce(tenant, p.apiKey);
    refocus(true);
  }

  async function purge() {
    const p = await purgeDialog(tenant, { guard: expect('PURGED') });
    if (!p) {
      refocus(false, bannerSlot.querySelector('[data-testid=banner-purge]'));
      return;
    }
    purgeOpId = p.operation.id;
    upsertOp(p.operation);
    applyTenant(p.tenant, { quiet: true });
    // The toast comes when the tenant is PURGED (applyTenant), one for the action.
    refocus(true);
  }

  function renderActions() {
    const own = viewer.tenant && viewer.tenant.id === tenant.id;
    const visible = ACTIONS.filter((a) => tenant.allowedEvents.includes(a.event)
      && (a.when ? a.when(tenant) : true)
      && a.roles.includes(viewer.role)
      && (viewer.role !== 'TENANT' || own));
    const buttons = visible.map((a) => h('button', {
      type: 'button', class: a.danger ? 'danger' : 'primary', testid: `action-${a.event}`,
      on: { click: () => act(a) },
    }, a.label));
    const mine = viewer.role === 'ADMIN' || (viewer.role === 'TENANT' && own);
    const allowed = (e) => tenant.allowedEvents.includes(e);
    if (tenant.state === 'ACTIVE' && mine) {
      buttons.unshift(h('button', { type: 'button', class: 'primary', testid: 'action-change-plan', on: { click: changePlan } }, 'Change plan'));
    }
    if (mine && tenant.state === 'CANCELED' && allowed('reactivate')) {
      buttons.push(h('button', { type: 'button', class: 'primary', testid: 'action-reactivate', on: { click: reactivate } }, 'Reactivate…'));
    }
    if (mine && tenant.state === 'ACTIVE' && allowed('suspend')) {
      buttons.push(h('button', { type: 'button', testid: 'action-pause', on: { click: pauseSubscription } }, 'Pause subscription…'));
    }
    if (mine && allowed('cancel')) {
      buttons.push(h('button', { type: 'button', class: 'danger', testid: 'action-cancel', on: { click: cancelSubscription } }, 'Cancel subscription…'));
    }
    if (tenant.allowedEvents.includes('request_deletion') && (viewer.role === 'ADMIN' || (viewer.role === 'TENANT' && own))) {
      buttons.push(h('button', { type: 'button', class: 'danger', testid: 'action-delete', on: { click: requestDeletion } }, 'Delete tenant…'));
    }
    mount(actionsSlot, buttons);
  }

  // ---- plan change ----
  function renderPlan() {
    const p = tenant.plan;
    mount(headPlanSlot, `${p.name} plan`);
    mount(planSlot, `${p.name} (${p.key}) · ${p.isolation === 'SILO' ? 'own database (silo)' : 'shared tables (pool)'} · ${p.priceCents ? `$${(p.priceCents / 100).toFixed(2)}/mo` : 'free'}`);
  }

  /** After a CHANGE_PLAN ends: the plan and the schedule as they are now. */
  async function reloadPlan() {
    try {
      const d = await gql(Q_TENANT, { id });
      if (!d.tenant) return;
      tenant.plan = d.tenant.plan;
      tenant.scheduledPlanChange = d.tenant.scheduledPlanChange;
      renderPlan();
      renderScheduled();
      reloadUsage();
    } catch { /* the next event will try again */ }
  }

  function renderScheduled() {
    if (!scheduledSlot) return;
    const sc = tenant.scheduledPlanChange;
    if (!sc) { mount(scheduledSlot, h('span', { class: 'hint' }, 'none scheduled')); return; }
    const mayUndo = viewer.role === 'ADMIN' || (viewer.role === 'TENANT' && viewer.tenant && viewer.tenant.id === tenant.id);
    mount(scheduledSlot,
      h('span', null, `to ${sc.plan.name} (${sc.plan.key}) at `, timeEl(sc.effectiveAt), ` · asked by ${sc.requestedBy} `),
      mayUndo ? h('button', { type: 'button', class: 'small', testid: 'scheduled-undo', on: { click: undoScheduled } }, 'Undo') : null);
  }

  async function undoScheduled() {
    try {
      const d = await gql(M_CANCEL_SCHEDULED, { input: { tenantId: tenant.id, idempotencyKey: uuid() } });
      tenant.scheduledPlanChange = null;
      renderScheduled();
      toast(`The change to ${d.cancelScheduledPlanChange.canceled.plan.name} is taken back`);
    } catch (err) {
      toast(`Could not undo: ${err.message}`, { bad: true });
    }
  }

  async function changePlan() {
    let plans;
    try {
      plans = (await gql(Q_PLANS)).plans.filter((p) => p.key !== tenant.plan.key);
    } catch (err) {
      toast(`Could not load the plans: ${err.message}`, { bad: true });
      return;
    }
    const select = h('select', { name: 'plan', testid: 'change-plan-select' },
      plans.map((p) => h('option', { value: p.key }, `${p.name} · ${p.priceCents ? `$${(p.priceCents / 100).toFixed(2)}/mo` : 'free'} · ${p.isolation === 'SILO' ? 'own database' : 'shared tables'}`)));
    const when = h('select', { name: 'effective', testid: 'change-plan-effective' },
      h('option', { value: '' }, 'Default timing'),
      h('option', { value: 'IMMEDIATE' }, 'Now, prorated'),
      h('option', { value: 'PERIOD_END' }, 'At the end of the billing period'));
    const previewSlot = h('div', { class: 'preview', testid: 'change-plan-preview', 'aria-live': 'polite' });
    const input = (dryRun) => {
      const i = { tenantId: tenant.id, plan: select.value, dryRun };
      if (when.value) i.effective = when.value;
      if (!dryRun) i.idempotencyKey = uuid();
      return i;
    };
    // Only the preview of the plan chosen last is drawn: an earlier answer
    // arriving late (the first option's) must not overwrite it.
    let asked = 0;
    const refresh = async () => {
      const mine = ++asked;
      mount(previewSlot, loading('Asking the billing provider…'));
      try {
        const d = await gql(M_CHANGE_PLAN, { input: input(true) });
        if (mine === asked) mount(previewSlot, previewView(d.changePlan.preview));
      } catch (err) {
        if (mine === asked) mount(previewSlot, errorBox(err));
      }
    };
    select.addEventListener('change', refresh);
    when.addEventListener('change', refresh);
    refresh();
    await confirmDialog({
      title: `Change the plan of ${tenant.name}`,
      body: h('div', { class: 'stack' },
        h('label', null, 'New plan ', select),
        h('label', null, 'When ', when),
        h('p', { class: 'hint' }, 'By default an upgrade takes effect now (prorated) and a downgrade at the end of the billing period.'),
        previewSlot),
      confirmLabel: 'Change plan',
      cancelLabel: 'Keep current plan',
      onConfirm: async () => {
        const d = await gql(M_CHANGE_PLAN, { input: input(false) });
        const p = d.changePlan;
        Object.assign(tenant, { scheduledPlanChange: p.tenant.scheduledPlanChange });
        renderScheduled();
        if (p.operation) {
          upsertOp(p.operation);
          toast(p.preview.dataMoves ? `Moving to ${p.preview.to.name}: the data moves while you keep working` : `Changing to ${p.preview.to.name}`);
        } else {
          toast(`${p.preview.to.name} from ${fmt.date(p.preview.effectiveAt)}: scheduled`);
        }
      },
    });
  }

  function previewView(pv) {
    const money = (c) => `${c < 0 ? '−' : ''}$${(Math.abs(c) / 100).toFixed(2)}`;
    const limit = (v, f) => (v === null || v === undefined ? 'unlimited' : f(v));
    return h('dl', { class: 'details' },
      h('dt', null, 'Change'), h('dd', { testid: 'preview-direction' }, `${pv.direction.toLowerCase()} from ${pv.from.name} to ${pv.to.name}`),
      h('dt', null, 'Takes effect'), h('dd', { testid: 'preview-effective' }, pv.effective === 'IMMEDIATE' ? 'now' : 'at the end of the billing period', ' (', timeEl(pv.effectiveAt), ')'),
      h('dt', null, 'Due now'), h('dd', { testid: 'preview-due' }, money(pv.amountDueNowCents), pv.prorationCents ? ` (proration ${money(pv.prorationCents)})` : ''),
      h('dt', null, 'Monthly'), h('dd', null, `${pv.monthlyDifferenceCents >= 0 ? '+' : ''}${money(pv.monthlyDifferenceCents)} a month`),
      h('dt', null, 'New limits'), h('dd', { testid: 'preview-limits' },
        `${limit(pv.to.maxDocuments, fmt.number)} documents · ${limit(pv.to.maxStorageBytes, fmt.bytes)} · ${limit(pv.to.maxQueriesPerMonth, fmt.number)} queries a month`),
      h('dt', null, 'Your data'), h('dd', { testid: 'preview-data-moves' }, pv.dataMoves
        ? `moves from ${pv.fromIsolation === 'SILO' ? 'its own database' : 'the shared tables'} to ${pv.toIsolation === 'SILO' ? 'its own database' : 'the shared tables'}: ${fmt.number(pv.documentsToMove)} documents, ${fmt.bytes(pv.bytesToMove)}, while you keep working`
        : 'stays where it is'),
      pv.overages.length ? [h('dt', null, 'Over the limits'), h('dd', { testid: 'preview-overages', class: 'bad' },
        pv.overages.map((o) => h('div', null, `${o.quota}: ${fmt.number(o.usage)} used, the plan allows ${fmt.number(o.limit)}`)))] : null);
  }

  /** A plain confirmation of a; back is where focus returns when it is kept. */
  async function act(a, back = () => actionsSlot.querySelector(`[data-testid=action-${a.event}]`)) {
    const done = await confirmDialog({
      title: `${a.label}: ${tenant.name}?`,
      body: h('p', null, a.explain, ' This is recorded in the audit trail with your name and the reason.'),
      confirmLabel: a.label,
      cancelLabel: a.keep,
      danger: a.danger,
      reason: true,
      onConfirm: async ({ reason }) => {
        const input = { tenantId: tenant.id, idempotencyKey: uuid(), ...(a.extra || {}) };
        if (reason) input.reason = reason;
        const d = await expect(a.to)(() => gql(mutationFor(a.mutation, a.inputType, a.payload), { input }));
        const p = d[a.mutation];
        applyTenant(p.tenant, { quiet: true });
        if (p.operation) upsertOp(p.operation);
        if (!p.transition) {
          toast(`${a.label}: started; the tenant becomes ${a.to} when its ${p.operation ? p.operation.kind : ''} operation is done`);
          return;
        }
        addTransition(p.transition);
        toast(`${a.label}: recorded as #${p.transition.seq} (${p.transition.fromState} → ${p.transition.toState})`);
      },
    });
    // The action buttons were redrawn: put focus somewhere sensible.
    const target = done ? titleEl : back();
    if (target) {
      if (done) target.setAttribute('tabindex', '-1');
      target.focus();
    }
  }

  // ---- usage ----
  async function loadUsage() {
    if (!usageCard) return; // a purged tenant has no workspace
    mount(usageCard.body, loading());
    try {
      const d = await gql(Q_USAGE, { id });
      const u = d.tenant && d.tenant.usage;
      mount(usageCard.body, !u && tenant.state === 'PENDING_DELETION'
        ? h('p', { class: 'empty', testid: 'usage' }, 'The workspace is closed while the tenant waits for its purge: no reads, no writes. A restore opens it again.')
        : usageMeters(u));
    } catch (err) {
      mount(usageCard.body, errorBox(err, { retry: loadUsage }));
    }
  }
  const reloadUsage = debounce(loadUsage, 400);

  // ---- operations ----
  async function loadOperations() {
    if (!ops.size) mount(opsCard.body, loading());
    try {
      const d = await gql(Q_OPERATIONS, { id });
      for (const e of d.tenant.operations.edges || []) if (e && e.node) upsertOp(e.node, { render: false });
      renderOps();
    } catch (err) {
      mount(opsCard.body, errorBox(err, { retry: loadOperations }));
    }
  }

  function upsertOp(op, { render = true } = {}) {
    const cur = ops.get(op.id);
    if (cur && new Date(cur.updatedAt) > new Date(op.updatedAt)) {
      // An older copy: a mutation's answer can arrive after the live stream
      // told the operation's end. Whoever hands it in still learns the news.
      if (op.kind === 'EXPORT' && exportsPart) exportsPart.opChanged(cur);
      return;
    }
    ops.set(op.id, { ...(cur || {}), ...op });
    const l = opListeners.get(op.id);
    if (l) for (const fn of [...l]) fn(ops.get(op.id));
    if (op.kind === 'CHANGE_PLAN' && FINAL.has(op.status) && (!cur || !FINAL.has(cur.status))) reloadPlan();
    if (!FINAL.has(op.status)) watchOp(op.id);
    else if (opSubs.has(op.id)) { opSubs.get(op.id)(); opSubs.delete(op.id); }
    if (op.kind === 'EXPORT' && exportsPart) exportsPart.opChanged(ops.get(op.id));
    if (op.kind === 'PURGE' && tenant.state === 'PENDING_DELETION' && bannerSlot) {
      if (op.id === purgeOpId && op.status === 'FAILED' && (!cur || cur.status !== 'FAILED')) {
        expecting.delete('PURGED');
        toast(`The purge failed: ${op.error ? op.error.message : 'no reason given'}`, { bad: true });
      }
      renderBanner();
    }
    if (render) renderOps();
  }

  function watchOp(opId) {
    if (!live || opSubs.has(opId)) return;
    const unsub = live.subscribe({ query: S_PROGRESS, variables: { id: opId } }, {
      next: (msg) => { if (msg.data && msg.data.operationProgress) upsertOp(msg.data.operationProgress); },
      error: () => opSubs.delete(opId),
      complete: () => opSubs.delete(opId),
    });
    opSubs.set(opId, unsub);
  }

  function renderOps() {
    const list = [...ops.values()].sort((a, b) => new Date(b.createdAt) - new Date(a.createdAt));
    mount(opsCard.body, list.length ? list.map(opView) : h('p', { class: 'empty' }, 'No operations yet.'));
  }

  function opView(op) {
    return h('article', { class: 'op', testid: 'operation', dataset: { operationId: op.id, status: op.status, kind: op.kind } },
      h('div', { class: 'op-head' },
        h('span', null, h('strong', null, op.kind), ' ', statusBadge(op.status, 'operation-status')),
        h('span', { class: 'meta' }, `attempt ${op.attempt} · by ${op.requestedBy} · `, timeEl(op.createdAt, { relative: true }))),
      progressBar({ done: op.progress.done, total: op.progress.total, status: op.status, label: `${op.kind} progress`, testid: 'operation-progress' }),
      op.progress.phase ? (op.kind === 'EXPORT' ? exportProgressView(op.progress) : moveView(op.progress)) : null,
      stepList(op.steps, { testid: 'operation-step' }),
      op.error ? errorBox(new APIError([{ message: op.error.message, extensions: { code: op.error.code } }]), { testid: 'operation-error' }) : null,
      op.finishedAt && op.startedAt ? h('p', { class: 'hint' }, `Took ${fmt.duration(new Date(op.finishedAt) - new Date(op.startedAt))}.`) : null);
  }

  function moveView(p) {
    const frac = p.rowsTotal ? Math.min(1, p.rows / p.rowsTotal) : 0;
    return h('div', { class: 'move', testid: 'operation-move', dataset: { phase: p.phase } },
      h('p', null, h('strong', null, 'Data move: '), h('span', { testid: 'move-phase' }, p.phase),
        ` · ${fmt.number(p.rows)} of ${fmt.number(p.rowsTotal)} rows · ${fmt.bytes(p.bytes)} of ${fmt.bytes(p.bytesTotal)}`,
        p.writePauseMs !== null && p.writePauseMs !== undefined ? h('span', { testid: 'move-pause' }, ` · writes held ${p.writePauseMs.toFixed(1)} ms at the switch`) : null),
      h('progress', { max: 1, value: frac, 'aria-label': 'rows moved' }));
  }

  function exportProgressView(p) {
    const frac = p.rowsTotal ? Math.min(1, p.rows / p.rowsTotal) : 0;
    return h('div', { class: 'move', testid: 'operation-export', dataset: { phase: p.phase } },
      h('p', null, h('strong', null, 'Export: '), h('span', null, p.phase),
        p.rowsTotal ? ` · ${fmt.number(p.rows)} of ${fmt.number(p.rowsTotal)} records` : '',
        p.bytes ? ` · ${fmt.bytes(p.bytes)} written` : ''),
      p.rowsTotal ? h('progress', { max: 1, value: frac, 'aria-label': 'records exported' }) : null);
  }

  // ---- timeline ----
  async function loadTimeline(more) {
    if (timeline.loading) return;
    timeline.loading = true;
    timelineCard.el.setAttribute('aria-busy', 'true');
    if (!more) {
      timeline.items = [];
      timeline.endCursor = null;
      mount(timelineCard.list, h('li', null, loading('Loading the timeline…')));
    }
    try {
      const d = await gql(Q_TIMELINE, { id, after: more ? timeline.endCursor : null });
      const c = d.tenant.transitions;
      const nodes = (c.edges || []).filter((e) => e && e.node).map((e) => e.node);
      if (!more) mount(timelineCard.list);
      for (const tr of nodes) appendTransition(tr, false);
      timeline.hasNext = c.pageInfo.hasNextPage;
      timeline.endCursor = c.pageInfo.endCursor;
      timeline.total = c.totalCount;
      updateTimelineMeta();
    } catch (err) {
      mount(timelineCard.list, h('li', null, errorBox(err, { retry: () => loadTimeline(false) })));
    } finally {
      timeline.loading = false;
      timelineCard.el.removeAttribute('aria-busy');
    }
    if (timeline.maxSeen > timeline.lastSeq && !timeline.hasNext) loadTimeline(false);
  }

  function updateTimelineMeta() {
    timelineCard.more.hidden = !timeline.hasNext;
    timelineCard.el.querySelector('[data-testid=timeline-count]').textContent = `${timeline.total} transition${timeline.total === 1 ? '' : 's'}`;
  }

  function appendTransition(tr, fresh) {
    timeline.items.push(tr);
    timeline.lastSeq = tr.seq;
    timelineCard.list.append(h('li', { class: fresh ? 'fresh' : '', testid: 'timeline-item', dataset: { seq: tr.seq, event: tr.event, toState: tr.toState } },
      h('div', { class: 'tl-head' },
        h('span', { class: 'hint' }, `#${tr.seq}`),
        h('span', { class: 'tl-event' }, tr.event),
        tr.fromState ? stateBadge(tr.fromState) : h('span', { class: 'hint' }, 'new'),
        h('span', { class: 'arrow', 'aria-label': 'to' }, '→'),
        stateBadge(tr.toState)),
      tr.reason ? h('div', { class: 'tl-reason', testid: 'timeline-reason' }, `“${tr.reason}”`) : null,
      h('div', { class: 'tl-meta' },
        h('span', null, `by ${tr.triggeredBy.toLowerCase()} `, h('span', { class: 'mono' }, tr.actor)),
        timeEl(tr.occurredAt),
        h('span', { class: 'mono', title: `hash ${tr.hash}` }, `#${tr.hash.slice(0, 12)}`))));
  }

  /** A transition from the live stream or a mutation: append in seq order, or reload on a gap. */
  function addTransition(tr) {
    if (!tr) return;
    timeline.maxSeen = Math.max(timeline.maxSeen, tr.seq);
    if (timeline.loading || timeline.hasNext) return;
    if (tr.seq <= timeline.lastSeq) return;
    if (tr.seq === timeline.lastSeq + 1) {
      appendTransition(tr, true);
      timeline.total = Math.max(timeline.total + 1, tr.seq);
      updateTimelineMeta();
    } else {
      loadTimeline(false);
    }
  }

  // ---- live ----
  function follow() {
    if (!live) return;
    const unsub = live.subscribe({ query: S_EVENTS, variables: { id } }, {
      next: (msg) => {
        const ev = msg.data && msg.data.tenantEvents;
        if (!ev) return;
        applyTenant(ev.tenant);
        if (ev.kind === 'SNAPSHOT') {
          if (ev.transition) timeline.maxSeen = Math.max(timeline.maxSeen, ev.transition.seq);
          if (ev.transition && ev.transition.seq > timeline.lastSeq && !timeline.loading && !timeline.hasNext) loadTimeline(false);
        } else if (ev.kind === 'TRANSITION') {
          addTransition(ev.transition);
          if (usageCard) reloadUsage();
        } else if (ev.kind === 'OPERATION' && ev.operation) {
          upsertOp(ev.operation);
        }
      },
      error: (err) => { if (!signingOut) toast(`Live updates stopped: ${err.code} ${err.message}`, { bad: true }); },
      reconnected: () => { loadOperations(); },
    });
    disposers.push(unsub);
  }

  // ---- the tenant's own workspace ----
  function workspaceCard() {
    const c = card({ title: 'Workspace', testid: 'card-workspace', cls: 'wide' });
    const docs = h('div');
    const loadDocs = async () => {
      mount(docs, loading());
      try {
        const d = await gql(Q_DOCUMENTS);
        const list = (d.documents.edges || []).filter((e) => e && e.node).map((e) => e.node);
        mount(docs, h('h3', null, `Documents (${fmt.number(d.documents.totalCount)})`),
          list.length ? h('ul', { testid: 'documents' }, list.map((doc) => h('li', null, h('strong', null, doc.title), h('span', { class: 'hint' }, ` · ${fmt.bytes(doc.sizeBytes)} · `, timeEl(doc.createdAt, { relative: true })))))
            : h('p', { class: 'empty' }, 'No documents yet.'));
      } catch (err) {
        mount(docs, errorBox(err, { retry: loadDocs }));
      }
    };
    const up = uploadForm({ onUploaded: () => { loadDocs(); loadUsage(); } });
    const search = searchPanel({ first: 10, onSearched: () => reloadUsage() });
    mount(c.body, h('div', { class: 'funnel-layout' },
      h('div', { class: 'stack' }, search.el, docs),
      h('details', null, h('summary', null, 'Upload a document'), up.el)));
    loadDocs();
    return c.el;
  }

  loadTenant();
  return () => {
    disposers.forEach((f) => f());
    for (const u of opSubs.values()) u();
    opSubs.clear();
    reloadUsage.cancel();
  };
}
