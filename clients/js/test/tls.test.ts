// TLS: truce serve with --tls-cert and --tls-key, and the client in a Node
// that trusts the certificate's CA through NODE_EXTRA_CA_CERTS (read at
// start, hence a child process), with a bearer token.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, createToken, tempDir } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url));
const index = join(here, "..", "src", "index.js"); // the compiled client beside the compiled tests

const script = `
const { Client, UnauthorizedError } = await import(process.env.CLIENT);
const c = new Client(process.env.URL, { token: process.env.TOKEN, retry: { maxAttempts: 2, baseDelayMs: 1 } });
try {
  const d = await c.put("tls", "x", { a: 1 });
  const g = await c.get("tls", "x");
  let unauth = false;
  try { await new Client(process.env.URL).get("tls", "x"); } catch (e) { unauth = e instanceof UnauthorizedError; }
  console.log(JSON.stringify({ ok: true, version: d.version, data: g.data, by: g.updatedBy, unauth }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), cause: String(e.cause?.cause ?? e.cause ?? "") }));
}
`;

function run(env: Record<string, string>): { ok: boolean; error?: string; cause?: string; version?: number; data?: unknown; by?: string; unauth?: boolean } {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

test("over HTTPS with a bearer token; a CA the client does not trust fails", async (t) => {
  const dir = tempDir(t);
  const cert = join(dir, "cert.pem"), key = join(dir, "key.pem");
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  } catch (e) {
    throw new Error(`making a test certificate needs openssl (Debian: apt-get install openssl): ${e}`);
  }
  const authFile = join(dir, "auth.json");
  const token = createToken(authFile, "tls-writer", ["write:*"]);
  const srv = await startServer(t, { authFile, args: ["--tls-cert", cert, "--tls-key", key] });
  assert.match(srv.url, /^https:\/\//);

  const good = run({ CLIENT: index, URL: srv.url, TOKEN: token, NODE_EXTRA_CA_CERTS: cert });
  assert.ok(good.ok, good.error);
  assert.equal(good.version, 1);
  assert.deepEqual(good.data, { a: 1 });
  assert.equal(good.by, "tls-writer");
  assert.equal(good.unauth, true);

  const bad = run({ CLIENT: index, URL: srv.url, TOKEN: token, NODE_EXTRA_CA_CERTS: "" });
  assert.equal(bad.ok, false);
  assert.match(bad.error!, /RetryError|fetch failed/);
  assert.match(bad.cause!, /certificate|self.signed/i);
});
