// feed.js: the change feed (GET /v1/events, server-sent events) read with
// fetch, because EventSource cannot send the Authorization header. It
// resumes after a dropped connection with Last-Event-ID, so that no event
// is missed; when the server no longer has the events since then (410
// events_expired) it starts from now and says so (resync), and the views
// re-read what they show.

import { authHeaders } from './api.js';

// Feed calls onEvent(event) for each event, with the event's JSON data
// (seq, type, collection, id, version, …), and onState(bool) when the
// stream connects or drops.
export class Feed {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.last = null;
    this.ctrl = null;
    this.stopped = true;
    this.timer = 0;
  }

  start() {
    this.stop();
    this.stopped = false;
    this.last = null;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ctrl) this.ctrl.abort();
    this.ctrl = null;
    this.onState(false);
  }

  async connect() {
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const headers = { Accept: 'text/event-stream', ...authHeaders() };
    if (this.last != null) headers['Last-Event-ID'] = String(this.last);
    try {
      const resp = await fetch('/v1/events', { headers, signal: ctrl.signal, cache: 'no-store' });
      if (resp.status === 410) {
        this.last = null;
        this.onEvent({ type: 'resync' });
        throw new Error('events expired');
      }
      if (resp.status === 401) {
        window.dispatchEvent(new CustomEvent('truce:unauthorized'));
        return;
      }
      if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
      this.onState(true);
      await this.read(resp.body.getReader());
    } catch (err) {
      if (ctrl.signal.aborted) return;
    }
    if (this.stopped || ctrl !== this.ctrl) return;
    this.onState(false);
    this.timer = setTimeout(() => this.connect(), 2000);
  }

  async read(reader) {
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i).replace(/^\r?\n\r?\n/, '');
        this.dispatch(block);
      }
    }
  }

  // dispatch handles one event block of the WHATWG format.
  dispatch(block) {
    let id = null, type = 'message';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== null && id !== '') this.last = id;
    if (!data.length) return;
    try {
      const ev = JSON.parse(data.join('\n'));
      this.onEvent({ ...ev, type: ev.type || type });
    } catch {
      // Not JSON: not an event of docs/api.md; ignore it.
    }
  }
}
