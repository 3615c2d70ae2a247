/**
 * The agent as a child process for reliability tests: like `tests/agent.ts`, but it can run
 * under a wrapper (`strace` to slow a syscall down), waits for any stderr line, and reads
 * what the kernel says the process holds — resident memory, BPF programs, links and maps.
 *
 * @module
 */

import { tied } from "./tied.ts";

const MOD = new URL("../../mod.ts", import.meta.url).pathname;

/** A running agent process. */
export interface AgentProcess extends AsyncDisposable {
  /** Pid of the agent (the Deno process, also under a wrapper). */
  pid(): Promise<number>;
  /** Stderr so far. */
  stderr(): string;
  /** Stdout so far. */
  stdout(): string;
  /** JSON spans printed so far (`--format json`). */
  spans(): Record<string, unknown>[];
  /** Resolves with the first match of `re` on stderr; rejects on timeout or exit. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal (default SIGINT) and resolves to the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** The exit status once it has ended. */
  status: Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode spawnAgent}. */
export interface SpawnOptions {
  /** A command line to run the agent under, e.g. `["strace", "-f", …]`. */
  wrapper?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

/** Runs `deno run -A mod.ts ARGS` (no `--format` added) and collects its output. */
export function spawnAgent(args: string[], options: SpawnOptions = {}): AgentProcess {
  // Tied at both levels: a wrapper (strace) killed with the runner lets its tracee go on.
  const agent = tied([Deno.execPath(), "run", "-A", MOD, ...args]);
  const [cmd, rest] = options.wrapper ? tied([...options.wrapper, agent[0], ...agent[1]]) : agent;
  const child = new Deno.Command(cmd, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  }).spawn();
  let out = "";
  let err = "";
  const wakers = new Set<() => void>();
  const outDone = (async () => {
    for await (const t of child.stdout.pipeThrough(new TextDecoderStream())) out += t;
  })();
  const errDone = (async () => {
    for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
      err += t;
      for (const w of wakers) w();
    }
  })();
  let ended = false;
  const status = child.status.then(async (s) => {
    ended = true;
    await Promise.all([outDone, errDone]);
    for (const w of wakers) w();
    return s;
  });
  const agentPid = async (): Promise<number> => {
    if (!options.wrapper) return child.pid;
    // Under a wrapper the agent is the wrapper's child.
    for (let i = 0; i < 100; i++) {
      const kids = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`)
        .catch(() => "");
      const first = Number(kids.trim().split(" ")[0]);
      if (first > 0) return first;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the wrapped agent did not start");
  };
  return {
    pid: agentPid,
    stderr: () => err,
    stdout: () => out,
    spans: () =>
      out.split("\n").filter((l) => l.startsWith("{")).map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return {}; // a line still being written
        }
      }),
    waitForStderr(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = err.match(re);
          if (m) {
            done();
            resolve(m);
          } else if (ended) {
            done();
            reject(new Error(`agent exited before printing ${re}:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${re} on stderr:\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          wakers.delete(check);
        };
        wakers.add(check);
        check();
      });
    },
    async stop(signal: Deno.Signal = "SIGINT") {
      if (!ended) {
        try {
          if (options.wrapper) Deno.kill(await agentPid(), signal);
          else child.kill(signal);
        } catch { /* already gone */ }
      }
      return (await status).code;
    },
    status,
    async [Symbol.asyncDispose]() {
      if (!ended) {
        // The agent first: a wrapper killed first would leave it running, holding the pipes.
        if (options.wrapper) {
          try {
            Deno.kill(await agentPid(), "SIGKILL");
          } catch { /* gone */ }
        }
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }
      await status;
    },
  };
}

/** Resident memory of a process in KiB (VmRSS), or 0 once it has gone. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  return Number(/^VmRSS:\s*(\d+)/m.exec(status)?.[1] ?? 0);
}

/** BPF object ids, by kind. */
export interface BpfIds {
  progs: number[];
  links: number[];
  maps: number[];
}

/** The BPF programs, links and maps a process holds, from the kernel's /proc/PID/fdinfo. */
export async function bpfHeldBy(pid: number): Promise<BpfIds> {
  const progs = new Set<number>(), links = new Set<number>(), maps = new Set<number>();
  for await (const e of Deno.readDir(`/proc/${pid}/fdinfo`)) {
    const info = await Deno.readTextFile(`/proc/${pid}/fdinfo/${e.name}`).catch(() => "");
    const prog = /^prog_id:\s*(\d+)/m.exec(info)?.[1];
    const link = /^link_id:\s*(\d+)/m.exec(info)?.[1];
    const map = /^map_id:\s*(\d+)/m.exec(info)?.[1];
    if (prog) progs.add(Number(prog));
    if (link) links.add(Number(link));
    if (map) maps.add(Number(map));
  }
  return { progs: [...progs], links: [...links], maps: [...maps] };
}

/** Ids the kernel lists now (`bpftool -j KIND show`). */
export async function liveBpfIds(kind: "prog" | "link" | "map"): Promise<number[]> {
  const out = await new Deno.Command("bpftool", { args: ["-j", kind, "show"] }).output();
  if (!out.success) throw new Error(`bpftool ${kind} show failed`);
  const list = JSON.parse(new TextDecoder().decode(out.stdout) || "[]") as { id: number }[];
  return list.map((x) => x.id);
}

/**
 * Which of `held` the kernel still lists, after waiting up to `timeoutMs` for it to release
 * them (objects go asynchronously once the last reference is closed).
 */
export async function bpfRemaining(held: BpfIds, timeoutMs = 5000): Promise<BpfIds> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [p, l, m] = await Promise.all([
      liveBpfIds("prog"),
      liveBpfIds("link"),
      liveBpfIds("map"),
    ]);
    const left = {
      progs: held.progs.filter((id) => p.includes(id)),
      links: held.links.filter((id) => l.includes(id)),
      maps: held.maps.filter((id) => m.includes(id)),
    };
    const n = left.progs.length + left.links.length + left.maps.length;
    if (n === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The `upspan_*` health lines of `/metrics` on a port, by metric name. */
export async function agentHealth(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(upspan_[a-z_]+)(\{[^}]*\})? (\S+)$/gm)) {
    out[m[1]! + (m[2] ?? "")] = Number(m[3]);
  }
  return out;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Lines of `text` that match `re`. */
export function linesMatching(text: string, re: RegExp): string[] {
  return text.split("\n").filter((l) => re.test(l));
}
