// @trucedb/client: the TypeScript client of truce for browsers and Node.
// Zero runtime dependencies: fetch, streams and AbortSignal.

export {
  Client, defaultConflictRetries, quoteETag,
  type ClientOptions, type CallOptions, type WriteOptions, type UpdateOptions, type RetryInfo,
  type VersionInfo, type PatchOp, type Conflict, type ConflictFilter, type ResolveStrategy,
  type Settings, type Collection, type Query, type QueryPage,
} from "./client.js";
export type { Doc, DocumentData, Merged } from "./doc.js";
export {
  TruceError, VersionConflictError, PreconditionFailedError, MergeConflictError, LockedError,
  LockExpiredError, RateLimitedError, NotFoundError, AlreadyExistsError, UniqueViolationError,
  TransactionConflictError, TransactionExpiredError, EventsExpiredError, UnauthorizedError,
  ForbiddenError, InvalidRequestError, RetryError, LockLostError, Codes, truceError, errorCode,
  type ConflictPath, type DocRef,
} from "./errors.js";
export { type RetryPolicy, defaultRetryPolicy } from "./retry.js";
export { Batch, type OpOptions, type OpResult } from "./batch.js";
export { Lock, type LockInfo, type LockOptions } from "./lock.js";
export { Transaction, type TransactionOptions } from "./transaction.js";
export type { ChangeEvent, WatchFilter, ChangesPage } from "./watch.js";
