/**
 * upspan's micro-benchmarks, each against a baseline measured in the same run (the
 * overhead on real targets is `deno task bench`'s table):
 *
 * 0. The cost of one probe hit: a probed no-op function against the same unprobed.
 * 1. Ingest: TLS data events read and decoded per second, the zero-copy ring reader
 *    against libbpf's callback consumer.
 * 2. Symbol lookup in /usr/bin/node: upspan's lazy ELF reader against `nm -D`.
 *
 *   deno task bench:micro [--seconds N] [--only ingest,symbols,hits]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runIngest } from "./bench_ingest.ts";
import { probeHitCost } from "./bench_probe_hit.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { seconds: { type: "string", default: "5" }, only: { type: "string" } },
});
/** `--only ingest,symbols,hits`: run just those. */
const only = values.only?.split(",");
const wanted = (name: string) => only === undefined || only.includes(name);
const seconds = Number(values.seconds);
const dec = new TextDecoder();

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
      `${mode.padEnd(26)} ${v.toFixed(1).padStart(8)} ns per call (${(v / none).toFixed(0)}x)`,
    );
  }
  console.log("");
}

if (wanted("hits")) await probeHits();
if (wanted("ingest")) await ingest();
if (wanted("symbols")) await symbolLookup();
