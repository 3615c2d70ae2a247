/**
 * A seeded fuzzer for the HTTP/2 parser (`src/protocols/http2/`): replays the recorded
 * captures (nginx, nghttp, curl, grpc-go, the Upgrade: h2c path from where HTTP/1 hands it
 * over, its request as stream 1) with both sides mutated
 * (bytes flipped, stretches deleted, duplicated or replaced by frame-shaped tokens,
 * truncated), cut into random pieces, interleaved, with random gaps and connections joined
 * mid-way, and checks that nothing throws, that every exchange is possible, that the open
 * streams stay bounded, and — for inputs left unmutated but cut and gapped — that every
 * header field decoded is one the stream really carried (HPACK never guesses).
 *
 * @module
 */
import { mulberry32 } from "../src/prng.ts";
import { loadCapture, type Piece } from "../src/protocols/http2/_testdata.ts";
import {
  Http2Connection,
  type Http2Connection as Conn,
  type Http2Exchange,
} from "../src/protocols/http2/connection.ts";
import { upgradedMessage } from "../src/protocols/http2/upgrade.ts";
import { Http1Parser, type Http1Request } from "../src/protocols/http1/framer.ts";
import { HpackDecoder } from "../src/protocols/http2/hpack.ts";
import { http2Span } from "../src/protocols/http2/exchange.ts";
import { grpcSpanPart } from "../src/protocols/http2/grpc_semconv.ts";

/** What a fuzz run saw. */
export interface FuzzHttp2Result {
  iterations: number;
  exchanges: number;
  spans: number;
  /** Header fields checked against the unmutated truth. */
  fieldsChecked: number;
  /** Impossible results (each is a failure). */
  problems: string[];
}

const MAX_STREAMS = 32;

interface Case {
  pieces: Piece[];
  /** The request an `Upgrade: h2c` connection carried, which becomes stream 1. */
  upgrade: Http1Request | undefined;
  /** Per stream id, the fields each message really carried ("name\0value"). */
  truth: Map<number, Set<string>>;
}

function loadCases(): Case[] {
  const cases: Case[] = [];
  for (const name of ["nginx_h2c", "grpc_go", "go_h2c_upgrade"]) {
    for (const [i, whole] of loadCapture(name).entries()) {
      const { pieces, upgrade } = name === "go_h2c_upgrade" && i < 2
        ? afterUpgrade(whole)
        : { pieces: whole, upgrade: undefined };
      const truth = new Map<number, Set<string>>();
      for (const x of run(pieces, upgrade, () => 0.99)) {
        const set = new Set<string>();
        for (
          const b of [
            x.request.headers,
            x.request.trailers,
            x.response?.headers,
            x.response?.trailers,
          ]
        ) {
          for (const [n, v] of b?.fields ?? []) set.add(`${n}\0${v}`);
        }
        truth.set(x.streamId, set);
      }
      cases.push({ pieces, upgrade, truth });
    }
  }
  return cases;
}

/**
 * An upgrade capture from the byte after each side's HTTP/1 — the request, the 101's head
 * — where the HTTP/1 parser hands the connection over, and the request it passes on.
 */
function afterUpgrade(whole: Piece[]): { pieces: Piece[]; upgrade: Http1Request | undefined } {
  let upgrade: Http1Request | undefined;
  const requests = new Http1Parser("request", {
    onHead: (req) => {
      upgrade = req;
      requests.stopAfterMessage();
    },
    onMessage: () => {},
  });
  const framers = [requests, new Http1Parser("response", { onMessage: () => {} })] as const;
  const pieces: Piece[] = [];
  for (const p of whole) {
    const framer = framers[p.side];
    const used = framer.stopped ? 0 : framer.data(p.bytes, p.ns);
    if (used < p.bytes.length) pieces.push({ ...p, bytes: p.bytes.subarray(used) });
  }
  return { pieces, upgrade };
}

