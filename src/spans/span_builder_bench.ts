/**
 * Throughput of the HTTP span stage on small keep-alive exchanges (one record per call).
 * Run with `deno bench src/spans/span_builder_bench.ts`.
 *
 * @module
 */
import { SpanBuilder } from "./span_builder.ts";
import type { StreamChunk } from "../model/stream_chunk.ts";

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const REQ = enc(
  "GET /api/v1/users/42?fields=name,email HTTP/1.1\r\nHost: api.internal:8443\r\n" +
    "User-Agent: okhttp/4.12.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n" +
    "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
);
const RESP = enc(
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 26\r\n" +
    'Date: Tue, 01 Jan 2030 00:00:00 GMT\r\n\r\n{"name":"a","email":"b@c"}',
);
const CONNS = 1000;
const ROUNDS = 50;

/** Builds the records of ROUNDS exchanges on each of CONNS connections, interleaved. */
function records(): StreamChunk[] {
  const out: StreamChunk[] = [];
  let t = 1_000_000n;
  for (let r = 0; r < ROUNDS; r++) {
    for (let c = 0; c < CONNS; c++) {
      const conn = `0x${(0x7f0000 + c).toString(16)}`;
      t += 1000n;
      const record = (direction: "ingress" | "egress", data: Uint8Array, monoNs: bigint) =>
        out.push({
          pid: 1234,
          tid: 1235 + (c & 7),
          conn,
          secure: true,
          direction,
          pos: r * data.length,
          data,
          callEnd: (r + 1) * data.length,
          last: true,
          monoNs,
        });
      record("ingress", REQ, t);
      record("egress", RESP, t + 500n);
    }
  }
  return out;
}

const RECORDS = records();

function run(): number {
  let spans = 0;
  const builder = new SpanBuilder({
    toUnixNano: (ns) => ns + 1_700_000_000_000_000_000n,
    resource: () => ({ "service.name": "bench" }),
    onSpan: () => spans++,
    socketWaitNs: 0n, // these records come without socket facts: do not wait for them
  });
  for (let i = 0; i < RECORDS.length; i++) builder.chunk(RECORDS[i]!);
  builder.flush();
  return spans;
}

Deno.bench(`http spans: ${RECORDS.length} records (${CONNS} connections)`, () => {
  if (run() !== CONNS * ROUNDS) throw new Error("lost spans");
});

/** One connection: requests answered by 1 MiB bodies in 4 KiB records. */
function bodyRecords(): StreamChunk[] {
  const out: StreamChunk[] = [];
  const head = enc("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
  const block = new Uint8Array(4096);
  let inPos = 0;
  let outPos = 0;
  let t = 1_000_000n;
  const rec = (direction: "ingress" | "egress", pos: number, data: Uint8Array) => ({
    pid: 1,
    tid: 2,
    conn: "big",
    secure: true,
    direction,
    pos,
    data,
    callEnd: pos + data.length,
    last: true,
    monoNs: t++,
  });
  for (let r = 0; r < 100; r++) {
    out.push(rec("ingress", inPos, REQ));
    inPos += REQ.length;
    out.push(rec("egress", outPos, head));
    outPos += head.length;
    for (let i = 0; i < 256; i++) {
      out.push(rec("egress", outPos, block));
      outPos += block.length;
    }
  }
  return out;
}

const BODY_RECORDS = bodyRecords();

function runBodies(): number {
  let spans = 0;
  const builder = new SpanBuilder({
    toUnixNano: (ns) => ns,
    resource: () => ({}),
    onSpan: () => spans++,
    socketWaitNs: 0n, // these records come without socket facts: do not wait for them
  });
  for (let i = 0; i < BODY_RECORDS.length; i++) builder.chunk(BODY_RECORDS[i]!);
  return spans;
}

Deno.bench(`http spans: ${BODY_RECORDS.length} records, mostly 4 KiB body records`, () => {
  if (runBodies() !== 100) throw new Error("lost spans");
});

if (import.meta.main) {
  for (let i = 0; i < 5; i++) runBodies();
  const t1 = performance.now();
  runBodies();
  const ms1 = performance.now() - t1;
  console.log(
    `${BODY_RECORDS.length} body-heavy records in ${ms1.toFixed(0)} ms: ` +
      `${(BODY_RECORDS.length / ms1 / 1000).toFixed(2)} M records/s`,
  );
  for (let i = 0; i < 5; i++) run(); // warm up
  const t0 = performance.now();
  const spans = run();
  const ms = performance.now() - t0;
  console.log(
    `${RECORDS.length} records, ${spans} spans in ${ms.toFixed(0)} ms: ` +
      `${(RECORDS.length / ms / 1000).toFixed(2)} M records/s`,
  );
}
