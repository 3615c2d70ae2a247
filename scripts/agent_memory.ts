/**
 * What the agent's resident memory is made of at a paced load on the Python target: its
 * `/proc/PID/smaps` summed by kind of mapping (the Deno executable, other files, the C heap,
 * BPF maps such as the ring buffers, other anonymous memory: V8's heap and code, thread
 * stacks, malloc arenas), and with `--heap` V8's heap spaces, asked over the inspector.
 * Read at the end of the load, before the agent stops; the peak VmRSS is sampled as the
 * bench's `rate` row does.
 *
 *   deno task profile:memory [--seconds 4] [--rate 1000] [--runs 1] [--heap]
 *     [--v8-flags=FLAGS] [--env NAME=VALUE]…
 *
 * `--v8-flags`: the agent's V8 flags (default: what `./upspan` gives the agent; `none` for
 * none). `--env`: adds to the agent's environment.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startPythonServer } from "../tests/targets/targets.ts";
import { pacedLoad } from "./bench/paced_load.ts";
import { agentV8Flags, startUpspan } from "./bench/measure.ts";
import { freePort, inspector } from "./bench/inspector.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "4" },
    rate: { type: "string", default: "1000" },
    runs: { type: "string", default: "1" },
    heap: { type: "boolean", default: false },
    "v8-flags": { type: "string" },
    env: { type: "string", multiple: true, default: [] },
  },
});

/** KiB by kind of mapping: resident, of it anonymous, and shared with other processes. */
interface Part {
  rss: number;
  anon: number;
  shared: number;
}

/** Sums `/proc/PID/smaps` by kind of mapping. */
function smapsByKind(pid: number): Map<string, Part> {
  const exe = Deno.realPathSync(`/proc/${pid}/exe`);
  const parts = new Map<string, Part>();
  let part: Part | undefined;
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1]!;
      const kind = name === exe
        ? "deno executable"
        : name === "[heap]"
        ? "C heap ([heap])"
        : name.startsWith("anon_inode:")
        ? `${name.slice(11)}`
        : name.startsWith("/")
        ? "other files (libraries)"
        : name === ""
        ? "anonymous (V8 heap and code, stacks, malloc arenas)"
        : name;
      part = parts.get(kind) ?? { rss: 0, anon: 0, shared: 0 };
      parts.set(kind, part);
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    if (!field || !part) continue;
    const kb = Number(field[2]);
    if (field[1] === "Rss") part.rss += kb;
    else if (field[1] === "Anonymous") part.anon += kb;
    else if (field[1] === "Shared_Clean" || field[1] === "Shared_Dirty") part.shared += kb;
  }
  return parts;
}

function statusField(pid: number, name: string): string {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return new RegExp(`${name}:\\s+(.*)`).exec(status)?.[1]?.trim() ?? "";
}

const flagsArg = values["v8-flags"];
const flags = flagsArg === undefined ? agentV8Flags() : flagsArg === "none" ? "" : flagsArg;
const env = Object.fromEntries(values.env.map((e) => {
  const i = e.indexOf("=");
  return [e.slice(0, i), e.slice(i + 1)];
}));
const mb = (kb: number) => (kb / 1024).toFixed(1).padStart(6);

await using python = await startPythonServer({});
await pacedLoad(python.port, 200, 1);
for (let run = 0; run < Number(values.runs); run++) {
  const port = values.heap ? freePort() : 0;
  const denoFlags = [
    ...(flags ? [`--v8-flags=${flags}`] : []),
    ...(values.heap ? [`--inspect=127.0.0.1:${port}`] : []),
  ];
  const agent = await startUpspan(["--pid", String(python.pid)], env, denoFlags);
  const readyAnon = Number(statusField(agent.pid, "RssAnon").split(" ")[0]);
  const readyRss = Number(statusField(agent.pid, "VmRSS").split(" ")[0]);
  // In two halves: the CPU per span of each (V8 is still compiling the hot path in the first).
  await pacedLoad(python.port, Number(values.rate), Number(values.seconds) / 2);
  const half = agent.sample();
  await pacedLoad(python.port, Number(values.rate), Number(values.seconds) / 2);
  const parts = smapsByKind(agent.pid);
  const threads = statusField(agent.pid, "Threads");
  let heap = "";
  if (values.heap) {
    const cdp = await inspector(port);
    const expr = `import("node:v8").then((v8) => JSON.stringify({ spaces:
      v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size, s.space_used_size]),
      usage: Deno.memoryUsage() }))`;
    const r = await cdp.send<{ result: { value: string } }>("Runtime.evaluate", {
      expression: expr,
      awaitPromise: true,
    });
    cdp.close();
    const { spaces, usage } = JSON.parse(r.result.value) as {
      spaces: [string, number, number][];
      usage: Record<string, number>;
    };
    heap = spaces.filter(([, size]) =>
      size > 0
    ).map(([n, size, used]) => `  ${n.padEnd(28)} ${mb(size / 1024)} MB (${mb(used / 1024)} used)`)
      .join("\n") + `\n  memoryUsage: ${
      Object.entries(usage).map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)}`).join(", ")
    } MB`;
  }
  const cpu = agent.sample();
  const report = await agent.stop();
  console.log(
    `run ${run + 1}: flags ${flags || "(none)"}${
      Object.keys(env).length ? `, env ${values.env.join(" ")}` : ""
    }; ${cpu.spans} spans, µs CPU/span ${(half.cpuSeconds * 1e6 / half.spans).toFixed(1)} then ${
      ((cpu.cpuSeconds - half.cpuSeconds) * 1e6 / (cpu.spans - half.spans)).toFixed(1)
    }, ` +
      `${threads} threads; at ready VmRSS ${mb(readyRss)} MB, RssAnon ${mb(readyAnon)} MB; ` +
      `peak VmRSS ${mb(report.rssKb)} MB, RssAnon ${mb(report.anonKb)} MB`,
  );
  let total = 0;
  for (const [kind, p] of [...parts].sort((a, b) => b[1].rss - a[1].rss)) {
    total += p.rss;
    if (p.rss < 100) continue; // [vdso], [vvar] and the like
    console.log(
      `  ${kind.padEnd(52)} ${mb(p.rss)} MB resident (${mb(p.anon)} anonymous, ${
        mb(p.shared)
      } shared)`,
    );
  }
  console.log(`  ${"total at the end of the load".padEnd(52)} ${mb(total)} MB`);
  if (heap) console.log(heap);
  const dropped = /(\d+) dropped/.exec(report.stderr)?.[1] ?? "?";
  console.log(`  events dropped: ${dropped}`);
}
