// Win-back campaigns and activation nudges (#/campaigns, #/campaigns/:id):
// the list with each campaign's totals, the form that creates one (checked
// whole before it is sent, every problem said at its field at once, the
// server's answer too), and a campaign's page: its segment, offer and
// steps, the figures per step (eligible, sent, opened, converted or moved
// on, conversion rate, recovered monthly revenue), a chart of conversions
// per day, and Pause with a confirmation. Admins create and pause;
// partners read.

import { gql, asAPIError } from '../api.js';
import { h, mount, fmt, field, card, loading, errorBox, confirmDialog, toast, segmented, stackable } from '../dom.js';
import { columnChart } from '../charts.js';
import { sentence, wordsBox } from '../retention.js';
import { FEEDBACK, feedbackWords } from '../subscription.js';

const LIMITS = { name: 100, windowMax: 365, forHoursMax: 720, nudgeDaysMax: 30, steps: 10, subject: 200, body: 5000, percent: [1, 100], months: [1, 36] };
const PLACEHOLDERS = ['tenantName', 'planName', 'offer', 'reactivateUrl', 'unsubscribeUrl', 'consoleUrl'];
const WINBACK_ONLY = ['offer', 'reactivateUrl'];

const FIGURES = 'step afterDays eligible sent opened converted movedOn conversionRate recoveredMonthlyRevenueCents';
const CAMPAIGN = `id name status createdAt createdBy pausedAt nudge
  segment { canceledWithinDays plans feedback stuckAt forHours }
  offer { percentOff durationMonths }
  steps { afterDays subject body }
  figures { total { ${FIGURES} } steps { ${FIGURES} } conversionsByDay { day count } }`;
const Q_LIST = `query WinBackCampaigns($after: Cursor) {
  winBackCampaigns(first: 20, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id name status createdAt nudge segment { canceledWithinDays stuckAt forHours } figures { total { ${FIGURES} } } } }
  }
}`;
const Q_ONE = `query WinBackCampaign($id: ID!) { node(id: $id) { ... on WinBackCampaign { ${CAMPAIGN} } } }`;
const M_CREATE = `mutation CreateWinBackCampaign($input: CreateWinBackCampaignInput!) { createWinBackCampaign(input: $input) { campaign { id name } } }`;
const M_PAUSE = `mutation PauseWinBackCampaign($input: PauseWinBackCampaignInput!) { pauseWinBackCampaign(input: $input) { campaign { ${CAMPAIGN} } } }`;
const Q_PLANS = 'query CampaignPlans { plans { key name } }';

const money = (cents) => `$${(cents / 100).toFixed(2)}`;
const days = (n) => `${n} day${n === 1 ? '' : 's'}`;
const STUCK = { PROVISIONED: 'provisioned, no upload yet', FIRST_UPLOAD: 'uploaded, no query yet' };

/** Who a campaign mails, in words. */
function segmentWords(c) {
  const s = c.segment;
  if (c.nudge) return `Stuck at ${STUCK[s.stuckAt] || s.stuckAt} for ${s.forHours} h`;
  const parts = [`Canceled within ${days(s.canceledWithinDays)}`];
  if (s.plans && s.plans.length) parts.push(`on ${s.plans.join(', ')}`);
  if (s.feedback && s.feedback.length) parts.push(`because ${s.feedback.map((f) => feedbackWords(f).toLowerCase()).join(' or ')}`);
  return parts.join(' ');
}

/** The rate column: converted (a nudge: moved on) of sent. */
const rate = (f) => (f.sent ? fmt.percent(f.conversionRate) : '—');

export default function campaigns(root, ctx) {
  const admin = ctx.viewer.role === 'ADMIN';
  const id = ctx.params[0];
  if (id) return campaignPage(root, ctx, id, admin);
  return listPage(root, ctx, admin);
}

