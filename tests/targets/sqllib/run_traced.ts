/**
 * Runs a SQL client under the SQL library instrumentation (through `runInstrumentation`)
 * for the SQL library tests: starts the
 * client with its stdin held open, waits until it is ready (its executable is mapped, and
 * it printed `ready` when asked to), attaches, then writes its input and collects the
 * statements and spans it gave until it exits.
 *
 * @module
 */
import {
  SqlLibInstrumentation,
  type SqlLibLocation,
  type SqlLibStatement,
  type SqlLibStats,
} from "../../../src/sqllib/mod.ts";
import { runInstrumentation, type RunResult } from "../run_instrumentation.ts";
import type { Span } from "../../../src/model/span.ts";

/** What to run. */
export interface TracedClient {
  cmd: string;
  args: string[];
  /** Written to stdin once the probes are attached; stdin is then closed. */
  input: string;
  /** Wait for a `ready` line on stdout before attaching. Default false. */
  readyLine?: boolean;
  env?: Record<string, string>;
}

/** What the session saw. */
export interface TracedRun {
  result: RunResult<SqlLibStats, SqlLibLocation>;
  spans: Span[];
  statements: SqlLibStatement[];
  stdout: string;
  stderr: string;
  success: boolean;
}

async function exeIs(pid: number, cmd: string): Promise<boolean> {
  try {
    const exe = await Deno.readLink(`/proc/${pid}/exe`);
    return exe === cmd || exe.endsWith(`/${cmd.split("/").pop()}`);
  } catch {
    return false;
  }
}

async function sleeping(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat.slice(stat.lastIndexOf(")") + 2).startsWith("S");
}

/** Runs `client` traced and returns what was seen. */
export async function runTraced(client: TracedClient): Promise<TracedRun> {
  const child = new Deno.Command(client.cmd, {
    args: client.args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    ...(client.env ? { env: client.env } : {}),
  }).spawn();
  const decoder = new TextDecoder();
  let stdout = "";
  let stderr = "";
  const errDone = (async () => {
    for await (const c of child.stderr) stderr += decoder.decode(c);
  })();
  const reader = child.stdout.getReader();
  const outDone = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      stdout += decoder.decode(value);
    }
  })();
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    // Its program running and, past the dynamic loader, waiting for its input.
    const ok = client.readyLine
      ? /^ready$/m.test(stdout)
      : await exeIs(child.pid, client.cmd) && await sleeping(child.pid);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = new AbortController();
  const spans: Span[] = [];
  const statements: SqlLibStatement[] = [];
  let ready!: () => void;
  const attached = new Promise<void>((r) => (ready = r));
  const sqllib = new SqlLibInstrumentation({
    onSpan: (s) => spans.push(s),
    onStatement: (s) => statements.push(s),
  });
  const done = runInstrumentation(sqllib, {
    pid: child.pid,
    signal: stop.signal,
    onReady: () => ready(),
    pollMs: 20,
  });
  const early = await Promise.race([attached.then(() => undefined), done]);
  const w = child.stdin.getWriter();
  if (!early) await w.write(new TextEncoder().encode(client.input));
  await w.close();
  const status = await child.status;
  await outDone;
  await errDone;
  stop.abort();
  const result = early ?? await done;
  return { result, spans, statements, stdout, stderr, success: status.success };
}

/** A span reduced to what the tests compare exactly. */
export interface SpanSummary {
  name: string;
  system: string;
  text: string;
  status: string;
  code?: string;
}

/** Reduces spans for exact comparison. */
export function summarize(spans: Span[]): SpanSummary[] {
  return spans.map((s) => {
    const a = s.attributes;
    const out: SpanSummary = {
      name: s.name,
      system: String(a["db.system.name"]),
      text: String(a["db.query.text"] ?? ""),
      status: s.status.code,
    };
    if (a["db.response.status_code"] !== undefined) out.code = String(a["db.response.status_code"]);
    return out;
  });
}
