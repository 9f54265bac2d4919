// Documents as the client hands them out: the stored JSON object split into
// its reserved fields (_id, _version, …), which are the server's, and its
// data, which is the program's.

/** A document's own fields: a JSON object. */
export type DocumentData = Record<string, unknown>;

/** The header Truce-Merged of a write the server merged three ways: the version the write was based on and the one it merged with. */
export interface Merged {
  base: number;
  current: number;
}

/** A stored document. */
export interface Doc<T = DocumentData> {
  /** The collection, when the request named it. */
  collection: string;
  id: string;
  /** 1 on creation, +1 on every write. */
  version: number;
  /** The strong ETag, quotes included: what If-Match takes. */
  etag: string;
  createdAt?: Date;
  updatedAt?: Date;
  /** Who wrote this version: a token's name, or the client's address. */
  updatedBy?: string;
  /** True on the tombstone of a delete, in history. */
  deleted?: boolean;
  /** The fields that are not reserved: the document as the program wrote it. */
  data: T;
  /** Set when the server merged this write with changes made since its base version. */
  merged?: Merged;
}

const reserved = new Set(["_id", "_version", "_createdAt", "_updatedAt", "_updatedBy", "_deleted", "_etag"]);

/** Splits a stored JSON object into a Doc; etag is the header's (or current.etag's), else the object's _etag. */
export function parseDoc<T = DocumentData>(collection: string, obj: Record<string, unknown>, etag: string): Doc<T> {
  const data: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!reserved.has(k)) data[k] = v;
  }
  const d: Doc<T> = {
    collection,
    id: String(obj._id ?? ""),
    version: typeof obj._version === "number" ? obj._version : 0,
    etag: etag || (typeof obj._etag === "string" ? obj._etag : ""),
    data: data as T,
  };
  if (typeof obj._createdAt === "string") d.createdAt = new Date(obj._createdAt);
  if (typeof obj._updatedAt === "string") d.updatedAt = new Date(obj._updatedAt);
  if (typeof obj._updatedBy === "string") d.updatedBy = obj._updatedBy;
  if (obj._deleted === true) d.deleted = true;
  return d;
}

/** Parses Truce-Merged: base=5, current=7. */
export function parseMerged(h: string | null): Merged | undefined {
  if (!h) return undefined;
  const m = /base\s*=\s*(\d+)\s*,\s*current\s*=\s*(\d+)/.exec(h);
  return m ? { base: Number(m[1]), current: Number(m[2]) } : undefined;
}

/** Returns a deep copy of a JSON value (structuredClone where there is one). */
export function cloneJSON<T>(v: T): T {
  return typeof structuredClone === "function" ? structuredClone(v) : JSON.parse(JSON.stringify(v));
}