function listPage(root, ctx, admin) {
  const tbody = h('tbody', { testid: 'campaign-rows' });
  const status = h('div');
  const formSlot = h('div');
  const newBtn = admin ? h('button', { type: 'button', class: 'primary', testid: 'campaign-new', 'aria-expanded': 'false' }, 'New campaign') : null;
  mount(root,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Campaigns'),
      h('p', { class: 'sub' }, 'Win-back mails to canceled tenants and nudges to tenants stuck in the funnel, sent by the sweep once per tenant and step.')),
    newBtn ? h('div', { class: 'toolbar' }, newBtn) : null),
    formSlot,
    h('section', { class: 'card' }, status,
      h('div', { class: 'table-wrap' }, stackable(h('table', { testid: 'campaign-table' },
        h('caption', { class: 'visually-hidden' }, 'Campaigns, newest first'),
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'Status'),
          h('th', { scope: 'col', class: 'num' }, 'Sent'), h('th', { scope: 'col', class: 'num' }, 'Converted'),
          h('th', { scope: 'col', class: 'num' }, 'Rate'), h('th', { scope: 'col' }, 'Created'))),
        tbody)))));

  if (newBtn) {
    newBtn.addEventListener('click', () => {
      if (formSlot.firstChild) { closeForm(); return; }
      newBtn.setAttribute('aria-expanded', 'true');
      mount(formSlot, createForm({
        onCreated: (c) => { closeForm(); toast(`Campaign “${c.name}” created: the sweep sends its due steps`); ctx.go(`/campaigns/${encodeURIComponent(c.id)}`); },
        onClose: () => { closeForm(); newBtn.focus(); },
      }));
      formSlot.querySelector('input').focus();
    });
  }
  function closeForm() { mount(formSlot); if (newBtn) newBtn.setAttribute('aria-expanded', 'false'); }

  // Pages of 20 (the figures make a campaign costly for the API's
  // complexity limit); "Show more" reads the next.
  let after = null;
  const more = h('button', { type: 'button', class: 'small', testid: 'campaign-more', hidden: true }, 'Show more');
  more.addEventListener('click', () => load());
  tbody.parentElement.parentElement.after(h('div', { class: 'pager' }, more));

  async function load() {
    mount(status, loading('Loading campaigns…'));
    more.disabled = true;
    try {
      const d = (await gql(Q_LIST, { after })).winBackCampaigns;
      const rows = d.edges.map((e) => e.node);
      mount(status);
      if (!after) {
        mount(tbody, rows.length ? rows.map(row) : h('tr', null, h('td', { colspan: 7, class: 'empty', testid: 'campaign-empty' },
          admin ? 'No campaigns yet: “New campaign” creates one.' : 'No campaigns yet.')));
      } else {
        tbody.append(...rows.map(row));
      }
      after = d.pageInfo.endCursor;
      more.hidden = !d.pageInfo.hasNextPage;
    } catch (err) {
      mount(status, errorBox(err, { retry: load }));
    } finally {
      more.disabled = false;
    }
  }

  function row(c) {
    const t = c.figures.total;
    return h('tr', { testid: 'campaign-row', dataset: { campaignId: c.id, status: c.status } },
      h('td', null, h('a', { href: `#/campaigns/${encodeURIComponent(c.id)}`, testid: 'campaign-link' }, c.name),
        c.nudge ? h('span', { class: 'chip' }, 'nudge') : null),
      h('td', null, segmentWords(c)),
      h('td', null, h('span', { class: `badge status-${c.status === 'ACTIVE' ? 'RUNNING' : 'CANCELED'}`, testid: 'campaign-status' }, fmt.enumLabel(c.status))),
      h('td', { class: 'num' }, fmt.number(t.sent)),
      h('td', { class: 'num' }, fmt.number(c.nudge ? t.movedOn : t.converted)),
      h('td', { class: 'num' }, rate(t)),
      h('td', null, h('time', { datetime: c.createdAt, title: fmt.dateTime(c.createdAt) }, fmt.relative(c.createdAt))));
  }

  load();
  return null;
}

/**
 * The create form. Every check the server makes is made here first, so all
 * problems show at their fields at once; what the server still refuses
 * shows at the field it names.
 */
