/**
 * A seeded fuzzer for the span stage as a whole: every recorded conversation of every
 * protocol (`src/protocols/_testdata.ts`), mutated, delivered from either end as stream
 * chunks with random record boundaries, reordering, duplicates, lost stretches, key reuse
 * and socket facts at random moments, to a span builder with the whole registry — so each
 * protocol's sniffing meets every other protocol's bytes. It checks that nothing throws
 * and every span is well formed.
 *
 * @module
 */
import { SpanBuilder } from "../src/spans/span_builder.ts";
import type { Span } from "../src/model/span.ts";
import type { SocketInfo, StreamChunk } from "../src/model/stream_chunk.ts";
import { type CapturedPiece, CAPTURES } from "../src/protocols/_testdata.ts";
import { mutateConnection } from "./_wire.ts";
import { mulberry32 } from "../src/prng.ts";

/** What a fuzz run saw. */
export interface FuzzRegistryResult {
  iterations: number;
  spans: number;
  /** Connections given up (told through `onNotParsed`). */
  givenUp: number;
}

const CORPUS: CapturedPiece[][] = Object.values(CAPTURES).flat();
const TOKENS = [
  "GET / HTTP/1.1\r\n\r\n",
  "HTTP/1.1 200 OK\r\n\r\n",
  "\r\n\r\n",
  "Z\0\0\0\x05I",
  "\x05\0\0\0\x03",
  "\x07\0\0\x01\0\0\0\x02\0\0\0",
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
].map((t) => Uint8Array.from(t, (c) => c.charCodeAt(0)));
const PORTS = [80, 443, 3306, 5432, 8080, 40000];

function check(s: Span): void {
  if (!/^[0-9a-f]{32}$/.test(s.traceId) || !/^[0-9a-f]{16}$/.test(s.spanId)) {
    throw new Error(`fuzz: bad ids ${s.traceId}/${s.spanId}`);
  }
  if (s.endTimeUnixNano < s.startTimeUnixNano) throw new Error("fuzz: span ends before it starts");
  if (s.name === "") throw new Error("fuzz: empty span name");
  for (const [k, v] of Object.entries(s.attributes)) {
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`fuzz: ${k} = ${v}`);
  }
}

/**
 * Runs `iterations` random connections from `seed`; throws on the first failure, naming
 * the iteration and seed so that it can be replayed.
 *
 * @example
 * ```ts
 * import { fuzzRegistry } from "./registry_fuzz.ts";
 * fuzzRegistry(20, 1).iterations; // 20
 * ```
 */
export function fuzzRegistry(iterations: number, seed: number): FuzzRegistryResult {
  const rand = mulberry32(seed);
  let spans = 0;
  let givenUp = 0;
  for (let it = 0; it < iterations; it++) {
    try {
      const builder = new SpanBuilder({
        toUnixNano: (ns) => ns,
        resource: () => ({}),
        onSpan: (s) => {
          check(s);
          spans++;
        },
        onNotParsed: () => givenUp++,
        reorderWaitNs: 1_000n,
        maxPipelined: rand() < 0.2 ? 2 : 64,
      });
      const conn = mutateConnection(CORPUS[Math.floor(rand() * CORPUS.length)]!, rand, TOKENS);
      const client = rand() < 0.5;
      const port = PORTS[Math.floor(rand() * PORTS.length)]!;
      const socket = (n: number): SocketInfo => ({
        pid: 1,
        conn: "k",
        socket: `s${n}`,
        fd: 3,
        family: rand() < 0.9 ? "ipv4" : "unix",
        localAddress: "127.0.0.1",
        localPort: client ? 40000 : port,
        peerAddress: "127.0.0.1",
        peerPort: client ? port : 40000,
        monoNs: 0n,
        callMonoNs: 0n,
      });
      const socketAt = Math.floor(rand() * (conn.length + 1));
      const pos = { ingress: 0, egress: 0 };
      const held: StreamChunk[] = [];
      let sockets = 0;
      for (let i = 0; i < conn.length; i++) {
        if (i === socketAt) builder.socket(socket(sockets++));
        const p = conn[i]!;
        const direction = (p.dir === "c2s") === client ? "egress" : "ingress";
        if (rand() < 0.02) pos[direction] += 1 + Math.floor(rand() * 64); // a lost stretch
        const at = pos[direction];
        const end = at + p.bytes.length + (rand() < 0.05 ? Math.floor(rand() * 100) : 0);
        let from = 0;
        while (from < p.bytes.length) {
          const to = rand() < 0.7
            ? p.bytes.length
            : from + 1 + Math.floor(rand() * (p.bytes.length - from));
          const chunk: StreamChunk = {
            pid: 1,
            tid: client ? 2 : 3,
            conn: "k",
            secure: rand() < 0.5,
            direction,
            pos: at + from,
            data: p.bytes.subarray(from, to),
            callEnd: end,
            last: to === p.bytes.length,
            monoNs: p.ns,
          };
          if (rand() < 0.05) held.push(chunk); // late
          else builder.chunk(chunk);
          if (rand() < 0.02) builder.chunk(chunk); // duplicate
          from = to;
        }
        pos[direction] = end;
        if (rand() < 0.1 && held.length > 0) builder.chunk(held.shift()!);
        if (rand() < 0.05) builder.tick(p.ns + BigInt(Math.floor(rand() * 10_000)));
        if (rand() < 0.01) builder.socket(socket(sockets++)); // the key moves
        if (rand() < 0.005) {
          pos.ingress = 0; // the key starts afresh
          pos.egress = 0;
        }
      }
      for (const c of held) builder.chunk(c);
      if (rand() < 0.5) builder.close(1, "k");
      builder.flush();
    } catch (e) {
      throw new Error(`fuzzRegistry: iteration ${it} (seed ${seed}) failed`, { cause: e });
    }
  }
  return { iterations, spans, givenUp };
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 10_000);
  const seed = Number(Deno.args[1] ?? 1);
  console.log(fuzzRegistry(n, seed));
}
