// The Client: one object per server, safe to share. It sends every request
// through one loop that retries what is worth retrying (rate limits,
// overload, lost connections) with capped, jittered exponential backoff and
// Retry-After, and that gives every write an Idempotency-Key so that a
// retried write is applied once.

import { type Doc, type DocumentData, type Merged, parseDoc, parseMerged, cloneJSON } from "./doc.js";
import { Codes, RetryError, TruceError, errorFrom, type ConflictPath } from "./errors.js";
import { type RetryPolicy, backoff, jitter, sleep, withDefaults } from "./retry.js";
import { Batch, type OpResult, parseOpResults } from "./batch.js";
import { Lock, type LockInfo, type LockOptions, lockPath, duration } from "./lock.js";
import { Transaction, type TransactionOptions } from "./transaction.js";
import { type ChangeEvent, type WatchFilter, type ChangesPage, watchQuery, watchEvents } from "./watch.js";

/** Options of a Client. */
export interface ClientOptions {
  /** A bearer token (truce token create). */
  token?: string;
  /** How requests are retried. */
  retry?: RetryPolicy;
  /** The fetch to use; the global one by default. Give one to add a private CA in Node (undici's Agent), a proxy, or logging. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** Called before each retry of a request, with the wait chosen: for logs and metrics. */
  onRetry?: (info: RetryInfo) => void;
}

/** What onRetry is told. */
export interface RetryInfo {
  method: string;
  path: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** How long the client waits before the next attempt, in ms. */
  waitMs: number;
  error: unknown;
}

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call, its retries and its waits. */
  signal?: AbortSignal;
  /** Extra headers of this call. */
  headers?: Record<string, string>;
}

/** Options of a write. */
export interface WriteOptions extends CallOptions {
  /** If-Match: the ETag the write is based on (412 when stale), or "*". */
  ifMatch?: string;
  /** If-None-Match: "*" to create only (412 when a live document exists). */
  ifNoneMatch?: string;
  /** The version the write is based on: _version in a PUT body, ?version= on PATCH, DELETE and restore (409 when stale, or a merge). */
  version?: number;
  /** The Idempotency-Key; by default each call makes its own, kept across its retries. */
  idempotencyKey?: string;
  /** The Lock-Token of a lock the caller holds on the document. */
  lockToken?: string;
}

/** Options of update. */
export interface UpdateOptions extends CallOptions {
  /** Create the document when it does not exist: fn gets null, and the write is create-only (If-None-Match: *). */
  createIfMissing?: boolean;
  /** How many conflicts to retry before giving up (default 1000). */
  conflictRetries?: number;
  /** Base the write on the version in the body (_version) instead of If-Match, so that a collection's merge policy applies. */
  useVersion?: boolean;
  /** The Lock-Token of a lock the caller holds on the document. */
  lockToken?: string;
}

/** One version in a document's history. */
export interface VersionInfo {
  version: number;
  etag: string;
  updatedAt: string;
  updatedBy?: string;
  deleted: boolean;
}

