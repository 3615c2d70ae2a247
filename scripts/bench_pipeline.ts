/**
 * The agent's CPU per span on its whole user-space path, without a kernel, a target or a
 * load generator sharing the cores: ring-buffer records laid out as the capture's BTF says
 * (`bpf/out/capture.bpf.o`) are decoded, built into spans, routed and sampled, and written
 * as JSON lines to stdout (/dev/null here), as `upspan --format json` does for nginx under
 * `wrk -t1 -c4`: per request the request's read (51 bytes), the response head's write (234
 * bytes) and the body's `sendfile` (no bytes captured), on 4 keep-alive connections.
 *
 *   deno task bench:pipeline [--target http|https|sql] [--rounds 20] [--against /path/to/other/checkout]
 *
 * `--target https`: the same exchanges read and written through OpenSSL (records of the
 * `SSL*`, not the socket, each connection's socket told once), as the bench's Python HTTPS
 * server makes them.
 *
 * `--target sql`: libpq's records (`bpf/out/sqllib.bpf.o`) as pgbench -S makes them in
 * libpq's asynchronous mode instead (`pgbenchRecords` in src/warm_up.ts), made into CLIENT
 * spans.
 *
 * `--against`: another checkout's span path (its `src/`), measured in the same process,
 * round for round in alternation with this one's, so that both see the same machine (the
 * shared machine's speed drifts by tens of percent within minutes). Each round makes 10,000
 * spans; the figure is the main thread's CPU time per span (`/proc/thread-self/schedstat`),
 * median and fastest of the rounds, after 5 rounds of warm-up. Not measured here: reading
 * the ring, the event loop's wake-ups, the write itself, V8's background threads.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { BpfObject } from "../ffi/mod.ts";
import { NGINX_RESOURCE, nginxRecords, pgbenchRecords } from "../src/warm_up.ts";
import type { Span } from "../src/model/span.ts";
import type { SqlLibStatement } from "../src/sqllib/statements.ts";

/** One round of a checkout's span path over `records`: spans made. */
type Round = () => Promise<number>;

/** The span path of the checkout at `root`, as the agent wires it for `--format json`. */
async function spanPath(root: string, requests: number, tls: boolean): Promise<Round> {
  const { captureDecoder, CAPTURE_OBJECT } = await import(`${root}/src/capture/mod.ts`);
  const { SpanBuilder } = await import(`${root}/src/spans/mod.ts`);
  const { SpanPipeline } = await import(`${root}/src/span_pipeline.ts`);
  const { JsonLinesExporter } = await import(`${root}/src/export/json.ts`);
  const obj = BpfObject.open(CAPTURE_OBJECT);
  const decode = captureDecoder(obj);
  const { bytes, at } = nginxRecords(obj, requests, tls);
  obj.close();
  const view = new DataView(bytes.buffer);
  const exporter = new JsonLinesExporter();
  const offset = 1_796_563_984_000_000_000n;
  return async () => {
    const pipeline = new SpanPipeline({ onSpan: (s: Span) => exporter.export(s) });
    const builder = new SpanBuilder({
      onSpan: (s: Span) => pipeline.push(s),
      toUnixNano: (m: bigint) => m + offset,
      resource: () => NGINX_RESOURCE,
    });
    // As the agent reads the ring: batches of 4096 records, the output between them.
    for (let i = 0; i < at.length; i += 2) {
      const ev = decode(bytes, view, at[i]!, at[i + 1]!);
      if (ev?.type === "chunk") builder.chunk(ev.chunk);
      else if (ev?.type === "socket") builder.socket(ev.socket);
      if ((i & 8191) === 8190) await new Promise((r) => setTimeout(r, 0));
    }
    builder.flush();
    await new Promise((r) => setTimeout(r, 0));
    return pipeline.counts.spans;
  };
}

/** The SQL library path of the checkout at `root`: decoder, pairing, span, pipeline, JSON. */
async function sqlPath(root: string, statements: number): Promise<Round> {
  const { sqlLibEventDecoder } = await import(`${root}/src/sqllib/events.ts`);
  const { SqlLibStatements } = await import(`${root}/src/sqllib/statements.ts`);
  const { sqlLibSpan } = await import(`${root}/src/sqllib/spans.ts`);
  const { RandomIdGenerator } = await import(`${root}/src/model/ids.ts`);
  const { SpanPipeline } = await import(`${root}/src/span_pipeline.ts`);
  const { JsonLinesExporter } = await import(`${root}/src/export/json.ts`);
  const obj = BpfObject.open(new URL("../bpf/out/sqllib.bpf.o", import.meta.url).pathname);
  const decode = sqlLibEventDecoder(obj);
  const { bytes, at } = pgbenchRecords(obj, statements);
  obj.close();
  const view = new DataView(bytes.buffer);
  const exporter = new JsonLinesExporter();
  const ids = new RandomIdGenerator();
  const offset = 1_796_563_984_000_000_000n;
  const ctx = { resource: NGINX_RESOURCE, toUnixNano: (m: bigint) => m + offset, ids };
  return async () => {
    const pipeline = new SpanPipeline({ onSpan: (s: Span) => exporter.export(s) });
    const pairs = new SqlLibStatements((st: SqlLibStatement) => pipeline.push(sqlLibSpan(st, ctx)));
    for (let i = 0; i < at.length; i += 2) {
      const r = decode(bytes, view, at[i]!, at[i + 1]!);
      if (r.ok) pairs.push(r.event);
      if ((i & 8191) === 8190) await new Promise((r) => setTimeout(r, 0));
    }
    await new Promise((r) => setTimeout(r, 0));
    return pipeline.counts.spans;
  };
}

/** CPU time of the calling thread so far, nanoseconds. */
function threadCpuNs(): number {
  return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "20" },
    target: { type: "string", default: "http" },
    against: { type: "string" },
    child: { type: "boolean", default: false },
  },
});

if (values.child) {
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const roots = values.against ? [values.against.replace(/\/$/, ""), here] : [here];
  const paths: Round[] = [];
  for (const root of roots) {
    paths.push(
      values.target === "sql"
        ? await sqlPath(root, 10_000)
        : await spanPath(root, 10_000, values.target === "https"),
    );
  }
  for (let w = 0; w < 5; w++) for (const run of paths) await run();
  const perSpan = roots.map(() => [] as number[]);
  for (let r = 0; r < Number(values.rounds); r++) {
    for (let k = 0; k < paths.length; k++) {
      const which = r % 2 === 0 ? k : paths.length - 1 - k; // each goes first in turn
      const t0 = threadCpuNs();
      const spans = await paths[which]!();
      perSpan[which]!.push((threadCpuNs() - t0) / spans / 1000);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  console.error(JSON.stringify(roots.map((root, k) => ({
    root,
    median: median(perSpan[k]!),
    fastest: Math.min(...perSpan[k]!),
  }))));
} else {
  // The spans go to stdout: a child writes them to /dev/null and reports on stderr.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", ...Deno.args],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr).trim();
  const last = text.split("\n").at(-1) ?? "";
  if (!out.success || !last.startsWith("[")) throw new Error(`the run failed:\n${text}`);
  for (const r of JSON.parse(last) as { root: string; median: number; fastest: number }[]) {
    console.log(
      `${r.root}: ${
        r.median.toFixed(2)
      } µs main-thread CPU per span (median of ${values.rounds} rounds; fastest ${
        r.fastest.toFixed(2)
      })`,
    );
  }
}
