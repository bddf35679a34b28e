// Workspace components shared by the activation wizard and the tenant page:
// upload a document, search the documents, show usage against the quotas.

import { gql, uuid, APIError, asAPIError } from './api.js';
import { sentence } from './retention.js';
import { h, mount, fmt, field, errorBox, highlighted } from './dom.js';

export const USAGE_FIELDS = 'documents bytes queriesThisMonth maxDocuments maxBytes maxQueriesPerMonth';

const M_UPLOAD = `mutation UploadDocument($input: UploadDocumentInput!) {
  uploadDocument(input: $input) { document { id title sizeBytes createdAt } usage { ${USAGE_FIELDS} } }
}`;
const Q_SEARCH = `query SearchDocuments($query: String!, $first: Int) {
  searchDocuments(query: $query, first: $first) { score snippet document { id title sizeBytes createdAt } }
}`;

const SAMPLE = {
  title: 'Onboarding handbook',
  content: `Welcome to the team!

Our support desk answers tickets within four business hours. Escalations go to the on-call engineer, who can open an incident in the status page.

Refunds: customers on annual plans can ask for a prorated refund within 30 days. Monthly plans are not refunded, but they can cancel any time and keep access until the end of the period.

Security: every laptop uses full-disk encryption, and production access needs a hardware key.`,
};

/** Usage meters: documents, storage, queries this month against the plan's limits. */
export function usageMeters(u, { testid = 'usage' } = {}) {
  if (!u) return h('p', { class: 'empty', testid }, 'No usage reported.');
  const meter = (label, used, max, format, key) => {
    const frac = max ? Math.min(1, used / max) : 0;
    const fill = h('span');
    fill.style.width = `${(max ? Math.max(frac * 100, used > 0 ? 1 : 0) : 0).toFixed(1)}%`;
    return h('div', { class: 'meter', testid: `usage-${key}` },
      h('div', { class: 'meter-label' }, h('span', null, label),
        h('span', { class: 'mono' }, `${format(used)} / ${max === null || max === undefined ? 'unlimited' : format(max)}`)),
      h('div', { class: ['progress', frac >= 0.9 && 'failed'], role: 'meter', 'aria-label': label, 'aria-valuemin': 0, 'aria-valuemax': max ?? used, 'aria-valuenow': used }, fill));
  };
  return h('div', { testid },
    meter('Documents', u.documents, u.maxDocuments, fmt.number, 'documents'),
    meter('Storage', u.bytes, u.maxBytes, fmt.bytes, 'bytes'),
    meter('Queries this month', u.queriesThisMonth, u.maxQueriesPerMonth, fmt.number, 'queries'));
}

/**
 * The upload form. onUploaded({document, usage}) runs after a success.
 * token: the tenant API key to upload with.
 */
