// The change feed as an async iterator over GET /v1/events: a
// text/event-stream read with fetch (so that it carries the bearer token,
// which EventSource cannot), parsed here, and reconnected from the last
// event id whenever the stream drops.

import type { Client } from "./client.js";
import { retryWorthy } from "./client.js";
import { TruceError, errorFrom } from "./errors.js";
import { backoff, sleep } from "./retry.js";

/** One event of the change feed (API.md section 8). */
export interface ChangeEvent {
  /** Its position in the feed: resume after it with since. */
  seq: number;
  /** document.created, document.updated, document.deleted, conflict.opened, lock.acquired, … */
  type: string;
  collection: string;
  id: string;
  version?: number;
  etag?: string;
  time: string;
  /** The document written, on document events (unless noDocument). */
  document?: Record<string, unknown>;
  conflictId?: string;
  /** Every field the server sent. */
  [field: string]: unknown;
}

/** Which events to follow, and from where. */
export interface WatchFilter {
  collection?: string;
  id?: string;
  /** Event types; all when empty. */
  types?: string[];
  /** Start after this seq (a query's asOf, or the last event handled). */
  since?: number;
  /** Start from the first event the feed keeps, instead of from now. */
  fromStart?: boolean;
  /** Leave the documents out of document events. */
  noDocument?: boolean;
}

/** A page of GET /v1/changes. */
export interface ChangesPage {
  items: ChangeEvent[];
  /** The position to ask from next time. */
  last: number;
}

/** A connection that sends nothing (not even a heartbeat, every 15 s) for this long is taken as dead. */
const idleMs = 45_000;

/** The query of /v1/events and /v1/changes. */
export function watchQuery(f: WatchFilter, pos: number | undefined, hasPos: boolean): Record<string, string> {
  const q: Record<string, string> = {};
  if (f.collection) q.collection = f.collection;
  if (f.id) q.id = f.id;
  if (f.types && f.types.length > 0) q.types = f.types.join(",");
  if (f.noDocument) q.document = "false";
  if (hasPos) q.since = String(pos ?? 0);
  return q;
}

/** Follows the feed; see Client.watch. */
export async function* watchEvents(c: Client, f: WatchFilter, signal?: AbortSignal): AsyncGenerator<ChangeEvent> {
  let pos = f.since ?? 0;
  let hasPos = f.since !== undefined || !!f.fromStart;
  const policy = c.retryPolicy();
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    const poke = () => {
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(new Error("truce: watch: the stream was silent too long")), idleMs);
    };
    let progressed = false;
    let err: unknown;
    try {
      poke();
      const resp = await c.streamFetch("/v1/events", watchQuery(f, pos, hasPos), ctl.signal);
      if (resp.status !== 200 || !resp.body) {
        throw errorFrom("GET", "/v1/events", resp.status, resp.headers, await resp.text());
      }
      for await (const ev of sseEvents(resp.body, poke)) {
        progressed = true;
        if (ev.data) {
          const e = JSON.parse(ev.data) as ChangeEvent;
          if (!hasPos || e.seq > pos) {
            pos = e.seq;
            hasPos = true;
            yield e;
          }
        } else if (ev.id !== undefined && /^\d+$/.test(ev.id)) {
          const n = Number(ev.id);
          if (!hasPos || n > pos) {
            pos = n;
            hasPos = true;
          }
        }
      }
      err = new Error("truce: watch: the stream ended");
    } catch (e) {
      err = e;
    } finally {
      clearTimeout(idle);
      signal?.removeEventListener("abort", onAbort);
      ctl.abort(); // a consumer that stopped early closes the stream here
    }
    if (signal?.aborted) throw signal.reason;
    if (err instanceof TruceError && !retryWorthy(err)) throw err;
    if (progressed) attempt = 1;
    let wait = backoff(attempt, policy);
    if (err instanceof TruceError && err.retryAfterMs > 0) wait = err.retryAfterMs;
    await sleep(wait, signal);
  }
}

interface SSEEvent {
  id?: string;
  event?: string;
  data: string;
}

/** Parses a text/event-stream (WHATWG) into events; poke is called on every chunk. */
async function* sseEvents(body: ReadableStream<Uint8Array>, poke: () => void): AsyncGenerator<SSEEvent> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let cur: SSEEvent = { data: "" };
  let hasData = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      poke();
      buf += dec.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        if (!m) break;
        if (m[0] === "\r" && m.index === buf.length - 1) break; // maybe the \r of a \r\n split across chunks
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === "") {
          if (hasData || cur.id !== undefined) yield cur;
          cur = { data: "" };
          hasData = false;
          continue;
        }
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        let value = i < 0 ? "" : line.slice(i + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        switch (field) {
          case "id": cur.id = value; break;
          case "event": cur.event = value; break;
          case "data": cur.data = hasData ? cur.data + "\n" + value : value; hasData = true; break;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => { /* already closed */ });
  }
}
