// Locks: taking, renewing by itself past the TTL, writing with the token,
// 423 for others, the lost signal when the lock is broken, withLock.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Client, LockedError, LockLostError, NotFoundError, TruceError, Codes } from "../src/index.js";
import { startServer, uniq, type Server } from "./harness.js";

let srv: Server;
let c: Client;
before(async () => {
  srv = await startServer(undefined);
  c = new Client(srv.url);
});

test("a lock renews itself past its TTL, guards writes, and unlocks", async (t) => {
  const col = uniq();
  await c.put(col, "m", { v: 1 });
  const l = await c.lock(col, "m", { ttl: 900, owner: "alice" });
  t.after(() => l.detach()); // a held lock renews until unlock or detach
  assert.ok(l.token);
  assert.equal(l.info.owner, "alice");
  const first = Date.parse(l.info.expiresAt);

  // Writes to a locked document are retried after Retry-After like any
  // retryable answer; with retries off the 423 shows.
  const once = new Client(srv.url, { retry: { maxAttempts: 1 } });
  await assert.rejects(once.put(col, "m", { v: 2 }), (e: unknown) => {
    assert.ok(e instanceof LockedError);
    assert.equal(e.status, 423);
    assert.equal(e.owner, "alice");
    return true;
  });
  await assert.rejects(c.lock(col, "m"), LockedError, "another lock request fails at once (423 is final for lock)");

  // Past three TTLs the lock is still held, because it renewed itself.
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(l.error, undefined);
  assert.ok(Date.parse(l.info.expiresAt) > first, "expiresAt moved on");
  const held = await c.getLock(col, "m");
  assert.equal(held.owner, "alice");
  const renewed = await l.renew();
  assert.equal(renewed.owner, "alice");
  assert.ok(!("token" in renewed), "info never shows the token");

  const d = await c.put(col, "m", { v: 2 }, { lockToken: l.token });
  assert.equal(d.version, 2);
  await l.unlock();
  await assert.rejects(c.getLock(col, "m"), NotFoundError);
  assert.equal((await c.put(col, "m", { v: 3 })).version, 3);
});

test("a broken lock is lost: signal aborts, lost resolves, withLock rejects", async () => {
  const col = uniq();
  await c.put(col, "b", { v: 1 });
  let sawAbort = false;
  await assert.rejects(c.withLock(col, "b", async (l) => {
    l.signal.addEventListener("abort", () => { sawAbort = true; });
    await c.breakLock(col, "b");
    const err = await l.lost;
    assert.ok(err instanceof LockLostError);
    assert.ok(l.signal.aborted);
    return "done";
  }, { ttl: 300 }), LockLostError);
  assert.ok(sawAbort);

  const r = await c.withLock(col, "b", async (l) => {
    await c.put(col, "b", { v: 2 }, { lockToken: l.token });
    return 42;
  }, { ttl: "5s" });
  assert.equal(r, 42);
  await assert.rejects(c.getLock(col, "b"), NotFoundError, "withLock released it");
});

test("a queued lock request waits for the holder; renewLock and unlock by token", async () => {
  const col = uniq();
  const first = await c.lock(col, "q", { ttl: "10s", owner: "first" });
  const waiting = c.lock(col, "q", { wait: "5s", owner: "second" });
  await new Promise((r) => setTimeout(r, 100));
  await first.unlock();
  const second = await waiting;
  assert.equal(second.info.owner, "second");
  const info = await c.renewLock(col, "q", second.token, "20s");
  assert.equal(info.owner, "second");
  await assert.rejects(c.unlock(col, "q", first.token), (e: unknown) => e instanceof TruceError && e.code === Codes.LockTokenMismatch);
  await second.detach();
  await c.unlock(col, "q", second.token);
});
