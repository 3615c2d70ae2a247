/**
 * A soak: the agent traces a Python HTTPS server and nginx (plain HTTP) under a steady
 * request rate for a number of minutes, exporting OTLP to a backend that counts the spans
 * it gets, and reports its resident memory over time, the events dropped, and spans
 * (printed and exported) against requests served. A benchmark, not a test.
 *
 *   deno task soak [--minutes 10] [--rate 1000]
 *
 * The rate is split evenly between the two servers; requests go over keep-alive
 * connections from this process (which is not traced), started on a fixed schedule.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import { startNginx } from "../tests/targets/nginx.ts";
import { startOtlpBackend } from "../tests/targets/otlp_backend.ts";
import { agentHealth, freePort, rssKiB } from "../tests/targets/agent_process.ts";
import { tied } from "../tests/targets/tied.ts";
import { agentV8Flags } from "./bench/measure.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    rate: { type: "string", default: "1000" },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!(minutes > 0 && minutes <= 24 * 60) || !(rate > 0 && rate <= 100_000)) {
  console.error("soak: --minutes must be in (0, 1440] and --rate in (0, 100000]");
  Deno.exit(2);
}

/** User plus system CPU seconds a process has used (/proc/PID/stat, clock ticks of 1/100 s). */
async function cpuTime(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = (kib: number) => (kib / 1024).toFixed(1);
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const say = (line: string) => console.error(`soak: ${line}`);
/** The heap flags the agent runs with: ./upspan's, unless DENO_V8_FLAGS says otherwise. */
const V8_FLAGS = Deno.env.get("DENO_V8_FLAGS") ?? agentV8Flags();

const dir = await Deno.makeTempDir({ prefix: "upspan-soak-" });
const { cert, key } = await makeCert(dir);
await using python = await startPythonServer({ cert, key });
await using nginx = await startNginx({ "index.html": "<h1>hi</h1>\n" });
await using backend = startOtlpBackend("strict");
const metricsPort = freePort();

// The agent as ./upspan runs it; its spans are counted, not kept.
const [cmd, args] = tied([
  Deno.execPath(),
  "run",
  "-A",
  MOD,
  "--format",
  "json",
  "--pid",
  String(python.pid),
  ...nginx.pids.flatMap((p) => ["--pid", String(p)]),
  "--otlp-endpoint",
  backend.url,
  "--metrics-port",
  String(metricsPort),
]);
const agent = new Deno.Command(cmd, {
  args,
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
  // As ./upspan runs it, unless DENO_V8_FLAGS says otherwise (to compare heap settings).
  env: { DENO_V8_FLAGS: V8_FLAGS, NO_COLOR: "1" },
}).spawn();
let spansPrinted = 0;
const counting = (async () => {
  for await (const chunk of agent.stdout) {
    for (const b of chunk) if (b === 10) spansPrinted++;
  }
})();
let stderr = "";
let ready!: () => void;
const isReady = new Promise<void>((r) => (ready = r));
const reading = (async () => {
  for await (const t of agent.stderr.pipeThrough(new TextDecoderStream())) {
    stderr = (stderr + t).slice(-65536);
    if (/^ready/m.test(stderr)) ready();
  }
})();
await Promise.race([isReady, sleep(60_000).then(() => Promise.reject(new Error(stderr)))]);
say(stderr.match(/^ready.*$/m)![0]);

const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(cert)] });
const targets = [
  { url: `https://127.0.0.1:${python.port}/hello`, client },
  { url: `http://127.0.0.1:${nginx.port}/index.html`, client: undefined },
];
let ok = 0;
let failed = 0;
/** Failures by target URL, with the first reason seen. */
const failures = new Map<string, { count: number; first: string }>();
const fail = (url: string, why: string) => {
  failed++;
  const f = failures.get(url) ?? { count: 0, first: why };
  f.count++;
  failures.set(url, f);
};
let inFlight = 0;
const MAX_IN_FLIGHT = 512;
const request = async (t: (typeof targets)[number]) => {
  inFlight++;
  try {
    const res = await fetch(t.url, t.client ? { client: t.client } : {});
    await res.arrayBuffer();
    if (res.ok) ok++;
    else fail(t.url, `status ${res.status}`);
  } catch (e) {
    fail(t.url, (e as Error).message);
  } finally {
    inFlight--;
  }
};