/** An RFC 6902 JSON Patch operation. */
export interface PatchOp {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

/** A recorded conflict (collections with the manual policy). */
export interface Conflict {
  id: string;
  collection: string;
  docId: string;
  status: "open" | "resolved" | "dismissed";
  baseVersion: number;
  currentVersion: number;
  base: DocumentData;
  current: DocumentData;
  proposed: DocumentData;
  paths: ConflictPath[];
  createdAt: string;
  closedAt?: string;
  resolution?: { strategy: string; version: number };
}

/** Which conflicts to list. */
export interface ConflictFilter {
  collection?: string;
  docId?: string;
  status?: "open" | "resolved" | "dismissed";
  pageSize?: number;
}

/** How resolve settles a conflict. */
export type ResolveStrategy = "keep-current" | "take-proposed" | "merge" | "custom";

/** A collection's settings (API.md section 3). */
export interface Settings {
  conflictPolicy?: "reject" | "merge" | "manual" | "last-write-wins";
  requirePreconditions?: boolean;
  unique?: string[];
  references?: Record<string, string>;
  schema?: unknown;
  historyLimit?: number;
  indexes?: string[][];
}

/** A collection with its settings and counts. */
export interface Collection {
  name: string;
  settings: Settings;
  counts: { documents: number; deleted: number };
  building?: boolean;
  buildingIndexes?: string[][];
  createdAt: string;
  updatedAt: string;
}

/** A query (API.md section 3, Queries). */
export interface Query {
  where?: Record<string, unknown>;
  orderBy?: { field: string; desc?: boolean }[];
  limit?: number;
  fields?: string[];
  scan?: boolean;
}

/** One page of a query: `asOf` is the feed position it is consistent at. */
export interface QueryPage<T = DocumentData> {
  items: Doc<T>[];
  next: string;
  asOf: number;
}

/** A request as the retry loop sends it; the body is a string so that every attempt sends the same bytes. */
interface Request {
  method: string;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  body?: string;
  ctype?: string;
  /** Codes that end the call although the server says they are retryable (a lock request's 423). */
  final?: string[];
  signal?: AbortSignal;
}

/** An answer below 400 (or 304). */
interface Response {
  status: number;
  headers: Headers;
  text: string;
}

/** How many conflicts update retries by default. */
export const defaultConflictRetries = 1000;
const conflictFreeRetries = 2;
const conflictBaseDelayMs = 5;
const conflictMaxDelayMs = 100;

/**
 * Client talks to one truce server. Every method takes an AbortSignal in its
 * options; every failure from the server is a TruceError (or the subclass of
 * its code), and a request that was retried until the policy ran out is a
 * RetryError whose cause is the last failure.
 */
export class Client {
  /** The server's base URL, without a trailing slash. */
  readonly baseURL: string;
  private readonly token: string;
  private readonly policy: Required<RetryPolicy>;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly onRetry?: (info: RetryInfo) => void;

  /** Returns a client of the server at baseURL (http://host:port or https://host:port, maybe with a path prefix). */
  constructor(baseURL: string, opts: ClientOptions = {}) {
    let u: URL;
    try {
      u = new URL(baseURL);
    } catch {
      throw new TypeError(`truce: base URL ${JSON.stringify(baseURL)}: want http://host[:port] or https://host[:port]`);
    }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.search || u.hash || u.username || u.password) {
      throw new TypeError(`truce: base URL ${JSON.stringify(baseURL)}: want http(s)://host[:port], without a query, a fragment or user information (give the token as an option)`);
    }
    if (opts.token !== undefined && /[\r\n]/.test(opts.token)) throw new TypeError("truce: the token contains a line break");
    this.baseURL = (u.origin + u.pathname).replace(/\/+$/, "");
    this.token = opts.token ?? "";
    this.policy = withDefaults(opts.retry);
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("truce: no fetch: give one in the options (Node 18 or later has it)");
    this.fetchFn = (input, init) => f(input, init); // called unbound: window.fetch refuses another `this`
    this.headers = { ...(opts.headers ?? {}) };
    this.onRetry = opts.onRetry;
  }

  // ---------------------------------------------------------------- the loop

