// Dashboard (admins and partners): tenant states, the activation funnel,
// provisioning durations and the readiness checks. It follows every tenant's
// events live and refreshes the figures (debounced) when they arrive.

import { gql } from '../api.js';
import { h, mount, fmt, card, loading, errorBox, statusBadge, timeEl, confirmDialog, toast, segmented, stackable } from '../dom.js';
import { barChart, funnelChart, gauge, columnChart, bins } from '../charts.js';

const TARGET = 0.7;

const STEP_LABELS = { SIGNED_UP: 'Signed up', PROVISIONED: 'Provisioned', FIRST_UPLOAD: 'First upload', FIRST_QUERY: 'First query' };
const DROP_LABELS = {
  SIGNED_UP: 'Signed up, not provisioned',
  PROVISIONED: 'Provisioned, no upload yet',
  FIRST_UPLOAD: 'Uploaded, no query yet',
};

const Q_COUNTS = 'query DashboardStateCounts($all: Boolean) { tenantStateCounts(includeSynthetic: $all) { total states { state count } } }';
const Q_PLANS = 'query DashboardPlans { plans { key name } }';
const Q_FUNNEL = `query DashboardFunnel($plan: String, $cohort: Cohort, $all: Boolean) {
  activationFunnel(plan: $plan, cohort: $cohort, includeSynthetic: $all) {
    from to plan activationWindowHours activated activationRate overallConversion
    steps { name count conversionFromPrevious conversionFromStart medianSecondsFromPrevious p90SecondsFromPrevious }
    cohorts { start signedUp provisioned firstUpload firstQuery activated activationRate }
    dropOff { step count tenants { signedUpAt reachedAt tenant { id name slug state } } }
  }
}`;
const Q_DURATIONS = `query DashboardProvisioning($all: Boolean) {
  provisioningDurations(last: 100, includeSynthetic: $all) {
    count p50Ms p95Ms maxMs inFlight oldestInFlightMs
    recent { durationMs finishedAt tenant { id name slug } operation { id } }
  }
}`;
const READINESS_FIELDS = 'status ranAt checks { name title status summary evidence ranAt durationMs }';
const Q_READINESS = `query DashboardReadiness { readiness { ${READINESS_FIELDS} } }`;
const M_RUN_CHECKS = `mutation RunReadinessChecks { runReadinessChecks { ${READINESS_FIELDS} } }`;
const S_EVENTS = 'subscription DashboardEvents { tenantEvents { kind tenant { id state } transition { seq event } operation { id status } } }';

