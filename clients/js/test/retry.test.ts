// Retries of the request loop against a server with an auth file: a
// rate-limited token meets 429 and waits the Retry-After it was told;
// tokens and scopes give 401 and 403; a server that is gone ends in a
// RetryError once the policy runs out.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createServer } from "node:net";
import {
  Client, RateLimitedError, UnauthorizedError, ForbiddenError, RetryError, TruceError, Codes, type RetryInfo,
} from "../src/index.js";
import { startServer, createToken, tempDir, uniq, type Server } from "./harness.js";

let srv: Server;
let admin: string, slow: string, starved: string, reader: string;
before(async () => {
  const authFile = join(tempDir(undefined), "auth.json");
  admin = createToken(authFile, "admin", ["admin"]);
  slow = createToken(authFile, "slow", ["write:*"], ["--rate", "1/s", "--burst", "1"]);
  starved = createToken(authFile, "starved", ["write:*"], ["--rate", "1/m", "--burst", "1"]);
  reader = createToken(authFile, "reader", ["read:*"]);
  srv = await startServer(undefined, { authFile });
});

test("a rate-limited token meets 429 rate_limited and retries after Retry-After", async () => {
  const col = uniq();
  const retries: RetryInfo[] = [];
  const c = new Client(srv.url, { token: slow, onRetry: (i) => retries.push(i) });
  // Two writes at once: the bucket holds one token, so one of them meets
  // 429 and succeeds after Retry-After.
  const docs = await Promise.all([c.put(col, "a", { n: 1 }), c.put(col, "b", { n: 2 })]);
  assert.ok(docs.every((d) => d.updatedBy === "slow" && d.version === 1));
  assert.ok(retries.length >= 1, "a write was retried");
  const r = retries[0];
  assert.ok(r.error instanceof RateLimitedError);
  assert.equal(r.error.status, 429);
  assert.ok(r.error.retryAfterMs >= 1000, `Retry-After is ${r.error.retryAfterMs} ms`);
  assert.ok(r.waitMs >= r.error.retryAfterMs, "the client waits at least what Retry-After says");
  assert.equal(r.method, "PUT");

  // A token of one request a minute: its second request waits ~60 s.
  const once = new Client(srv.url, { token: starved, retry: { maxAttempts: 1 } });
  await once.get(col, "a");
  await assert.rejects(once.get(col, "a"), (e: unknown) => {
    assert.ok(e instanceof RateLimitedError, String(e));
    assert.equal(e.code, Codes.RateLimited);
    assert.ok(e.retryAfterMs > 1000, `Retry-After ${e.retryAfterMs} ms`);
    return true;
  });
  const impatient = new Client(srv.url, { token: starved, retry: { maxElapsedMs: 5000 } });
  await assert.rejects(impatient.get(col, "a"), (e: unknown) => {
    assert.ok(e instanceof RetryError, String(e));
    assert.ok(e.cause instanceof RateLimitedError);
    assert.match(e.reason, /exceed the retry policy/);
    return true;
  });
});

test("bearer tokens: 401 without one, 403 without the scope, and _updatedBy names the token", async () => {
  const col = uniq();
  await assert.rejects(new Client(srv.url).get(col, "x"), (e: unknown) => e instanceof UnauthorizedError && e.status === 401);
  await assert.rejects(new Client(srv.url, { token: "truce_wrong" }).get(col, "x"), UnauthorizedError);
  const r = new Client(srv.url, { token: reader });
  await assert.rejects(r.put(col, "x", { a: 1 }), (e: unknown) => {
    assert.ok(e instanceof ForbiddenError);
    assert.equal(e.status, 403);
    assert.ok(e.scope?.startsWith("write:"), `scope ${e.scope}`);
    return true;
  });
  const a = new Client(srv.url, { token: admin });
  const d = await a.put(col, "x", { a: 1 });
  assert.equal(d.updatedBy, "admin");
  assert.deepEqual((await r.get(col, "x"))!.data, { a: 1 });
  assert.throws(() => new Client(srv.url, { token: "a\nb" }), TypeError);
});

test("a server that is gone: retried with backoff, then RetryError", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const retries: RetryInfo[] = [];
  const c = new Client(`http://127.0.0.1:${port}`, { retry: { maxAttempts: 3, baseDelayMs: 5 }, onRetry: (i) => retries.push(i) });
  await assert.rejects(c.put("c", "x", { a: 1 }), (e: unknown) => {
    assert.ok(e instanceof RetryError);
    assert.equal(e.attempts, 3);
    assert.ok(!(e.cause instanceof TruceError), "the cause is the transport error");
    return true;
  });
  assert.deepEqual(retries.map((r) => r.attempt), [1, 2]);
  assert.ok(retries.every((r) => r.waitMs >= 0 && r.waitMs <= 5 * 2 ** (r.attempt - 1)), "jittered under the doubling ceiling");
});

test("4xx answers that cannot succeed again are not retried", async () => {
  let sent = 0;
  const c = new Client(srv.url, { token: admin, fetch: (i, init) => { sent++; return fetch(i, init); } });
  await assert.rejects(c.create(uniq(), { _bad: 1 }), (e: unknown) => e instanceof TruceError && e.status === 400);
  assert.equal(sent, 1);
});