  /** Sends r, retrying what is worth retrying; resolves with an answer below 300 (or 304), rejects with a TruceError or RetryError. */
  private async do(r: Request): Promise<Response> {
    const p = this.policy;
    const start = Date.now();
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.method !== "GET" && r.method !== "HEAD" && !hasHeader(headers, "Idempotency-Key")) {
      headers["Idempotency-Key"] = newKey();
    }
    r = { ...r, headers };
    for (let attempt = 1; ; attempt++) {
      let err: unknown;
      try {
        const resp = await this.send(r);
        if (resp.status < 300 || resp.status === 304) return resp;
        err = errorFrom(r.method, r.path, resp.status, resp.headers, resp.text);
      } catch (e) {
        err = e;
      }
      if (r.signal?.aborted) throw err;
      const wait = this.retryWait(r, err, attempt);
      if (wait === undefined || p.maxAttempts === 1) throw err;
      const elapsed = Date.now() - start;
      let reason = "";
      if (attempt >= p.maxAttempts) reason = `the retry policy allows ${p.maxAttempts} attempts`;
      else if (elapsed + wait > p.maxElapsedMs) reason = `waiting ${Math.round(wait)} ms more would exceed the retry policy's ${p.maxElapsedMs} ms`;
      if (reason) throw new RetryError(err, attempt, elapsed, reason);
      this.onRetry?.({ method: r.method, path: r.path, attempt, waitMs: wait, error: err });
      try {
        await sleep(wait, r.signal);
      } catch {
        throw new RetryError(err, attempt, Date.now() - start, "the signal aborted while waiting to retry");
      }
    }
  }

  /** The wait before retrying r after err, or undefined when err is final. */
  private retryWait(r: Request, err: unknown, attempt: number): number | undefined {
    if (err instanceof TruceError) {
      if (!retryWorthy(err) || r.final?.includes(err.code)) return undefined;
      if (err.retryAfterMs > 0) return err.retryAfterMs + jitter(Math.min(this.policy.baseDelayMs, err.retryAfterMs));
      return backoff(attempt, this.policy);
    }
    // fetch rejects with a TypeError when the connection failed or broke:
    // every request here is safe to repeat (reads, PUT, DELETE, or a write
    // with an Idempotency-Key).
    if (isAbort(err)) return undefined;
    return backoff(attempt, this.policy);
  }

  private async send(r: Request): Promise<Response> {
    let url = this.baseURL + r.path;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(r.query ?? {})) {
      if (v !== undefined && v !== "") q.set(k, String(v));
    }
    if ([...q].length > 0) url += "?" + q.toString();
    const headers: Record<string, string> = { ...this.headers, ...r.headers, Accept: "application/json, application/problem+json" };
    if (r.body !== undefined) headers["Content-Type"] = r.ctype ?? "application/json";
    if (this.token) headers["Authorization"] = "Bearer " + this.token;
    const resp = await this.fetchFn(url, { method: r.method, headers, body: r.body, signal: r.signal });
    const text = r.method === "HEAD" ? "" : await resp.text();
    return { status: resp.status, headers: resp.headers, text };
  }

  /** fetch with the client's base URL, token and headers, for the change feed's stream. */
  streamFetch(path: string, query: Record<string, string>, signal: AbortSignal): Promise<globalThis.Response> {
    const q = new URLSearchParams(query).toString();
    const headers: Record<string, string> = { ...this.headers, Accept: "text/event-stream" };
    if (this.token) headers["Authorization"] = "Bearer " + this.token;
    return this.fetchFn(this.baseURL + path + (q ? "?" + q : ""), { headers, signal, cache: "no-store" });
  }

  /** The retry policy in force, with its defaults. */
  retryPolicy(): Required<RetryPolicy> {
    return { ...this.policy };
  }

  private async json<T>(r: Request): Promise<T> {
    const resp = await this.do(r);
    try {
      return JSON.parse(resp.text) as T;
    } catch {
      throw new Error(`truce: ${r.method} ${r.path}: the answer is not JSON: ${resp.text.slice(0, 100)}`);
    }
  }

  private docFrom<T>(collection: string, r: Request, resp: Response): Doc<T> {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(resp.text);
    } catch {
      throw new Error(`truce: ${r.method} ${r.path}: the server answered ${resp.status} without a document`);
    }
    const d = parseDoc<T>(collection, obj, resp.headers.get("ETag") ?? "");
    const m = parseMerged(resp.headers.get("Truce-Merged"));
    if (m) d.merged = m;
    return d;
  }

  // ---------------------------------------------------------------- documents

  /** Reads a document. Rejects with NotFoundError when there is no live document. */
  get<T = DocumentData>(collection: string, id: string, opts?: CallOptions & { ifMatch?: string }): Promise<Doc<T>>;
  /** Reads a document unless it is still at the ETag ifNoneMatch names: then resolves null (304). */
  get<T = DocumentData>(collection: string, id: string, opts: CallOptions & { ifNoneMatch: string; ifMatch?: string }): Promise<Doc<T> | null>;
  async get<T = DocumentData>(collection: string, id: string, opts: CallOptions & { ifNoneMatch?: string; ifMatch?: string } = {}): Promise<Doc<T> | null> {
    const r: Request = { method: "GET", path: docPath(collection, id), headers: hdrs(opts, { "If-None-Match": opts.ifNoneMatch && quoteETag(opts.ifNoneMatch), "If-Match": opts.ifMatch && quoteETag(opts.ifMatch) }), signal: opts.signal };
    const resp = await this.do(r);
    if (resp.status === 304) return null;
    return this.docFrom<T>(collection, r, resp);
  }

  /** Creates a document; the body may carry _id (AlreadyExistsError when it is live), else the server picks one. */
  async create<T = DocumentData>(collection: string, body: T, opts: CallOptions & { idempotencyKey?: string; lockToken?: string } = {}): Promise<Doc<T>> {
    const r: Request = { method: "POST", path: docPath(collection), headers: writeHeaders(opts), body: encode(body), signal: opts.signal };
    return this.docFrom<T>(collection, r, await this.do(r));
  }

  /** Creates or replaces a whole document. Base it on what was read with ifMatch (412 when stale) or version (409, or a merge). */
  async put<T = DocumentData>(collection: string, id: string, body: T, opts: WriteOptions = {}): Promise<Doc<T>> {
    let payload: unknown = body;
    if (opts.version !== undefined) payload = { ...(body as object), _version: checkVersion(opts.version) };
    const r: Request = { method: "PUT", path: docPath(collection, id), headers: writeHeaders(opts), body: encode(payload), signal: opts.signal };
    return this.docFrom<T>(collection, r, await this.do(r));
  }

  /** Changes part of a document: an object is a JSON Merge Patch (RFC 7396), an array of ops a JSON Patch (RFC 6902). */
  async patch<T = DocumentData>(collection: string, id: string, patch: Record<string, unknown> | PatchOp[], opts: WriteOptions = {}): Promise<Doc<T>> {
    const r: Request = {
      method: "PATCH", path: docPath(collection, id), headers: writeHeaders(opts), body: encode(patch),
      ctype: Array.isArray(patch) ? "application/json-patch+json" : "application/merge-patch+json",
      query: { version: opts.version !== undefined ? checkVersion(opts.version) : undefined }, signal: opts.signal,
    };
    return this.docFrom<T>(collection, r, await this.do(r));
  }

  /** Deletes a document (the server writes a tombstone version). */
  async delete(collection: string, id: string, opts: WriteOptions = {}): Promise<void> {
    await this.do({
      method: "DELETE", path: docPath(collection, id), headers: writeHeaders(opts),
      query: { version: opts.version !== undefined ? checkVersion(opts.version) : undefined }, signal: opts.signal,
    });
  }

  /** Lists a collection's live documents in id order, page by page. */
  async *list<T = DocumentData>(collection: string, opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<Doc<T>> {
    const path = docPath(collection);
    yield* this.pages<Record<string, unknown>, Doc<T>>(path, "after", { limit: opts.pageSize }, opts,
      (o) => parseDoc<T>(collection, o, ""));
  }

  private async *pages<I, O>(path: string, cursor: string, query: Request["query"], opts: CallOptions, conv: (i: I) => O): AsyncGenerator<O> {
    let at = "";
    for (;;) {
      const page = await this.json<{ items: I[]; next?: string | null }>({
        method: "GET", path, query: { ...query, [cursor]: at || undefined }, headers: hdrs(opts), signal: opts.signal,
      });
      for (const it of page.items ?? []) yield conv(it);
      if (!page.next) return;
      if (page.next === at) throw new Error(`truce: the server gave the same cursor ${JSON.stringify(at)} twice`);
      at = page.next;
    }
  }

  /**
   * Reads the document, applies fn to a copy of its data, and writes the
   * result conditionally on the version read. On a conflict (412, or 409
   * version_conflict or merge_conflict) it applies fn again to the current
   * document the error carries, without another read, and writes again:
   * the first two retries at once, then after a jittered backoff that grows
   * to 100 ms. fn may be called several times, so it should only compute;
   * when it throws, update rejects with that error and writes nothing.
   * Rejects with NotFoundError when the document does not exist, unless
   * createIfMissing is set (then fn gets null).
   */
  async update<T extends object = DocumentData>(collection: string, id: string,
    fn: (data: T | null, doc: Doc<T> | null) => T | Promise<T>, opts: UpdateOptions = {}): Promise<Doc<T>> {
    if (typeof fn !== "function") throw new TypeError(`truce: update ${collection}/${id}: fn is not a function`);
    const retries = opts.conflictRetries ?? defaultConflictRetries;
    const call: CallOptions = { signal: opts.signal, headers: opts.headers };
    const base = async (): Promise<Doc<T> | null> => {
      try {
        return await this.get<T>(collection, id, call);
      } catch (e) {
        if (opts.createIfMissing && e instanceof TruceError && e.status === 404) return null;
        throw e;
      }
    };
    let cur = await base();
    for (let conflicts = 0; ; conflicts++) {
      const next = await fn(cur ? cloneJSON(cur.data) : null, cur);
      if (next === null || typeof next !== "object" || Array.isArray(next)) {
        throw new TypeError(`truce: update ${collection}/${id}: fn must return the new document, a JSON object`);
      }
      const w: WriteOptions = { ...call, lockToken: opts.lockToken };
      if (!cur) w.ifNoneMatch = "*";
      else if (opts.useVersion) w.version = cur.version;
      else w.ifMatch = cur.etag;
      try {
        return await this.put<T>(collection, id, stripReserved(next) as T, w);
      } catch (e) {
        if (!(e instanceof TruceError) || !e.isConflict) throw e;
        if (conflicts >= retries) {
          throw new RetryError(e, conflicts + 1, 0, `update ${collection}/${id} met ${conflicts + 1} conflicts, more than conflictRetries (${retries}) allows`);
        }
        if (e.current && e.current.etag) {
          cur = { ...(e.current as Doc<T>), collection, id };
        } else {
          cur = await base();
        }
      }
      if (conflicts + 1 >= conflictFreeRetries) {
        const ceiling = Math.min(conflictBaseDelayMs * 2 ** Math.min(conflicts + 1 - conflictFreeRetries, 16), conflictMaxDelayMs);
        await sleep(jitter(ceiling), opts.signal);
      }
    }
  }

  // ---------------------------------------------------------------- history

  /** Lists a document's versions, newest first. */
  async *versions(collection: string, id: string, opts: CallOptions & { pageSize?: number } = {}): AsyncGenerator<VersionInfo> {
    yield* this.pages<VersionInfo, VersionInfo>(docPath(collection, id) + "/versions", "before", { limit: opts.pageSize }, opts, (v) => v);
  }

  /** Reads the document as it was at version n (410 version_trimmed when history dropped it). */
  async version<T = DocumentData>(collection: string, id: string, n: number, opts: CallOptions = {}): Promise<Doc<T>> {
    const r: Request = { method: "GET", path: versionPath(collection, id, n), headers: hdrs(opts), signal: opts.signal };
    return this.docFrom<T>(collection, r, await this.do(r));
  }

  /** The JSON Patch (RFC 6902) from version `from` to version `to`. */
  async diff(collection: string, id: string, from: number, to: number, opts: CallOptions = {}): Promise<PatchOp[]> {
    return this.json<PatchOp[]>({ method: "GET", path: docPath(collection, id) + "/diff", query: { from, to }, headers: hdrs(opts), signal: opts.signal });
  }

  /** Writes version n's content as a new version; ifMatch or version make it conditional. */
  async restore<T = DocumentData>(collection: string, id: string, n: number, opts: WriteOptions = {}): Promise<Doc<T>> {
    const r: Request = {
      method: "POST", path: versionPath(collection, id, n) + "/restore", headers: writeHeaders(opts),
      query: { version: opts.version !== undefined ? checkVersion(opts.version) : undefined }, signal: opts.signal,
    };
    return this.docFrom<T>(collection, r, await this.do(r));
  }

  // ---------------------------------------------------------------- conflicts

  /** Lists recorded conflicts. */
  async *conflicts(filter: ConflictFilter = {}, opts: CallOptions = {}): AsyncGenerator<Conflict> {
    yield* this.pages<Conflict, Conflict>("/v1/conflicts", "after",
      { collection: filter.collection, id: filter.docId, status: filter.status, limit: filter.pageSize }, opts, (c) => c);
  }

  /** Reads one conflict: base, current and proposed documents and the conflicting paths. */
  async conflict(id: string, opts: CallOptions = {}): Promise<Conflict> {
    return this.json<Conflict>({ method: "GET", path: conflictPath(id), headers: hdrs(opts), signal: opts.signal });
  }

  /**
   * Settles a conflict by writing a new version of its document: the
   * current one, the proposed one, their merge, or `document` (custom).
   * ifMatch is the document's current ETag (412 when it has moved on).
   */
  async resolve<T = DocumentData>(id: string, strategy: ResolveStrategy, opts: CallOptions & { document?: T; ifMatch?: string; idempotencyKey?: string; lockToken?: string } = {}): Promise<Doc<T>> {
    const body: Record<string, unknown> = { strategy };
    if (opts.document !== undefined) body.document = opts.document;
    const r: Request = { method: "POST", path: conflictPath(id) + "/resolve", headers: writeHeaders(opts), body: encode(body), signal: opts.signal };
    const resp = await this.do(r);
    const d = this.docFrom<T>("", r, resp);
    return d;
  }

  /** Closes a conflict without a write. */
  async dismiss(id: string, opts: CallOptions & { idempotencyKey?: string } = {}): Promise<Conflict> {
    return this.json<Conflict>({ method: "POST", path: conflictPath(id) + "/dismiss", headers: writeHeaders(opts), signal: opts.signal });
  }

  // ---------------------------------------------------------------- collections

  /** Creates a collection or changes its settings. */
  async putCollection(name: string, settings: Settings, opts: CallOptions & { idempotencyKey?: string } = {}): Promise<Collection> {
    return this.json<Collection>({ method: "PUT", path: collectionPath(name), headers: writeHeaders(opts), body: encode(settings), signal: opts.signal });
  }

  /** Reads a collection's settings and counts. */
  async getCollection(name: string, opts: CallOptions = {}): Promise<Collection> {
    return this.json<Collection>({ method: "GET", path: collectionPath(name), headers: hdrs(opts), signal: opts.signal });
  }

  /** Lists the collections the caller may read. */
  async listCollections(opts: CallOptions = {}): Promise<Collection[]> {
    const page = await this.json<{ items: Collection[] }>({ method: "GET", path: "/v1/collections", headers: hdrs(opts), signal: opts.signal });
    return page.items ?? [];
  }

  /** Deletes a collection; one with live documents needs force (else 409 not_empty). */
  async deleteCollection(name: string, opts: CallOptions & { force?: boolean; idempotencyKey?: string } = {}): Promise<void> {
    await this.do({ method: "DELETE", path: collectionPath(name), query: { force: opts.force ? "true" : undefined }, headers: writeHeaders(opts), signal: opts.signal });
  }

  // ---------------------------------------------------------------- queries

  /** Runs one page of a query; `after` is the previous page's `next`. */
  async queryPage<T = DocumentData>(collection: string, q: Query, after = "", opts: CallOptions = {}): Promise<QueryPage<T>> {
    const page = await this.json<{ items: Record<string, unknown>[]; next?: string | null; asOf: number }>({
      method: "POST", path: collectionPath(collection) + "/query", headers: hdrs(opts),
      body: encode(after ? { ...q, after } : q), signal: opts.signal,
    });
    return { items: (page.items ?? []).map((o) => parseDoc<T>(collection, o, "")), next: page.next ?? "", asOf: page.asOf };
  }

  /** Runs a query and yields every matching document, page after page. */
  async *query<T = DocumentData>(collection: string, q: Query, opts: CallOptions = {}): AsyncGenerator<Doc<T>> {
    let after = "";
    for (;;) {
      const page = await this.queryPage<T>(collection, q, after, opts);
      yield* page.items;
      if (!page.next) return;
      if (page.next === after) throw new Error(`truce: the server gave the same cursor ${JSON.stringify(after)} twice`);
      after = page.next;
    }
  }

  // ---------------------------------------------------------------- locks

  /** Takes the document's lock (waiting up to opts.waitMs in FIFO order), and renews it every third of its TTL until unlock. Rejects with LockedError when another holds it. */
  lock(collection: string, id: string, opts: LockOptions = {}): Promise<Lock> {
    return Lock.acquire(this, collection, id, opts);
  }

  /**
   * Runs fn while holding the document's lock, then releases it. fn gets the
   * lock, whose `signal` aborts when the lock is lost; withLock then
   * rejects with the LockLostError even if fn succeeded.
   */
  async withLock<R>(collection: string, id: string, fn: (lock: Lock) => R | Promise<R>, opts: LockOptions = {}): Promise<R> {
    const l = await this.lock(collection, id, opts);
    let out: R;
    try {
      out = await fn(l);
    } finally {
      await l.unlock().catch(() => { /* the lock ends at its TTL anyway */ });
    }
    if (l.error) throw l.error;
    return out;
  }

  /** Renews a lock by its token; ttl in ms or as a duration string ("30s"). */
  async renewLock(collection: string, id: string, token: string, ttl?: number | string, opts: CallOptions = {}): Promise<LockInfo> {
    if (!token) throw new TypeError("truce: renewLock needs the lock's token");
    const body: Record<string, string> = {};
    if (ttl !== undefined) body.ttl = duration(ttl);
    return this.json<LockInfo>({ method: "POST", path: lockPath(collection, id), headers: hdrs(opts, { "Lock-Token": token }), body: encode(body), signal: opts.signal });
  }

  /** @internal Takes a lock: the raw request behind lock(). */
  async acquireLock(collection: string, id: string, body: Record<string, string>, opts: CallOptions & { idempotencyKey?: string }): Promise<LockInfo & { token: string }> {
    return this.json({ method: "POST", path: lockPath(collection, id), headers: writeHeaders(opts), body: encode(body), final: [Codes.Locked], signal: opts.signal });
  }

  /** Reads who holds the document's lock (NotFoundError when nobody does). */
  async getLock(collection: string, id: string, opts: CallOptions = {}): Promise<LockInfo> {
    return this.json<LockInfo>({ method: "GET", path: lockPath(collection, id), headers: hdrs(opts), signal: opts.signal });
  }

  /** Releases a lock by its token (409 lock_token_mismatch for another's token). */
  async unlock(collection: string, id: string, token: string, opts: CallOptions = {}): Promise<void> {
    if (!token) throw new TypeError("truce: unlock needs the lock's token");
    await this.do({ method: "DELETE", path: lockPath(collection, id), headers: hdrs(opts, { "Lock-Token": token }), signal: opts.signal });
  }

  /** Breaks whatever lock the document has (admin scope). */
  async breakLock(collection: string, id: string, opts: CallOptions = {}): Promise<void> {
    await this.do({ method: "DELETE", path: lockPath(collection, id), query: { force: "true" }, headers: hdrs(opts), signal: opts.signal });
  }

  // ---------------------------------------------------------------- transactions

  /** Applies a batch of ops atomically (POST /v1/tx): all or nothing. On failure the error's failedOp names the op. */
  async batch(b: Batch, opts: CallOptions & { idempotencyKey?: string } = {}): Promise<OpResult[]> {
    if (!(b instanceof Batch) || b.length === 0) throw new TypeError("truce: batch: the batch is empty");
    const a = await this.json<{ results: unknown[] }>({ method: "POST", path: "/v1/tx", headers: writeHeaders(opts), body: encode({ ops: b.ops }), signal: opts.signal });
    return parseOpResults(a, b.collections);
  }

  /** Begins an interactive transaction; ttl in ms or as a duration string. */
  async beginTransaction(opts: CallOptions & { ttl?: number | string } = {}): Promise<Transaction> {
    const body: Record<string, string> = {};
    if (opts.ttl !== undefined) body.ttl = duration(opts.ttl);
    const a = await this.json<{ id: string; expiresAt: string }>({ method: "POST", path: "/v1/transactions", headers: hdrs(opts), body: encode(body), signal: opts.signal });
    return new Transaction(this, a.id, new Date(a.expiresAt));
  }

  /**
   * Runs fn in an interactive transaction and commits it; when the commit
   * meets a transaction_conflict it rolls back and runs fn again in a new
   * transaction (up to attempts, default 20), after a jittered backoff.
   */
  async runTransaction<R>(fn: (tx: Transaction) => R | Promise<R>, opts: TransactionOptions = {}): Promise<R> {
    const attempts = opts.attempts ?? 20;
    const baseMs = opts.baseDelayMs ?? 5;
    const maxMs = opts.maxDelayMs ?? 500;
    let last: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await sleep(jitter(Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 2, 20))), opts.signal);
      const tx = await this.beginTransaction({ ttl: opts.ttl, signal: opts.signal });
      let out: R;
      try {
        out = await fn(tx);
        await tx.commit({ signal: opts.signal });
        return out;
      } catch (e) {
        await tx.rollback().catch(() => { /* it ends at its TTL anyway */ });
        if (!(e instanceof TruceError) || e.code !== Codes.TransactionConflict) throw e;
        last = e;
      }
    }
    throw new RetryError(last, attempts, 0, `the transaction conflicted ${attempts} times`);
  }

  /** @internal Sends a request of an interactive transaction (with its header when txID is not empty). */
  async txRequest(method: string, path: string, txID: string, opts: CallOptions & { body?: unknown; ctype?: string; query?: Request["query"]; headers?: Record<string, string> }): Promise<Response> {
    return this.do({
      method, path, query: opts.query, body: opts.body === undefined ? undefined : encode(opts.body), ctype: opts.ctype,
      headers: txID ? { ...(opts.headers ?? {}), "Truce-Transaction": txID } : { ...(opts.headers ?? {}) }, signal: opts.signal,
    });
  }

  /** @internal Parses a document answer. */
  parseAnswer<T>(collection: string, method: string, path: string, resp: Response): Doc<T> {
    return this.docFrom<T>(collection, { method, path }, resp);
  }

  // ---------------------------------------------------------------- the change feed

  /**
   * Follows the change feed as an async iterator. When the connection drops
   * it reconnects (with backoff) from the last event seen, so no event is
   * lost or seen twice. Breaking out of the loop, or aborting
   * opts.signal, closes the stream. A position older than the feed keeps
   * rejects with EventsExpiredError.
   */
  watch(filter: WatchFilter = {}, opts: CallOptions = {}): AsyncGenerator<ChangeEvent> {
    return watchEvents(this, filter, opts.signal);
  }

  /** Reads one page of the change feed as JSON; waitMs long-polls when nothing is new. */
  async changes(filter: WatchFilter = {}, opts: CallOptions & { limit?: number; waitMs?: number } = {}): Promise<ChangesPage> {
    const q: Record<string, string | number | undefined> = { ...watchQuery(filter, filter.since, filter.since !== undefined || !!filter.fromStart) };
    if (opts.limit) q.limit = opts.limit;
    if (opts.waitMs) q.wait = `${opts.waitMs}ms`;
    return this.json<ChangesPage>({ method: "GET", path: "/v1/changes", query: q, headers: hdrs(opts), signal: opts.signal });
  }
}

