/**
 * upspan's benchmarks, each against a baseline measured in the same run:
 *
 * 1. A Python HTTPS server under wrk, without and with upspan attached: requests per
 *    second and their ratio, probe hits per request, spans per request and the agent's
 *    resident memory.
 * 2. Ingest: TLS data events read and decoded per second, the zero-copy ring reader
 *    against libbpf's callback consumer.
 * 3. Symbol lookup in /usr/bin/node: upspan's lazy ELF reader against `nm -D`.
 *
 *   deno task bench [--seconds N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { makeCert } from "../tests/targets/certs.ts";
import { startPythonServer } from "../tests/targets/targets.ts";
import { runIngest } from "./bench_ingest.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "5" } },
});
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

async function httpsUnderLoad() {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const url = `https://127.0.0.1:${server.port}/hello`;
  await wrk(url); // warm-up
  const before = await wrk(url);

  const agent = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "--pid", String(server.pid), "--format", "json"],
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
  while (!/^ready/m.test(err)) await new Promise((r) => setTimeout(r, 50));
  const peak = { total: 0, own: 0 };
  const sampler = setInterval(() => {
    const r = rssKb(agent.pid);
    peak.total = Math.max(peak.total, r.total);
    peak.own = Math.max(peak.own, r.own);
  }, 200);
  const during = await wrk(url);
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 500));
  agent.kill("SIGINT");
  await agent.status;
  await counting;
  await errs;
  const after = await wrk(url);

  const m = /probe hits: (\d+) write, (\d+) read, (\d+) read-return; (\d+) dropped/.exec(err);
  const [write, read, readReturn, dropped] = (m?.slice(1) ?? []).map(Number) as number[];
  const hits = write! + read! + readReturn!;
  const baseline = (before.rps + after.rps) / 2;
  console.log("## Python HTTPS server under wrk (1 thread, 4 keep-alive connections)");
  console.log(
    `without upspan   ${baseline.toFixed(0)} req/s (runs before and after: ${
      before.rps.toFixed(0)
    }, ${after.rps.toFixed(0)})`,
  );
  console.log(`with upspan      ${during.rps.toFixed(0)} req/s`);
  console.log(`ratio            ${(during.rps / baseline).toFixed(3)}`);
  console.log(
    `probe hits       ${(hits / during.requests).toFixed(2)} per request ` +
      `(${(write! / during.requests).toFixed(2)} SSL_write, ${
        (read! / during.requests).toFixed(2)
      } SSL_read entry, ` +
      `${(readReturn! / during.requests).toFixed(2)} SSL_read return)`,
  );
  console.log(
    `spans            ${spans} for ${during.requests} requests (${
      (spans / during.requests).toFixed(3)
    } per request), ${dropped} events dropped`,
  );
  console.log(
    `agent RSS        ${(peak.total / 1024).toFixed(1)} MB peak while tracing, of which ` +
      `${
        (peak.own / 1024).toFixed(1)
      } MB its own (heap and ring buffer; the rest is Deno's executable)`,
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

await httpsUnderLoad();
await ingest();
await symbolLookup();
