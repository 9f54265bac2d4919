// The retry policy of requests, and the backoff and sleep they share with
// update, transactions and the change feed.

/** How a request that failed in a way worth retrying is retried. Zero or missing fields take the defaults. */
export interface RetryPolicy {
  /** Most attempts of one request, the first included (default 5; 1 turns retries off). */
  maxAttempts?: number;
  /** Longest time, in ms, from the first attempt to the last (default 30000). */
  maxElapsedMs?: number;
  /** Ceiling of the first backoff, in ms (default 100); it doubles per attempt. */
  baseDelayMs?: number;
  /** Highest backoff ceiling, in ms (default 5000). */
  maxDelayMs?: number;
}

/** The defaults of RetryPolicy. */
export const defaultRetryPolicy: Required<RetryPolicy> = {
  maxAttempts: 5,
  maxElapsedMs: 30_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
};

/** Fills the missing fields of p with the defaults. */
export function withDefaults(p: RetryPolicy | undefined): Required<RetryPolicy> {
  const d = defaultRetryPolicy;
  return {
    maxAttempts: p?.maxAttempts && p.maxAttempts > 0 ? p.maxAttempts : d.maxAttempts,
    maxElapsedMs: p?.maxElapsedMs && p.maxElapsedMs > 0 ? p.maxElapsedMs : d.maxElapsedMs,
    baseDelayMs: p?.baseDelayMs && p.baseDelayMs > 0 ? p.baseDelayMs : d.baseDelayMs,
    maxDelayMs: p?.maxDelayMs && p.maxDelayMs > 0 ? p.maxDelayMs : d.maxDelayMs,
  };
}

/** A random wait in [0, ceiling]: "full jitter", which spreads clients that failed together. */
export function jitter(ceilingMs: number): number {
  return ceilingMs <= 0 ? 0 : Math.random() * ceilingMs;
}

/** The jittered backoff before attempt+1: a ceiling of base·2^(attempt-1), capped at max. */
export function backoff(attempt: number, p: Required<RetryPolicy>): number {
  return jitter(Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.min(attempt - 1, 30)));
}

/** Waits ms, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