/** Whether a TruceError is worth repeating as is: 409 and 412 never are (the request must change), idempotency_key_in_use is, the rest when the server says so. */
export function retryWorthy(e: TruceError): boolean {
  if (e.code === Codes.IdempotencyKeyInUse) return true;
  if (e.status === 409 || e.status === 412) return false;
  return e.retryable;
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === "AbortError" || e.name === "TimeoutError");
}

function hasHeader(h: Record<string, string>, name: string): boolean {
  const n = name.toLowerCase();
  return Object.keys(h).some((k) => k.toLowerCase() === n);
}

/** A fresh Idempotency-Key: 128 random bits in hex. */
function newKey(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function hdrs(opts: CallOptions, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const out: Record<string, string> = { ...(opts.headers ?? {}) };
  for (const [k, v] of Object.entries(extra)) {
    if (v !== undefined && v !== "") {
      if (/[\r\n]/.test(v)) throw new TypeError(`truce: header ${k}: a line break in a header`);
      out[k] = v;
    }
  }
  return out;
}

function writeHeaders(opts: CallOptions & { ifMatch?: string; ifNoneMatch?: string; idempotencyKey?: string; lockToken?: string }): Record<string, string> {
  return hdrs(opts, {
    "If-Match": opts.ifMatch && quoteETag(opts.ifMatch),
    "If-None-Match": opts.ifNoneMatch && quoteETag(opts.ifNoneMatch),
    "Idempotency-Key": opts.idempotencyKey,
    "Lock-Token": opts.lockToken,
  });
}

/** Quotes a bare ETag; "*", quoted and weak ones pass as they are. */
export function quoteETag(etag: string): string {
  if (etag === "*" || etag.startsWith('"') || etag.startsWith('W/"')) return etag;
  return JSON.stringify(etag);
}

function checkVersion(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`truce: version ${n}: versions are integers from 1`);
  return n;
}

function encode(v: unknown): string {
  if (v === undefined) throw new TypeError("truce: the body is undefined");
  return JSON.stringify(v);
}

function stripReserved(o: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!["_id", "_version", "_createdAt", "_updatedAt", "_updatedBy", "_deleted", "_etag"].includes(k)) out[k] = v;
  }
  return out;
}

/** The escaped path of a collection's documents, or of one document. */
export function docPath(collection: string, id?: string): string {
  let p = collectionPath(collection) + "/docs";
  if (id !== undefined) {
    if (!id) throw new TypeError("truce: the document id is empty");
    p += "/" + encodeURIComponent(id);
  }
  return p;
}

function collectionPath(name: string): string {
  if (!name) throw new TypeError("truce: the collection name is empty");
  return "/v1/collections/" + encodeURIComponent(name);
}

function versionPath(collection: string, id: string, n: number): string {
  return docPath(collection, id) + "/versions/" + checkVersion(n);
}

function conflictPath(id: string): string {
  if (!id) throw new TypeError("truce: the conflict id is empty");
  return "/v1/conflicts/" + encodeURIComponent(id);
}

export type { Merged };