export default function dashboard(root, ctx) {
  const { viewer, live } = ctx;
  const disposers = [];
  const settings = { plan: ctx.query.get('plan') || '', cohort: ctx.query.get('cohort') === 'WEEK' ? 'WEEK' : 'DAY', all: ctx.query.get('test') === 'include' };

  const updated = h('span', { class: 'hint', testid: 'dashboard-updated', 'aria-live': 'polite' }, '');
  const refreshBtn = h('button', { type: 'button', testid: 'dashboard-refresh', on: { click: () => refreshAll(true) } }, 'Refresh');
  const liveNote = h('span', { class: 'hint', testid: 'dashboard-live' }, '');
  // Readiness checks' and load tests' tenants are left out of every figure
  // unless asked for.
  const allBox = h('input', { type: 'checkbox', id: 'dashboard-include-test', testid: 'dashboard-include-test', checked: settings.all });
  allBox.addEventListener('change', () => { settings.all = allBox.checked; syncQuery(); refreshAll(); });
  const allToggle = h('label', { class: 'check-label', for: 'dashboard-include-test', title: 'Tenants made by readiness checks and load tests' }, allBox, 'Include test tenants');

  // ---- cards ----
  const counts = card({ title: 'Tenants by state', testid: 'card-states' });
  const prov = card({ title: 'Provisioning', testid: 'card-provisioning' });
  const planSelect = h('select', { class: 'compact-select', testid: 'funnel-plan', 'aria-label': 'Plan' }, h('option', { value: '' }, 'All plans'));
  const cohortToggle = segmented('cohort', [['DAY', 'Day'], ['WEEK', 'Week']], settings.cohort, (v) => { settings.cohort = v; syncQuery(); loadFunnel(); }, 'Cohort');
  planSelect.addEventListener('change', () => { settings.plan = planSelect.value; syncQuery(); loadFunnel(); });
  const funnel = card({ title: 'Activation funnel · last 30 days', testid: 'card-funnel', cls: 'wide',
    tools: [h('label', { class: 'visually-hidden', for: 'funnel-plan' }, 'Plan'), planSelect, cohortToggle] });
  planSelect.id = 'funnel-plan';
  const runBtn = viewer.role === 'ADMIN'
    ? h('button', { type: 'button', class: 'primary small', testid: 'run-checks', on: { click: runChecks } }, 'Run checks')
    : null;
  const readiness = card({ title: 'Readiness checks', testid: 'card-readiness', cls: 'wide', tools: runBtn });

  mount(root,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Dashboard'), h('p', { class: 'sub' }, 'Tenant states, activation and provisioning, live.')),
      h('div', { class: 'toolbar' }, liveNote, updated, allToggle, refreshBtn)),
    h('div', { class: 'grid two' }, counts.el, prov.el, funnel.el, readiness.el));

  // ---- loaders: each card loads on its own, so one failure stays in its card ----
  function loader(c, fetcher, draw) {
    let seq = 0;
    let loaded = false;
    return async function load() {
      const my = ++seq;
      if (!loaded) mount(c.body, loading());
      c.el.setAttribute('aria-busy', 'true');
      try {
        const data = await fetcher();
        if (my !== seq) return;
        loaded = true;
        draw(data);
      } catch (err) {
        if (my !== seq) return;
        loaded = false;
        mount(c.body, errorBox(err, { retry: load }));
      } finally {
        if (my === seq) c.el.removeAttribute('aria-busy');
      }
    };
  }

  const loadCounts = loader(counts, () => gql(Q_COUNTS, { all: settings.all }), (d) => drawCounts(counts.body, d.tenantStateCounts));
  const loadFunnel = loader(funnel, () => gql(Q_FUNNEL, { plan: settings.plan || null, cohort: settings.cohort, all: settings.all }), (d) => drawFunnel(funnel.body, d.activationFunnel));
  const loadDurations = loader(prov, () => gql(Q_DURATIONS, { all: settings.all }), (d) => drawDurations(prov.body, d.provisioningDurations));
  const loadReadiness = loader(readiness, () => gql(Q_READINESS), (d) => drawReadiness(readiness.body, d.readiness));

  async function refreshAll(withReadiness = false) {
    const jobs = [loadCounts(), loadFunnel(), loadDurations()];
    if (withReadiness) jobs.push(loadReadiness());
    await Promise.allSettled(jobs);
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  }

  function syncQuery() {
    ctx.setQuery({ plan: settings.plan, cohort: settings.cohort === 'DAY' ? '' : settings.cohort, test: settings.all ? 'include' : '' });
  }

  gql(Q_PLANS).then((d) => {
    for (const p of d.plans) planSelect.append(h('option', { value: p.key }, p.name));
    planSelect.value = settings.plan;
  }, () => { /* the funnel still works for all plans */ });

  refreshAll(true);

  // ---- live: every tenant's events, refreshing at most every ~second ----
  let pending = 0;
  let firstPendingAt = 0;
  const scheduleRefresh = () => {
    const now = Date.now();
    if (!pending) firstPendingAt = now;
    clearTimeout(pending);
    const wait = Math.max(0, Math.min(700, 3000 - (now - firstPendingAt)));
    pending = setTimeout(() => { pending = 0; refreshAll(false); }, wait);
  };
  let events = 0;
  if (live) {
    liveNote.textContent = 'Following every tenant…';
    const unsubscribe = live.subscribe({ query: S_EVENTS }, {
      next: (msg) => {
        if (msg.errors && msg.errors.length) return;
        events += 1;
        liveNote.textContent = `${events} live event${events === 1 ? '' : 's'}`;
        scheduleRefresh();
      },
      error: (err) => {
        liveNote.textContent = '';
        mount(liveNote, h('span', { class: 'badge bad', title: err.message }, `live updates stopped: ${err.code}`));
      },
      reconnected: () => scheduleRefresh(),
    });
    disposers.push(unsubscribe);
  }
  // Milestones such as a first query are not lifecycle events: poll slowly too.
  const poll = setInterval(() => { if (document.visibilityState === 'visible') refreshAll(false); }, 60_000);
  disposers.push(() => clearInterval(poll), () => clearTimeout(pending));

  // ---- readiness run ----
  async function runChecks() {
    await confirmDialog({
      title: 'Run the readiness checks now?',
      body: h('p', null, 'This signs up a synthetic tenant end to end, measures provisioning, recomputes the funnel and replays a provisioning job. It takes a few seconds; synthetic tenants stay out of the funnel.'),
      confirmLabel: 'Run checks',
      cancelLabel: 'Not now',
      onConfirm: async () => {
        const d = await gql(M_RUN_CHECKS);
        drawReadiness(readiness.body, d.runReadinessChecks);
        toast(`Readiness: ${d.runReadinessChecks.status}`);
      },
    });
  }

  return () => disposers.forEach((f) => f());
}

