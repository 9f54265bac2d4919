// Errors: every answer of 400 or more becomes a TruceError, or the subclass
// named for its problem's `code`, so that programs branch on the class (or
// on `code`) and never on the status alone. A 409 or 412 caused by a stale
// version carries `current`: what the document is now, to retry from
// without another read.

import { type Doc, parseDoc } from "./doc.js";

/** One conflicting path of a merge_conflict (API.md section 5). */
export interface ConflictPath {
  path: string;
  base?: unknown;
  current?: unknown;
  proposed?: unknown;
}

/** A document named by its collection and id. */
export interface DocRef {
  collection: string;
  id: string;
}

/** The problem codes of API.md, as constants. */
export const Codes = {
  InvalidJSON: "invalid_json",
  InvalidDocument: "invalid_document",
  SchemaViolation: "schema_violation",
  ReservedField: "reserved_field",
  InvalidPatch: "invalid_patch",
  InvalidPrecondition: "invalid_precondition",
  InvalidReference: "invalid_reference",
  InvalidID: "invalid_id",
  InvalidCollection: "invalid_collection",
  InvalidSettings: "invalid_settings",
  InvalidParameter: "invalid_parameter",
  NotFound: "not_found",
  AlreadyExists: "already_exists",
  VersionConflict: "version_conflict",
  MergeConflict: "merge_conflict",
  UniqueViolation: "unique_violation",
  InUse: "in_use",
  PatchTestFailed: "patch_test_failed",
  NotEmpty: "not_empty",
  VersionTrimmed: "version_trimmed",
  PreconditionFailed: "precondition_failed",
  TooLarge: "too_large",
  UnsupportedMediaType: "unsupported_media_type",
  IdempotencyKeyReused: "idempotency_key_reused",
  IdempotencyKeyInUse: "idempotency_key_in_use",
  Locked: "locked",
  PreconditionRequired: "precondition_required",
  RateLimited: "rate_limited",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  Overloaded: "overloaded",
  Internal: "internal",
  InvalidQuery: "invalid_query",
  IndexRequired: "index_required",
  ScanTooLarge: "scan_too_large",
  TransactionConflict: "transaction_conflict",
  TransactionExpired: "transaction_expired",
  LockTokenMismatch: "lock_token_mismatch",
  LockExpired: "lock_expired",
  EventsExpired: "events_expired",
  ConflictClosed: "conflict_closed",
  FailedDependency: "failed_dependency",
} as const;

/**
 * TruceError is an answer of 400 or more from the server: its status and,
 * from the problem+json body (RFC 9457), its stable `code`, `detail`,
 * `retryable` and whatever the problem adds. Subclasses name the codes a
 * program most often handles.
 */
export class TruceError extends Error {
  /** The request's method and path (from /v1/…). */
  readonly method: string;
  readonly path: string;
  /** The HTTP status. */
  readonly status: number;
  /** The problem's code, "" when the body was not a problem. */
  readonly code: string;
  readonly title: string;
  readonly type: string;
  readonly detail: string;
  /** Whether repeating the request (after re-reading, or after retryAfterMs) can succeed. */
  readonly retryable: boolean;
  readonly requestId: string;
  /** Retry-After, in milliseconds; 0 when absent. */
  readonly retryAfterMs: number;
  /** The document as it is now, on a 409 or 412 caused by a stale version. */
  readonly current?: Doc;
  /** The conflicting paths of a merge_conflict. */
  readonly conflicts?: ConflictPath[];
  /** The recorded conflict's id, in a collection whose policy is manual. */
  readonly conflictId?: string;
  /** The scope a 403 says is missing. */
  readonly scope?: string;
  /** The whole problem body, as the server sent it. */
  readonly problem?: Record<string, unknown>;

