// The console shell: who is signed in, the header, hash routing, and one
// live (WebSocket) client per token shared by the views.

import { auth, gql, APIError, wsURL } from './api.js';
import { createClient } from './ws.js';
import { h, mount, loading, errorBox } from './dom.js';
import signinView from './views/signin.js';
import dashboardView from './views/dashboard.js';
import tenantsView from './views/tenants.js';
import tenantView from './views/tenant.js';
import signupView from './views/signup.js';
import campaignsView from './views/campaigns.js';
import { reactivatePage, unsubscribePage } from './views/winback.js';
import { restorePage } from './views/restore.js';

const STAFF = ['ADMIN', 'PARTNER'];

const routes = [
  { re: /^\/signin$/, view: signinView, public: true, title: 'Sign in' },
  { re: /^\/signup$/, view: signupView, public: true, title: 'Sign up' },
  { re: /^\/dashboard$/, view: dashboardView, roles: STAFF, title: 'Dashboard' },
  { re: /^\/tenants$/, view: tenantsView, roles: STAFF, title: 'Tenants' },
  { re: /^\/tenants\/([^/]+)$/, view: tenantView, title: 'Tenant' },
  { re: /^\/campaigns(?:\/([^/]+))?$/, view: campaignsView, roles: STAFF, title: 'Campaigns' },
  // A win-back mail's links: the token is the credential.
  { re: /^\/reactivate$/, view: reactivatePage, public: true, title: 'Come back' },
  { re: /^\/unsubscribe$/, view: unsubscribePage, public: true, title: 'Unsubscribe' },
  // A deletion email's restore link: the token is the credential.
  { re: /^\/restore$/, view: restorePage, public: true, title: 'Restore your workspace' },
];

const VIEWER_QUERY = 'query Viewer { viewer { role actor tenant { id name slug state } } }';

const app = {
  viewer: null, // {role, actor, tenant}
  viewerToken: '',
  live: null, // ws client of the current token
  liveState: 'idle',
  cleanup: null,
  renderSeq: 0,
  firstRender: true,
};

const main = document.getElementById('main');
const navEl = document.getElementById('nav');
const viewerEl = document.getElementById('viewer');

/** Parses location.hash: "#/tenants?q=x" → {path: "/tenants", query: URLSearchParams}. */
export function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  return { path: path || '/', query: new URLSearchParams(qs) };
}

/** Navigates to a hash path. */
export function go(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (location.hash === target) { render(); return; }
  if (replace) {
    history.replaceState(null, '', target);
    render();
  } else {
    location.hash = target;
  }
}

/** Rewrites the hash's query without re-rendering (filters, paging). */
export function setQuery(params) {
  const { path } = currentRoute();
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== '' && v !== null && v !== undefined)).toString();
  history.replaceState(null, '', `#${path}${qs ? `?${qs}` : ''}`);
}

function homeFor(viewer) {
  if (!viewer) return '/signin';
  if (viewer.role === 'TENANT' && viewer.tenant) return `/tenants/${encodeURIComponent(viewer.tenant.id)}`;
  return '/dashboard';
}

function ensureLive() {
  const token = auth.token;
  if (app.live && app.live.token === token) return app.live.client;
  if (app.live) app.live.client.dispose();
  app.live = null;
  if (!token) return null;
  const client = createClient({ url: wsURL(), token, onStatus: (s) => { app.liveState = s; renderLiveIndicator(); } });
  app.live = { token, client };
  return client;
}

async function loadViewer() {
  const token = auth.token;
  if (!token) { app.viewer = null; app.viewerToken = ''; return null; }
  if (app.viewer && app.viewerToken === token) return app.viewer;
  const data = await gql(VIEWER_QUERY, {}, { token });
  app.viewer = data.viewer;
  app.viewerToken = token;
  return app.viewer;
}

function signOut() {
  auth.clear();
  app.viewer = null;
  app.viewerToken = '';
  if (app.live) { app.live.client.dispose(); app.live = null; }
  go('/signin');
}

function renderHeader() {
  const v = app.viewer;
  const { path } = currentRoute();
  const link = (href, label, testid) => h('a', {
    href: `#${href}`, testid, 'aria-current': path === href || (href === '/tenants' && path.startsWith('/tenants/') && v && v.role !== 'TENANT') || (href === '/campaigns' && path.startsWith('/campaigns/')) ? 'page' : undefined,
  }, label);
  const links = [];
  if (v && STAFF.includes(v.role)) links.push(link('/dashboard', 'Dashboard', 'nav-dashboard'), link('/tenants', 'Tenants', 'nav-tenants'),
    link('/campaigns', 'Campaigns', 'nav-campaigns'));
  if (v && v.role === 'TENANT' && v.tenant) links.push(link(`/tenants/${encodeURIComponent(v.tenant.id)}`, 'My workspace', 'nav-my-tenant'));
  links.push(link('/signup', 'Sign up a tenant', 'nav-signup'));
  mount(navEl, links);
  if (v) {
    mount(viewerEl,
      h('span', { class: 'live', id: 'live-indicator', testid: 'live-indicator', dataset: { state: app.liveState } }),
      h('span', { class: 'badge role', testid: 'viewer-role' }, v.role),
      v.tenant ? h('a', { href: `#/tenants/${encodeURIComponent(v.tenant.id)}`, testid: 'viewer-tenant' }, v.tenant.name) : null,
      h('span', { class: 'actor', testid: 'viewer-actor', title: 'How the audit trail names you' }, v.actor),
      h('button', { type: 'button', class: 'small', testid: 'signout', on: { click: signOut } }, 'Sign out'));
    renderLiveIndicator();
  } else {
    mount(viewerEl, path === '/signin' ? null : h('a', { class: 'button small', href: '#/signin', testid: 'signin-link' }, 'Sign in'));
  }
}