// ---- drawing ----

function drawCounts(body, c) {
  const items = c.states.map((s) => ({ label: s.state, value: s.count, cls: `s-${s.state}` }));
  mount(body,
    h('div', { class: 'stats' },
      stat('Total', fmt.number(c.total), 'state-total'),
      stat('Active', fmt.number(c.states.find((s) => s.state === 'ACTIVE')?.count ?? 0), 'state-active')),
    barChart(items, { label: 'Tenants by state', testid: 'state-chart' }),
    h('table', { class: 'visually-hidden' },
      h('caption', null, 'Tenants by state'),
      h('tbody', null, c.states.map((s) => h('tr', null, h('th', { scope: 'row' }, s.state), h('td', { testid: `state-count-${s.state}` }, String(s.count)))))));
}

function stat(label, value, testid, sub) {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value', testid }, value, sub ? h('small', null, ` ${sub}`) : null));
}

function secs(s) {
  return s === null || s === undefined ? '—' : fmt.duration(s * 1000);
}

function drawFunnel(body, f) {
  const steps = f.steps.map((s, i) => ({
    label: STEP_LABELS[s.name] || s.name,
    count: s.count,
    note: i === 0 ? '' : `${fmt.percent(s.conversionFromPrevious)} of previous${s.medianSecondsFromPrevious !== null && s.medianSecondsFromPrevious !== undefined ? ` · median ${secs(s.medianSecondsFromPrevious)}` : ''}`,
  }));
  const signedUp = f.steps[0]?.count ?? 0;
  const meets = f.activationRate >= TARGET;
  // The gap from the rate as shown, so the two figures agree (4.5% is 65.5 points below 70%).
  const gap = fmt.percentPoints(Math.abs(TARGET * 100 - Math.round(f.activationRate * 1000) / 10));

  const table = h('div', { class: 'table-wrap' }, h('table', { testid: 'funnel-table', class: 'stack-narrow' },
    h('caption', { class: 'visually-hidden' }, 'Funnel steps'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col', class: 'num' }, 'Tenants'),
      h('th', { scope: 'col', class: 'num' }, 'From previous'), h('th', { scope: 'col', class: 'num' }, 'From signup'),
      h('th', { scope: 'col', class: 'num' }, 'Median from previous'), h('th', { scope: 'col', class: 'num' }, 'p90'))),
    h('tbody', null, f.steps.map((s) => h('tr', { testid: 'funnel-step', dataset: { step: s.name } },
      h('th', { scope: 'row' }, STEP_LABELS[s.name] || s.name),
      h('td', { class: 'num', testid: `funnel-count-${s.name}`, dataset: { count: s.count, label: 'Tenants' } }, String(s.count)),
      h('td', { class: 'num', testid: 'funnel-from-previous', dataset: { label: 'From previous' } }, fmt.percent(s.conversionFromPrevious)),
      h('td', { class: 'num', dataset: { label: 'From signup' } }, fmt.percent(s.conversionFromStart)),
      h('td', { class: 'num', dataset: { label: 'Median from previous' } }, secs(s.medianSecondsFromPrevious)),
      h('td', { class: 'num', dataset: { label: 'p90' } }, secs(s.p90SecondsFromPrevious)))))));

  const cohortPoints = f.cohorts.map((c) => ({
    value: c.activationRate,
    cls: c.activationRate >= TARGET ? 's-ACTIVE' : c.signedUp ? 's-SUSPENDED' : '',
    title: `${fmt.date(c.start)}: ${c.activated} of ${c.signedUp} activated (${fmt.percent(c.activationRate)})`,
  }));
  const cohortTable = h('details', null, h('summary', null, `Cohorts by ${f.cohorts.length && isWeek(f) ? 'week' : 'day'} (table)`),
    h('div', { class: 'table-wrap' }, stackable(h('table', { testid: 'cohort-table' },
      h('thead', null, h('tr', null, ['Cohort', 'Signed up', 'Provisioned', 'Upload', 'Query', 'Activated', 'Rate'].map((t, i) => h('th', { scope: 'col', class: i ? 'num' : '' }, t)))),
      h('tbody', null, f.cohorts.map((c) => h('tr', null,
        h('th', { scope: 'row' }, fmt.date(c.start)),
        h('td', { class: 'num' }, String(c.signedUp)), h('td', { class: 'num' }, String(c.provisioned)),
        h('td', { class: 'num' }, String(c.firstUpload)), h('td', { class: 'num' }, String(c.firstQuery)),
        h('td', { class: 'num' }, String(c.activated)), h('td', { class: 'num' }, fmt.percent(c.activationRate)))))))));

  const drops = f.dropOff.map((d) => {
    const more = d.count - d.tenants.length;
    return h('section', { class: 'dropoff', testid: 'dropoff', dataset: { step: d.step } },
      h('h3', null, h('span', null, DROP_LABELS[d.step] || `Stuck at ${d.step}`), h('span', { class: 'badge', testid: `dropoff-count-${d.step}` }, String(d.count))),
      d.tenants.length
        ? h('ol', null, d.tenants.map((s) => h('li', null,
          h('a', { href: `#/tenants/${encodeURIComponent(s.tenant.id)}`, testid: 'dropoff-tenant', dataset: { tenantId: s.tenant.id } }, s.tenant.name || s.tenant.slug || s.tenant.id),
          h('span', { class: 'age', title: `signed up ${fmt.dateTime(s.signedUpAt)}; reached ${STEP_LABELS[d.step] || d.step} ${fmt.dateTime(s.reachedAt)}` }, `stuck ${fmt.relative(s.reachedAt).replace(/ ago$/, '')}`))),
        more > 0 ? h('li', { class: 'age' }, `and ${more} more`) : null)
        : h('p', { class: 'empty' }, 'Nobody is stuck here.'));
  });

  mount(body,
    h('p', { class: 'hint' }, `Tenants who signed up ${fmt.date(f.from)} – ${fmt.date(new Date(new Date(f.to).getTime() - 1).toISOString())}${f.plan ? ` on the ${f.plan} plan` : ''}; synthetic tenants excluded.`),
    h('div', { class: 'funnel-layout' },
      h('div', { class: 'stack' },
        signedUp > 0
          ? funnelChart(steps, { label: 'Activation funnel', testid: 'funnel-chart' })
          : h('p', { class: 'empty', testid: 'funnel-chart' }, 'No tenant signed up in this window yet: the funnel fills as they arrive.'),
        table),
      h('div', { class: 'stack' },
        h('div', { class: 'stats' },
          stat('Activation rate', fmt.percent(f.activationRate), 'activation-rate'),
          stat('Activated', `${fmt.number(f.activated)}`, 'activated-count', `of ${fmt.number(signedUp)}`),
          stat('Overall', fmt.percent(f.overallConversion), 'overall-conversion')),
        gauge(f.activationRate, TARGET, { label: 'Activation rate against the 70% target', testid: 'activation-gauge' }),
        h('p', { class: 'hint', testid: 'activation-verdict' },
          signedUp === 0 ? 'No signups in this window yet.'
            : meets ? `Meets the ${fmt.percent(TARGET)} target (by ${gap} points).`
              : `Below the ${fmt.percent(TARGET)} target by ${gap} points.`,
          ` Activated = first query within ${f.activationWindowHours} h of signup.`),
        h('h3', null, 'Activation rate by cohort'),
        columnChart(cohortPoints, {
          label: 'Activation rate by cohort', yFmt: (v) => fmt.percent(v), yMax: 1, height: 150,
          refLines: [{ value: TARGET, label: 'target', cls: 'target' }],
          xStart: f.cohorts.length ? fmt.shortDate(f.cohorts[0].start) : '', xEnd: f.cohorts.length ? fmt.shortDate(f.cohorts[f.cohorts.length - 1].start) : '',
          testid: 'cohort-chart',
        }),
        cohortTable)),
    h('h3', null, 'Drop-off: where tenants are stuck (oldest first)'),
    drops.length ? h('div', { class: 'dropoffs', testid: 'dropoffs' }, drops) : h('p', { class: 'empty' }, 'No drop-off data.'));
}

