// Atomic batches (POST /v1/tx): ops built one by one, sent together, applied
// all or none.

import { type Doc, type DocumentData, type Merged, parseDoc } from "./doc.js";
import type { PatchOp } from "./client.js";

/** The preconditions an op of a batch may carry. */
export interface OpOptions {
  /** The ETag the op is based on (412 when stale). */
  ifMatch?: string;
  /** "*": create only. */
  ifNoneMatch?: string;
  /** The version the op is based on (409 when stale, or a merge). */
  version?: number;
  /** The Lock-Token of a lock held on the document. */
  lockToken?: string;
}

/** The answer to one op of a batch, or of an interactive transaction's commit. */
export interface OpResult<T = DocumentData> {
  status: number;
  /** The document written (none for delete and check). */
  doc?: Doc<T>;
  merged?: Merged;
}

/**
 * Batch collects the ops of one atomic transaction. Each method adds an op
 * and returns the batch, so that calls chain; Client.batch sends it.
 */
export class Batch {
  /** @internal The ops as the server takes them. */
  readonly ops: Record<string, unknown>[] = [];
  /** @internal Each op's collection. */
  readonly collections: string[] = [];

  /** How many ops the batch holds. */
  get length(): number {
    return this.ops.length;
  }

  /** Adds a create (the body may carry _id). */
  create(collection: string, document: object): this {
    return this.add({ op: "create", collection, document });
  }

  /** Adds a put: create or replace the whole document. */
  put(collection: string, id: string, document: object, opts: OpOptions = {}): this {
    return this.add({ op: "put", collection, id, document }, opts);
  }

  /** Adds a patch: an object is a merge patch, an array a JSON Patch. */
  patch(collection: string, id: string, patch: Record<string, unknown> | PatchOp[], opts: OpOptions = {}): this {
    return this.add(Array.isArray(patch) ? { op: "patch", collection, id, jsonPatch: patch } : { op: "patch", collection, id, mergePatch: patch }, opts);
  }

  /** Adds a delete. */
  delete(collection: string, id: string, opts: OpOptions = {}): this {
    return this.add({ op: "delete", collection, id }, opts);
  }

  /** Adds a check: the batch applies only if the document is as opts says. */
  check(collection: string, id: string, opts: OpOptions = {}): this {
    return this.add({ op: "check", collection, id }, opts);
  }

  private add(op: Record<string, unknown>, opts: OpOptions = {}): this {
    if (!op.collection) throw new TypeError(`truce: batch op ${this.ops.length}: the collection name is empty`);
    if (opts.ifMatch) op.ifMatch = opts.ifMatch === "*" || opts.ifMatch.startsWith('"') ? opts.ifMatch : JSON.stringify(opts.ifMatch);
    if (opts.ifNoneMatch) op.ifNoneMatch = opts.ifNoneMatch;
    if (opts.version !== undefined) op.version = opts.version;
    if (opts.lockToken) op.lockToken = opts.lockToken;
    this.ops.push(op);
    this.collections.push(op.collection as string);
    return this;
  }
}

/** Parses {"results": [...]} of a batch or a commit. */
export function parseOpResults(a: { results?: unknown[] }, collections: string[]): OpResult[] {
  return (a.results ?? []).map((raw, i) => {
    const r = raw as { status: number; etag?: string; document?: Record<string, unknown>; merged?: Merged };
    const out: OpResult = { status: r.status };
    if (r.document && typeof r.document === "object") out.doc = parseDoc(collections[i] ?? "", r.document, r.etag ?? "");
    if (r.merged) out.merged = r.merged;
    return out;
  });
}