export function uploadForm({ token, onUploaded, sample = true }) {
  const title = h('input', { type: 'text', name: 'title', maxlength: 500, required: true, testid: 'upload-title', autocomplete: 'off' });
  const content = h('textarea', { name: 'content', rows: 8, required: true, testid: 'upload-content' });
  const file = h('input', { type: 'file', accept: '.txt,.md,.csv,.json,text/*', testid: 'upload-file' });
  const fTitle = field({ label: 'Title', input: title, name: 'title', help: '1 to 500 characters.' });
  const fContent = field({ label: 'Content', input: content, name: 'content', help: 'Plain UTF-8 text. You can also load a text file.' });
  const errorSlot = h('div', { 'aria-live': 'assertive' });
  const result = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'upload-submit' }, 'Upload document');
  const sampleBtn = sample ? h('button', { type: 'button', testid: 'upload-sample', on: { click: () => { title.value = SAMPLE.title; content.value = SAMPLE.content; title.focus(); } } }, 'Use a sample document') : null;

  file.addEventListener('change', async () => {
    const f = file.files && file.files[0];
    if (!f) return;
    content.value = await f.text();
    if (!title.value) title.value = f.name.replace(/\.[^.]+$/, '');
  });

  const form = h('form', { testid: 'upload-form', novalidate: true }, fTitle.wrap, fContent.wrap,
    h('div', { class: 'field' }, h('label', { for: 'upload-file-input' }, 'Or load a text file'), file),
    errorSlot, h('div', { class: 'toolbar' }, submit, sampleBtn), result);
  file.id = 'upload-file-input';

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fTitle.setError('');
    fContent.setError('');
    mount(errorSlot);
    // Both fields at once: every mistake is said in one go.
    if (!content.value.trim()) { fContent.setError('The document is empty.'); content.focus(); }
    if (!title.value.trim()) { fTitle.setError('Give the document a title.'); title.focus(); }
    if (!title.value.trim() || !content.value.trim()) return;
    submit.disabled = true;
    mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Uploading…');
    try {
      const d = await gql(M_UPLOAD, { input: { title: title.value.trim(), content: content.value, idempotencyKey: uuid() } }, { token });
      const { document: doc, usage } = d.uploadDocument;
      mount(result, h('div', { class: 'card', testid: 'upload-result', dataset: { documentId: doc.id } },
        h('p', null, h('strong', null, '✓ Uploaded '), `“${doc.title}” (${fmt.bytes(doc.sizeBytes)}).`),
        usageMeters(usage, { testid: 'upload-usage' })));
      if (onUploaded) onUploaded(d.uploadDocument);
    } catch (err) {
      // In words at the field it concerns, else above the button; no codes
      // (the wizard is the customer's page).
      const e = asAPIError(err);
      const rest = e.errors.filter((x) => {
        const f = x.field === 'title' ? fTitle : x.field === 'content' ? fContent : null;
        if (f) f.setError(sentence(x.message));
        return !f;
      });
      if (rest.length) mount(errorSlot, errorBox(new APIError(rest.map((x) => ({ message: sentence(x.message), extensions: x.extensions }))), { title: 'The upload did not go through', testid: 'upload-error', codes: false }));
    } finally {
      submit.disabled = false;
      mount(submit, 'Upload document');
    }
  });
  return { el: form, title, content };
}

/** The search box with its hits. onSearched(hits) runs after every search. */
export function searchPanel({ token, onSearched, first = 5, initial = '' }) {
  const q = h('input', { type: 'search', name: 'query', required: true, testid: 'search-query', value: initial, autocomplete: 'off' });
  const fq = field({ label: 'Search your documents', input: q, name: 'query', help: 'Words are ANDed; "quoted phrases", OR and -excluded words work as in web search.' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'search-submit' }, 'Search');
  const results = h('div', { testid: 'search-results', 'aria-live': 'polite' });
  const form = h('form', { role: 'search', testid: 'search-form', novalidate: true }, fq.wrap, h('div', { class: 'toolbar' }, submit), results);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    fq.setError('');
    const query = q.value.trim();
    if (!query) { fq.setError('Type something to search for.'); q.focus(); return; }
    submit.disabled = true;
    mount(submit, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Searching…');
    try {
      const d = await gql(Q_SEARCH, { query, first }, { token });
      const hits = d.searchDocuments;
      mount(results, hits.length
        ? h('div', null,
          h('p', { class: 'hint', testid: 'search-count' }, `${hits.length} hit${hits.length === 1 ? '' : 's'} for “${query}”, best first`),
          h('ol', { class: 'hits' }, hits.map((hit) => h('li', { class: 'hit', testid: 'search-hit', dataset: { documentId: hit.document.id } },
            h('div', { class: 'hit-head' }, h('strong', null, hit.document.title), h('span', { class: 'score', title: 'Relevance, relative to the best hit of this search (1.00)' }, `score ${scoreText(hit.score)}`)),
            h('p', { class: 'snippet', testid: 'search-snippet' }, highlighted(hit.snippet))))))
        : h('p', { class: 'empty', testid: 'search-empty' }, `No document matches “${query}”.`));
      if (onSearched) onSearched(hits);
    } catch (err) {
      mount(results, errorBox(err, { title: 'The search did not go through', testid: 'search-error', codes: false }));
    } finally {
      submit.disabled = false;
      mount(submit, 'Search');
    }
  });
  return { el: form, input: q };
}

/** The score is relative to the best hit (1): shown as "1.00", "0.42", "<0.01". */
function scoreText(s) {
  if (typeof s !== 'number' || Number.isNaN(s)) return '—';
  return s > 0 && s < 0.005 ? '<0.01' : s.toFixed(2);
}
