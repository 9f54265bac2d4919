// Interactive transactions: reads and writes that carry the
// Truce-Transaction header; writes are staged until commit, which applies
// them only if nothing the transaction read or wrote has changed since.

import type { Client, CallOptions, PatchOp, WriteOptions } from "./client.js";
import { docPath } from "./client.js";
import type { Doc, DocumentData } from "./doc.js";
import { Codes, TruceError } from "./errors.js";
import { type OpResult, parseOpResults } from "./batch.js";

/** Options of runTransaction. */
export interface TransactionOptions extends CallOptions {
  /** How many times to run fn when commits conflict (default 20). */
  attempts?: number;
  /** The transaction's TTL, in ms or as a duration string. */
  ttl?: number | string;
  /** Ceiling of the first backoff between attempts, in ms (default 5), doubled per attempt up to maxDelayMs (default 500). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Transaction is an open interactive transaction. Its reads join its read
 * set; its writes are staged (others do not see them) and answer with the
 * staged document; commit applies them all or rejects with
 * TransactionConflictError.
 */
export class Transaction {
  /** The transaction's id: what the Truce-Transaction header carries. */
  readonly id: string;
  /** When the server forgets it (410 transaction_expired after). */
  readonly expiresAt: Date;
  private readonly client: Client;
  private readonly cols: string[] = [];

  /** @internal */
  constructor(client: Client, id: string, expiresAt: Date) {
    this.client = client;
    this.id = id;
    this.expiresAt = expiresAt;
  }

  /** Reads a document; its version joins the read set. */
  async get<T = DocumentData>(collection: string, id: string, opts: CallOptions = {}): Promise<Doc<T>> {
    const path = docPath(collection, id);
    const resp = await this.client.txRequest("GET", path, this.id, opts);
    return this.client.parseAnswer<T>(collection, "GET", path, resp);
  }

  /** Stages a create. */
  async create<T = DocumentData>(collection: string, body: T, opts: CallOptions = {}): Promise<Doc<T>> {
    return this.write<T>("POST", collection, docPath(collection), body, undefined, opts);
  }

  /** Stages a put. */
  async put<T = DocumentData>(collection: string, id: string, body: T, opts: WriteOptions = {}): Promise<Doc<T>> {
    const b = opts.version !== undefined ? { ...(body as object), _version: opts.version } : body;
    return this.write<T>("PUT", collection, docPath(collection, id), b, undefined, opts);
  }

  /** Stages a patch: an object is a merge patch, an array a JSON Patch. */
  async patch<T = DocumentData>(collection: string, id: string, patch: Record<string, unknown> | PatchOp[], opts: WriteOptions = {}): Promise<Doc<T>> {
    return this.write<T>("PATCH", collection, docPath(collection, id), patch,
      Array.isArray(patch) ? "application/json-patch+json" : "application/merge-patch+json", opts);
  }

  /** Stages a delete. */
  async delete(collection: string, id: string, opts: WriteOptions = {}): Promise<void> {
    await this.client.txRequest("DELETE", docPath(collection, id), this.id, { ...opts, headers: txHeaders(opts), query: { version: opts.version } });
    this.cols.push(collection);
  }

  private async write<T>(method: string, collection: string, path: string, body: unknown, ctype: string | undefined, opts: WriteOptions): Promise<Doc<T>> {
    const resp = await this.client.txRequest(method, path, this.id, {
      ...opts, body, ctype, headers: txHeaders(opts), query: method === "PATCH" ? { version: opts.version } : undefined,
    });
    this.cols.push(collection);
    return this.client.parseAnswer<T>(collection, method, path, resp);
  }

  /** Applies the staged writes atomically; rejects with TransactionConflictError (see its `changed`) when a document moved. */
  async commit(opts: CallOptions = {}): Promise<OpResult[]> {
    const resp = await this.client.txRequest("POST", `/v1/transactions/${encodeURIComponent(this.id)}/commit`, "", opts);
    return parseOpResults(JSON.parse(resp.text), this.cols);
  }

  /** Rolls back; a transaction that has already expired counts as rolled back. */
  async rollback(opts: CallOptions = {}): Promise<void> {
    try {
      await this.client.txRequest("DELETE", `/v1/transactions/${encodeURIComponent(this.id)}`, "", opts);
    } catch (e) {
      if (e instanceof TruceError && e.code === Codes.TransactionExpired) return;
      throw e;
    }
  }
}

function txHeaders(opts: WriteOptions): Record<string, string> {
  const h: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.ifMatch) h["If-Match"] = opts.ifMatch === "*" || opts.ifMatch.startsWith('"') ? opts.ifMatch : JSON.stringify(opts.ifMatch);
  if (opts.ifNoneMatch) h["If-None-Match"] = opts.ifNoneMatch;
  if (opts.idempotencyKey) h["Idempotency-Key"] = opts.idempotencyKey;
  if (opts.lockToken) h["Lock-Token"] = opts.lockToken;
  return h;
}
