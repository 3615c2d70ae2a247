/**
 * Runs the agent the way a user does — `deno run -A mod.ts …` as a child process — and
 * collects what it prints: spans from stdout (`--format json`), status from stderr.
 *
 * @module
 */

import { tied } from "./targets/tied.ts";

const MOD = new URL("../mod.ts", import.meta.url).pathname;

/** A span as the JSON contract prints it. */
export interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Record<string, string | number | boolean>;
  status: { code: string; message?: string };
  resource: Record<string, string | number | boolean>;
}

/** A running agent. */
export interface Agent extends AsyncDisposable {
  pid: number;
  /** Spans printed so far. */
  spans: JsonSpan[];
  /** Stderr so far. */
  stderr(): string;
  /** Stdout so far (with `raw`, the only record of it). */
  stdout(): string;
  /** Resolves when `count` spans matching `pred` have been printed (or rejects on timeout). */
  waitForSpans(
    pred: (s: JsonSpan) => boolean,
    count: number,
    timeoutMs?: number,
  ): Promise<JsonSpan[]>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** The exit status once it has ended. */
  status: Promise<Deno.CommandStatus>;
}

/** Options for {@link startAgent}. */
export interface AgentOptions {
  /** Stdout is not JSON spans (e.g. `--dump`): keep it as text only. Default false. */
  raw?: boolean;
  /** How long to wait for the `ready` line. Default 20 s. */
  timeoutMs?: number;
  /** More environment variables for the agent (on top of this process's). */
  env?: Record<string, string>;
}

/**
 * The suite's agents start without the warm-up (`UPSPAN_WARM_UP=0`) unless a test's `env`
 * asks for it: its 0.4 s of CPU at each start, with two test files' targets and agents on
 * two cores, pushed tests that race an agent's start past their margins (a paced curl done
 * before the Go server's probes were in). `src/warm_up_test.ts` and the tests that set it
 * cover the warm-up.
 */
const SUITE_ENV = { UPSPAN_WARM_UP: "0" };

/** Runs the agent with `args` and waits for its `ready` line. */
export async function startAgent(args: string[], opts: AgentOptions = {}): Promise<Agent> {
  // The suite runs two files at a time on two cores: an agent placing probes in three Go
  // processes there has needed more than 20 s to get ready (2–3.5 s alone).
  const timeoutMs = opts.timeoutMs ?? 45_000;
  const [cmd, argv] = tied([Deno.execPath(), "run", "-A", MOD, "--format", "json", ...args]);
  const child = new Deno.Command(cmd, {
    args: argv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { ...SUITE_ENV, ...opts.env, NO_COLOR: "1" },
  }).spawn();
  const spans: JsonSpan[] = [];
  let out = "";
  let err = "";
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const waiters = new Set<() => void>();

  const outDone = (async () => {
    let buf = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += text;
      if (opts.raw) continue;
      buf += text;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) spans.push(JSON.parse(line));
      }
      for (const w of waiters) w();
    }
  })();
  const errDone = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      err += text;
      if (/^ready/m.test(err)) readyResolve();
    }
  })();

  // Ended once what it printed has been read too: its last lines come with its exit.
  const status = child.status.then(async (s) => {
    await Promise.all([outDone, errDone]);
    return s;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = await Promise.race([
    ready.then(() => false),
    status.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (failed) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await status;
    throw new Error(`agent did not become ready:\n${err}`);
  }

  const stop = async (signal: Deno.Signal = "SIGINT") => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    return (await status).code;
  };
  return {
    pid: child.pid,
    spans,
    stderr: () => err,
    stdout: () => out,
    status,
    stop,
    waitForSpans(pred, count, wait = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = spans.filter(pred);
          if (found.length >= count) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(found);
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${count} spans; have ${
                JSON.stringify(spans, null, 1)
              }\nstderr:\n${err}`,
            ),
          );
        }, wait);
        waiters.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}

/** Runs the agent to completion and returns its exit code and output. */
export async function runAgent(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = tied([Deno.execPath(), "run", "-A", MOD, ...args]);
  const out = await new Deno.Command(cmd, {
    args: argv,
    stdin: "null",
    env: { ...env, NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `curl -sk` with extra args; returns stdout. */
export async function curl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", { args: ["-sk", ...args], stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`curl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}
