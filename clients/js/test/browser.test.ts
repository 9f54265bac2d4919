// The browser smoke test: the client bundled by esbuild, loaded by a page
// that a small Node server serves from another origin than truce's (so
// truce serve runs with --cors-origin), in headless Chromium. The page runs
// update against the server while a second writer forces a 412, and posts
// what happened back to the page's server, which the test reads.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { startServer } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "..", "..", "src", "index.ts"); // build-test/test → src

/** The Chromium to run: $CHROMIUM, else chromium or chromium-browser on PATH. */
function chromium(): string {
  for (const c of [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"]) {
    if (c && spawnSync(c, ["--version"], { stdio: "ignore" }).status === 0) return c;
  }
  throw new Error("no Chromium: install Debian's chromium package (apt-get install chromium) or set CHROMIUM to a Chrome or Chromium binary");
}

const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>truce smoke</title></head>
<body><pre id="out">running</pre>
<script type="module">
import { Client, PreconditionFailedError } from "./truce.js";
const server = new URLSearchParams(location.search).get("server");
const out = document.getElementById("out");
const report = async (r) => {
  out.textContent = JSON.stringify(r);
  await fetch("/result", { method: "POST", body: JSON.stringify(r) });
};
try {
  const c = new Client(server);
  const other = new Client(server);
  await c.put("smoke", "counter", { n: 0, note: "" });
  let calls = 0;
  const d = await c.update("smoke", "counter", async (data) => {
    calls++;
    if (calls === 1) await other.patch("smoke", "counter", { note: "from the other writer" });
    return { ...data, n: data.n + 1 };
  });
  let stale = "";
  try {
    await c.put("smoke", "counter", { n: -1 }, { ifMatch: '"1-1"' });
  } catch (e) {
    stale = (e instanceof PreconditionFailedError) + " " + e.code + " " + e.current?.version;
  }
  await report({ ok: true, calls, version: d.version, data: d.data, etag: d.etag, stale });
} catch (e) {
  await report({ ok: false, error: String(e && e.stack || e) });
}
</script></body></html>`;

test("in headless Chromium, a page runs update against the server across origins", async (t) => {
  const bin = chromium();
  // Removed by the last hook, once Chromium has exited: it writes its
  // profile until then.
  const dir = mkdtempSync(join(tmpdir(), "truce-js-browser-"));
  await build({ entryPoints: [src], bundle: true, format: "esm", platform: "browser", target: "es2022", outfile: join(dir, "truce.js"), logLevel: "silent" });

  let resolveResult!: (v: unknown) => void;
  const result = new Promise<unknown>((r) => { resolveResult = r; });
  const static_ = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "POST" && path === "/result") {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => { res.end(); resolveResult(JSON.parse(body)); });
      return;
    }
    if (path === "/" || path === "/index.html") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(page);
    } else if (path === "/truce.js") {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(join(dir, "truce.js")));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => static_.listen(0, "127.0.0.1", r));
  static_.unref(); // never the reason the test process lingers

  const origin = `http://127.0.0.1:${(static_.address() as { port: number }).port}`;
  const srv = await startServer(t, { args: ["--cors-origin", origin] });

  const browser = spawn(bin, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    `--user-data-dir=${join(dir, "profile")}`, `${origin}/?server=${encodeURIComponent(srv.url)}`,
  ], { stdio: ["ignore", "ignore", "pipe"], detached: true }); // its own process group: see t.after
  let log = "";
  browser.stderr!.on("data", (c) => { log += c; });
  const exited = new Promise((r) => browser.once("exit", r));
  t.after(async () => {
    // Chromium's helpers (renderer, crash handler) are its children and
    // keep writing into the profile after the main process is killed:
    // kill the whole group, then remove the directory.
    try {
      process.kill(-browser.pid!, "SIGKILL");
    } catch {
      browser.kill("SIGKILL"); // the group is gone already
    }
    await exited;
    static_.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  const r = await Promise.race([
    result,
    exited.then(() => { throw new Error(`chromium exited before the page reported:\n${log.slice(-2000)}`); }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`the page did not report within 90 s:\n${log.slice(-2000)}`)), 90_000).unref()),
  ]) as { ok: boolean; error?: string; calls: number; version: number; data: unknown; etag: string; stale: string };
  assert.ok(r.ok, r.error);
  assert.equal(r.calls, 2, "update ran fn again after the other writer's 412");
  assert.equal(r.version, 3);
  assert.deepEqual(r.data, { n: 1, note: "from the other writer" });
  assert.match(r.etag, /^"/, "the page could read the ETag header (exposed by CORS)");
  assert.equal(r.stale, "true precondition_failed 3");
});
