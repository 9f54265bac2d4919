// Locks with automatic renewal: a held Lock renews itself every third of its
// TTL until unlock, and says when it is lost (an AbortSignal and a promise),
// so that work done under it can stop before it writes without the lock.

import type { Client, CallOptions } from "./client.js";
import { docPath } from "./client.js";
import { Codes, LockLostError, TruceError } from "./errors.js";

/** A lock as the server describes it. */
export interface LockInfo {
  collection: string;
  id: string;
  owner: string;
  acquiredAt: string;
  expiresAt: string;
  /** Grows with every lock taken on the document: a fencing token. */
  fence: number;
}

/** Options of lock. */
export interface LockOptions extends CallOptions {
  /** The lock's TTL, in ms or as a duration ("30s"); the server's default (and cap) otherwise. */
  ttl?: number | string;
  /** Who holds it, as others see it. */
  owner?: string;
  /** How long to queue for a lock another holds, in ms or as a duration; 0 fails at once with LockedError. */
  wait?: number | string;
  idempotencyKey?: string;
}

/** A duration as the server takes it: ms as "1500ms", strings as they are. */
export function duration(v: number | string): string {
  if (typeof v === "string") return v;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`truce: duration ${v} ms is not a duration`);
  return `${Math.round(v)}ms`;
}

/** The path of a document's lock. */
export function lockPath(collection: string, id: string): string {
  return docPath(collection, id) + "/lock";
}

/**
 * Lock is a held lock. It renews itself until unlock() or detach(); when a
 * renewal finds the lock gone (expired, broken, or its token refused) or no
 * renewal gets through before it expires, `signal` aborts and `lost`
 * resolves with the LockLostError, which `error` then holds.
 */
export class Lock {
  /** The token: what writes to the document send as lockToken. */
  readonly token: string;
  readonly collection: string;
  readonly id: string;
  /** Aborts when the lock is lost; give it to the work done under the lock. */
  readonly signal: AbortSignal;
  /** Resolves with the LockLostError when the lock is lost; never rejects. */
  readonly lost: Promise<LockLostError>;
  private infoNow: LockInfo;
  private readonly ttlMs: number;
  private readonly client: Client;
  private readonly ctl = new AbortController();
  private readonly stopCtl = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private renewing: Promise<void> | undefined;
  private lostErr: LockLostError | undefined;
  private resolveLost!: (e: LockLostError) => void;

  private constructor(client: Client, info: LockInfo, token: string, ttlMs: number) {
    this.client = client;
    this.infoNow = info;
    this.token = token;
    this.collection = info.collection;
    this.id = info.id;
    this.ttlMs = ttlMs;
    this.signal = this.ctl.signal;
    this.lost = new Promise((resolve) => { this.resolveLost = resolve; });
  }

  /** @internal */
  static async acquire(client: Client, collection: string, id: string, opts: LockOptions): Promise<Lock> {
    const body: Record<string, string> = {};
    if (opts.ttl !== undefined) body.ttl = duration(opts.ttl);
    if (opts.owner) body.owner = opts.owner;
    if (opts.wait !== undefined) body.wait = duration(opts.wait);
    const a = await client.acquireLock(collection, id, body, opts);
    if (!a || !a.token) throw new Error("truce: the server's answer to a lock request is not a lock");
    const { token, ...info } = a;
    const ttlMs = Date.parse(info.expiresAt) - Date.parse(info.acquiredAt);
    const l = new Lock(client, { ...info, collection, id }, token, ttlMs > 0 ? ttlMs : 30_000);
    l.schedule(l.every());
    return l;
  }

  /** The lock as last renewed. */
  get info(): LockInfo {
    return { ...this.infoNow };
  }

  /** The LockLostError once the lock is lost, else undefined. */
  get error(): LockLostError | undefined {
    return this.lostErr;
  }

  private every(): number {
    return Math.max(this.ttlMs / 3, 10);
  }

  private schedule(ms: number): void {
    if (this.stopCtl.signal.aborted || this.lostErr) return;
    this.timer = setTimeout(() => {
      this.renewing = this.tick().finally(() => { this.renewing = undefined; });
    }, ms);
  }

  private async tick(): Promise<void> {
    const left = Date.parse(this.infoNow.expiresAt) - Date.now();
    const signal = AbortSignal.any
      ? AbortSignal.any([this.stopCtl.signal, AbortSignal.timeout(Math.max(left, 1))])
      : this.stopCtl.signal;
    try {
      await this.renew({ signal });
      this.schedule(this.every());
    } catch (e) {
      if (this.stopCtl.signal.aborted || this.lostErr) return;
      const leftNow = Date.parse(this.infoNow.expiresAt) - Date.now();
      if (leftNow <= 0) {
        this.markLost(e);
        return;
      }
      this.schedule(Math.min(this.every(), Math.max(leftNow / 4, 10)));
    }
  }

  /** Renews the lock now (the loop does it by itself); a renewal that finds the lock gone marks it lost. */
  async renew(opts: CallOptions = {}): Promise<LockInfo> {
    try {
      const i = await this.client.renewLock(this.collection, this.id, this.token, this.ttlMs, opts);
      const { token: _token, ...rest } = i as LockInfo & { token?: string };
      this.infoNow = { ...this.infoNow, ...rest };
      return this.info;
    } catch (e) {
      if (e instanceof TruceError && (e.code === Codes.LockExpired || e.code === Codes.LockTokenMismatch || e.status === 404)) {
        this.markLost(e);
      }
      throw e;
    }
  }

  private markLost(cause: unknown): void {
    if (this.lostErr) return;
    this.lostErr = new LockLostError(this.collection, this.id, cause);
    clearTimeout(this.timer);
    this.ctl.abort(this.lostErr);
    this.resolveLost(this.lostErr);
  }

  /** Stops renewing without releasing: the lock ends at its TTL. */
  async detach(): Promise<void> {
    this.stopCtl.abort();
    clearTimeout(this.timer);
    await this.renewing;
  }

  /** Stops renewing and releases the lock. */
  async unlock(opts: CallOptions = {}): Promise<void> {
    await this.detach();
    if (this.lostErr) return;
    await this.client.unlock(this.collection, this.id, this.token, opts);
  }
}