  constructor(init: {
    method: string; path: string; status: number; code?: string; title?: string; type?: string;
    detail?: string; retryable?: boolean; requestId?: string; retryAfterMs?: number; current?: Doc;
    conflicts?: ConflictPath[]; conflictId?: string; scope?: string; problem?: Record<string, unknown>;
  }) {
    const detail = init.detail || init.title || `HTTP ${init.status}`;
    super(`${init.method} ${init.path}: ${detail} (${init.code ? init.code + ", " : ""}HTTP ${init.status})`);
    this.name = new.target.name;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.code = init.code ?? "";
    this.title = init.title ?? "";
    this.type = init.type ?? "";
    this.detail = init.detail ?? "";
    this.retryable = init.retryable ?? false;
    this.requestId = init.requestId ?? "";
    this.retryAfterMs = init.retryAfterMs ?? 0;
    this.current = init.current;
    this.conflicts = init.conflicts;
    this.conflictId = init.conflictId;
    this.scope = init.scope;
    this.problem = init.problem;
  }

  /** The index of the op that failed in a batch transaction, or undefined. */
  get failedOp(): number | undefined {
    const v = this.problem?.failedOp;
    return typeof v === "number" ? v : undefined;
  }

  /** The documents that changed under an interactive transaction (transaction_conflict). */
  get changed(): DocRef[] {
    const v = this.problem?.changed;
    return Array.isArray(v) ? (v as DocRef[]) : [];
  }

  /** Whether the error is a stale-version conflict that a re-read and retry can settle: any 412, or 409 version_conflict or merge_conflict. */
  get isConflict(): boolean {
    return this.status === 412 || (this.status === 409 && (this.code === Codes.VersionConflict || this.code === Codes.MergeConflict));
  }
}

/** 409 version_conflict: the `_version` or `?version=` the write was based on is stale; see `current`. */
export class VersionConflictError extends TruceError {}
/** 412 precondition_failed: an If-Match or If-None-Match failed; see `current`. */
export class PreconditionFailedError extends TruceError {}
/** 409 merge_conflict: a three-way merge found changes to the same paths; see `conflicts` (and `conflictId` under the manual policy). */
export class MergeConflictError extends TruceError {}
/** 423 locked: someone else holds the document's lock; see the problem's owner and expiresAt, and retryAfterMs. */
export class LockedError extends TruceError {
  /** Who holds the lock. */
  get owner(): string | undefined { return this.problem?.owner as string | undefined; }
}
/** 412 lock_expired: the lock token given has expired; nobody may hold the lock any more. */
export class LockExpiredError extends TruceError {}
/** 429 rate_limited: the caller is over its rate; retryAfterMs says when to come back. */
export class RateLimitedError extends TruceError {}
/** 404 not_found. */
export class NotFoundError extends TruceError {}
/** 409 already_exists: a create with an id that is live. */
export class AlreadyExistsError extends TruceError {}
/** 409 unique_violation: a unique field holds a value another live document holds. */
export class UniqueViolationError extends TruceError {}
/** 409 transaction_conflict: documents an interactive transaction read or wrote changed; see `changed`. */
export class TransactionConflictError extends TruceError {}
/** 410 transaction_expired: the interactive transaction passed its TTL. */
export class TransactionExpiredError extends TruceError {}
/** 410 events_expired: the feed no longer holds the position asked for; re-read and watch from now. */
export class EventsExpiredError extends TruceError {}
/** 401 unauthorized: no token, or one the server does not know. */
export class UnauthorizedError extends TruceError {}
/** 403 forbidden: the token lacks `scope`. */
export class ForbiddenError extends TruceError {}
/** 400: the request is malformed or fails validation (invalid_json, schema_violation, …); repeating it cannot succeed. */
export class InvalidRequestError extends TruceError {}

