// update: read, apply, write conditionally, and on a conflict re-apply to
// the current document the error carries, without another read.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { Client, NotFoundError, RetryError, PreconditionFailedError, Codes, errorCode } from "../src/index.js";
import { startServer, uniq, countingFetch, type Server } from "./harness.js";

let srv: Server;
let c: Client;
before(async () => {
  srv = await startServer(undefined);
  c = new Client(srv.url);
});

test("update applies fn to the current document and writes it with If-Match", async () => {
  const col = uniq();
  await c.put(col, "n", { count: 1, tags: ["a"] });
  const seen: unknown[] = [];
  const d = await c.update<{ count: number; tags: string[] }>(col, "n", (data) => {
    seen.push(structuredClone(data));
    data!.tags.push("b");
    return { ...data!, count: data!.count + 1 };
  });
  assert.deepEqual(seen, [{ count: 1, tags: ["a"] }]);
  assert.equal(d.version, 2);
  assert.deepEqual(d.data, { count: 2, tags: ["a", "b"] });
});

test("a second writer forcing 412s: update retries from the problem's current, with no extra GET", async () => {
  const col = uniq();
  await c.put(col, "n", { count: 0, other: 0 });
  const other = new Client(srv.url);
  let interfere = 3;
  const { fetch: f, counts } = countingFetch(async (method) => {
    if (method === "PUT" && interfere > 0) {
      interfere--;
      // Another writer gets in between this client's read and its write.
      await other.patch(col, "n", [{ op: "replace", path: "/other", value: 3 - interfere }]);
    }
  });
  const mine = new Client(srv.url, { fetch: f });
  let calls = 0;
  const d = await mine.update<{ count: number; other: number }>(col, "n", (data) => {
    calls++;
    return { ...data!, count: data!.count + 1 };
  });
  assert.equal(calls, 4, "fn ran once per attempt: 3 conflicts, then success");
  assert.equal(counts.GET, 1, "the retries used the current document of the 412, not a GET");
  assert.equal(counts.PUT, 4);
  assert.deepEqual(d.data, { count: 1, other: 3 }, "the other writer's changes are kept");
  assert.equal(d.version, 5);
});

test("concurrent updates lose nothing", async () => {
  const col = uniq();
  await c.put(col, "ctr", { n: 0 });
  const clients = Array.from({ length: 4 }, () => new Client(srv.url));
  const per = 10;
  await Promise.all(clients.map(async (cl) => {
    for (let i = 0; i < per; i++) await cl.update<{ n: number }>(col, "ctr", (d) => ({ n: d!.n + 1 }));
  }));
  const d = await c.get<{ n: number }>(col, "ctr");
  assert.equal(d!.data.n, clients.length * per);
  assert.equal(d!.version, 1 + clients.length * per);
});

test("createIfMissing creates with If-None-Match: *; without it a missing document is NotFoundError", async () => {
  const col = uniq();
  await assert.rejects(c.update(col, "new", (d) => d ?? {}), NotFoundError);
  const d = await c.update<{ n: number }>(col, "new", (data) => ({ n: (data?.n ?? 0) + 1 }), { createIfMissing: true });
  assert.equal(d.version, 1);
  assert.equal(d.data.n, 1);
  const d2 = await c.update<{ n: number }>(col, "new", (data) => ({ n: (data?.n ?? 0) + 1 }), { createIfMissing: true });
  assert.equal(d2.data.n, 2);
});

test("useVersion sends _version, so a merge collection merges a stale update", async () => {
  const col = uniq();
  await c.putCollection(col, { conflictPolicy: "merge" });
  await c.put(col, "m", { a: 0, b: 0 });
  const other = new Client(srv.url);
  let once = true;
  const { fetch: f } = countingFetch(async (method) => {
    if (method === "PUT" && once) {
      once = false;
      await other.patch(col, "m", { b: 1 });
    }
  });
  const d = await new Client(srv.url, { fetch: f }).update<{ a: number; b: number }>(col, "m", (x) => ({ ...x!, a: 1 }), { useVersion: true });
  assert.deepEqual(d.data, { a: 1, b: 1 });
  assert.deepEqual(d.merged, { base: 1, current: 2 });
});

test("fn that throws aborts update and writes nothing; conflictRetries bounds the retries", async () => {
  const col = uniq();
  await c.put(col, "x", { v: 1 });
  await assert.rejects(c.update(col, "x", () => { throw new Error("no"); }), /no/);
  assert.equal((await c.get(col, "x"))!.version, 1);

  const other = new Client(srv.url);
  const { fetch: f } = countingFetch(async (method) => {
    if (method === "PUT") await other.patch(col, "x", { v: Math.random() });
  });
  await assert.rejects(new Client(srv.url, { fetch: f }).update(col, "x", (d) => d!, { conflictRetries: 2 }), (e: unknown) => {
    assert.ok(e instanceof RetryError);
    assert.equal(e.attempts, 3);
    assert.ok(e.cause instanceof PreconditionFailedError);
    assert.equal(errorCode(e), Codes.PreconditionFailed);
    return true;
  });
});
