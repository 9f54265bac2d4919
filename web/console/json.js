// json.js: the JSON work of the console: reserved fields, syntax errors
// with their place, the paths where two documents differ, re-applying an
// edit on a newer version, and printing a document with paths marked.

import { h } from './dom.js';

const reserved = ['_id', '_version', '_createdAt', '_updatedAt', '_updatedBy', '_deleted', '_etag'];

// body is doc without its reserved fields: what a person edits and a PUT
// sends.
export function body(doc) {
  const out = {};
  for (const [k, v] of Object.entries(doc || {})) if (!reserved.includes(k)) out[k] = v;
  return out;
}

export const pretty = (v) => JSON.stringify(v, null, 2);

// parse parses text as a JSON object and returns {value} or {error} with
// the line and column of a syntax error.
export function parse(text) {
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { error: 'a document is a JSON object: {…}' };
    }
    return { value };
  } catch (err) {
    // The browser's message may or may not say where; say it always.
    const at = errorAt(text);
    if (at < 0 || /line \d+ column \d+/.test(err.message)) return { error: err.message };
    const before = text.slice(0, at).split('\n');
    return { error: `${err.message} (line ${before.length}, column ${before[before.length - 1].length + 1})` };
  }
}

// errorAt returns the offset of the first JSON syntax error in s, or -1.
function errorAt(s) {
  let i = 0;
  const ws = () => { while (i < s.length && ' \t\n\r'.includes(s[i])) i++; };
  const fail = () => { throw i; };
  const str = () => {
    for (i++; i < s.length; i++) {
      if (s[i] === '"') { i++; return; }
      if (s[i] === '\\') i++;
      else if (s[i] < ' ') fail();
    }
    fail();
  };
  const seq = (close, item) => {
    i++;
    ws();
    if (s[i] === close) { i++; return; }
    for (;;) {
      item();
      ws();
      if (s[i] === ',') { i++; continue; }
      if (s[i] === close) { i++; return; }
      fail();
    }
  };
  const value = () => {
    ws();
    if (s[i] === '{') {
      seq('}', () => { ws(); if (s[i] !== '"') fail(); str(); ws(); if (s[i] !== ':') fail(); i++; value(); });
    } else if (s[i] === '[') {
      seq(']', value);
    } else if (s[i] === '"') {
      str();
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i));
      if (!m) fail();
      i += m[0].length;
    }
  };
  try {
    value();
    ws();
    if (i < s.length) fail();
    return -1;
  } catch (e) {
    if (typeof e === 'number') return e;
    throw e;
  }
}

export function equal(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const esc = (k) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');
const unesc = (k) => k.replace(/~1/g, '/').replace(/~0/g, '~');

// diffPaths lists the JSON Pointers where a and b differ, recursing into
// objects (as the server's merge does); arrays differ whole.
export function diffPaths(a, b, prefix = '') {
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffPaths(a[k], b[k], `${prefix}/${esc(k)}`));
  }
  return equal(a, b) ? [] : [prefix];
}

// at returns the value at pointer p of v, or undefined.
export function at(v, p) {
  for (const k of p.split('/').slice(1).map(unesc)) {
    if (!isObj(v) && !Array.isArray(v)) return undefined;
    v = v[k];
  }
  return v;
}

function put(v, p, value) {
  const keys = p.split('/').slice(1).map(unesc);
  const last = keys.pop();
  for (const k of keys) {
    if (!isObj(v[k])) v[k] = {};
    v = v[k];
  }
  if (value === undefined) delete v[last]; else v[last] = value;
}

// reapply puts the changes mine made to base on top of theirs: the paths
// only mine changed take mine's value; paths both changed differently
// take mine's too, and are listed in clashes for the person to check.
export function reapply(base, mine, theirs) {
  const out = structuredClone(theirs);
  const clashes = [];
  for (const p of diffPaths(base, mine)) {
    const t = at(theirs, p);
    if (!equal(t, at(base, p)) && !equal(t, at(mine, p))) clashes.push(p);
    put(out, p, structuredClone(at(mine, p)));
  }
  return { doc: out, clashes };
}

// lines prints v as indented JSON, one {text, path} per line.
function lines(v, path = '', indent = '', key = null, comma = '') {
  const lead = indent + (key === null ? '' : `${JSON.stringify(key)}: `);
  if (isObj(v) || Array.isArray(v)) {
    const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (!entries.length) return [{ text: `${lead}${open}${close}${comma}`, path }];
    const out = [{ text: lead + open, path }];
    entries.forEach(([k, x], i) => {
      out.push(...lines(x, `${path}/${esc(k)}`, indent + '  ', Array.isArray(v) ? null : k, i < entries.length - 1 ? ',' : ''));
    });
    out.push({ text: indent + close + comma, path });
    return out;
  }
  return [{ text: lead + JSON.stringify(v) + comma, path }];
}

// view prints v as a <pre> whose lines under any of the pointers marks
// get the class cls ("hl", "add", "del"), and those under changed but
// not marks the class "chg"; each line has its path in data-path.
export function view(v, marks = [], cls = 'hl', label = '', changed = []) {
  const within = (ps, p) => ps.some((m) => p === m || p.startsWith(m + '/'));
  const mark = (p) => (!p ? '' : within(marks, p) ? ' ' + cls : within(changed, p) ? ' chg' : '');
  const rows = v === undefined || v === null
    ? [{ text: v === null ? 'null (deleted)' : '(none)', path: '' }]
    : lines(v);
  return h('pre', { class: 'json', 'aria-label': label || null, tabindex: 0 },
    rows.map((r) => h('span', { class: `line${mark(r.path)}`, 'data-path': r.path }, r.text)));
}
