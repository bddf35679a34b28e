// The tenant list: search by name or slug, filter by state and plan, pages
// of 20 with Relay cursors.

import { gql } from '../api.js';
import { h, mount, fmt, loading, errorBox, stateBadge, debounce } from '../dom.js';

const PAGE = 20;
const STATES = ['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'ACTIVE', 'SUSPENDED', 'CANCELED', 'PENDING_DELETION', 'PURGED'];

const Q_TENANTS = `query TenantList($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: TenantWhereInput) {
  tenants(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { id name slug state createdAt synthetic plan { key name } } }
  }
}`;

export default function tenants(root, ctx) {
  const f = { q: ctx.query.get('q') || '', state: ctx.query.get('state') || '', plan: ctx.query.get('plan') || '', kind: ctx.query.get('kind') === 'test' ? 'test' : '' };
  const paging = { args: { first: PAGE }, page: 1 };
  let seq = 0;
  let alive = true; // an answer that comes after the user left must not rewrite the next page's URL
  let lastPageInfo = null;

  const search = h('input', { type: 'search', id: 'tenant-search', testid: 'tenant-search', placeholder: 'Name or slug', value: f.q, autocomplete: 'off' });
  const stateSel = h('select', { id: 'tenant-state-filter', testid: 'tenant-state-filter' },
    h('option', { value: '' }, 'Any state'), STATES.map((s) => h('option', { value: s }, fmt.enumLabel(s))));
  stateSel.value = f.state;
  const planSel = h('select', { id: 'tenant-plan-filter', testid: 'tenant-plan-filter' }, h('option', { value: '' }, 'Any plan'));
  // Readiness checks' and load tests' tenants are listed only when asked for.
  const kindSel = h('select', { id: 'tenant-kind-filter', testid: 'tenant-kind-filter' },
    h('option', { value: '' }, 'Customers'), h('option', { value: 'test' }, 'Test tenants (readiness checks, load tests)'));
  kindSel.value = f.kind;
  const summary = h('p', { class: 'hint', testid: 'tenant-summary', 'aria-live': 'polite' });
  const tbody = h('tbody', { testid: 'tenant-rows' });
  const status = h('div');
  const prev = h('button', { type: 'button', testid: 'page-prev', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', testid: 'page-next', disabled: true }, 'Next →');
  const table = h('div', { class: 'table-wrap' }, h('table', { testid: 'tenant-table', class: 'stack-narrow' },
    h('caption', { class: 'visually-hidden' }, 'Tenants, newest first'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Slug'), h('th', { scope: 'col' }, 'Plan'),
      h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Created'))),
    tbody));

  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Tenants'), h('p', { class: 'sub' }, 'Newest first.'))),
    h('section', { class: 'card' },
      h('form', { class: 'inline-fields', role: 'search', on: { submit: (ev) => { ev.preventDefault(); reset(); } } },
        h('div', { class: 'field' }, h('label', { for: 'tenant-search' }, 'Search'), search),
        h('div', { class: 'field' }, h('label', { for: 'tenant-state-filter' }, 'State'), stateSel),
        h('div', { class: 'field' }, h('label', { for: 'tenant-plan-filter' }, 'Plan'), planSel),
        h('div', { class: 'field' }, h('label', { for: 'tenant-kind-filter' }, 'Kind'), kindSel)),
      h('div', { class: 'stack' }, summary, status, table),
      h('div', { class: 'pager' }, prev, h('span', { class: 'hint', testid: 'page-number' }, ''), next)));

  gql('query TenantListPlans { plans { key name } }').then((d) => {
    for (const p of d.plans) planSel.append(h('option', { value: p.key }, p.name));
    planSel.value = f.plan;
  }, () => {});

  function where() {
    const w = {};
    const q = f.q.trim();
    if (q) w.or = [{ nameContainsFold: q }, { slugContainsFold: q }];
    if (f.state) w.state = f.state;
    if (f.plan) w.hasPlanWith = [{ key: f.plan }];
    if (f.kind === 'test') w.synthetic = true;
    return Object.keys(w).length ? w : null;
  }

  async function load() {
    const my = ++seq;
    table.setAttribute('aria-busy', 'true');
    if (!tbody.children.length) mount(status, loading('Loading tenants…'));
    try {
      const d = await gql(Q_TENANTS, { ...paging.args, where: where() });
      if (my !== seq || !alive) return;
      mount(status);
      const c = d.tenants;
      lastPageInfo = c.pageInfo;
      const rows = (c.edges || []).filter((e) => e && e.node).map((e) => e.node);
      mount(tbody, rows.length ? rows.map(row) : h('tr', null, h('td', { colspan: 5, class: 'empty', testid: 'tenant-empty' }, f.q || f.state || f.plan || f.kind ? 'No tenant matches these filters.' : 'No tenants yet.')));
      const start = rows.length ? (paging.page - 1) * PAGE + 1 : 0;
      summary.textContent = rows.length ? `Showing ${start}–${start + rows.length - 1} of ${fmt.number(c.totalCount)} tenant${c.totalCount === 1 ? '' : 's'}` : `0 of ${fmt.number(c.totalCount)}`;
      prev.disabled = !c.pageInfo.hasPreviousPage && paging.page <= 1;
      next.disabled = !c.pageInfo.hasNextPage;
      ctx.setQuery({ q: f.q.trim(), state: f.state, plan: f.plan, kind: f.kind });
      root.querySelector('[data-testid=page-number]').textContent = `Page ${paging.page}`;
    } catch (err) {
      if (my !== seq) return;
      mount(status, errorBox(err, { retry: load }));
    } finally {
      if (my === seq) table.removeAttribute('aria-busy');
    }
  }

  function row(t) {
    return h('tr', { testid: 'tenant-row', dataset: { tenantId: t.id, slug: t.slug || '' } },
      h('td', null, h('a', { href: `#/tenants/${encodeURIComponent(t.id)}`, testid: 'tenant-link' }, t.name || '(purged)'),
        t.synthetic ? h('span', { class: 'chip', title: 'A test tenant (readiness check or load test): left out of the figures' }, 'test') : null),
      h('td', { class: 'mono', dataset: { label: 'Slug' } }, t.slug || '—'),
      h('td', { dataset: { label: 'Plan' } }, t.plan ? t.plan.name : '—'),
      h('td', { dataset: { label: 'State' } }, stateBadge(t.state, 'tenant-row-state')),
      h('td', { dataset: { label: 'Created' } }, h('time', { datetime: t.createdAt, title: fmt.dateTime(t.createdAt) }, fmt.relative(t.createdAt))));
  }

  function reset() {
    paging.args = { first: PAGE };
    paging.page = 1;
    load();
  }

  const onSearch = debounce(() => { f.q = search.value; reset(); }, 300);
  search.addEventListener('input', onSearch);
  stateSel.addEventListener('change', () => { f.state = stateSel.value; reset(); });
  planSel.addEventListener('change', () => { f.plan = planSel.value; reset(); });
  kindSel.addEventListener('change', () => { f.kind = kindSel.value; reset(); });
  next.addEventListener('click', () => {
    if (!lastPageInfo || !lastPageInfo.endCursor) return;
    paging.args = { first: PAGE, after: lastPageInfo.endCursor };
    paging.page += 1;
    load();
  });
  prev.addEventListener('click', () => {
    if (!lastPageInfo || !lastPageInfo.startCursor || paging.page <= 1) return;
    paging.page -= 1;
    paging.args = paging.page === 1 ? { first: PAGE } : { last: PAGE, before: lastPageInfo.startCursor };
    load();
  });

  load();
  return () => { alive = false; onSearch.cancel(); };
}