const rssRows: { minute: number; rssKiB: number; requests: number; spans: number }[] = [];
const t0 = performance.now();
const end = t0 + minutes * 60_000;
let started = 0;
let nextSample = t0;
// Starts what the schedule says is due every 10 ms: a steady rate, not a closed loop.
while (performance.now() < end) {
  const now = performance.now();
  const due = Math.floor(((now - t0) / 1000) * rate);
  while (started < due && inFlight < MAX_IN_FLIGHT) {
    request(targets[started % targets.length]!);
    started++;
  }
  if (now >= nextSample) {
    const row = {
      minute: (now - t0) / 60_000,
      rssKiB: await rssKiB(agent.pid),
      requests: ok + failed,
      spans: spansPrinted,
    };
    rssRows.push(row);
    say(
      `${row.minute.toFixed(1)} min: RSS ${MiB(row.rssKiB)} MiB, ${row.requests} requests, ` +
        `${row.spans} spans, ${inFlight} in flight`,
    );
    nextSample += 30_000;
  }
  await sleep(10);
}
const behind = Math.floor(minutes * 60 * rate) - started;
while (inFlight > 0) await sleep(50);
// The last spans: printed once their requests have ended on the agent's side too.
for (let i = 0; i < 100 && spansPrinted < ok; i++) await sleep(100);
const health = await agentHealth(metricsPort);
const finalRss = await rssKiB(agent.pid);
const cpuSeconds = await cpuTime(agent.pid);
const stopAt = performance.now();
agent.kill("SIGINT");
const status = await agent.status;
const exitMs = performance.now() - stopAt;
await Promise.all([counting, reading]);
client.close();
for (let i = 0; i < 50 && backend.spans < spansPrinted; i++) await sleep(100);

const exportDropped = Object.entries(health)
  .filter(([k]) => k.startsWith("upspan_spans_export_dropped_total"))
  .reduce((n, [, v]) => n + v, 0);
const afterFirst = rssRows.filter((r) => r.minute >= 1);
const base = afterFirst[0]?.rssKiB ?? finalRss;
const all = [...afterFirst.map((r) => r.rssKiB), finalRss];
const lo = Math.min(...all);
const hi = Math.max(...all);
console.log(
  `## Soak: ${minutes} min at ${rate} requests/s (Python HTTPS + nginx plain, OTLP on)\n`,
);
console.log("| minute | agent RSS (MiB) | requests | spans printed |");
console.log("| --- | --- | --- | --- |");
for (const r of rssRows) {
  console.log(`| ${r.minute.toFixed(1)} | ${MiB(r.rssKiB)} | ${r.requests} | ${r.spans} |`);
}
console.log(`| end | ${MiB(finalRss)} | ${ok + failed} | ${spansPrinted} |\n`);
console.log(
  `- RSS after the first minute: ${MiB(lo)}–${MiB(hi)} MiB; from the 1-minute value ` +
    `${MiB(base)} MiB it moved ${(((hi - base) / base) * 100).toFixed(1)} % up, ` +
    `${(((base - lo) / base) * 100).toFixed(1)} % down`,
);
console.log(
  `- requests: ${ok} answered, ${failed} failed, ${behind} not started (the schedule fell behind)`,
);
for (const [url, f] of failures) console.log(`  - ${url}: ${f.count} failed, first: ${f.first}`);
console.log(
  `- spans: ${spansPrinted} printed, ${backend.spans} received over OTLP ` +
    `(${backend.framingErrors.length} badly framed requests); ` +
    `${health["upspan_spans_exported_total"] ?? "?"} exported by the agent's count, ` +
    `${exportDropped} export drops`,
);
console.log(
  `- events: ${health["upspan_events_read_total"] ?? "?"} read, ` +
    `${health["upspan_events_dropped_total"] ?? "?"} dropped`,
);
console.log(
  `- agent CPU: ${cpuSeconds.toFixed(0)} s user+system over the run ` +
    `(${((cpuSeconds / (minutes * 60)) * 100).toFixed(0)} % of a core); ` +
    `DENO_V8_FLAGS=${V8_FLAGS}`,
);
console.log(`- SIGINT: exit ${status.code} after ${Math.round(exitMs)} ms`);
await Deno.remove(dir, { recursive: true });
