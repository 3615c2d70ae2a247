/**
 * upspan's benchmarks, each against a baseline measured in the same run:
 *
 * 0. The cost of one probe hit: a probed no-op function against the same unprobed.
 * 1. A Python HTTPS server under wrk, without and with upspan attached: requests per
 *    second and their ratio, probe hits per request, spans per request and the agent's
 *    resident memory.
 * 2. nginx on plain HTTP under wrk, without and with upspan (syscall tracepoints): the
 *    same figures.
 * 3. What the syscall tracepoints cost a process upspan does not trace: a loop of 2 M
 *    read/write syscalls, with no agent and with an agent tracing another process.
 * 4. Ingest: TLS data events read and decoded per second, the zero-copy ring reader
 *    against libbpf's callback consumer.
 * 5. Symbol lookup in /usr/bin/node: upspan's lazy ELF reader against `nm -D`.
 * 6. nginx serving HTTP/2 over TLS under h2load (Debian's nghttp2-client), without and with
 *    upspan: requests per second, their ratio, spans per request.
 *
 *   deno task bench [--seconds N] [--only https,plain,h2,untraced,ingest,symbols,hits]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import { startNginx } from "../tests/targets/nginx.ts";
import { runIngest } from "./bench_ingest.ts";
import { probeHitCost } from "./bench_probe_hit.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "5" }, only: { type: "string" } },
});
/** `--only https,plain,h2,untraced,ingest,symbols,hits`: run just those. */
const only = values.only?.split(",");
const wanted = (name: string) => only === undefined || only.includes(name);
const seconds = Number(values.seconds);
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function wrk(url: string): Promise<{ requests: number; rps: number }> {
  const out = await new Deno.Command("wrk", { args: ["-t1", "-c4", `-d${seconds}s`, url] })
    .output();
  const text = dec.decode(out.stdout);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  if (!out.success || !Number.isFinite(rps)) {
    throw new Error(`wrk failed:\n${text}${dec.decode(out.stderr)}`);
  }
  return { requests, rps };
}

/** Resident memory in KiB: all of it, and the part that is the agent's own (not Deno's
 * shared executable pages): anonymous memory plus the mapped ring buffer. */
function rssKb(pid: number): { total: number; own: number } {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const total = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    let own = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
    let inRing = false;
    for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inRing = line.endsWith("anon_inode:bpf-map");
      else if (inRing && line.startsWith("Rss:")) own += Number(/(\d+)/.exec(line)?.[1] ?? 0);
    }
    return { total, own };
  } catch {
    return { total: 0, own: 0 };
  }
}

/**
 * HTTP/2 load: h2load, 60,000 requests over 60 connections of 10 concurrent streams each
 * (nginx closes an HTTP/2 connection after 1,000 requests, `keepalive_requests`, and
 * h2load does not reconnect: a timed run would stop early).
 */
