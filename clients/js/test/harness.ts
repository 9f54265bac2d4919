// The test harness: a real `truce serve` (the binary `npm test` builds with
// go build into build-test/truce) on 127.0.0.1 with its data in a temporary
// directory, and tokens made by `truce token create`.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestContext } from "node:test";

const here = dirname(fileURLToPath(import.meta.url));

/** The truce binary: $TRUCE_BIN, else the one `npm test` builds. */
export function truceBin(): string {
  const bin = process.env.TRUCE_BIN || join(here, "..", "truce");
  if (!existsSync(bin)) {
    throw new Error(`no truce binary at ${bin}: run the tests with npm test (it builds one with go build; install Go), or set TRUCE_BIN`);
  }
  return bin;
}

/** A running truce serve. */
export interface Server {
  url: string;
  addr: string;
  dataDir: string;
  proc: ChildProcess;
  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same address and data. */
  restart(): Promise<void>;
}

/** Options of startServer. */
export interface ServerOptions {
  authFile?: string;
  args?: string[];
}

/**
 * Runs fn when the test t ends, or, without a test (a server of a whole
 * file, started in before), when the process exits: node:test's after()
 * called inside a before hook would run at the end of that hook.
 */
function cleanup(t: TestContext | undefined, fn: () => void | Promise<void>): void {
  if (t) t.after(fn);
  else process.on("exit", () => void fn());
}

/** A fresh temporary directory, removed when the test ends. */
export function tempDir(t: TestContext | undefined, prefix = "truce-js-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanup(t, () => rmSync(d, { recursive: true, force: true, maxRetries: 5 }));
  return d;
}

/** Starts truce serve on a free port of 127.0.0.1 with its data in a temporary directory; it is killed when the test ends. */
export async function startServer(t: TestContext | undefined, opts: ServerOptions = {}): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), "truce-js-data-"));
  const s: Server = {
    url: "", addr: "127.0.0.1:0", dataDir, proc: undefined as unknown as ChildProcess,
    async kill() {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
      const exited = new Promise((r) => s.proc.once("exit", r));
      s.proc.kill("SIGKILL");
      await exited;
    },
    async restart() {
      await s.kill();
      await launch();
    },
  };
  const launch = async () => {
    const args = ["serve", "--addr", s.addr, "--data", dataDir, ...(opts.args ?? [])];
    if (opts.authFile) args.push("--auth-file", opts.authFile);
    const proc = spawn(truceBin(), args, { stdio: ["ignore", "ignore", "pipe"] });
    s.proc = proc;
    let log = "";
    let scheme = "http";
    s.addr = await new Promise<string>((resolve, reject) => {
      proc.stderr!.setEncoding("utf8");
      proc.stderr!.on("data", (chunk: string) => {
        log += chunk;
        const m = /msg=listening addr=(\S+) scheme=(\w+)/.exec(log);
        if (m) {
          scheme = m[2];
          resolve(m[1]);
        }
      });
      proc.once("exit", (code) => reject(new Error(`truce serve exited (${code}) before listening:\n${log}`)));
      proc.once("error", reject);
    });
    proc.stderr!.resume();
    if (!t) {
      // A server of a whole file must not keep its process alive: it is
      // killed at exit. A test's server is killed (and awaited) by the
      // test's after hook.
      proc.unref();
      (proc.stderr as unknown as { unref?: () => void }).unref?.();
    }
    s.url = `${scheme}://${s.addr}`;
  };
  await launch();
  // Kill first, then remove the data: the server writes to it until it
  // is gone.
  cleanup(t, async () => {
    if (t) await s.kill();
    else s.proc.kill("SIGKILL");
    try {
      rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // at exit the killed server may still be going; it is a temporary directory
    }
  });
  return s;
}

/** Creates a token in authFile with `truce token create` and returns it. */
export function createToken(authFile: string, name: string, scopes: string[], extra: string[] = []): string {
  const args = ["token", "create", "--auth-file", authFile, "--name", name, ...scopes.flatMap((s) => ["--scope", s]), ...extra];
  return execFileSync(truceBin(), args, { encoding: "utf8" }).trim();
}

/** A unique name for a collection of one test. */
let n = 0;
export function uniq(prefix = "c"): string {
  return `${prefix}${process.pid.toString(36)}${(n++).toString(36)}`;
}

/** Collects an async iterator into an array. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A fetch that counts requests by method and lets a test act before a request is sent. */
export function countingFetch(before?: (method: string, url: string, init?: RequestInit) => Promise<void> | void) {
  const counts: Record<string, number> = {};
  const f: typeof fetch = async (input, init) => {
    const method = (init?.method ?? "GET").toUpperCase();
    counts[method] = (counts[method] ?? 0) + 1;
    await before?.(method, String(input), init);
    return fetch(input, init);
  };
  return { fetch: f, counts };
}
