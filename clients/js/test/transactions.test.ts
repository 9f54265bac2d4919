// Atomic batches and interactive transactions.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import {
  Client, Batch, VersionConflictError, TransactionConflictError, NotFoundError, TruceError,
} from "../src/index.js";
import { startServer, uniq, type Server } from "./harness.js";

let srv: Server;
let c: Client;
before(async () => {
  srv = await startServer(undefined);
  c = new Client(srv.url);
});

test("a batch applies all its ops, or none with failedOp", async () => {
  const acc = uniq(), led = uniq();
  const a = await c.put(acc, "a", { balance: 100 });
  const b = await c.put(acc, "b", { balance: 100 });
  const res = await c.batch(new Batch()
    .check(acc, "a", { ifMatch: a.etag })
    .patch(acc, "a", { balance: 70 }, { ifMatch: a.etag })
    .put(acc, "b", { balance: 130 }, { version: b.version })
    .create(led, { from: "a", to: "b", amount: 30 }));
  assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 201]);
  assert.equal(res[1].doc?.data.balance, 70);
  assert.equal(res[1].doc?.collection, acc);
  assert.match(res[1].doc!.etag, /^"/);
  assert.equal(res[3].doc?.collection, led);

  await assert.rejects(c.batch(new Batch()
    .patch(acc, "b", [{ op: "replace", path: "/balance", value: 0 }])
    .put(acc, "a", { balance: 0 }, { version: 1 })), (e: unknown) => {
    assert.ok(e instanceof VersionConflictError);
    assert.equal(e.failedOp, 1);
    return true;
  });
  assert.equal((await c.get(acc, "b"))!.data.balance, 130, "nothing was applied");
  await c.batch(new Batch().delete(acc, "b"));
  await assert.rejects(c.get(acc, "b"), NotFoundError);
  await assert.rejects(c.batch(new Batch()), TypeError);
});

test("an interactive transaction stages writes and commits them at once", async () => {
  const col = uniq();
  await c.put(col, "a", { balance: 100 });
  await c.put(col, "b", { balance: 0 });
  const tx = await c.beginTransaction({ ttl: "30s" });
  assert.ok(tx.id);
  const a = await tx.get<{ balance: number }>(col, "a");
  await tx.put(col, "a", { balance: a.data.balance - 40 });
  await tx.patch(col, "b", { balance: 40 });
  const staged = await tx.create(col, { _id: "log", amount: 40 });
  assert.equal(staged.data.amount, 40);
  assert.equal((await c.get<{ balance: number }>(col, "a"))!.data.balance, 100, "others do not see staged writes");
  const results = await tx.commit();
  assert.equal(results.length, 3);
  assert.equal(results[0].doc?.collection, col);
  assert.equal((await c.get<{ balance: number }>(col, "a"))!.data.balance, 60);
  assert.equal((await c.get<{ balance: number }>(col, "b"))!.data.balance, 40);

  const tx2 = await c.beginTransaction();
  await tx2.delete(col, "log");
  await tx2.rollback();
  assert.ok(await c.get(col, "log"), "rolled back");
});

test("a commit meets transaction_conflict when a read document changed; runTransaction runs fn again", async () => {
  const col = uniq();
  await c.put(col, "x", { n: 1 });
  const tx = await c.beginTransaction();
  await tx.get(col, "x");
  await tx.put(col, "y", { copy: 1 });
  await c.put(col, "x", { n: 2 });
  await assert.rejects(tx.commit(), (e: unknown) => {
    assert.ok(e instanceof TransactionConflictError);
    assert.deepEqual(e.changed, [{ collection: col, id: "x" }]);
    return true;
  });

  let runs = 0;
  const out = await c.runTransaction(async (t) => {
    runs++;
    const x = await t.get<{ n: number }>(col, "x");
    if (runs === 1) await c.put(col, "x", { n: 10 }); // another writer, between read and commit
    await t.put(col, "y", { copy: x.data.n });
    return x.data.n;
  });
  assert.equal(runs, 2);
  assert.equal(out, 10);
  assert.equal((await c.get<{ copy: number }>(col, "y"))!.data.copy, 10);

  await assert.rejects(c.runTransaction(async () => { throw new TruceError({ method: "X", path: "/", status: 400, code: "nope" }); }),
    (e: unknown) => e instanceof TruceError && e.code === "nope", "other errors end it at once");
});
