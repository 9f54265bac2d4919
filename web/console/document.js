// document.js: one document: its JSON in an editor that shows syntax
// errors before anything is sent, saved with If-Match on the ETag that
// was loaded. When someone else saved first (412), or the document
// changes under the editor (the feed), the person sees their version
// beside theirs and chooses: re-apply the edit on theirs, take theirs, or
// overwrite deliberately. Never a silent overwrite.

import { call, paths, ApiError } from './api.js';
import { h, replace, fmtTime, confirmDialog } from './dom.js';
import { body, parse, pretty, diffPaths, reapply, view } from './json.js';

const href = (...segs) => '#/' + segs.map(encodeURIComponent).join('/');

export async function documentView(ctx) {
  const { c } = ctx.params;
  const isNew = ctx.params.id === undefined;
  const id = ctx.params.id;
  let loaded = null; // {doc, etag}: the version the editor is based on
  let base = {}; // loaded's body, for what the person changed

  const editor = h('textarea', { class: 'editor', id: 'editor', spellcheck: 'false', 'aria-describedby': 'syntax', 'aria-label': 'Document JSON' });
  const syntax = h('p', { class: 'field-error', id: 'syntax', role: 'alert' });
  const status = h('p', { role: 'status', id: 'status', class: 'hint' });
  const meta = h('p', { class: 'muted', id: 'meta' });
  const saveBtn = h('button', { type: 'button', id: 'save' }, isNew ? 'Create' : 'Save');
  const resolution = h('section', { id: 'resolution', class: 'card', hidden: true, 'aria-labelledby': 'resolution-h' });
  const lockPanel = h('div', { id: 'lock' });
  const idInput = isNew ? h('input', { type: 'text', id: 'doc-id', placeholder: 'leave empty for a generated id', pattern: '[A-Za-z0-9._~:@\\-]{1,255}' }) : null;

  const dirty = () => loaded && editor.value !== pretty(base);

  // While a write of this page is in flight, the feed may bring its own
  // event before its answer: hold the events until the answer is in, so
  // that the page's own save is never news of someone else's.
  let writes = 0;
  let held = [];
  async function writing(fn) {
    writes++;
    try {
      return await fn();
    } finally {
      if (--writes === 0) {
        const evs = held;
        held = [];
        evs.forEach(onEvent);
      }
    }
  }

  function check() {
    const p = parse(editor.value);
    syntax.textContent = p.error ? `Not valid JSON: ${p.error}` : '';
    if (p.error) editor.setAttribute('aria-invalid', 'true'); else editor.removeAttribute('aria-invalid');
    saveBtn.disabled = !!p.error;
    return p;
  }
  editor.addEventListener('input', check);
  editor.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); save(); }
  });

  function setLoaded(doc, etag, note) {
    loaded = { doc, etag };
    base = body(doc);
    editor.value = pretty(base);
    check();
    replace(meta, `Version ${doc._version}`, doc._updatedAt ? `, updated ${fmtTime(doc._updatedAt)}` : '',
      doc._updatedBy ? ` by ${doc._updatedBy}` : '', ` · ETag ${etag}`);
    if (note !== undefined) status.textContent = note;
  }

  async function load(note) {
    const r = await call('GET', paths.doc(c, id));
    if (ctx.alive) setLoaded(r.body, r.etag, note);
  }

  const save = () => writing(saveNow);
  async function saveNow() {
    const p = check();
    if (p.error) { editor.focus(); return; }
    status.textContent = '';
    try {
      if (isNew) {
        const doc = idInput.value.trim() ? { _id: idInput.value.trim(), ...p.value } : p.value;
        const r = await call('POST', paths.docs(c), { body: doc });
        ctx.go(`/c/${encodeURIComponent(c)}/d/${encodeURIComponent(r.body._id)}`);
        return;
      }
      const r = await call('PUT', paths.doc(c, id), { body: p.value, headers: { 'If-Match': loaded.etag } });
      ctx.banner(null);
      resolution.hidden = true;
      setLoaded(r.body, r.etag, `Saved version ${r.body._version}.`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 412 && !isNew) {
        await showTheirs(p.value, err.problem.current, 'Someone else saved first');
        return;
      }
      status.textContent = '';
      syntax.textContent = err.message;
    }
  }

  // showTheirs puts the person's edit (mine) beside the document as it is
  // now (current: {etag, document} from a 412, or read again).
  async function showTheirs(mine, current, title) {
    let theirs = current && current.document;
    let etag = current && current.etag;
    if (!theirs) {
      try {
        const r = await call('GET', paths.doc(c, id));
        theirs = r.body;
        etag = r.etag;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
        theirs = null; // deleted since
      }
    }
    if (!ctx.alive) return;
    ctx.banner(null);
    const theirsBody = theirs ? body(theirs) : null;
    const differ = theirs ? diffPaths(theirsBody, mine) : [''];
    const theyChanged = theirs ? diffPaths(base, theirsBody) : [];
    const iChanged = diffPaths(base, mine);
    const clash = iChanged.filter((p) => theyChanged.some((q) => p === q || p.startsWith(q + '/') || q.startsWith(p + '/')));
    resolution.hidden = false;
    replace(resolution,
      h('h2', { id: 'resolution-h' }, title),
      h('p', {}, theirs
        ? `Version ${theirs._version} was saved${theirs._updatedBy ? ' by ' + theirs._updatedBy : ''}${theirs._updatedAt ? ' at ' + fmtTime(theirs._updatedAt) : ''}; you edited version ${loaded.doc._version}. Nothing of yours was written.`
        : `The document was deleted; you edited version ${loaded.doc._version}. Nothing of yours was written.`),
      differ.length ? h('div', {}, h('p', {}, 'Fields that differ between theirs and yours:'),
        h('ul', { class: 'paths', id: 'differ' }, differ.map((p) => h('li', {}, h('code', {}, p || '(whole document)'),
          clash.includes(p) ? h('span', { class: 'tag deleted' }, ' both changed') : null)))) : h('p', {}, 'Their version and yours are the same.'),
      h('div', { class: 'grid2' },
        h('div', { class: 'col theirs' }, h('h3', {}, theirs ? `Theirs (version ${theirs._version})` : 'Theirs (deleted)'), view(theirsBody, differ, 'hl', 'their version')),
        h('div', { class: 'col mine' }, h('h3', {}, 'Yours'), view(mine, differ, 'hl', 'your version'))),
      h('div', { class: 'actions' },
        theirs ? h('button', {
          type: 'button', id: 'reapply', onclick: () => {
            const r = reapply(base, mine, theirsBody);
            setLoaded(theirs, etag, r.clashes.length
              ? `Your edit is re-applied on version ${theirs._version}; you both changed ${r.clashes.join(', ')}, where yours is kept. Check, then save.`
              : `Your edit is re-applied on version ${theirs._version}. Check, then save.`);
            editor.value = pretty(r.doc);
            check();
            resolution.hidden = true;
            editor.focus();
          },
        }, 'Re-apply my edit on theirs') : null,
        theirs ? h('button', {
          type: 'button', class: 'secondary', id: 'take-theirs', onclick: () => {
            setLoaded(theirs, etag, `Your edit is discarded; this is version ${theirs._version}.`);
            resolution.hidden = true;
          },
        }, 'Take theirs') : null,
        h('button', {
          type: 'button', class: 'danger', id: 'overwrite', onclick: async () => {
            const what = theirs ? `version ${theirs._version}` : 'the deletion';
            if (!(await confirmDialog(`Overwrite ${what} with your version? Their changes will remain only in the history.`, 'Overwrite'))) return;
            try {
              const r = await writing(() => call('PUT', paths.doc(c, id), { body: mine, headers: theirs ? { 'If-Match': etag } : {} }));
              resolution.hidden = true;
              setLoaded(r.body, r.etag, `Overwritten: saved version ${r.body._version}.`);
            } catch (err) {
              if (err instanceof ApiError && err.status === 412) await showTheirs(mine, err.problem.current, 'Someone saved again');
              else syntax.textContent = err.message;
            }
          },
        }, 'Overwrite with mine')));
    resolution.querySelector('h2').setAttribute('tabindex', '-1');
    resolution.querySelector('h2').focus();
  }

  async function loadLock() {
    if (isNew) return;
    let lock = null;
    try {
      lock = (await call('GET', paths.lock(c, id))).body;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) { replace(lockPanel, h('p', { class: 'error' }, err.message)); return; }
    }
    if (!ctx.alive) return;
    const err = h('p', { class: 'error', role: 'alert' });
    replace(lockPanel, lock
      ? [h('p', { id: 'lock-state' }, 'Locked by ', h('strong', {}, lock.owner), ` until ${fmtTime(lock.expiresAt)}`, h('br'), h('span', { class: 'hint' }, `since ${fmtTime(lock.acquiredAt)}; writes without its token get 423`)),
        h('button', {
          type: 'button', class: 'danger', id: 'break-lock', onclick: async () => {
            if (!(await confirmDialog(`Break ${lock.owner}'s lock on ${id}? Their next write with the lock's token will fail.`, 'Break lock'))) return;
            try {
              await call('DELETE', `${paths.lock(c, id)}?force=true`);
              await loadLock();
            } catch (e) { err.textContent = e.message; }
          },
        }, 'Break lock (admin)'), err]
      : h('p', { id: 'lock-state', class: 'muted' }, 'Not locked.'));
  }

  replace(ctx.main,
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Collections'), ' / ', h('a', { href: href('c', c) }, c), ' / ', isNew ? 'new' : id),
    h('h1', {}, isNew ? 'New document' : id),
    meta,
    h('div', { class: 'split' },
      h('div', {},
        isNew ? h('div', {}, h('label', { for: 'doc-id' }, 'Id'), idInput) : null,
        h('label', { for: 'editor' }, 'Content ', h('span', { class: 'hint' }, '(reserved _fields are the server\'s; Ctrl+S saves)')),
        editor, syntax,
        h('div', { class: 'actions' }, saveBtn,
          isNew ? null : h('button', { type: 'button', class: 'secondary', id: 'reload', onclick: () => { ctx.banner(null); resolution.hidden = true; load('Reloaded.'); } }, 'Reload'),
          isNew ? null : h('button', {
            type: 'button', class: 'danger', id: 'delete', onclick: async () => {
              if (!(await confirmDialog(`Delete ${id}? Its history stays.`, 'Delete'))) return;
              try {
                await call('DELETE', paths.doc(c, id), { headers: { 'If-Match': loaded.etag } });
                ctx.go('/c/' + encodeURIComponent(c));
              } catch (err) {
                if (err instanceof ApiError && err.status === 412) await showTheirs(body(loaded.doc), err.problem.current, 'Someone else saved first');
                else syntax.textContent = err.message;
              }
            },
          }, 'Delete')),
        status, resolution),
      isNew ? h('div') : h('aside', {},
        h('section', { class: 'card', 'aria-labelledby': 'lock-h' }, h('h2', { id: 'lock-h' }, 'Lock'), lockPanel),
        h('section', { class: 'card' }, h('h2', {}, 'More'),
          h('p', {}, h('a', { href: href('c', c, 'd', id, 'history'), id: 'history-link' }, 'History and diffs')),
          h('p', {}, h('a', { href: `#/conflicts?collection=${encodeURIComponent(c)}&id=${encodeURIComponent(id)}` }, 'Conflicts of this document'))))));
  saveBtn.addEventListener('click', save);

  if (isNew) {
    loaded = null;
    editor.value = '{\n  \n}';
    check();
  } else {
    await load();
    await loadLock();
  }
  if (ctx.alive) editor.focus();

  // onEvent follows the feed: the document and its lock.
  function onEvent(ev) {
    if (isNew) return;
    if (writes > 0) { held.push(ev); return; }
    if (ev.type === 'resync') { if (!dirty()) load('Reloaded after the feed restarted.'); return; }
    if (ev.collection !== c || ev.id !== id) return;
    if (ev.type.startsWith('lock.')) { loadLock(); return; }
    if (!ev.type.startsWith('document.') || !loaded || ev.version <= loaded.doc._version) return;
    const who = ev.updatedBy ? ` by ${ev.updatedBy}` : '';
    if (!dirty() && resolution.hidden && ev.type !== 'document.deleted') {
      load(`Updated live to version ${ev.version}${who}.`).catch(() => {});
      return;
    }
    ctx.banner(
      h('strong', {}, ev.type === 'document.deleted' ? 'This document was deleted under you' : 'This document changed under you'),
      h('span', {}, `version ${ev.version}${who}; your edit is based on version ${loaded.doc._version} and is not saved.`),
      h('button', {
        type: 'button', id: 'show-theirs', onclick: () => {
          const mine = parse(editor.value);
          if (mine.error) { ctx.banner(null); syntax.textContent = 'Fix the syntax error first, then compare.'; return; }
          showTheirs(mine.value, null, 'Changed under you');
        },
      }, 'Compare with theirs'),
      h('button', { type: 'button', class: 'secondary', onclick: () => ctx.banner(null) }, 'Keep editing'));
  }
  return { onEvent };
}
