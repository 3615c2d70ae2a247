/**
 * The one suite every protocol passes: a table of recorded conversations (real clients
 * against real servers, `src/protocols/_testdata.ts`), each run through the span builder
 * and its registry the ways a capture can deliver it — socket first, bytes alone, in
 * smaller pieces, from either end — with the same spans expected every time; alone in a
 * registry the protocol still makes them, and a registry without it makes none and gives
 * the connection up once. A new protocol adds its captures as rows here.
 */
import assert from "node:assert/strict";
import { SpanBuilder } from "./span_builder.ts";
import { PROTOCOLS } from "./registry.ts";
import type { Span } from "../model/span.ts";
import type { SocketInfo, StreamChunk } from "../model/stream_chunk.ts";
import type { Protocol } from "../protocols/protocol.ts";
import { type CapturedPiece, CAPTURES } from "../protocols/_testdata.ts";

/** One recorded connection and the spans it must give. */
interface ProtocolCase {
  /** Capture name in `CAPTURES`, and which of its connections. */
  capture: string;
  connection?: number;
  /** The protocol that must claim it. */
  protocol: string;
  /** The protocol it must be handed over to mid-way (an HTTP/1.1 Upgrade), if any. */
  handedTo?: string;
  /** The server's port, as the socket would say. */
  port: number;
  /** Span name and response status (HTTP status code or database error code, "" for none). */
  spans: [name: string, status: string][];
  /**
   * The connection carries fewer than the 8 openings after which the other protocols give
   * it up: without its own protocol it makes no span, and is not given up either.
   */
  fewOpenings?: true;
}

const CASES: ProtocolCase[] = [
  {
    capture: "http1_curl",
    protocol: "http1",
    port: 8080,
    spans: [["GET", "200"], ["POST", "200"], ["HEAD", "200"], ["GET", "404"], ["GET", "200"]],
  },
  {
    // nghttp's four multiplexed streams against nginx (h2c), HPACK dynamic-table references
    // from the second stream on.
    capture: "nginx_h2c",
    protocol: "http2",
    port: 8080,
    spans: [["GET", "200"], ["GET", "404"], ["GET", "200"], ["GET", "200"]],
    fewOpenings: true,
  },
  {
    capture: "nginx_h2c",
    connection: 2,
    protocol: "http2",
    port: 8080,
    spans: [["POST", "405"]],
    fewOpenings: true,
  },
  {
    // curl --http2 on http:// to a Go h2c server: `Upgrade: h2c`, 101, then HTTP/2 with the
    // request as stream 1; no span for the 101.
    capture: "go_h2c_upgrade",
    protocol: "http1",
    handedTo: "http2",
    port: 8080,
    spans: [["GET", "200"]],
    fewOpenings: true,
  },
  {
    // nghttp -u: the upgraded stream 1, then a request of its own (stream 13) answered 404.
    capture: "go_h2c_upgrade",
    connection: 1,
    protocol: "http1",
    handedTo: "http2",
    port: 8080,
    spans: [["GET", "200"], ["GET", "404"]],
    fewOpenings: true,
  },
  {
    // grpc-go: unary OK, unary NOT_FOUND (trailers-only), server streaming.
    capture: "grpc_go",
    protocol: "http2",
    port: 50051,
    spans: [["demo.Echo/Say", "200"], ["demo.Echo/Say", "200"], ["demo.Echo/Count", "200"]],
  },
  {
    capture: "pg_psql",
    protocol: "postgresql",
    port: 5432,
    spans: [
      ["CREATE users", ""],
      ["INSERT users", ""],
      ["SELECT users", ""],
      ["SELECT missing_table", "42P01"],
      ["UPDATE users", ""],
      ["BEGIN", ""],
      ["COPY users", ""],
    ],
  },
  {
    capture: "pg_node",
    protocol: "postgresql",
    port: 5432,
    spans: [
      ["CREATE items", ""],
      ["INSERT items", ""],
      ["INSERT items", ""],
      ["SELECT items", ""],
      ["SELECT items", ""],
      ["UPDATE items", ""],
      ["SELECT missing_table", "42P01"],
      ["SELECT", "22012"],
      ["DELETE items", ""],
    ],
  },
  {
    capture: "mariadb_cli",
    protocol: "mysql",
    port: 3306,
    spans: [
      ["CREATE users", ""],
      ["INSERT users", ""],
      ["SELECT users", ""],
      ["UPDATE users", ""],
      ["SELECT missing_table", "1146"],
    ],
  },
  {
    capture: "mariadb_mysql2",
    connection: 1,
    protocol: "mysql",
    port: 3306,
    spans: [
      ["CREATE items", ""],
      ["INSERT items", ""],
      ["INSERT items", ""],
      ["SELECT items", ""],
      ["SELECT items", ""],
      ["SELECT missing_table", "1146"],
      ["INSERT items", "1062"],
      ["DELETE items", ""],
    ],
  },
];