async function h2load(url: string): Promise<{ requests: number; rps: number }> {
  const out = await new Deno.Command("h2load", {
    args: ["-n60000", "-c60", "-m10", "-t1", url],
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

interface AgentRun {
  load: { requests: number; rps: number };
  spans: number;
  hits: { write: number; read: number; readReturn: number; syscalls: number };
  dropped: number;
  rss: { total: number; own: number };
  /** Milliseconds from starting the agent to its `ready` line, and from SIGINT to exit. */
  readyMs: number;
  stopMs: number;
}

/** Runs wrk (or `load`) against `url` while an agent traces `pids`; returns what both saw. */
async function tracedLoad(pids: number[], url: string, load = wrk): Promise<AgentRun> {
  const started = performance.now();
  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, ...pids.flatMap((p) => ["--pid", String(p)]), "--format", "json"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let spans = 0;
  const counting = (async () => {
    for await (const chunk of agent.stdout) for (const b of chunk) if (b === 10) spans++;
  })();
  let err = "";
  const errs = (async () => {
    for await (const t of agent.stderr.pipeThrough(new TextDecoderStream())) err += t;
  })();
  while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 5));
  const readyMs = performance.now() - started;
  const rss = { total: 0, own: 0 };
  const sampler = setInterval(() => {
    const r = rssKb(agent.pid);
    rss.total = Math.max(rss.total, r.total);
    rss.own = Math.max(rss.own, r.own);
  }, 200);
  const loaded = await load(url);
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 500));
  const stopping = performance.now();
  agent.kill("SIGINT");
  await agent.status;
  const stopMs = performance.now() - stopping;
  await counting;
  await errs;
  const m =
    /probe hits: (\d+) write, (\d+) read, (\d+) read-return, \d+ Go and SQL library, (\d+) socket syscalls; (\d+) dropped/
      .exec(err);
  const [write = 0, read = 0, readReturn = 0, syscalls = 0, dropped = 0] = (m?.slice(1) ?? [])
    .map(Number);
  return {
    load: loaded,
    spans,
    hits: { write, read, readReturn, syscalls },
    dropped,
    rss,
    readyMs,
    stopMs,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function httpsUnderLoad(rounds = 3) {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const url = `https://127.0.0.1:${server.port}/hello`;
  await wrk(url); // warm-up
  // Alternate untraced and traced runs: this machine's speed drifts by ±10% over minutes.
  const plain: number[] = [];
  const runs: AgentRun[] = [];
  for (let i = 0; i < rounds; i++) {
    plain.push((await wrk(url)).rps);
    runs.push(await tracedLoad([server.pid], url));
  }
  const traced = runs.map((r) => r.load.rps);
  const requests = runs.reduce((n, r) => n + r.load.requests, 0);
  const sum = (f: (r: AgentRun) => number) => runs.reduce((n, r) => n + f(r), 0);
  const per = (n: number) => (n / requests).toFixed(2);
  const write = sum((r) => r.hits.write), read = sum((r) => r.hits.read);
  const readReturn = sum((r) => r.hits.readReturn);
  console.log("## Python HTTPS server under wrk (1 thread, 4 keep-alive connections)");
  console.log(
    `without upspan   ${median(plain).toFixed(0)} req/s (median of ${
      plain.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(
    `with upspan      ${median(traced).toFixed(0)} req/s (median of ${
      traced.map((x) => x.toFixed(0)).join(", ")
    })`,
  );
  console.log(`ratio            ${(median(traced) / median(plain)).toFixed(3)}`);
  console.log(
    `probe hits       ${per(write + read + readReturn)} per request (${per(write)} SSL_write, ` +
      `${per(read)} SSL_read entry, ${per(readReturn)} SSL_read return)`,
  );
  const spans = sum((r) => r.spans);
  console.log(
    `spans            ${spans} for ${requests} requests (${
      (spans / requests).toFixed(3)
    } per request), ` +
      `${sum((r) => r.dropped)} events dropped`,
  );
  console.log(
    `start-up         ready ${median(runs.map((r) => r.readyMs)).toFixed(0)} ms after start ` +
      `(Deno, discovery, BPF load, attach); exit ${
        median(runs.map((r) => r.stopMs)).toFixed(0)
      } ms ` +
      `after SIGINT (flush, detach)`,
  );
  console.log(
    `agent RSS        ${
      (Math.max(...runs.map((r) => r.rss.total)) / 1024).toFixed(1)
    } MB peak while ` +
      `tracing, of which ${
        (Math.max(...runs.map((r) => r.rss.own)) / 1024).toFixed(1)
      } MB its own ` +
      `(heap and ring buffer; the rest is Deno's executable)`,
  );
}

async function ingest() {
  console.log("\n## Ingest: events read and decoded per second (one consumer core)");
  for (const callsPerMs of [32, 64]) {
    const base = await runIngest("callback", Math.min(seconds, 3), callsPerMs);
    const ours = await runIngest("mmap", Math.min(seconds, 3), callsPerMs);
    for (const r of [base, ours]) {
      console.log(
        `${r.consumer.padEnd(28)} ${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s read, ` +
          `${r.dropped} dropped, ${r.cpuNsPerEvent.toFixed(0)} ns CPU per event`,
      );
    }
    console.log(
      `  ratio: ${(ours.eventsPerSecond / base.eventsPerSecond).toFixed(2)}x events read, ` +
        `${(base.cpuNsPerEvent / ours.cpuNsPerEvent).toFixed(2)}x less CPU per event`,
    );
  }
}

async function timed(
  cmd: string,
  args: string[],
): Promise<{ s: number; kb: number; stdout: string }> {
  const out = await new Deno.Command("/usr/bin/time", { args: ["-f", "%e %M", cmd, ...args] })
    .output();
  const [s, kb] = dec.decode(out.stderr).trim().split("\n").pop()!.split(" ").map(Number);
  return { s: s!, kb: kb!, stdout: dec.decode(out.stdout) };
}

async function symbolLookup() {
  console.log("\n## Resolving SSL_write in /usr/bin/node");
  const nm = await timed("nm", ["-D", "/usr/bin/node"]);
  const noop = await timed(Deno.execPath(), ["eval", "0"]);
  const ours = await timed(Deno.execPath(), [
    "run",
    "-A",
    new URL("lookup_symbol.ts", import.meta.url).pathname,
  ]);
  const r = JSON.parse(ours.stdout);
  console.log(
    `nm -D              ${(nm.s * 1000).toFixed(0)} ms, peak RSS ${(nm.kb / 1024).toFixed(1)} MB`,
  );
  console.log(
    `upspan ELF reader  ${r.ms} ms in process (${
      (ours.s * 1000).toFixed(0)
    } ms with Deno start-up), ` +
      `peak RSS ${(ours.kb / 1024).toFixed(1)} MB (an empty Deno: ${
        (noop.kb / 1024).toFixed(1)
      } MB), ` +
      `read ${(r.bytesRead / 2 ** 20).toFixed(1)} of ${(r.fileSize / 2 ** 20).toFixed(1)} MB`,
  );
  console.log(
    `ratio              ${(nm.s * 1000 / r.ms).toFixed(1)}x faster than nm -D (in-process time)`,
  );
}

async function probeHits() {
  console.log("## What one probe hit costs the target (a probed no-op C function)");
  const ns = await probeHitCost();
  const none = ns["none"]!;
  for (const [mode, v] of Object.entries(ns)) {
    console.log(
      `${mode.padEnd(18)} ${v.toFixed(1).padStart(8)} ns per call (${(v / none).toFixed(0)}x)`,
    );
  }
  console.log("");
}

/** nginx on plain HTTP: requests per second with and without upspan, alternated. */
async function plainUnderLoad(rounds = 3) {
  await using nginx = await startNginx({ "hello.txt": "hello\n" });
  const url = `http://127.0.0.1:${nginx.port}/hello.txt`;
  await wrk(url); // warm-up
  const plain: number[] = [];
  const runs: AgentRun[] = [];
  for (let i = 0; i < rounds; i++) {
    plain.push((await wrk(url)).rps);
    runs.push(await tracedLoad(nginx.pids, url));
  }
  const traced = runs.map((r) => r.load.rps);
  const requests = runs.reduce((n, r) => n + r.load.requests, 0);
  const sum = (f: (r: AgentRun) => number) => runs.reduce((n, r) => n + f(r), 0);
  console.log("\n## nginx on plain HTTP under wrk (1 thread, 4 keep-alive connections)");
  console.log(
    `without upspan   ${median(plain).toFixed(0)} req/s (${plain.map((x) => x.toFixed(0))})`,
  );
  console.log(
    `with upspan      ${median(traced).toFixed(0)} req/s (${traced.map((x) => x.toFixed(0))})`,
  );
  console.log(`ratio            ${(median(traced) / median(plain)).toFixed(3)}`);
  console.log(
    `socket syscalls  ${(sum((r) => r.hits.syscalls) / requests).toFixed(2)} per request looked at`,
  );
  const spans = sum((r) => r.spans);
  console.log(
    `spans            ${spans} for ${requests} requests (${(spans / requests).toFixed(3)} per ` +
      `request), ${sum((r) => r.dropped)} events dropped`,
  );
}

/** nginx serving HTTP/2 over TLS: requests per second with and without upspan, alternated. */
async function h2UnderLoad(rounds = 3) {
  const tls = await makeCert(await Deno.makeTempDir());
  await using nginx = await startNginx({ "hello.txt": "hello\n" }, { tls, http2: true });
  const url = `https://127.0.0.1:${nginx.port}/hello.txt`;
  await h2load(url); // warm-up
  const plain: number[] = [];
  const runs: AgentRun[] = [];
  for (let i = 0; i < rounds; i++) {
    plain.push((await h2load(url)).rps);
    runs.push(await tracedLoad(nginx.pids, url, h2load));
  }
  const traced = runs.map((r) => r.load.rps);
  const requests = runs.reduce((n, r) => n + r.load.requests, 0);
  const sum = (f: (r: AgentRun) => number) => runs.reduce((n, r) => n + f(r), 0);
  console.log(
    "\n## nginx HTTP/2 over TLS under h2load (60,000 requests, 60 connections, 10 streams each)",
  );
  console.log(
    `without upspan   ${median(plain).toFixed(0)} req/s (${plain.map((x) => x.toFixed(0))})`,
  );
  console.log(
    `with upspan      ${median(traced).toFixed(0)} req/s (${traced.map((x) => x.toFixed(0))})`,
  );
  console.log(`ratio            ${(median(traced) / median(plain)).toFixed(3)}`);
  const write = sum((r) => r.hits.write), read = sum((r) => r.hits.read);
  console.log(
    `probe hits       ${((write + read) / requests).toFixed(2)} SSL_write+SSL_read per request`,
  );
  const spans = sum((r) => r.spans);
  console.log(
    `spans            ${spans} for ${requests} requests (${(spans / requests).toFixed(3)} per ` +
      `request), ${sum((r) => r.dropped)} events dropped`,
  );
}

/** Seconds a loop of 2 M one-byte read+write syscalls takes (dd, /dev/zero → /dev/null). */
async function syscallLoop(): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command("dd", {
    args: ["if=/dev/zero", "of=/dev/null", "bs=1", "count=1000000"],
    stderr: "null",
  }).output();
  if (!out.success) throw new Error("dd failed");
  return (performance.now() - t) / 1000;
}

/** What the tracepoints cost a process that is not traced, against no agent at all. */
async function untracedCost(rounds = 3) {
  const sleeper = new Deno.Command("sleep", { args: ["3600"] }).spawn();
  try {
    await syscallLoop(); // warm-up
    const none: number[] = [];
    const elsewhere: number[] = [];
    for (let i = 0; i < rounds; i++) {
      none.push(await syscallLoop());
      const agent = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, "--pid", String(sleeper.pid), "--format", "json"],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let err = "";
      const errs = (async () => {
        for await (const t of agent.stderr.pipeThrough(new TextDecoderStream())) err += t;
      })();
      while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 5));
      elsewhere.push(await syscallLoop());
      agent.kill("SIGINT");
      await agent.status;
      await errs;
    }
    const a = median(none), b = median(elsewhere);
    console.log("\n## Syscall tracepoints: the cost to a process upspan does not trace");
    console.log(`no agent              ${(a * 1000).toFixed(0)} ms for 2 M read/write syscalls`);
    console.log(`agent tracing another ${(b * 1000).toFixed(0)} ms`);
    console.log(
      `ratio                 ${(b / a).toFixed(3)} (${
        ((b - a) * 1e9 / 2e6).toFixed(0)
      } ns per syscall)`,
    );
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
}

if (wanted("hits")) await probeHits();
if (wanted("https")) await httpsUnderLoad();
if (wanted("plain")) await plainUnderLoad();
if (wanted("h2")) await h2UnderLoad();
if (wanted("untraced")) await untracedCost();
if (wanted("ingest")) await ingest();
if (wanted("symbols")) await symbolLookup();