function createForm({ onCreated, onClose }) {
  const fields = {};
  const nameEl = h('input', { type: 'text', name: 'name', maxlength: LIMITS.name, autocomplete: 'off', testid: 'campaign-name', placeholder: 'e.g. Come back in spring' });
  fields.name = field({ label: 'Name', input: nameEl, name: 'name', help: 'Shown on the reactivation page.' });

  let kind = 'winback';
  const kindToggle = segmented('campaign-kind', [['winback', 'Win-back (canceled tenants)'], ['nudge', 'Activation nudge (stuck tenants)']], kind, (v) => { kind = v; sync(); }, 'Kind of campaign');

  const windowEl = h('input', { type: 'number', name: 'canceledWithinDays', min: 1, max: LIMITS.windowMax, value: 90, testid: 'campaign-window' });
  fields['segment.canceledWithinDays'] = field({ label: 'Canceled within (days)', input: windowEl, name: 'canceledWithinDays',
    help: `1 to ${LIMITS.windowMax}. A step is not sent to a tenant that canceled longer ago.` });
  const planBoxes = h('div', { class: 'inline-fields', testid: 'campaign-plans' });
  const plansSet = h('fieldset', { class: 'choices' }, h('legend', null, 'Plans (none ticked: any)'), planBoxes);
  fields['segment.plans'] = fieldsetField(plansSet, planBoxes);
  const feedbackBoxes = h('div', { class: 'inline-fields', testid: 'campaign-feedback' },
    FEEDBACK.map(([v, label]) => h('label', { class: 'check-label' }, h('input', { type: 'checkbox', value: v, testid: `campaign-feedback-${v}` }), label)));
  const feedbackSet = h('fieldset', { class: 'choices' }, h('legend', null, 'Reason given at cancellation (none ticked: any)'), feedbackBoxes);
  fields['segment.feedback'] = fieldsetField(feedbackSet, feedbackBoxes);

  const stuckEl = h('select', { name: 'stuckAt', testid: 'campaign-stuck-at' },
    h('option', { value: 'PROVISIONED' }, 'Provisioned, no document uploaded'), h('option', { value: 'FIRST_UPLOAD' }, 'Uploaded, no query made'));
  fields['segment.stuckAt'] = field({ label: 'Stuck at', input: stuckEl, name: 'stuckAt' });
  const forHoursEl = h('input', { type: 'number', name: 'forHours', min: 1, max: LIMITS.forHoursMax, value: 24, testid: 'campaign-for-hours' });
  fields['segment.forHours'] = field({ label: 'For at least (hours)', input: forHoursEl, name: 'forHours', help: `1 to ${LIMITS.forHoursMax}; the steps count their days from then.` });

  const offerOn = h('input', { type: 'checkbox', testid: 'campaign-offer-on', checked: true });
  const percentEl = h('input', { type: 'number', name: 'percentOff', min: 1, max: 100, value: 20, testid: 'campaign-percent' });
  const monthsEl = h('input', { type: 'number', name: 'durationMonths', min: 1, max: 36, value: 3, testid: 'campaign-months' });
  fields['offer.percentOff'] = field({ label: 'Percent off', input: percentEl, name: 'percentOff', help: '1 to 100.' });
  fields['offer.durationMonths'] = field({ label: 'For (months)', input: monthsEl, name: 'durationMonths', help: '1 to 36.' });
  const offerFields = h('div', { class: 'inline-fields' }, fields['offer.percentOff'].wrap, fields['offer.durationMonths'].wrap);
  offerOn.addEventListener('change', sync);

  const stepsBox = h('div', { class: 'stack', testid: 'campaign-steps' });
  const steps = [];
  const addBtn = h('button', { type: 'button', class: 'small', testid: 'campaign-add-step' }, 'Add a step');
  fields.steps = { wrap: stepsBox, input: addBtn, setError: (m) => stepsError.setError(m) };
  const stepsError = errorLine('steps');
  addBtn.addEventListener('click', () => { addStep(); steps[steps.length - 1].afterEl.focus(); });

  function addStep(st = {}) {
    const i = steps.length;
    const afterEl = h('input', { type: 'number', min: 0, value: st.afterDays ?? (i === 0 ? 0 : (Number(steps[i - 1].afterEl.value) || 0) + 7), testid: 'step-after-days' });
    const subjectEl = h('input', { type: 'text', maxlength: LIMITS.subject, value: st.subject || '', autocomplete: 'off', testid: 'step-subject' });
    const bodyEl = h('textarea', { rows: 5, maxlength: LIMITS.body, testid: 'step-body' });
    bodyEl.value = st.body || '';
    const s = { afterEl, subjectEl, bodyEl };
    s.after = field({ label: 'Days after', input: afterEl, name: `steps-${i}-afterDays` });
    s.subject = field({ label: 'Subject', input: subjectEl, name: `steps-${i}-subject` });
    s.body = field({ label: 'Body (plain text)', input: bodyEl, name: `steps-${i}-body` });
    const remove = h('button', { type: 'button', class: 'small', testid: 'step-remove' }, 'Remove this step');
    s.el = h('fieldset', { class: 'choices', testid: 'campaign-step' }, h('legend', null, `Step ${i + 1}`),
      h('div', { class: 'inline-fields' }, s.after.wrap, s.subject.wrap), s.body.wrap, remove);
    remove.addEventListener('click', () => {
      steps.splice(steps.indexOf(s), 1);
      s.el.remove();
      renumber();
      addBtn.focus();
    });
    steps.push(s);
    stepsBox.append(s.el);
    renumber();
  }
  function renumber() {
    steps.forEach((s, i) => {
      s.el.querySelector('legend').textContent = `Step ${i + 1}`;
      fields[`steps[${i}].afterDays`] = s.after;
      fields[`steps[${i}].subject`] = s.subject;
      fields[`steps[${i}].body`] = s.body;
    });
    addBtn.disabled = steps.length >= LIMITS.steps;
  }
  addStep({ afterDays: 0, subject: 'We miss you, {{tenantName}}',
    body: 'Hello {{tenantName}},\n\nyour {{planName}} workspace is still here. Come back with {{offer}}:\n{{reactivateUrl}}\n\nNo more of these emails: {{unsubscribeUrl}}\n' });

  const winbackPart = h('div', { class: 'stack', testid: 'campaign-winback-fields' }, fields['segment.canceledWithinDays'].wrap, plansSet, feedbackSet,
    h('div', { class: 'field' }, h('label', { class: 'check-label' }, offerOn, 'Offer a discount when they come back (a coupon at the billing provider)')), offerFields);
  const nudgePart = h('div', { class: 'inline-fields', testid: 'campaign-nudge-fields' }, fields['segment.stuckAt'].wrap, fields['segment.forHours'].wrap);
  const placeholderHelp = h('p', { class: 'hint', testid: 'campaign-placeholders' });
  const errorSlot = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'campaign-create' }, 'Create campaign');
  const close = h('button', { type: 'button', testid: 'campaign-form-close' }, 'Close without creating');
  close.addEventListener('click', onClose);

  const { el, body } = card({ title: 'New campaign', testid: 'campaign-form-card' });
  const form = h('form', { class: 'stack', testid: 'campaign-form', novalidate: true },
    fields.name.wrap, h('div', { class: 'field' }, kindToggle), winbackPart, nudgePart,
    h('h3', null, 'Steps'), placeholderHelp, stepsBox, stepsError.el, h('div', null, addBtn),
    errorSlot, h('div', { class: 'toolbar' }, close, submit));
  mount(body, form);

  gql(Q_PLANS).then((d) => {
    mount(planBoxes, d.plans.map((p) => h('label', { class: 'check-label' }, h('input', { type: 'checkbox', value: p.key, testid: `campaign-plan-${p.key}` }), p.name)));
  }, () => mount(planBoxes, h('span', { class: 'hint' }, 'The plans could not be read: the campaign will mail tenants on any plan.')));

  function sync() {
    const nudge = kind === 'nudge';
    winbackPart.hidden = nudge;
    nudgePart.hidden = !nudge;
    offerFields.hidden = nudge || !offerOn.checked;
    const allowed = PLACEHOLDERS.filter((p) => !nudge || !WINBACK_ONLY.includes(p));
    placeholderHelp.textContent = `Placeholders: ${allowed.map((p) => `{{${p}}}`).join(' ')}. An unsubscribe line is added to a body without {{unsubscribeUrl}}. ` +
      (nudge ? `Days count from the moment a tenant has been stuck for the hours above; 0 to ${LIMITS.nudgeDaysMax}.` : 'Days count from the cancellation; 0 to the window above.');
  }
  sync();

  /** Reads the form: {input, problems: [[field, message]]}. */
  function read() {
    const problems = [];
    const int = (el) => (el.value.trim() === '' ? NaN : Number(el.value));
    const nudge = kind === 'nudge';
    const name = nameEl.value.trim();
    if (!name) problems.push(['name', 'Give the campaign a name.']);
    const segment = {};
    let maxAfter = LIMITS.nudgeDaysMax;
    if (nudge) {
      segment.stuckAt = stuckEl.value;
      segment.forHours = int(forHoursEl);
      if (!Number.isInteger(segment.forHours) || segment.forHours < 1 || segment.forHours > LIMITS.forHoursMax) {
        problems.push(['segment.forHours', `Type a whole number of hours from 1 to ${LIMITS.forHoursMax}.`]);
      }
    } else {
      segment.canceledWithinDays = int(windowEl);
      maxAfter = segment.canceledWithinDays;
      if (!Number.isInteger(segment.canceledWithinDays) || segment.canceledWithinDays < 1 || segment.canceledWithinDays > LIMITS.windowMax) {
        problems.push(['segment.canceledWithinDays', `Type a whole number of days from 1 to ${LIMITS.windowMax}.`]);
        maxAfter = LIMITS.windowMax;
      }
      const plans = [...planBoxes.querySelectorAll('input:checked')].map((i) => i.value);
      const feedback = [...feedbackBoxes.querySelectorAll('input:checked')].map((i) => i.value);
      if (plans.length) segment.plans = plans;
      if (feedback.length) segment.feedback = feedback;
    }
    const input = { name, segment, steps: [] };
    if (!nudge && offerOn.checked) {
      const offer = { percentOff: int(percentEl), durationMonths: int(monthsEl) };
      if (!Number.isInteger(offer.percentOff) || offer.percentOff < 1 || offer.percentOff > 100) problems.push(['offer.percentOff', 'Type a whole percentage from 1 to 100.']);
      if (!Number.isInteger(offer.durationMonths) || offer.durationMonths < 1 || offer.durationMonths > 36) problems.push(['offer.durationMonths', 'Type a whole number of months from 1 to 36.']);
      input.offer = offer;
    }
    if (!steps.length) problems.push(['steps', 'Add at least one step: the mail to send.']);
    steps.forEach((s, i) => {
      const st = { afterDays: int(s.afterEl), subject: s.subjectEl.value, body: s.bodyEl.value };
      const prev = i > 0 ? input.steps[i - 1].afterDays : null;
      if (!Number.isInteger(st.afterDays) || st.afterDays < 0 || st.afterDays > maxAfter) {
        problems.push([`steps[${i}].afterDays`, `Type a whole number of days from 0 to ${maxAfter}${nudge ? '' : ' (the window)'}.`]);
      } else if (Number.isInteger(prev) && st.afterDays <= prev) {
        problems.push([`steps[${i}].afterDays`, `Each step comes after the one before: more than ${prev} days.`]);
      }
      if (!st.subject.trim()) problems.push([`steps[${i}].subject`, 'Write a subject.']);
      if (!st.body.trim()) problems.push([`steps[${i}].body`, 'Write the mail’s text.']);
      for (const [part, text] of [['subject', st.subject], ['body', st.body]]) {
        const bad = placeholderProblem(text, nudge);
        if (bad) problems.push([`steps[${i}].${part}`, bad]);
      }
      input.steps.push(st);
    });
    return { input, problems };
  }

  function clearErrors() {
    for (const f of Object.values(fields)) f.setError('');
    mount(errorSlot);
  }
  function show(problems) {
    let first = null;
    for (const [name, message] of problems) {
      const f = fields[name];
      if (f) { f.setError(message); first = first || f; } else mount(errorSlot, wordsBox(message));
    }
    if (first) first.input.focus();
  }

  form.addEventListener('input', (ev) => {
    for (const f of Object.values(fields)) if (f.input === ev.target) f.setError('');
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors();
    const { input, problems } = read();
    if (problems.length) { show(problems); return; }
    submit.disabled = true;
    mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Creating…');
    try {
      const c = (await gql(M_CREATE, { input })).createWinBackCampaign.campaign;
      onCreated(c);
    } catch (err) {
      const e = asAPIError(err).errors[0];
      const name = (e.field || '').replace(/^input\./, '');
      if (e.code === 'INVALID_INPUT' && fields[name]) show([[name, sentence(e.message)]]);
      else if (e.code === 'FORBIDDEN') mount(errorSlot, wordsBox('Your token may not create campaigns: it takes an admin token.'));
      else mount(errorSlot, wordsBox(sentence(e.message)));
      submit.disabled = false;
      mount(submit, 'Create campaign');
    }
  });
  return el;
}