const classes: Record<string, new (init: ConstructorParameters<typeof TruceError>[0]) => TruceError> = {
  [Codes.VersionConflict]: VersionConflictError,
  [Codes.PreconditionFailed]: PreconditionFailedError,
  [Codes.MergeConflict]: MergeConflictError,
  [Codes.Locked]: LockedError,
  [Codes.LockExpired]: LockExpiredError,
  [Codes.RateLimited]: RateLimitedError,
  [Codes.NotFound]: NotFoundError,
  [Codes.AlreadyExists]: AlreadyExistsError,
  [Codes.UniqueViolation]: UniqueViolationError,
  [Codes.TransactionConflict]: TransactionConflictError,
  [Codes.TransactionExpired]: TransactionExpiredError,
  [Codes.EventsExpired]: EventsExpiredError,
  [Codes.Unauthorized]: UnauthorizedError,
  [Codes.Forbidden]: ForbiddenError,
};

/**
 * RetryError says that a request kept failing in a way worth retrying until
 * the retry policy (attempts or time) or the signal ended it; `cause` is the
 * last failure.
 */
export class RetryError extends Error {
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly reason: string;
  override readonly cause: unknown;
  constructor(cause: unknown, attempts: number, elapsedMs: number, reason: string) {
    super(`${cause instanceof Error ? cause.message : String(cause)} (gave up after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${elapsedMs} ms: ${reason})`);
    this.name = "RetryError";
    this.cause = cause;
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
    this.reason = reason;
  }
}

/** LockLostError says that a held lock ended without Unlock: it expired, or was broken, before a renewal reached the server. */
export class LockLostError extends Error {
  override readonly cause: unknown;
  constructor(collection: string, id: string, cause: unknown) {
    super(`the lock on ${collection}/${id} was lost: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "LockLostError";
    this.cause = cause;
  }
}

/** The TruceError inside err (itself, or the cause of a RetryError), or undefined. */
export function truceError(err: unknown): TruceError | undefined {
  if (err instanceof TruceError) return err;
  if (err instanceof RetryError || err instanceof LockLostError) return truceError(err.cause);
  return undefined;
}

/** The problem code of err (through a RetryError), or "". */
export function errorCode(err: unknown): string {
  return truceError(err)?.code ?? "";
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds; 0 when absent or past. */
export function parseRetryAfter(h: string | null, now = Date.now()): number {
  if (!h) return 0;
  h = h.trim();
  if (/^\d+$/.test(h)) return Math.min(Number(h), 24 * 3600) * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? 0 : Math.max(0, t - now);
}

/** Builds the error for an answer of 400 or more. */
export function errorFrom(method: string, path: string, status: number, headers: Headers, text: string): TruceError {
  const base = {
    method, path, status,
    requestId: headers.get("X-Request-Id") ?? "",
    retryAfterMs: parseRetryAfter(headers.get("Retry-After")),
  };
  const ctype = (headers.get("Content-Type") ?? "").split(";")[0].trim();
  let p: Record<string, any> | undefined;
  if (ctype === "application/problem+json" || ctype === "application/json") {
    try {
      const v = JSON.parse(text);
      if (v && typeof v === "object" && typeof v.code === "string" && v.code !== "") p = v;
    } catch { /* not a problem: fall through */ }
  }
  if (!p) {
    return new TruceError({
      ...base, title: `HTTP ${status}`, detail: text.trim().slice(0, 200),
      retryable: [429, 502, 503, 504].includes(status),
    });
  }
  let current: Doc | undefined;
  const c = p.current;
  if (c && typeof c === "object" && c.document && typeof c.document === "object") {
    current = parseDoc(collectionOf(path), c.document, c.etag ?? "");
    if (!current.version) current.version = c.version ?? 0;
  }
  const Cls = classes[p.code] ?? (status === 400 ? InvalidRequestError : TruceError);
  return new Cls({
    ...base,
    code: p.code, title: p.title, type: p.type, detail: p.detail,
    retryable: p.retryable === true, requestId: p.requestId || base.requestId,
    current, conflicts: p.conflicts, conflictId: p.conflictId, scope: p.scope, problem: p,
  });
}

function collectionOf(path: string): string {
  const m = /^\/v1\/collections\/([^/]+)/.exec(path);
  return m ? decodeURIComponent(m[1]) : "";
}
