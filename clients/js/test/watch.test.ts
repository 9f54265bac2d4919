// The change feed as an async iterator, across a server crash and restart.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, EventsExpiredError, type ChangeEvent } from "../src/index.js";
import { startServer, uniq } from "./harness.js";

/** Waits until cond holds, failing after a generous bound instead of hanging. */
async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

test("watch yields events in order and resumes from the last one after the server crashes and restarts", async (t) => {
  const srv = await startServer(t);
  const c = new Client(srv.url, { retry: { baseDelayMs: 20, maxDelayMs: 200 } });
  const col = uniq();
  await c.put(col, "before", { n: 0 });
  const since = (await c.changes({ collection: col, since: 0 })).last;

  const seen: ChangeEvent[] = [];
  const want = 6;
  const consumer = (async () => {
    for await (const e of c.watch({ collection: col, since, types: ["document.created", "document.updated"] })) {
      seen.push(e);
      if (seen.length === want) break; // closes the stream
    }
  })();

  for (let i = 1; i <= 3; i++) await c.put(col, `w${i}`, { n: i });
  await until("the first three events", () => seen.length === 3);

  await srv.restart(); // SIGKILL: the stream breaks mid-flight
  for (let i = 4; i <= 6; i++) await c.put(col, `w${i}`, { n: i });
  await consumer;

  assert.deepEqual(seen.map((e) => e.id), ["w1", "w2", "w3", "w4", "w5", "w6"], "none lost, none twice, in order");
  assert.ok(seen.every((e, i) => i === 0 || e.seq > seen[i - 1].seq));
  assert.ok(seen.every((e) => e.type === "document.created" && e.collection === col));
  assert.deepEqual(seen[0].document?.n, 1);
});

test("watch without since starts from now; noDocument leaves documents out; abort ends it", async (t) => {
  const srv = await startServer(t);
  const c = new Client(srv.url);
  const col = uniq();
  await c.put(col, "old", { n: 0 });
  const ctl = new AbortController();
  const seen: ChangeEvent[] = [];
  const consumer = (async () => {
    for await (const e of c.watch({ collection: col, noDocument: true }, { signal: ctl.signal })) {
      seen.push(e);
      ctl.abort();
    }
  })();
  const ended = consumer.then(() => undefined, (e: unknown) => e);
  // The watch is connected once the server counts the subscriber; until
  // then, writing again and again makes sure one write lands after it.
  let i = 0;
  while (seen.length === 0) {
    await c.put(col, "new", { n: ++i });
    await new Promise((r) => setTimeout(r, 20));
  }
  const e = await ended;
  assert.ok(e instanceof Error && e.name === "AbortError", `the watch ended with ${e}`);
  assert.equal(seen[0].id, "new");
  assert.equal(seen[0].document, undefined);
});

test("a position the feed no longer keeps is EventsExpiredError", async (t) => {
  const srv = await startServer(t, { args: ["--event-retention", "200ms"] });
  const c = new Client(srv.url);
  const col = uniq();
  for (let i = 0; i < 3; i++) await c.put(col, `d${i}`, { i });
  let expired = false;
  await until("the feed to drop the first events", () => {
    c.changes({ since: 1 }).then(() => undefined, (e: unknown) => { expired ||= e instanceof EventsExpiredError; });
    return expired;
  });
  await assert.rejects(async () => {
    for await (const e of c.watch({ collection: col, since: 1 })) void e;
  }, EventsExpiredError);
});