function isWeek(f) {
  if (f.cohorts.length < 2) return false;
  return new Date(f.cohorts[1].start) - new Date(f.cohorts[0].start) >= 6 * 86400e3;
}

function drawDurations(body, d) {
  const recent = [...d.recent].sort((a, b) => new Date(a.finishedAt) - new Date(b.finishedAt));
  const chartSlot = h('div');
  const mode = { v: 'timeline' };
  const drawChart = () => {
    if (mode.v === 'timeline') {
      mount(chartSlot, columnChart(recent.map((r) => ({
        value: r.durationMs,
        title: `${r.tenant.name || r.tenant.slug}: ${fmt.duration(r.durationMs)}, finished ${fmt.dateTime(r.finishedAt)}`,
      })), {
        label: 'Recent provisioning durations', yFmt: fmt.duration, testid: 'durations-chart',
        refLines: [d.p50Ms !== null && d.p50Ms !== undefined && { value: d.p50Ms, label: 'p50' }, d.p95Ms !== null && d.p95Ms !== undefined && { value: d.p95Ms, label: 'p95' }].filter(Boolean),
        xStart: recent.length ? fmt.shortDate(recent[0].finishedAt) : '', xEnd: recent.length ? 'now' : '',
      }));
    } else {
      const b = bins(recent.map((r) => r.durationMs), 10);
      mount(chartSlot, columnChart(b.map((x) => ({ value: x.count, title: `${fmt.duration(x.from)} – ${fmt.duration(x.to)}: ${x.count}` })), {
        label: 'Distribution of provisioning durations', testid: 'durations-histogram', integer: true,
        xStart: b.length ? fmt.duration(b[0].from) : '', xEnd: b.length ? fmt.duration(b[b.length - 1].to) : '',
      }));
    }
  };
  const toggle = segmented('durations', [['timeline', 'Recent'], ['histogram', 'Histogram']], mode.v, (v) => { mode.v = v; drawChart(); }, 'Chart');
  drawChart();
  mount(body,
    h('div', { class: 'stats' },
      stat('p50', fmt.duration(d.p50Ms), 'prov-p50'),
      stat('p95', fmt.duration(d.p95Ms), 'prov-p95'),
      stat('max', fmt.duration(d.maxMs), 'prov-max'),
      stat('In flight', fmt.number(d.inFlight), 'prov-inflight', d.inFlight && d.oldestInFlightMs !== null ? `oldest ${fmt.duration(d.oldestInFlightMs)}` : '')),
    h('div', { class: 'toolbar' }, h('span', { class: 'hint' }, `Last ${fmt.number(d.count)} PROVISION operations`), toggle),
    chartSlot);
}