function renderLiveIndicator() {
  const el = document.getElementById('live-indicator');
  if (!el) return;
  const labels = { idle: 'Live updates idle', connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', failed: 'Live updates refused' };
  el.dataset.state = app.liveState;
  el.textContent = labels[app.liveState] || app.liveState;
  el.hidden = app.liveState === 'idle';
}

async function render() {
  const seq = ++app.renderSeq;
  if (app.cleanup) {
    try { app.cleanup(); } catch (e) { console.error(e); }
    app.cleanup = null;
  }
  const { path, query } = currentRoute();

  // The viewer first (cached per token).
  if (auth.token && !(app.viewer && app.viewerToken === auth.token)) {
    mount(main, loading('Checking your token…'));
    try {
      await loadViewer();
    } catch (err) {
      if (seq !== app.renderSeq) return;
      if (err instanceof APIError && (err.hasCode('UNAUTHENTICATED') || err.hasCode('FORBIDDEN'))) {
        auth.clear();
        app.viewer = null;
        sessionStorage.setItem('tenantd.console.signinError', `${err.code}: ${err.message}`);
        go('/signin', { replace: true });
        return;
      }
      renderHeader();
      mount(main, h('div', { class: 'narrow' }, h('h1', { tabindex: -1 }, 'Cannot reach tenantd'), errorBox(err, { retry: () => render() })));
      return;
    }
    if (seq !== app.renderSeq) return;
  }
  if (!auth.token) app.viewer = null;

  if (path === '/' || path === '') {
    go(homeFor(app.viewer), { replace: true });
    return;
  }
  let params = null;
  const route = routes.find((r) => (params = path.match(r.re)));
  renderHeader();
  if (!route) {
    document.title = 'Not found · tenantd';
    mount(main, h('div', { class: 'narrow' }, h('h1', { tabindex: -1 }, 'Page not found'),
      h('p', null, `Nothing lives at #${path}. `, h('a', { href: '#/' }, 'Go to the start page'), '.')));
    focusHeading();
    return;
  }
  if (!route.public && !app.viewer) {
    go(`/signin?next=${encodeURIComponent(path)}`, { replace: true });
    return;
  }
  if (route.roles && !route.roles.includes(app.viewer.role)) {
    go(homeFor(app.viewer), { replace: true });
    return;
  }
  document.title = `${route.title} · tenantd`;
  const container = h('div', { class: 'view' });
  mount(main, container);
  const ctx = {
    viewer: app.viewer,
    live: app.viewer ? ensureLive() : null,
    params: params.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p))),
    query,
    go,
    setQuery,
    setTitle: (t) => { document.title = `${t} · tenantd`; },
    refreshViewer: async () => { app.viewer = null; await loadViewer().catch(() => null); renderHeader(); },
  };
  try {
    app.cleanup = route.view(container, ctx) || null;
  } catch (err) {
    console.error(err);
    mount(container, errorBox(err, { title: 'This page failed to render' }));
  }
  focusHeading();
}

function focusHeading() {
  if (app.firstRender) { app.firstRender = false; return; }
  // A view that focused a field itself (sign-in, wizard) keeps it.
  if (main.contains(document.activeElement) && document.activeElement !== main) return;
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: false });
  }
}

// Token changes: from a view (sign-in, signup wizard), another tab, or a 401.
window.addEventListener('tenantd:token', () => {
  app.viewer = null;
  app.viewerToken = '';
  if (app.live && app.live.token !== auth.token) { app.live.client.dispose(); app.live = null; app.liveState = 'idle'; }
  if (auth.token) loadViewer().then(renderHeader, renderHeader); else renderHeader();
});
window.addEventListener('storage', (ev) => {
  if (ev.key === 'tenantd.console.token') location.reload();
});
window.addEventListener('tenantd:unauthenticated', () => {
  sessionStorage.setItem('tenantd.console.signinError', 'UNAUTHENTICATED: your token is no longer valid; sign in again.');
  auth.clear();
  go('/signin');
});
window.addEventListener('hashchange', render);
document.querySelector('[data-skip]')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

render();
