// collections.js: the list of collections, and one collection: its
// documents, a page at a time, and its settings.

import { call, paths, ApiError } from './api.js';
import { h, replace, fmtTime } from './dom.js';
import { parse, pretty } from './json.js';

const policies = ['reject', 'merge', 'manual', 'last-write-wins'];
const href = (...segs) => '#/' + segs.map(encodeURIComponent).join('/');

// collectionsView lists the collections the token may read, and creates
// one.
export async function collectionsView(ctx) {
  const tbody = h('tbody');
  const name = h('input', { type: 'text', id: 'new-collection', pattern: '[a-z0-9][a-z0-9_\\-]{0,62}', required: true, 'aria-describedby': 'new-collection-error', placeholder: 'notes' });
  const policy = h('select', { id: 'new-policy' }, policies.map((p) => h('option', { value: p }, p)));
  const error = h('p', { class: 'field-error', id: 'new-collection-error', role: 'alert' });
  replace(ctx.main,
    h('h1', {}, 'Collections'),
    h('div', { class: 'scroll' }, h('table', { id: 'collections' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Conflict policy'), h('th', {}, 'Documents'), h('th', {}, 'Deleted'), h('th', {}, 'Settings changed'))),
      tbody)),
    h('form', {
      class: 'card', onsubmit: async (e) => {
        e.preventDefault();
        try {
          await call('PUT', paths.collection(name.value), { body: { conflictPolicy: policy.value } });
          ctx.go('/c/' + encodeURIComponent(name.value));
        } catch (err) {
          name.setAttribute('aria-invalid', 'true');
          error.textContent = err.message;
        }
      },
    },
    h('h2', {}, 'New collection'),
    h('div', { class: 'grid2' },
      h('div', {}, h('label', { for: 'new-collection' }, 'Name'), name),
      h('div', {}, h('label', { for: 'new-policy' }, 'Conflict policy'), policy)),
    error,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'create-collection' }, 'Create'))));

  async function load() {
    const r = await call('GET', paths.collections());
    if (!ctx.alive) return;
    if (!r.body.items.length) {
      replace(tbody, h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No collections yet: create one below, or write a document.')));
      return;
    }
    replace(tbody, r.body.items.map((c) => h('tr', { 'data-collection': c.name },
      h('td', {}, h('a', { href: href('c', c.name) }, c.name)),
      h('td', {}, c.settings.conflictPolicy),
      h('td', {}, String(c.counts.documents)),
      h('td', {}, String(c.counts.deleted)),
      h('td', {}, fmtTime(c.updatedAt)))));
  }
  await load();
  let pending = 0;
  return {
    onEvent(ev) {
      if (!ev.type.startsWith('document.') && ev.type !== 'resync') return;
      clearTimeout(pending);
      pending = setTimeout(() => ctx.alive && load().catch(() => {}), 150);
    },
  };
}

// The settings a form edits, each with how it shows and how it reads
// back; an error the server names a field in is shown at that field.
const settingsFields = ['conflictPolicy', 'requirePreconditions', 'unique', 'references', 'schema', 'historyLimit', 'indexes'];

// collectionView shows a collection's documents and settings.
export async function collectionView(ctx) {
  const c = ctx.params.c;
  const r = await call('GET', paths.collection(c));
  if (!ctx.alive) return null;
  const list = h('tbody');
  const pager = h('div', { class: 'actions' });
  const pageSize = 20;
  let cursors = ['']; // the cursor of each page shown so far

  async function loadPage() {
    const after = cursors[cursors.length - 1];
    const q = new URLSearchParams({ limit: pageSize });
    if (after) q.set('after', after);
    const page = await call('GET', `${paths.docs(c)}?${q}`);
    if (!ctx.alive) return;
    replace(list, page.body.items.length ? page.body.items.map((d) => h('tr', { 'data-doc': d._id },
      h('td', {}, h('a', { href: href('c', c, 'd', d._id) }, d._id)),
      h('td', {}, String(d._version)),
      h('td', {}, fmtTime(d._updatedAt)),
      h('td', {}, d._updatedBy || ''),
      h('td', { class: 'muted' }, preview(d)))) : h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No documents.')));
    replace(pager,
      h('button', { type: 'button', class: 'secondary', disabled: cursors.length === 1, onclick: () => { cursors.pop(); loadPage(); } }, '← Previous'),
      h('span', { class: 'muted' }, `Page ${cursors.length}`),
      h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: !page.body.next, onclick: () => { cursors.push(page.body.next); loadPage(); } }, 'Next →'));
  }

  replace(ctx.main,
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Collections'), ' / ', c),
    h('h1', {}, c),
    h('p', { class: 'muted', id: 'counts' }, `${r.body.counts.documents} documents, ${r.body.counts.deleted} deleted`),
    h('div', { class: 'split' },
      h('section', { 'aria-labelledby': 'docs-h' },
        h('h2', { id: 'docs-h' }, 'Documents'),
        h('div', { class: 'actions' },
          h('a', { class: 'button', href: href('c', c, 'new'), id: 'new-doc' }, 'New document'),
          h('a', { class: 'button secondary', href: `#/conflicts?collection=${encodeURIComponent(c)}` }, 'Conflicts')),
        h('div', { class: 'scroll' }, h('table', { id: 'docs' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Id'), h('th', {}, 'Version'), h('th', {}, 'Updated'), h('th', {}, 'By'), h('th', {}, 'Content'))),
          list)),
        pager),
      settingsForm(ctx, c, r.body.settings)));
  await loadPage();

  let pending = 0;
  return {
    onEvent(ev) {
      if (ev.type !== 'resync' && !(ev.type.startsWith('document.') && ev.collection === c)) return;
      clearTimeout(pending);
      pending = setTimeout(async () => {
        if (!ctx.alive) return;
        try {
          const now = await call('GET', paths.collection(c));
          if (!ctx.alive) return;
          document.getElementById('counts').textContent = `${now.body.counts.documents} documents, ${now.body.counts.deleted} deleted`;
          await loadPage();
        } catch { /* the next event or a reload shows it */ }
      }, 150);
    },
  };
}