function drawReadiness(body, r) {
  mount(body,
    // Checks that never ran have not failed: say so instead of the API's FAIL.
    h('p', null, 'Overall ', r.ranAt || r.checks.length ? statusBadge(r.status, 'readiness-status')
      : h('span', { class: 'badge', testid: 'readiness-status', dataset: { status: 'NOT_RUN' } }, 'NOT RUN'), ' ',
      r.ranAt ? h('span', { class: 'hint' }, 'last run ', timeEl(r.ranAt), ` (${fmt.relative(r.ranAt)})`) : h('span', { class: 'hint' }, 'never run yet')),
    r.checks.length
      ? h('ul', { class: 'checks' }, r.checks.map((c) => h('li', { class: 'check', testid: 'readiness-check', dataset: { name: c.name, status: c.status } },
        h('div', { class: 'check-head' },
          h('span', { class: 'check-title' }, c.title || c.name),
          h('span', { class: 'toolbar' }, h('span', { class: 'hint' }, `${fmt.number(c.durationMs)} ms · ${fmt.relative(c.ranAt)}`), statusBadge(c.status))),
        h('p', { class: 'check-summary' }, c.summary),
        c.evidence && Object.keys(c.evidence).length
          ? h('details', null, h('summary', null, 'Evidence'), h('pre', { class: 'evidence', testid: 'readiness-evidence' }, JSON.stringify(c.evidence, null, 2)))
          : null)))
      : h('p', { class: 'empty' }, 'The checks have not run yet.'));
}

