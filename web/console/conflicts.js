// conflicts.js: the recorded conflicts (manual policy, docs/api.md section 5),
// filtered by collection, and one conflict in three columns — base,
// current, proposed — with each conflicting path highlighted, resolved by
// keep-current, take-proposed, merge or a custom document, or dismissed.

import { call, paths, ApiError } from './api.js';
import { h, replace, fmtTime, confirmDialog } from './dom.js';
import { body, diffPaths, parse, pretty, view } from './json.js';

const href = (...segs) => '#/' + segs.map(encodeURIComponent).join('/');
const statuses = ['open', 'resolved', 'dismissed'];

export async function conflictsView(ctx) {
  const collection = ctx.query.get('collection') || '';
  const docId = ctx.query.get('id') || '';
  const status = ctx.query.get('status') || 'open';
  const cols = (await call('GET', paths.collections())).body.items.map((x) => x.name);
  if (!ctx.alive) return null;
  const tbody = h('tbody');
  const more = h('div', { class: 'actions' });
  const refilter = (c, s) => {
    const q = new URLSearchParams();
    if (c) q.set('collection', c);
    if (s !== 'open') q.set('status', s);
    ctx.go('/conflicts' + (q.toString() ? '?' + q : ''));
  };
  const colSel = h('select', { id: 'filter-collection', onchange: () => refilter(colSel.value, stSel.value) },
    h('option', { value: '' }, 'all collections'), cols.map((c) => h('option', { value: c, selected: c === collection }, c)));
  const stSel = h('select', { id: 'filter-status', onchange: () => refilter(colSel.value, stSel.value) },
    statuses.map((s) => h('option', { value: s, selected: s === status }, s)));

  replace(ctx.main,
    h('h1', {}, 'Conflicts'),
    h('p', { class: 'hint' }, 'Writes to collections with the manual policy that could not merge wait here for a person.', docId ? [' Document ', h('code', {}, docId), ' only.'] : null),
    h('div', { class: 'grid2 card' },
      h('div', {}, h('label', { for: 'filter-collection' }, 'Collection'), colSel),
      h('div', {}, h('label', { for: 'filter-status' }, 'Status'), stSel)),
    h('div', { class: 'scroll' }, h('table', { id: 'conflicts' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Document'), h('th', {}, 'Conflicting paths'), h('th', {}, 'Versions'), h('th', {}, 'Recorded'), h('th', {}, ''))),
      tbody)),
    more);

  let items = [];
  async function load(after) {
    const q = { status, limit: 50 };
    if (collection) q.collection = collection;
    if (docId) q.id = docId;
    if (after) q.after = after;
    const r = await call('GET', paths.conflicts(q));
    if (!ctx.alive) return;
    items = after ? items.concat(r.body.items) : r.body.items;
    replace(tbody, items.length ? items.map((x) => h('tr', { 'data-conflict': x.id },
      h('td', {}, h('a', { href: href('c', x.collection, 'd', x.docId) }, `${x.collection}/${x.docId}`)),
      h('td', {}, (x.paths || []).map((p, i) => [i ? ', ' : '', h('code', {}, p.path)])),
      h('td', {}, `base ${x.baseVersion}, current ${x.currentVersion}`),
      h('td', {}, fmtTime(x.createdAt)),
      h('td', {}, h('a', { class: 'button', href: href('conflicts', x.id) }, x.status === 'open' ? 'Resolve' : 'View'))))
      : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, `No ${status} conflicts.`)));
    replace(more, r.body.next ? h('button', { type: 'button', class: 'secondary', onclick: () => load(r.body.next) }, 'More') : null);
  }
  await load();
  let pending = 0;
  return {
    onEvent(ev) {
      if (ev.type !== 'resync' && !ev.type.startsWith('conflict.')) return;
      clearTimeout(pending);
      pending = setTimeout(() => ctx.alive && load().catch(() => {}), 150);
    },
  };
}