/** A fieldset used as a form field (its error under it). */
function fieldsetField(set, focusWithin) {
  const err = errorLine(set.querySelector('legend').textContent);
  set.append(err.el);
  return { wrap: set, get input() { return focusWithin.querySelector('input') || set; }, setError: err.setError };
}

function errorLine(name) {
  const el = h('div', { class: 'field-error', testid: `field-error-${name}`, hidden: true });
  return { el, setError(m) { el.textContent = m || ''; el.hidden = !m; } };
}

/** What is wrong with a template's placeholders, or ''. */
function placeholderProblem(text, nudge) {
  for (const m of text.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)) {
    if (!PLACEHOLDERS.includes(m[1])) {
      const usable = PLACEHOLDERS.filter((p) => !nudge || !WINBACK_ONLY.includes(p));
      return `{{${m[1]}}} is not a placeholder: use ${usable.map((p) => `{{${p}}}`).join(', ')}.`;
    }
    if (nudge && WINBACK_ONLY.includes(m[1])) return `{{${m[1]}}} belongs to win-back mails; a nudge links to the console with {{consoleUrl}}.`;
  }
  if (/\{\{|\}\}/.test(text.replace(/\{\{\s*[^{}]*?\s*\}\}/g, ''))) return 'A placeholder is not closed: write it as {{name}}.';
  return '';
}