function preview(d) {
  const s = JSON.stringify(Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('_'))));
  return s.length > 80 ? s.slice(0, 79) + '…' : s;
}

// settingsForm edits a collection's settings (docs/api.md section 3).
function settingsForm(ctx, c, s) {
  const inputs = {
    conflictPolicy: h('select', { id: 'set-conflictPolicy' }, policies.map((p) => h('option', { value: p, selected: p === s.conflictPolicy }, p))),
    requirePreconditions: h('input', { type: 'checkbox', id: 'set-requirePreconditions', checked: !!s.requirePreconditions }),
    unique: h('input', { type: 'text', id: 'set-unique', value: (s.unique || []).join(', '), placeholder: 'email, sku' }),
    references: h('textarea', { id: 'set-references', rows: 3, value: pretty(s.references || {}) }),
    schema: h('textarea', { id: 'set-schema', rows: 6, value: s.schema ? pretty(s.schema) : '' , placeholder: '{"type": "object"}' }),
    historyLimit: h('input', { type: 'number', id: 'set-historyLimit', value: String(s.historyLimit ?? 0), min: 0, step: 1 }),
    indexes: h('textarea', { id: 'set-indexes', rows: 3, value: pretty(s.indexes || []) }),
  };
  const errors = Object.fromEntries(settingsFields.map((f) => [f, h('p', { class: 'field-error', id: `err-${f}` })]));
  for (const f of settingsFields) inputs[f].setAttribute('aria-describedby', `err-${f}`);
  const general = h('p', { class: 'error', role: 'alert' });
  const saved = h('p', { role: 'status', class: 'hint' });
  const labels = {
    conflictPolicy: 'Conflict policy', requirePreconditions: 'Require preconditions', unique: 'Unique fields (comma-separated)',
    references: 'References (JSON: field → collection)', schema: 'JSON Schema (empty: none)', historyLimit: 'History limit (0 keeps all)',
    indexes: 'Indexes (JSON: lists of dotted paths)',
  };
  const fieldError = (f, msg) => {
    errors[f].textContent = msg;
    if (msg) inputs[f].setAttribute('aria-invalid', 'true'); else inputs[f].removeAttribute('aria-invalid');
  };

  // read returns the settings, or null after showing each field's error.
  function read() {
    let ok = true;
    const out = { conflictPolicy: inputs.conflictPolicy.value, requirePreconditions: inputs.requirePreconditions.checked };
    for (const f of settingsFields) fieldError(f, '');
    out.unique = inputs.unique.value.split(',').map((x) => x.trim()).filter(Boolean);
    const json = (f, fallback) => {
      const text = inputs[f].value.trim();
      if (!text) return fallback;
      try { return JSON.parse(text); } catch (err) { fieldError(f, err.message); ok = false; return undefined; }
    };
    out.references = json('references', {});
    const schema = json('schema', undefined);
    if (schema !== undefined) out.schema = schema;
    out.indexes = json('indexes', []);
    const n = Number(inputs.historyLimit.value);
    if (!Number.isInteger(n) || n < 0) { fieldError('historyLimit', 'a whole number, 0 or more'); ok = false; }
    out.historyLimit = n;
    return ok ? out : null;
  }

  return h('form', {
    class: 'card', id: 'settings', 'aria-labelledby': 'settings-h', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      general.textContent = '';
      saved.textContent = '';
      const body = read();
      if (!body) return;
      try {
        await call('PUT', paths.collection(c), { body });
        saved.textContent = 'Saved.';
      } catch (err) {
        // The server names the setting at the start of its detail, or
        // somewhere in it; show the problem there.
        const f = err instanceof ApiError && settingsFields.find((x) => err.message.startsWith(x))
          || settingsFields.find((x) => err.message.includes(x));
        if (f) fieldError(f, err.message); else general.textContent = err.message;
      }
    },
  },
  h('h2', { id: 'settings-h' }, 'Settings'),
  settingsFields.map((f) => f === 'requirePreconditions'
    ? h('div', {}, h('label', { for: `set-${f}` }, inputs[f], labels[f]), errors[f])
    : h('div', {}, h('label', { for: `set-${f}` }, labels[f]), inputs[f], errors[f])),
  general, saved,
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'save-settings' }, 'Save settings')));
}