/** How the capture is delivered. */
interface Delivery {
  traced: "client" | "server";
  /** Socket facts before the first byte. */
  socketFirst: boolean;
  /** Split every piece in two records of one call. */
  split: boolean;
  protocols: readonly Protocol[];
}

function run(c: ProtocolCase, d: Delivery) {
  const spans: Span[] = [];
  const givenUp: string[] = [];
  const builder = new SpanBuilder({
    toUnixNano: (ns) => ns,
    resource: () => ({}),
    onSpan: (s) => spans.push(s),
    onNotParsed: (pid, conn) => givenUp.push(`${pid}/${conn}`),
    protocols: d.protocols,
  });
  const client = d.traced === "client";
  const socket: SocketInfo = {
    pid: 7,
    conn: "k",
    socket: "s1",
    fd: 5,
    family: "ipv4",
    localAddress: "127.0.0.1",
    localPort: client ? 40000 : c.port,
    peerAddress: "127.0.0.1",
    peerPort: client ? c.port : 40000,
    monoNs: 0n,
    callMonoNs: 0n,
  };
  if (d.socketFirst) builder.socket(socket);
  const pos = { ingress: 0, egress: 0 };
  const pieces: CapturedPiece[] = CAPTURES[c.capture]![c.connection ?? 0]!;
  for (const p of pieces) {
    const direction = (p.dir === "c2s") === client ? "egress" : "ingress";
    const at = pos[direction];
    const end = at + p.bytes.length;
    const cut = d.split && p.bytes.length > 1 ? p.bytes.length >> 1 : p.bytes.length;
    const chunk = (from: number, to: number): StreamChunk => ({
      pid: 7,
      tid: client ? 11 : 12,
      conn: "k",
      secure: false,
      direction,
      pos: at + from,
      data: p.bytes.subarray(from, to),
      callEnd: end,
      last: to === p.bytes.length,
      monoNs: p.ns,
    });
    builder.chunk(chunk(0, cut));
    if (cut < p.bytes.length) builder.chunk(chunk(cut, p.bytes.length));
    pos[direction] = end;
  }
  if (!d.socketFirst) builder.socket(socket);
  builder.flush();
  return { spans, givenUp, stats: builder.stats };
}

function summary(spans: Span[]): [string, string][] {
  return spans.map((s) => [
    s.name,
    String(
      s.attributes["http.response.status_code"] ?? s.attributes["db.response.status_code"] ?? "",
    ),
  ]);
}

for (const c of CASES) {
  const label = `${c.capture}${c.connection ? `#${c.connection}` : ""}`;
  const own = PROTOCOLS.filter((p) => p.name === c.protocol);
  // With the protocol it hands over to, if any.
  const ownAndNext = PROTOCOLS.filter((p) => p.name === c.protocol || p.name === c.handedTo);
  const others = PROTOCOLS.filter((p) => p.name !== c.protocol);

  Deno.test(`protocol cases: ${label} is ${c.protocol}, registered once`, () => {
    assert.equal(own.length, 1);
  });

  for (const traced of ["client", "server"] as const) {
    const kind = traced === "client" ? "CLIENT" : "SERVER";
    for (const socketFirst of [true, false]) {
      for (const split of [false, true]) {
        const how = `${traced}, socket ${socketFirst ? "first" : "last"}${split ? ", split" : ""}`;
        Deno.test(`protocol cases: ${label} (${how}) through the registry`, () => {
          const { spans, givenUp, stats } = run(c, {
            traced,
            socketFirst,
            split,
            protocols: PROTOCOLS,
          });
          assert.deepEqual(summary(spans), c.spans);
          assert.ok(spans.every((s) => s.kind === kind), "span kinds");
          if (c.handedTo === "http2") {
            const versions = spans.map((s) => s.attributes["network.protocol.version"]);
            assert.deepEqual(versions, spans.map(() => "2"), "handed over: HTTP/2 spans");
          }
          assert.deepEqual(givenUp, []);
          assert.equal(stats.parseErrors + stats.sql.parseErrors, 0);
        });
      }
    }

    const alone = c.handedTo === undefined ? "alone" : `and ${c.handedTo} alone`;
    Deno.test(`protocol cases: ${label} (${traced}) by ${c.protocol} ${alone}`, () => {
      const protocols = ownAndNext;
      const { spans } = run(c, { traced, socketFirst: false, split: false, protocols });
      assert.deepEqual(summary(spans), c.spans);
    });

    Deno.test(`protocol cases: ${label} (${traced}) without ${c.protocol}: given up once`, () => {
      const { spans, givenUp } = run(c, {
        traced,
        socketFirst: false,
        split: false,
        protocols: others,
      });
      assert.deepEqual(summary(spans), []);
      assert.deepEqual(givenUp, c.fewOpenings ? [] : ["7/k"]);
    });
  }
}