const TOKENS: Uint8Array[] = [
  Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 0, 0), // SETTINGS
  Uint8Array.of(0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 1, 0), // WINDOW_UPDATE
  Uint8Array.of(0, 0, 1, 1, 5, 0, 0, 0, 1, 0x82), // HEADERS GET
  Uint8Array.of(0, 0, 1, 1, 4, 0, 0, 0, 3, 0xbe), // HEADERS, dynamic index 62
  Uint8Array.of(0, 0, 1, 9, 4, 0, 0, 0, 1, 0x88), // CONTINUATION
  Uint8Array.of(0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8), // RST_STREAM
  Uint8Array.of(0, 0, 2, 0, 9, 0, 0, 0, 1, 1, 0), // DATA padded, END_STREAM
  Uint8Array.of(0, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9), // a gRPC prefix
  Uint8Array.of(0x3f, 0xe1, 0x1f), // HPACK size update 4096
  Uint8Array.of(0xff, 0xff, 0xff, 0xff), // runaway integer
  Uint8Array.of(0xff, 0xff, 0xff, 0x01, 0x80, 0, 0, 0, 0), // a huge frame length
];

function mutate(input: Uint8Array, rand: () => number): Uint8Array {
  let b = Array.from(input);
  const rounds = 1 + Math.floor(rand() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(rand() * (b.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0:
        if (b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rand() * 256);
        break;
      case 1:
        b.splice(at, Math.floor(rand() * 32));
        break;
      case 2:
        b.splice(at, 0, ...b.slice(at, at + Math.floor(rand() * 64)));
        break;
      case 3:
        b.splice(at, 0, ...TOKENS[Math.floor(rand() * TOKENS.length)]!);
        break;
      case 4:
        for (let k = Math.floor(rand() * 8); k > 0; k--) b.splice(at, 0, Math.floor(rand() * 256));
        break;
      case 5:
        b.length = Math.min(b.length, at);
        break;
      default:
        b = b.concat(Array.from(TOKENS[Math.floor(rand() * TOKENS.length)]!));
    }
  }
  return Uint8Array.from(b);
}

/** Replays pieces, cut and gapped at random, into a connection; returns the exchanges. */
function run(
  pieces: Piece[],
  upgrade: Http1Request | undefined,
  rand: () => number,
  check?: (c: Conn) => void,
  midway = false,
) {
  const out: Http2Exchange[] = [];
  const opts = {
    onExchange: (x: Http2Exchange) => out.push(x),
    maxStreams: MAX_STREAMS,
    maxHeaderBlockBytes: 8192,
    tableLimit: 4096,
  };
  const conn = new Http2Connection(opts);
  if (upgrade !== undefined) {
    conn.expectPreface(0);
    conn.openUpgraded(upgradedMessage(upgrade), false);
  }
  const push = (s: 0 | 1, b: Uint8Array, t: bigint) => conn.push(s, b, t, 1);
  const gap = (s: 0 | 1, n: number, t: bigint) => conn.gap(s, n, t);
  let t = 1n;
  if (midway) (gap(0, 0, t), gap(1, 0, t)); // joined mid-stream: the starts are unknown
  for (const p of pieces) {
    let at = 0;
    while (at < p.bytes.length) {
      const len = 1 + Math.floor(rand() * Math.min(p.bytes.length - at, rand() < 0.5 ? 16 : 4096));
      if (rand() < 0.03) gap(p.side, len, t);
      else push(p.side, p.bytes.subarray(at, at + len), t);
      at += len;
      t += BigInt(1 + Math.floor(rand() * 100));
    }
    check?.(conn);
  }
  if (rand() < 0.5) conn.tick(t, 50n);
  conn.end();
  return out;
}

function problemsOf(x: Http2Exchange): string[] {
  const p: string[] = [];
  for (const m of [x.request, x.response]) {
    if (m === undefined) continue;
    if (!(Number.isInteger(m.bodySize) && m.bodySize >= 0)) p.push(`bodySize ${m.bodySize}`);
    const g = m.grpcMessages;
    if (g !== undefined && !(Number.isInteger(g.count) && g.count >= 0)) {
      p.push(`messages ${g.count}`);
    }
    for (const b of [m.headers, m.trailers]) {
      if (b === undefined) continue;
      if (b.unknown < 0) p.push(`unknown ${b.unknown}`);
      for (const f of b.fields) {
        if (typeof f[0] !== "string" || typeof f[1] !== "string") p.push("field not a string");
      }
    }
  }
  if (!(x.streamId > 0 && x.streamId % 2 === 1)) p.push(`stream id ${x.streamId}`);
  return p;
}

/**
 * Runs `iterations` random cases from `seed`.
 *
 * @example
 * ```ts ignore
 * import { fuzzHttp2 } from "./http2_fuzz.ts";
 * const result = fuzzHttp2(100, 1);
 * // result.problems.length === 0
 * ```
 */
export function fuzzHttp2(iterations: number, seed: number): FuzzHttp2Result {
  const rand = mulberry32(seed);
  const cases = loadCases();
  const result: FuzzHttp2Result = {
    iterations,
    exchanges: 0,
    spans: 0,
    fieldsChecked: 0,
    problems: [],
  };
  const fail = (it: number, what: string) => {
    if (result.problems.length < 20) {
      result.problems.push(`iteration ${it} (seed ${seed}): ${what}`);
    }
  };
  const ctx = {
    kind: "SERVER" as const,
    scheme: "https" as const,
    socket: undefined,
    resource: {},
    toUnixNano: (ns: bigint) => ns,
    ids: { traceId: () => "1".repeat(32), spanId: () => "2".repeat(16) },
  };
  for (let it = 0; it < iterations; it++) {
    const c = cases[Math.floor(rand() * cases.length)]!;
    const honest = rand() < 0.3; // unmutated: decoded fields must be the real ones
    try {
      if (rand() < 0.05) {
        // HPACK alone on mutated blocks.
        const d = new HpackDecoder({ fromStart: rand() < 0.5, tableLimit: 512 });
        const block = mutate(c.pieces[0]!.bytes.subarray(Math.floor(rand() * 200)), rand);
        d.decode(block);
        d.decode(mutate(block, rand));
        continue;
      }
      let pieces = c.pieces;
      let midway = false;
      if (rand() < 0.3) { // joined mid-way
        const from = Math.floor(rand() * pieces.length);
        pieces = pieces.slice(from);
        midway = from > 0;
      }
      if (rand() < 0.3 && pieces.length > 0) {
        midway = true;
        // Joined inside a piece.
        const [first, ...rest] = pieces;
        pieces = [{
          ...first!,
          bytes: first!.bytes.subarray(Math.floor(rand() * first!.bytes.length)),
        }, ...rest];
      }
      if (!honest) {
        pieces = pieces.map((p) => (rand() < 0.5 ? { ...p, bytes: mutate(p.bytes, rand) } : p));
      }
      const exchanges = run(pieces, c.upgrade, rand, (conn) => {
        if (conn.openStreams > MAX_STREAMS) fail(it, `${conn.openStreams} open streams`);
      }, midway);
      for (const x of exchanges) {
        result.exchanges++;
        for (const p of problemsOf(x)) fail(it, p);
        if (http2Span(x, ctx) !== undefined) result.spans++;
        grpcSpanPart(x, "CLIENT");
        if (!honest) continue;
        const truth = c.truth.get(x.streamId);
        for (
          const b of [
            x.request.headers,
            x.request.trailers,
            x.response?.headers,
            x.response?.trailers,
          ]
        ) {
          for (const [n, v] of b?.fields ?? []) {
            result.fieldsChecked++;
            if (truth === undefined || !truth.has(`${n}\0${v}`)) {
              fail(
                it,
                `stream ${x.streamId}: field ${JSON.stringify(n)}: ${
                  JSON.stringify(v)
                } was never sent`,
              );
            }
          }
        }
      }
    } catch (e) {
      fail(it, `threw ${(e as Error).stack ?? e}`);
    }
  }
  return result;
}
