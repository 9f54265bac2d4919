// app.js: the console's shell: sign-in, the hash router, the live feed
// and the banner. Each screen is a module whose function renders into
// ctx.main and may return {onEvent} to follow the change feed.

import { call, paths, token, setToken, ApiError } from './api.js';
import { Feed } from './feed.js';
import { h, replace } from './dom.js';
import { collectionsView, collectionView } from './collections.js';
import { documentView } from './document.js';
import { historyView } from './history.js';
import { conflictsView, conflictView } from './conflicts.js';

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const live = document.getElementById('live');
const signOut = document.getElementById('sign-out');
const conflictCount = document.getElementById('conflict-count');

let current = null; // the screen showing: {ctx, handle}
let signedIn = false;

const feed = new Feed(onEvent, (on) => {
  live.dataset.live = on ? 'on' : 'off';
  live.textContent = on ? 'live' : 'offline';
});

// routes maps a hash path to its screen; :name segments are parameters.
const routes = [
  ['/', collectionsView],
  ['/c/:c', collectionView],
  ['/c/:c/new', documentView],
  ['/c/:c/d/:id', documentView],
  ['/c/:c/d/:id/history', historyView],
  ['/conflicts', conflictsView],
  ['/conflicts/:cid', conflictView],
];

function match(path) {
  const segs = path.split('/').filter(Boolean);
  for (const [pattern, view] of routes) {
    const ps = pattern.split('/').filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params = {};
    if (ps.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = decodeURIComponent(segs[i])), true) : p === segs[i]))) {
      return { view, params };
    }
  }
  return null;
}

// showBanner shows a notice above the screen (nodes), or hides it (null).
export function showBanner(...nodes) {
  if (!nodes.length || nodes[0] == null) {
    banner.hidden = true;
    banner.replaceChildren();
    return;
  }
  replace(banner, ...nodes);
  banner.hidden = false;
}

function render() {
  if (!signedIn) return;
  if (current) current.ctx.alive = false;
  showBanner(null);
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const m = match(path);
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = (a.dataset.nav === 'conflicts') === path.startsWith('/conflicts');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const ctx = { main, alive: true, params: m ? m.params : {}, query: new URLSearchParams(qs || ''), go, refreshConflicts, banner: showBanner };
  // held keeps the events that arrive while the screen is still loading:
  // they are given to it once it can follow the feed, so that none falls
  // between what it read and what it hears.
  current = { ctx, handle: null, held: [] };
  if (!m) {
    current.held = null;
    current.handle = {};
    replace(main, h('h1', {}, 'Not found'), h('p', {}, 'No screen at ', h('code', {}, raw), '. ', h('a', { href: '#/' }, 'Collections')));
    return;
  }
  const mine = current;
  Promise.resolve(m.view(ctx)).then((handle) => {
    mine.handle = handle || {};
    const held = mine.held;
    mine.held = null;
    if (ctx.alive && mine.handle.onEvent) held.forEach(mine.handle.onEvent);
  }).catch((err) => {
    mine.held = null;
    mine.handle = {};
    if (ctx.alive) replace(main, h('h1', {}, 'Error'), h('p', { class: 'error' }, err.message));
  });
}

// go navigates to a hash path.
export function go(path) {
  if (location.hash === '#' + path) render(); else location.hash = path;
}

function onEvent(ev) {
  if (ev.type === 'resync' || ev.type.startsWith('conflict.')) refreshConflicts();
  if (!current || !current.ctx.alive) return;
  if (current.held) { current.held.push(ev); return; }
  if (current.handle.onEvent) current.handle.onEvent(ev);
}

// refreshConflicts shows how many conflicts are open in the navigation.
async function refreshConflicts() {
  try {
    const r = await call('GET', paths.conflicts({ status: 'open', limit: 100 }));
    const n = r.body.items.length;
    conflictCount.hidden = n === 0;
    conflictCount.textContent = r.body.next ? `${n}+` : String(n);
    conflictCount.setAttribute('aria-label', `${conflictCount.textContent} open`);
  } catch {
    conflictCount.hidden = true;
  }
}

// signIn shows the token form; message says why (a bad token, say).
function signIn(message) {
  signedIn = false;
  feed.stop();
  if (current) current.ctx.alive = false;
  showBanner(null);
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-error' });
  const error = h('p', { class: 'field-error', id: 'token-error', role: 'alert' }, message || '');
  replace(main, h('form', {
    class: 'card signin', onsubmit: async (e) => {
      e.preventDefault();
      setToken(input.value.trim());
      const err = await probe();
      if (err) {
        input.setAttribute('aria-invalid', 'true');
        error.textContent = err;
        input.focus();
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'hint' }, 'This server needs a bearer token (', h('code', {}, 'truce token create'), ' makes one). The console keeps it for this tab only, and sends it with every call to the API.'),
  h('label', { for: 'token' }, 'Token'), input, error,
  h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'))));
  input.focus();
}

// probe asks the API whether the token (or none) is good, and starts the
// console if so; it returns why not otherwise.
async function probe() {
  try {
    await call('GET', paths.collections());
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return token() ? 'The server does not know this token (revoked, or mistyped).' : '';
    }
    return err.message;
  }
  signedIn = true;
  signOut.hidden = !token();
  feed.start();
  refreshConflicts();
  render();
  return '';
}

window.addEventListener('truce:unauthorized', () => {
  if (signedIn) { setToken(''); signIn('The server no longer accepts the token; sign in again.'); }
});
window.addEventListener('hashchange', render);
signOut.addEventListener('click', () => { setToken(''); signOut.hidden = true; signIn(''); });
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !banner.hidden && banner.dataset.dismissable) showBanner(null);
});

probe().then((err) => { if (!signedIn) signIn(err); });