function campaignPage(root, ctx, id, admin) {
  mount(root, loading('Loading the campaign…'));
  async function load() {
    try {
      const c = (await gql(Q_ONE, { id })).node;
      if (!c) {
        mount(root, h('div', { class: 'narrow' }, h('h1', { tabindex: -1 }, 'Campaign not found'),
          h('p', null, 'No campaign has this id. ', h('a', { href: '#/campaigns' }, 'All campaigns'), '.')));
        return;
      }
      render(c);
    } catch (err) {
      mount(root, h('div', { class: 'narrow' }, h('h1', null, 'Campaign'), errorBox(err, { retry: load })));
    }
  }

  function render(c) {
    ctx.setTitle(c.name);
    const f = c.figures;
    const moved = c.nudge;
    const pause = admin && c.status === 'ACTIVE'
      ? h('button', { type: 'button', class: 'danger', testid: 'campaign-pause', on: { click: () => pauseIt(c) } }, 'Pause campaign') : null;
    const figures = card({ title: 'Figures per step', testid: 'campaign-figures' });
    const t = f.total;
    mount(figures.body,
      h('div', { class: 'stats' },
        stat('Tenants mailed', fmt.number(t.sent), 'campaign-total-sent'),
        stat(moved ? 'Moved on' : 'Converted', fmt.number(moved ? t.movedOn : t.converted), 'campaign-total-converted'),
        stat('Rate', rate(t), 'campaign-total-rate'),
        moved ? null : stat('Recovered monthly revenue', money(t.recoveredMonthlyRevenueCents), 'campaign-total-revenue')),
      h('div', { class: 'table-wrap' }, stackable(h('table', { testid: 'campaign-step-table' },
        h('caption', { class: 'visually-hidden' }, 'Results per step'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col', class: 'num' }, 'Days after'),
          h('th', { scope: 'col', class: 'num' }, 'Eligible'), h('th', { scope: 'col', class: 'num' }, 'Sent'),
          moved ? null : h('th', { scope: 'col', class: 'num' }, 'Opened'),
          h('th', { scope: 'col', class: 'num' }, moved ? 'Moved on' : 'Converted'), h('th', { scope: 'col', class: 'num' }, 'Rate'),
          moved ? null : h('th', { scope: 'col', class: 'num' }, 'Recovered / month'))),
        h('tbody', null, f.steps.map((s) => h('tr', { testid: 'campaign-step-row', dataset: { step: String(s.step) } },
          h('td', null, `${s.step + 1}. ${c.steps[s.step] ? c.steps[s.step].subject : ''}`),
          h('td', { class: 'num' }, fmt.number(s.afterDays)),
          h('td', { class: 'num', testid: 'step-eligible' }, fmt.number(s.eligible)),
          h('td', { class: 'num', testid: 'step-sent' }, fmt.number(s.sent)),
          moved ? null : h('td', { class: 'num', testid: 'step-opened' }, fmt.number(s.opened)),
          h('td', { class: 'num', testid: 'step-converted' }, fmt.number(moved ? s.movedOn : s.converted)),
          h('td', { class: 'num', testid: 'step-rate' }, rate(s)),
          moved ? null : h('td', { class: 'num' }, money(s.recoveredMonthlyRevenueCents)))))))),
      h('p', { class: 'hint' }, 'Eligible: tenants in the segment when the step came due; sent leaves out those that unsubscribed. ',
        moved ? 'Moved on: tenants that reached the next funnel step after the mail.' : 'Converted: tenants that reactivated through the mail’s link; the revenue is their plan’s monthly price.'));

    const chart = card({ title: moved ? 'Tenants that moved on, per day' : 'Conversions per day', testid: 'campaign-chart' });
    const byDay = everyDay(f.conversionsByDay);
    mount(chart.body, columnChart(byDay.map((d) => ({ value: d.count, title: `${fmt.date(d.day)}: ${fmt.number(d.count)}` })), {
      label: moved ? 'Tenants that moved on per day' : 'Conversions per day', yFmt: fmt.number, integer: true,
      yMax: 4 * Math.max(1, Math.ceil(Math.max(0, ...byDay.map((d) => d.count)) / 4)), // whole-number ticks
      xStart: byDay.length ? fmt.shortDate(byDay[0].day) : '', xEnd: byDay.length > 1 ? fmt.shortDate(byDay[byDay.length - 1].day) : '', testid: 'campaign-conversions-chart',
    }), h('table', { class: 'visually-hidden' }, h('caption', null, 'Conversions per day'),
      h('tbody', null, byDay.map((d) => h('tr', { testid: 'conversion-day' }, h('th', { scope: 'row' }, fmt.date(d.day)), h('td', null, String(d.count)))))));

    const about = card({ title: moved ? 'Who it nudges' : 'Who it mails', testid: 'campaign-about' });
    mount(about.body, h('dl', { class: 'details' },
      h('dt', null, 'Segment'), h('dd', { testid: 'campaign-segment' }, segmentWords(c)),
      moved ? null : [h('dt', null, 'Offer'), h('dd', { testid: 'campaign-offer' }, c.offer ? `${c.offer.percentOff}% off for ${c.offer.durationMonths} month${c.offer.durationMonths === 1 ? '' : 's'}` : 'None')],
      h('dt', null, 'Created'), h('dd', null, `${fmt.dateTime(c.createdAt)} by `, h('span', { class: 'mono' }, c.createdBy)),
      c.pausedAt ? [h('dt', null, 'Paused'), h('dd', { testid: 'campaign-paused-at' }, fmt.dateTime(c.pausedAt))] : null),
    h('ol', { class: 'steps-list' }, c.steps.map((s, i) => h('li', { testid: 'campaign-step-text' },
      h('div', { class: 'step-main' }, h('span', { class: 'step-name' }, `Step ${i + 1}, day ${s.afterDays}: ${s.subject}`),
        h('pre', { class: 'evidence' }, s.body))))));

    mount(root,
      h('p', null, h('a', { href: '#/campaigns', testid: 'campaigns-back' }, '← All campaigns')),
      h('div', { class: 'page-head' }, h('div', null, h('h1', { testid: 'campaign-title' }, c.name,
        ' ', h('span', { class: `badge status-${c.status === 'ACTIVE' ? 'RUNNING' : 'CANCELED'}`, testid: 'campaign-status' }, fmt.enumLabel(c.status))),
      h('p', { class: 'sub' }, c.nudge ? 'Activation nudge' : 'Win-back campaign', ' · ', segmentWords(c))),
      pause ? h('div', { class: 'toolbar' }, pause) : null),
      h('div', { class: 'stack' }, figures.el, chart.el, about.el));
  }

  async function pauseIt(c) {
    let paused = null;
    await confirmDialog({
      title: `Pause “${c.name}”?`,
      body: h('p', null, 'No more of its mails are sent, also not the steps already due. The mails sent so far and their links keep working, and its figures stay.'),
      confirmLabel: 'Pause campaign', cancelLabel: 'Keep sending', danger: true,
      onConfirm: async () => { paused = (await gql(M_PAUSE, { input: { id: c.id } })).pauseWinBackCampaign.campaign; },
    });
    if (!paused) return;
    toast(`Campaign “${paused.name}” paused: no more of its mails are sent`);
    render(paused);
    root.querySelector('h1').focus();
  }

  load();
  return null;
}

/** The days from the first conversion to the last, those without any at 0 (a year at most). */
function everyDay(counts) {
  if (!counts.length) return [];
  const DAY = 86_400_000;
  const have = new Map(counts.map((d) => [new Date(d.day).getTime(), d.count]));
  const first = new Date(counts[0].day).getTime();
  const last = Math.min(new Date(counts[counts.length - 1].day).getTime(), first + 365 * DAY);
  const out = [];
  for (let t = first; t <= last; t += DAY) out.push({ day: new Date(t).toISOString(), count: have.get(t) || 0 });
  return out;
}

function stat(label, value, testid) {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value', testid }, value));
}