export async function conflictView(ctx) {
  const cid = ctx.params.cid;
  const x = (await call('GET', paths.conflict(cid))).body;
  let doc = null, etag = null;
  try {
    const r = await call('GET', paths.doc(x.collection, x.docId));
    doc = r.body;
    etag = r.etag;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  if (!ctx.alive) return null;
  const marks = (x.paths || []).map((p) => p.path);
  const error = h('p', { class: 'error', role: 'alert', id: 'resolve-error' });
  const result = h('div', { role: 'status', id: 'resolve-result' });
  const custom = h('textarea', { id: 'custom', rows: 10, spellcheck: 'false', 'aria-label': 'Custom document', 'aria-describedby': 'custom-error' });
  const customError = h('p', { class: 'field-error', id: 'custom-error' });
  custom.value = pretty(x.current || x.base || {});
  const open = x.status === 'open';
  const moved = doc && doc._version !== x.currentVersion;

  async function resolve(strategy, document) {
    error.textContent = '';
    try {
      const r = await call('POST', `${paths.conflict(cid)}/resolve`, {
        body: document ? { strategy, document } : { strategy },
        headers: etag ? { 'If-Match': etag } : {},
      });
      for (const b of ctx.main.querySelectorAll('[data-strategy], #dismiss')) b.disabled = true;
      replace(result, h('p', { class: 'notice' }, r.status === 204
        ? `Resolved (${strategy}): the document is deleted.`
        : [`Resolved (${strategy}) as version ${r.body._version}. `, h('a', { href: href('c', x.collection, 'd', x.docId) }, 'Open the document')]));
      ctx.refreshConflicts();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 412
        ? 'The document changed since this page read it: reload to see the current version, then choose again.'
        : err.message;
    }
  }

  const strategyButton = (strategy, label, hint) => h('div', {},
    h('button', { type: 'button', 'data-strategy': strategy, onclick: () => resolve(strategy) }, label),
    h('p', { class: 'hint' }, hint));

  replace(ctx.main,
    h('div', { class: 'crumbs' }, h('a', { href: '#/conflicts' }, 'Conflicts'), ' / ', cid),
    h('h1', {}, `Conflict on ${x.collection}/${x.docId}`),
    h('p', {}, h('span', { class: 'tag', id: 'conflict-status' }, x.status), ` recorded ${fmtTime(x.createdAt)}: a write based on version ${x.baseVersion} met version ${x.currentVersion}.`,
      x.resolution ? ` Resolved by ${x.resolution.strategy} as version ${x.resolution.version}.` : ''),
    moved ? h('p', { class: 'notice' }, `The document has moved on to version ${doc._version} since; "current" below is version ${x.currentVersion}, and a resolution is written on top of version ${doc._version}.`) : null,
    h('section', { 'aria-labelledby': 'paths-h' },
      h('h2', { id: 'paths-h' }, 'Conflicting paths'),
      h('div', { class: 'scroll' }, h('table', { id: 'paths' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Path'), h('th', {}, 'Base'), h('th', {}, 'Current'), h('th', {}, 'Proposed'))),
        h('tbody', {}, (x.paths || []).map((p) => h('tr', {},
          h('td', {}, h('code', {}, p.path)),
          h('td', {}, h('code', {}, JSON.stringify(p.base) ?? '(absent)')),
          h('td', {}, h('code', {}, JSON.stringify(p.current) ?? '(absent)')),
          h('td', {}, h('code', {}, JSON.stringify(p.proposed) ?? '(absent)')))))))),
    h('div', { class: 'grid3', id: 'columns' },
      h('div', { class: 'col', 'data-column': 'base' }, h('h3', {}, `Base (version ${x.baseVersion})`), view(x.base, marks, 'hl', 'base')),
      h('div', { class: 'col', 'data-column': 'current' }, h('h3', {}, `Current (version ${x.currentVersion})`), view(x.current, marks, 'hl', 'current', diffPaths(x.base, x.current))),
      h('div', { class: 'col', 'data-column': 'proposed' }, h('h3', {}, 'Proposed'), view(x.proposed, marks, 'hl', 'proposed', diffPaths(x.base, x.proposed)))),
    h('p', { class: 'hint' }, 'Yellow: the conflicting paths, changed differently on both sides. Blue: changed on one side only, which merges cleanly.'),
    open ? h('section', { class: 'card', 'aria-labelledby': 'resolve-h' },
      h('h2', { id: 'resolve-h' }, 'Resolve'),
      h('div', { class: 'grid3' },
        strategyButton('keep-current', 'Keep current', 'Write the current document again, so that the history shows the decision.'),
        strategyButton('take-proposed', 'Take proposed', 'Write the refused request\'s result.'),
        strategyButton('merge', 'Merge', 'Merge the three; where both changed a path, the proposed value wins.')),
      h('h3', {}, 'Or write your own'),
      custom, customError,
      h('div', { class: 'actions' },
        h('button', {
          type: 'button', 'data-strategy': 'custom', onclick: () => {
            const p = parse(custom.value);
            customError.textContent = p.error ? `Not valid JSON: ${p.error}` : '';
            if (p.error) { custom.setAttribute('aria-invalid', 'true'); custom.focus(); return; }
            custom.removeAttribute('aria-invalid');
            resolve('custom', body(p.value));
          },
        }, 'Resolve with this document'),
        h('button', {
          type: 'button', class: 'secondary', id: 'dismiss', onclick: async () => {
            if (!(await confirmDialog('Dismiss this conflict without writing anything? The proposed change is dropped.', 'Dismiss'))) return;
            try {
              await call('POST', `${paths.conflict(cid)}/dismiss`);
              for (const b of ctx.main.querySelectorAll('[data-strategy], #dismiss')) b.disabled = true;
              replace(result, h('p', { class: 'notice' }, 'Dismissed.'));
              ctx.refreshConflicts();
            } catch (err) { error.textContent = err.message; }
          },
        }, 'Dismiss')),
      error, result) : null);
  return null;
}
