/**
 * Where the agent's CPU goes under load: V8's sampling profiler, driven over the inspector
 * of an agent run as `deno run --inspect …` (`--cpu-prof` would start sampling before the
 * BPF load, whose syscalls its signals interrupt), started after `ready`. Prints each
 * function's share of the sampled time (self time), the busiest first.
 *
 *   deno task profile [--target nginx|h2|https|python|go] [--seconds 5] [--top 30]
 *     [--rate N] [--warm S] [--out profile.cpuprofile] [--alloc]
 *
 * `nginx`: `wrk -t1 -c4` against nginx, as the bench's flood; `h2`: `h2load -n60000 -c60 -m10`
 * against nginx over TLS and HTTP/2, as the bench's `h2`; `go`: the same flood as nginx's against
 * the Go fixture's trivial handler (Go 1.26); `https`: the same flood against the Python
 * target over TLS (OpenSSL's probes), as the bench's `https`; `python`: the Python target
 * under a paced `--rate` (default 1,000) requests a second, as the bench's `rate` (`--rate 0`:
 * none, the agent's own wake-ups alone). `--warm`: the python target's paced load for S seconds
 * before sampling starts (V8 takes tens of seconds at 1,000 req/s to finish optimizing the
 * span path: its compiler's background threads are busy until then). `--out`
 * keeps the raw profile (Chrome DevTools opens it). `--alloc`: bytes allocated by function
 * instead (V8's sampling heap profiler, counting what the collector has freed since), per
 * span: what the scavenger is fed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startNginx } from "../tests/targets/nginx.ts";
import { buildGoServer, startGoServer } from "../tests/targets/go/build.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import { pacedLoad } from "./bench/paced_load.ts";
import { h2load, startUpspan, wrk } from "./bench/measure.ts";
import { makeCert } from "../tests/targets/certs.ts";
import { freePort, inspector } from "./bench/inspector.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    target: { type: "string", default: "nginx" },
    seconds: { type: "string", default: "5" },
    top: { type: "string", default: "30" },
    rate: { type: "string", default: "1000" },
    warm: { type: "string", default: "0" },
    out: { type: "string" },
    alloc: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);

/** V8's `Profiler.Profile`, the parts read here. */
interface Profile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** V8's `HeapProfiler.SamplingHeapProfile`, the parts read here. */
interface HeapNode {
  callFrame: Profile["nodes"][number]["callFrame"];
  selfSize: number;
  children: HeapNode[];
}

function frameName(f: Profile["nodes"][number]["callFrame"]): string {
  const where = f.url
    ? ` ${f.url.replace(/^.*\/(src|ffi|scripts)\//, "$1/")}:${f.lineNumber + 1}`
    : "";
  return `${f.functionName || "(anonymous)"}${where}`;
}

/**
 * Bytes allocated by function (self), the most first. A built-in (`subarray`, `slice`) is
 * named with its caller: which of them allocates is the question.
 */
