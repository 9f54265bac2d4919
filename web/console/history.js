// history.js: a document's versions, who wrote each, a side-by-side diff
// of any two, and restoring one (confirmed).

import { call, paths, ApiError } from './api.js';
import { h, replace, fmtTime, confirmDialog } from './dom.js';
import { body, diffPaths, view } from './json.js';

const href = (...segs) => '#/' + segs.map(encodeURIComponent).join('/');

export async function historyView(ctx) {
  const { c, id } = ctx.params;
  const tbody = h('tbody');
  const diffBox = h('section', { id: 'diff', 'aria-live': 'polite' });
  const status = h('p', { role: 'status', class: 'hint', id: 'history-status' });
  const more = h('div', { class: 'actions' });
  let items = [];
  let from = null, to = null;

  replace(ctx.main,
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Collections'), ' / ', h('a', { href: href('c', c) }, c), ' / ', h('a', { href: href('c', c, 'd', id) }, id), ' / history'),
    h('h1', {}, `History of ${id}`),
    h('p', { class: 'hint' }, 'Choose two versions to compare them side by side.'),
    h('div', { class: 'scroll' }, h('table', { id: 'versions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'Saved'), h('th', {}, 'By'), h('th', {}, 'From'), h('th', {}, 'To'), h('th', {}, ''))),
      tbody)),
    more, status, diffBox);

  async function loadVersions(before) {
    const q = new URLSearchParams({ limit: 50 });
    if (before) q.set('before', before);
    const r = await call('GET', `${paths.versions(c, id)}?${q}`);
    if (!ctx.alive) return;
    items = before ? items.concat(r.body.items) : r.body.items;
    if (!before) {
      to = items[0] ? items[0].version : null;
      from = items[1] ? items[1].version : to;
    }
    renderRows();
    replace(more, r.body.next ? h('button', { type: 'button', class: 'secondary', onclick: () => loadVersions(r.body.next) }, 'Older versions') : null);
  }

  function renderRows() {
    const newest = items[0];
    replace(tbody, items.map((v) => h('tr', { 'data-version': v.version },
      h('td', {}, String(v.version), v.deleted ? h('span', { class: 'tag deleted' }, ' deleted') : null),
      h('td', {}, fmtTime(v.updatedAt)),
      h('td', {}, v.updatedBy || h('span', { class: 'muted' }, 'unknown')),
      h('td', {}, h('input', { type: 'radio', name: 'from', 'aria-label': `compare from version ${v.version}`, checked: v.version === from, onchange: () => { from = v.version; showDiff(); } })),
      h('td', {}, h('input', { type: 'radio', name: 'to', 'aria-label': `compare to version ${v.version}`, checked: v.version === to, onchange: () => { to = v.version; showDiff(); } })),
      h('td', {}, v === newest || v.deleted ? null : h('button', {
        type: 'button', class: 'secondary', 'data-restore': v.version, onclick: () => restore(v, newest),
      }, 'Restore')))));
  }

  async function version(n) {
    try {
      return (await call('GET', paths.version(c, id, n))).body;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'version_trimmed') return undefined;
      throw err;
    }
  }

  async function showDiff() {
    if (from == null || to == null) { replace(diffBox); return; }
    const [a, b, patch] = await Promise.all([version(from), version(to),
      call('GET', paths.diff(c, id, from, to)).then((r) => r.body, (err) => ({ error: err.message }))]);
    if (!ctx.alive) return;
    const ab = a && !a._deleted ? body(a) : null, bb = b && !b._deleted ? body(b) : null;
    const changed = diffPaths(ab || {}, bb || {});
    replace(diffBox,
      h('h2', {}, `Version ${from} → version ${to}`),
      changed.length ? h('p', {}, `${changed.length} path${changed.length === 1 ? '' : 's'} changed: `, changed.map((p, i) => [i ? ', ' : '', h('code', {}, p)])) : h('p', {}, 'No change.'),
      h('div', { class: 'grid2' },
        h('div', { class: 'col' }, h('h3', {}, `Version ${from}`), a === undefined ? h('p', { class: 'muted' }, 'Trimmed from the history.') : view(ab, changed, 'del', `version ${from}`)),
        h('div', { class: 'col' }, h('h3', {}, `Version ${to}`), b === undefined ? h('p', { class: 'muted' }, 'Trimmed from the history.') : view(bb, changed, 'add', `version ${to}`))),
      Array.isArray(patch) ? h('details', {}, h('summary', {}, 'As a JSON Patch (RFC 6902)'), view(patch)) : null);
  }

  async function restore(v, newest) {
    if (!(await confirmDialog(`Restore version ${v.version} of ${id}? It is written as a new version; nothing is lost.`, 'Restore'))) return;
    try {
      const headers = newest && !newest.deleted && newest.etag ? { 'If-Match': newest.etag } : {};
      const r = await call('POST', paths.restore(c, id, v.version), { headers });
      status.textContent = `Restored version ${v.version} as version ${r.body._version}.`;
      await loadVersions();
      await showDiff();
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 412
        ? 'The document changed while you looked; the list is read again: choose again.'
        : err.message;
      if (err.status === 412) await loadVersions();
    }
  }

  await loadVersions();
  await showDiff();
  return {
    onEvent(ev) {
      if (ev.type === 'resync' || (ev.collection === c && ev.id === id && ev.type.startsWith('document.'))) {
        loadVersions().catch(() => {});
      }
    },
  };
}
