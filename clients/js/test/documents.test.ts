// Documents, collections, history, conflicts and queries against a real server.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import {
  Client, NotFoundError, AlreadyExistsError, PreconditionFailedError, VersionConflictError,
  MergeConflictError, UniqueViolationError, InvalidRequestError, TruceError, Codes,
} from "../src/index.js";
import { startServer, uniq, collect, type Server } from "./harness.js";

let srv: Server;
let c: Client;
before(async () => {
  srv = await startServer(undefined);
  c = new Client(srv.url);
});

test("the constructor refuses base URLs it cannot use", () => {
  assert.throws(() => new Client("ftp://x"), TypeError);
  assert.throws(() => new Client("http://h/?q=1"), TypeError);
  assert.throws(() => new Client("not a url"), TypeError);
  assert.equal(new Client("http://127.0.0.1:1/prefix/").baseURL, "http://127.0.0.1:1/prefix");
});

test("create, get, 304, put with If-Match, patch (merge and JSON), delete", async () => {
  const col = uniq();
  const d = await c.create(col, { _id: "n1", title: "Groceries", items: ["milk"] });
  assert.equal(d.id, "n1");
  assert.equal(d.version, 1);
  assert.match(d.etag, /^"/);
  assert.deepEqual(d.data, { title: "Groceries", items: ["milk"] });
  assert.ok(d.createdAt instanceof Date);

  const g = await c.get(col, "n1");
  assert.ok(g);
  assert.equal(g.etag, d.etag);
  assert.equal(await c.get(col, "n1", { ifNoneMatch: d.etag }), null, "304 resolves null");

  const p = await c.put(col, "n1", { title: "Shopping", items: ["milk"] }, { ifMatch: d.etag });
  assert.equal(p.version, 2);
  await assert.rejects(c.put(col, "n1", { title: "stale" }, { ifMatch: d.etag }), (e: unknown) => {
    assert.ok(e instanceof PreconditionFailedError);
    assert.equal(e.status, 412);
    assert.equal(e.code, Codes.PreconditionFailed);
    assert.equal(e.retryable, true);
    assert.equal(e.current?.version, 2);
    assert.equal(e.current?.etag, p.etag);
    assert.deepEqual(e.current?.data, { title: "Shopping", items: ["milk"] });
    return true;
  });
  await assert.rejects(c.put(col, "n1", { title: "stale" }, { version: 1 }), (e: unknown) => {
    assert.ok(e instanceof VersionConflictError);
    assert.equal(e.status, 409);
    assert.equal(e.current?.version, 2);
    assert.ok(e.isConflict);
    return true;
  });

  const m = await c.patch(col, "n1", { items: ["milk", "eggs"] }, { ifMatch: p.etag });
  assert.deepEqual(m.data.items, ["milk", "eggs"]);
  const j = await c.patch(col, "n1", [{ op: "test", path: "/title", value: "Shopping" }, { op: "replace", path: "/title", value: "List" }], { version: 3 });
  assert.equal(j.data.title, "List");
  assert.equal(j.version, 4);
  await assert.rejects(c.patch(col, "n1", [{ op: "test", path: "/title", value: "nope" }]), (e: unknown) =>
    e instanceof TruceError && e.code === Codes.PatchTestFailed);

  await c.delete(col, "n1", { ifMatch: j.etag });
  await assert.rejects(c.get(col, "n1"), NotFoundError);
  const again = await c.put(col, "n1", { title: "back" }, { ifNoneMatch: "*" });
  assert.equal(again.version, 6, "re-creating continues from the tombstone's version");
});

test("errors carry their code: already_exists, bad input, unique_violation", async () => {
  const col = uniq();
  await c.create(col, { _id: "a" });
  await assert.rejects(c.create(col, { _id: "a" }), AlreadyExistsError);
  await assert.rejects(c.create(col, { _secret: 1 }), (e: unknown) => e instanceof InvalidRequestError && e.code === Codes.ReservedField && e.status === 400);
  const u = uniq();
  await c.putCollection(u, { unique: ["email"] });
  await c.put(u, "ann", { email: "a@x" });
  await assert.rejects(c.put(u, "bob", { email: "a@x" }), UniqueViolationError);
});

test("list pages through a collection in id order", async () => {
  const col = uniq();
  for (let i = 0; i < 7; i++) await c.put(col, `d${i}`, { i });
  const all = await collect(c.list(col, { pageSize: 3 }));
  assert.deepEqual(all.map((d) => d.id), ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
  assert.ok(all.every((d) => d.version === 1 && d.collection === col));
});

test("a create retried after a lost answer is applied once (automatic Idempotency-Key)", async () => {
  const col = uniq();
  let calls = 0;
  const keys: string[] = [];
  const lossy = new Client(srv.url, {
    retry: { baseDelayMs: 1 },
    fetch: async (input, init) => {
      keys.push(new Headers(init?.headers).get("Idempotency-Key") ?? "");
      const resp = await fetch(input, init);
      if (++calls === 1) {
        await resp.arrayBuffer();
        throw new TypeError("fetch failed"); // the server applied it; the answer was lost
      }
      return resp;
    },
  });
  const d = await lossy.create(col, { n: 1 });
  assert.equal(calls, 2);
  assert.equal(keys[0], keys[1]);
  assert.ok(keys[0].length > 0);
  const all = await collect(c.list(col));
  assert.deepEqual(all.map((x) => x.id), [d.id], "one document, not two");
});

test("collections: put, get, list, delete with force", async () => {
  const col = uniq();
  const s = await c.putCollection(col, { conflictPolicy: "merge", historyLimit: 10 });
  assert.equal(s.name, col);
  assert.equal(s.settings.conflictPolicy, "merge");
  await c.put(col, "x", { a: 1 });
  const g = await c.getCollection(col);
  assert.equal(g.counts.documents, 1);
  assert.ok((await c.listCollections()).some((x) => x.name === col));
  await assert.rejects(c.deleteCollection(col), (e: unknown) => e instanceof TruceError && e.code === Codes.NotEmpty);
  await c.deleteCollection(col, { force: true });
  await assert.rejects(c.getCollection(col), NotFoundError);
});

test("history: versions, version, diff, restore", async () => {
  const col = uniq();
  await c.put(col, "h", { title: "one" });
  await c.put(col, "h", { title: "two", extra: true });
  const vs = await collect(c.versions(col, "h", { pageSize: 1 }));
  assert.deepEqual(vs.map((v) => v.version), [2, 1]);
  const v1 = await c.version(col, "h", 1);
  assert.deepEqual(v1.data, { title: "one" });
  const ops = await c.diff(col, "h", 1, 2);
  assert.ok(ops.some((o) => o.op === "replace" && o.path === "/title" && o.value === "two"));
  const r = await c.restore(col, "h", 1, { version: 2 });
  assert.equal(r.version, 3);
  assert.deepEqual(r.data, { title: "one" });
  await assert.rejects(c.restore(col, "h", 1, { version: 2 }), VersionConflictError);
});

test("merge policy merges, manual policy records a conflict to resolve or dismiss", async () => {
  const mcol = uniq();
  await c.putCollection(mcol, { conflictPolicy: "merge" });
  await c.put(mcol, "p", { title: "Plan", body: "draft" });
  await c.put(mcol, "p", { title: "Plan v2", body: "draft" }, { version: 1 });
  const merged = await c.put(mcol, "p", { title: "Plan", body: "final" }, { version: 1 });
  assert.deepEqual(merged.merged, { base: 1, current: 2 });
  assert.deepEqual(merged.data, { title: "Plan v2", body: "final" });
  await assert.rejects(c.put(mcol, "p", { title: "Other", body: "final" }, { version: 1 }), (e: unknown) => {
    assert.ok(e instanceof MergeConflictError);
    assert.deepEqual(e.conflicts?.map((p) => p.path), ["/title"]);
    return true;
  });

  const col = uniq();
  await c.putCollection(col, { conflictPolicy: "manual" });
  await c.put(col, "p", { title: "A" });
  await c.put(col, "p", { title: "B" }, { version: 1 });
  let cid = "";
  await assert.rejects(c.put(col, "p", { title: "C" }, { version: 1 }), (e: unknown) => {
    assert.ok(e instanceof MergeConflictError);
    assert.ok(e.conflictId);
    cid = e.conflictId!;
    return true;
  });
  const open = await collect(c.conflicts({ collection: col, status: "open" }));
  assert.deepEqual(open.map((x) => x.id), [cid]);
  const one = await c.conflict(cid);
  assert.equal(one.docId, "p");
  assert.deepEqual(one.paths.map((p) => p.path), ["/title"]);
  const cur = await c.get(col, "p");
  const res = await c.resolve(cid, "take-proposed", { ifMatch: cur!.etag });
  assert.equal(res.data.title, "C");
  assert.equal((await c.conflict(cid)).status, "resolved");

  await assert.rejects(c.put(col, "p", { title: "D" }, { version: 1 }), MergeConflictError);
  const [second] = await collect(c.conflicts({ collection: col, status: "open" }));
  const dismissed = await c.dismiss(second.id);
  assert.equal(dismissed.status, "dismissed");
});

test("queries page through an index; changes continue from asOf", async () => {
  const col = uniq();
  await c.putCollection(col, { indexes: [["status", "total"]] });
  for (let i = 0; i < 5; i++) await c.put(col, `o${i}`, { status: i % 2 ? "open" : "done", total: i * 10 });
  const q = { where: { status: "open" }, orderBy: [{ field: "total" }], limit: 1 };
  const page = await c.queryPage(col, q);
  assert.equal(page.items.length, 1);
  assert.ok(page.next);
  assert.ok(page.asOf > 0);
  const docs = await collect(c.query(col, q));
  assert.deepEqual(docs.map((d) => d.id), ["o1", "o3"]);
  assert.ok(docs.every((d) => d.etag.startsWith('"')), "query items carry _etag");
  await assert.rejects(c.queryPage(col, { where: { color: "red" } }), (e: unknown) => e instanceof TruceError && e.code === Codes.IndexRequired);

  await c.put(col, "o9", { status: "open", total: 90 });
  const ch = await c.changes({ collection: col, since: page.asOf }, { limit: 10 });
  assert.deepEqual(ch.items.map((e) => [e.type, e.id]), [["document.created", "o9"]]);
  assert.ok(ch.last >= ch.items[0].seq);
  const empty = await c.changes({ collection: col, since: ch.last }, { waitMs: 50 });
  assert.deepEqual(empty.items, []);
});

test("an aborted signal stops a call", async () => {
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(c.get(uniq(), "x", { signal: ctl.signal }), (e: unknown) => e instanceof Error && e.name === "AbortError");
});
