/**
 * Discovery and attach at host scale, each against a baseline in the same run:
 *
 * 1. `--all` on a host with 1,000 more processes than usual (sleep, and 100 Python
 *    processes that map libssl): time from start to the `ready` line and the agent's
 *    memory then, against `--pid` of one process.
 * 2. What adding a traced process costs once its library is probed: the first Python
 *    process (ELF read, six uprobes attached) against the 2nd…100th (a cached lookup and a
 *    map update), measured in-process on the engine's own TracedProcesses.
 *
 *   deno run -A scripts/bench_attach.ts
 *
 * @module
 */
import { BpfObject } from "../ffi/mod.ts";
import { ProbeSet } from "../src/probe_set.ts";
import { CAPTURE_OBJECT } from "../src/capture/mod.ts";
import { TracedProcesses } from "../src/traced_processes.ts";
import { TracedPids } from "../src/capture/traced_pids.ts";

const MOD = new URL("../mod.ts", import.meta.url).pathname;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function spawnMany(n: number, cmd: string, args: string[]): Deno.ChildProcess[] {
  return Array.from(
    { length: n },
    () => new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn(),
  );
}

async function stopAll(children: Deno.ChildProcess[]): Promise<void> {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
  await Promise.all(children.map((c) => c.status));
}

/** Starts the agent with `args`; resolves at its ready line with the time and its RSS. */
async function timeToReady(args: string[]): Promise<{ ms: number; rssMb: number; line: string }> {
  const t0 = performance.now();
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "--format", "json", ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const reader = agent.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!/^ready.*$/m.test(err)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`agent ended before ready:\n${err}`);
    err += value;
  }
  const ms = performance.now() - t0;
  const status = await Deno.readTextFile(`/proc/${agent.pid}/status`);
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  agent.kill("SIGINT");
  reader.releaseLock();
  await agent.stderr.cancel().catch(() => {});
  await agent.status;
  return { ms, rssMb, line: /^ready.*$/m.exec(err)![0] };
}

const PY = ["-c", "import ssl, time; time.sleep(600)"];

async function allOnABusyHost() {
  const sleepers = spawnMany(900, "sleep", ["600"]);
  const pythons = spawnMany(100, "python3", PY);
  try {
    await new Promise((r) => setTimeout(r, 3000)); // every python has imported ssl
    await timeToReady(["--pid", String(pythons[0]!.pid)]); // warm-up: Deno's module cache
    const one = await timeToReady(["--pid", String(pythons[0]!.pid)]);
    const all = await timeToReady(["--all"]);
    const total = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name)).length;
    console.log(`## --all on a host with ${total} processes (900 sleep, 100 python3 with libssl)`);
    console.log(
      `--pid (one python)   ready in ${one.ms.toFixed(0)} ms, RSS ${one.rssMb.toFixed(0)} MB`,
    );
    console.log(
      `--all                ready in ${all.ms.toFixed(0)} ms, RSS ${all.rssMb.toFixed(0)} MB`,
    );
    console.log(`                     ${all.line}`);
  } finally {
    await stopAll([...sleepers, ...pythons]);
  }
}

async function hundredthProcess() {
  const pythons = spawnMany(100, "python3", PY);
  const obj = BpfObject.open(CAPTURE_OBJECT);
  const probes = new ProbeSet(obj);
  try {
    await new Promise((r) => setTimeout(r, 3000));
    obj.load();
    const traced = new TracedProcesses({
      traced: new TracedPids(obj.map("traced_tgids"), obj.map("traced_bits")),
      flags: 3,
      socketsFlag: 2,
      probes,
      log: () => {},
      pin: false,
    });
    const ms: number[] = [];
    for (const p of pythons) {
      const t0 = performance.now();
      const r = await traced.add(p.pid);
      ms.push(performance.now() - t0);
      if (!r.ok || !r.tls) throw new Error(`pid ${p.pid}: not traced through OpenSSL`);
    }
    console.log("\n## Adding a traced process whose library is already probed");
    console.log(
      `1st python3      ${ms[0]!.toFixed(2)} ms (ELF read, ${probes.uprobes} uprobes attached)`,
    );
    console.log(
      `2nd…100th        ${
        median(ms.slice(1)).toFixed(2)
      } ms median (inspect /proc, cached sites, map update)`,
    );
    console.log(`100th            ${ms[99]!.toFixed(2)} ms; uprobes still ${probes.uprobes}`);
    console.log(
      `ratio            ${(ms[0]! / median(ms.slice(1))).toFixed(1)}x cheaper after the first`,
    );
  } finally {
    await probes.close();
    obj.close();
    await stopAll(pythons);
  }
}

await allOnABusyHost();
await hundredthProcess();
