/**
 * What the overhead benchmarks share: load generators' figures, an upspan agent run under
 * load (spans counted on its stdout, its CPU and peak RSS sampled from /proc), and the
 * statistics of alternated rounds.
 *
 * @module
 */

const MOD = new URL("../../mod.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const TICK = 100; // USER_HZ: clock ticks per second in /proc/PID/stat

/** wrk's requests and requests per second. */
export interface WrkResult {
  requests: number;
  rps: number;
}

/** `wrk -tT -cC -dSs url`; throws when wrk fails or sees non-2xx answers. */
export async function wrk(
  url: string,
  seconds: number,
  opts: { threads?: number; connections?: number } = {},
): Promise<WrkResult> {
  const args = [`-t${opts.threads ?? 1}`, `-c${opts.connections ?? 4}`, `-d${seconds}s`, url];
  const out = await new Deno.Command("wrk", { args, stdout: "piped", stderr: "piped" }).output();
  const text = dec.decode(out.stdout);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  if (!out.success || !Number.isFinite(rps) || /Non-2xx/.test(text)) {
    throw new Error(`wrk ${args.join(" ")} failed:\n${text}${dec.decode(out.stderr)}`);
  }
  return { requests, rps };
}

/** CPU seconds a process has used (user + system); 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of each of a process's threads, by `name/tid`: the scheduler's run time in
 * nanoseconds (`schedstat`), as `stat`'s 10 ms ticks are too coarse for a few seconds.
 */
export function threadCpuSeconds(pid: number | "self"): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const name = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/comm`).trim();
      const run = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0];
      out.set(`${name}/${t.name}`, Number(run) / 1e9);
    } catch { /* the thread ended */ }
  }
  return out;
}

/** The same, summed over the threads. */
export function schedCpuSeconds(pid: number | "self"): number {
  let total = 0;
  for (const s of threadCpuSeconds(pid).values()) total += s;
  return total;
}

/**
 * Resident memory in KiB (0 once the process is gone): all of it (`VmRSS`), or only the
 * process's own anonymous pages (`RssAnon`: not the executable's pages, which a Deno
 * process shares with every other).
 */
export function rssKb(pid: number, which: "VmRSS" | "RssAnon" = "VmRSS"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${which}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** What an agent run reported. */
export interface AgentReport {
  /** Span lines printed. */
  spans: number;
  /** Its stderr: the `ready` and `stopped` lines with the probe-hit counters. */
  stderr: string;
  /** CPU seconds used between `ready` and the stop. */
  cpuSeconds: number;
  /** Peak resident memory while running, KiB. */
  rssKb: number;
  /** Peak anonymous resident memory (its own, without the executable's pages), KiB. */
  anonKb: number;
  /** The `ready` line's parenthesis, e.g. `4 tracepoints, syscalls via tp_btf`. */
  ready: string;
}

/** A running agent: `stop()` sends SIGINT and returns what it saw. */
export interface AgentRun {
  pid: number;
  /** Span lines printed and CPU seconds used since `ready`, so far. */
  sample(): { spans: number; cpuSeconds: number };
  stop(): Promise<AgentReport>;
}

/**
 * Starts `upspan ARGS --format json` and waits for its `ready` line. `env` adds to the
 * agent's environment (`UPSPAN_SYSCALL_ATTACH`), `denoFlags` to Deno's (`--inspect=…`).
 */
export async function startUpspan(
  args: string[],
  env: Record<string, string> = {},
  denoFlags: string[] = [],
): Promise<AgentRun> {
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", ...denoFlags, "-A", MOD, ...args, "--format", "json"],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let spans = 0;
  const counting = (async () => {
    // Natively: a byte-by-byte loop here took CPU from the load the agent is measured under.
    for await (const chunk of agent.stdout) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) spans++;
    }
  })();
  let err = "";
  const errs = (async () => {
    for await (const t of agent.stderr.pipeThrough(new TextDecoderStream())) err += t;
  })();
  const deadline = Date.now() + 30_000;
  while (!/^ready/m.test(err)) {
    if (Date.now() > deadline) {
      agent.kill("SIGKILL");
      throw new Error(`upspan did not get ready:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const cpu0 = cpuSeconds(agent.pid);
  let peak = rssKb(agent.pid), peakAnon = rssKb(agent.pid, "RssAnon");
  const sample = () => {
    peak = Math.max(peak, rssKb(agent.pid));
    peakAnon = Math.max(peakAnon, rssKb(agent.pid, "RssAnon"));
  };
  const sampler = setInterval(sample, 200);
  return {
    pid: agent.pid,
    sample: () => ({ spans, cpuSeconds: cpuSeconds(agent.pid) - cpu0 }),
    async stop() {
      clearInterval(sampler);
      const cpu = cpuSeconds(agent.pid) - cpu0;
      sample();
      // The spans of the last requests are still being assembled and printed.
      await new Promise((r) => setTimeout(r, 300));
      agent.kill("SIGINT");
      await agent.status;
      await counting;
      await errs;
      const ready = /^ready: .*\((.*)\)$/m.exec(err)?.[1] ?? "";
      return { spans, stderr: err, cpuSeconds: cpu, rssKb: peak, anonKb: peakAnon, ready };
    },
  };
}

/** The agent's counters from its `stopped` line. */
export function agentCounters(stderr: string): {
  write: number;
  read: number;
  readReturn: number;
  library: number;
  syscalls: number;
  dropped: number;
} {
  const m =
    /probe hits: (\d+) write, (\d+) read, (\d+) read-return, (\d+) Go and SQL library, (\d+) socket syscalls; (\d+) dropped/
      .exec(stderr);
  const [write = 0, read = 0, readReturn = 0, library = 0, syscalls = 0, dropped = 0] =
    (m?.slice(1) ?? []).map(Number);
  return { write, read, readReturn, library, syscalls, dropped };
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1]!;
};

/**
 * HTTP/2 load: h2load, 60,000 requests over 60 connections of 10 concurrent streams each
 * (nginx closes an HTTP/2 connection after 1,000 requests, `keepalive_requests`, and
 * h2load does not reconnect: a timed run would stop early).
 */
export async function h2load(url: string): Promise<WrkResult> {
  const out = await new Deno.Command("h2load", {
    args: ["-n60000", "-c60", "-m10", "-t1", url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = dec.decode(out.stdout);
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text)?.[1] ?? NaN);
  const requests = Number(
    /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(text)?.[1] ?? NaN,
  );
  if (!out.success || !Number.isFinite(rps)) {
    throw new Error(`h2load failed:\n${text}${dec.decode(out.stderr)}`);
  }
  return { requests, rps };
}

/** The V8 flags `./upspan` gives the agent (its `AGENT_V8_FLAGS`), read from the script. */
export function agentV8Flags(): string {
  const script = Deno.readTextFileSync(new URL("../../upspan", import.meta.url));
  const flags = /^AGENT_V8_FLAGS="\$\{DENO_V8_FLAGS:-([^}"]*)\}"/m.exec(script)?.[1];
  if (flags === undefined) throw new Error("./upspan sets no AGENT_V8_FLAGS");
  return flags;
}