function selfBytes(root: HeapNode): [string, number][] {
  const totals = new Map<string, number>();
  const walk = (n: HeapNode, caller: string) => {
    const own = frameName(n.callFrame);
    const name = n.callFrame.url ? own : `${own} ← ${caller}`;
    totals.set(name, (totals.get(name) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, own);
  };
  walk(root, "");
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Self time by function, in ms, the busiest first. */
function selfTimes(profile: Profile): [string, number][] {
  const names = new Map<number, string>();
  for (const n of profile.nodes) names.set(n.id, frameName(n.callFrame));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = names.get(id)!;
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** The Go fixture server (its trivial `/backend/` handler is the flood's target). */
async function goServer() {
  const built = await buildGoServer("go1.26.8");
  if (!built.ok) throw new Error(built.error);
  const server = await startGoServer(built.path);
  return { pid: server.pid, backendPort: server.backendPort, [Symbol.asyncDispose]: server.stop };
}

async function main() {
  await using nginx = values.target === "nginx"
    ? await startNginx({ "index.html": "hello\n" })
    : undefined;
  await using h2 = values.target === "h2"
    ? await startNginx({ "hello.txt": "hello\n" }, {
      tls: await makeCert(await Deno.makeTempDir()),
      http2: true,
    })
    : undefined;
  await using https = values.target === "https"
    ? await startPythonServer(await makeCert(await Deno.makeTempDir()))
    : undefined;
  await using python = values.target === "python" ? await startPythonServer({}) : undefined;
  await using go = values.target === "go" ? await goServer() : undefined;
  const target = nginx ?? h2 ?? https ?? python ?? go;
  if (target === undefined) {
    throw new Error(`--target is nginx, h2, https, python or go, not ${values.target}`);
  }
  const pids = h2?.pids ?? [nginx?.masterPid ?? https?.pid ?? python?.pid ?? go!.pid];
  const port = freePort();
  const agent = await startUpspan(pids.flatMap((p) => ["--pid", String(p)]), {}, [
    `--inspect=127.0.0.1:${port}`,
  ]);
  if (python && Number(values.warm) > 0) {
    await pacedLoad(python.port, Number(values.rate), Number(values.warm));
  }
  const cdp = await inspector(port);
  if (values.alloc) {
    await cdp.send("HeapProfiler.enable");
    await cdp.send("HeapProfiler.startSampling", {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  } else {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
  }
  const before = agent.sample();
  const flood = nginx
    ? `http://127.0.0.1:${nginx.port}/index.html`
    : https
    ? `https://127.0.0.1:${https.port}/hello`
    : go && `http://127.0.0.1:${go.backendPort}/backend/1`;
  const load = h2
    ? h2load(`https://127.0.0.1:${h2.port}/hello.txt`).then((r) => r.requests)
    : flood
    ? wrk(flood, seconds).then((r) => r.requests)
    : Number(values.rate) === 0 // the agent's own wake-ups, without load
    ? new Promise((r) => setTimeout(r, seconds * 1000)).then(() => 0)
    : pacedLoad(python!.port, Number(values.rate), seconds).then((rps) => rps * seconds);
  const requests = await load;
  await new Promise((r) => setTimeout(r, 300));
  const after = agent.sample();
  const cpu = after.cpuSeconds - before.cpuSeconds;
  const { profile } = values.alloc
    ? await cdp.send<{ profile: Profile }>("HeapProfiler.stopSampling")
    : await cdp.send<{ profile: Profile }>("Profiler.stop");
  cdp.close();
  const { stderr: err } = await agent.stop();
  if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(profile));
  const made = after.spans - before.spans;
  console.log(
    `${values.target}: ${requests} requests, ${made} spans, agent ${cpu.toFixed(2)} CPU-s, ${
      (cpu * 1e6 / made).toFixed(1)
    } µs/span (the profiler's own cost included)`,
  );
  console.log(err.split("\n").filter((l) => /^stopped|dropped/.test(l)).join("\n"));
  if (values.alloc) return printBytes(profile as unknown as { head: HeapNode }, made);
  const times = selfTimes(profile);
  const busy = times.filter(([n]) => !/^\(idle\)/.test(n)).reduce((s, [, t]) => s + t, 0);
  console.log(`busy (not idle) sampled time ${busy.toFixed(0)} ms`);
  for (const [name, ms] of times.filter(([n]) => n !== "(idle)").slice(0, Number(values.top))) {
    console.log(
      `${(100 * ms / busy).toFixed(1).padStart(5)} %  ${ms.toFixed(1).padStart(8)} ms  ${name}`,
    );
  }
}

function printBytes(profile: { head: HeapNode }, spans: number) {
  const bytes = selfBytes(profile.head);
  const total = bytes.reduce((s, [, b]) => s + b, 0);
  console.log(`allocated ${(total / 1e6).toFixed(1)} MB, ${(total / spans).toFixed(0)} bytes/span`);
  for (const [name, b] of bytes.slice(0, Number(values.top))) {
    console.log(`${(b / spans).toFixed(0).padStart(7)} B/span  ${name}`);
  }
}

await main();
