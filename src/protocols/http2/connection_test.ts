import assert from "node:assert/strict";
import { loadCapture, type Piece, replay } from "./_testdata.ts";
import { field, Http2Connection, type Http2Exchange } from "./connection.ts";

const summary = (x: Http2Exchange) => ({
  stream: x.streamId,
  method: field(x.request.headers?.fields ?? [], ":method"),
  path: field(x.request.headers?.fields ?? [], ":path"),
  status: field(x.response?.headers?.fields ?? [], ":status"),
  requestBody: x.request.bodySize,
  responseBody: x.response?.bodySize,
});

const NGINX = loadCapture("nginx_h2c");
const NGINX_WANT = [
  [
    {
      stream: 13,
      method: "GET",
      path: "/index.html",
      status: "200",
      requestBody: 0,
      responseBody: 15,
    },
    {
      stream: 15,
      method: "GET",
      path: "/missing",
      status: "404",
      requestBody: 0,
      responseBody: 153,
    },
    {
      stream: 17,
      method: "GET",
      path: "/big.bin",
      status: "200",
      requestBody: 0,
      responseBody: 20000,
    },
    {
      stream: 19,
      method: "GET",
      path: "/index.html?again=1",
      status: "200",
      requestBody: 0,
      responseBody: 15,
    },
  ],
  [{
    stream: 1,
    method: "HEAD",
    path: "/index.html",
    status: "200",
    requestBody: 0,
    responseBody: 0,
  }],
  [{
    stream: 1,
    method: "POST",
    path: "/index.html",
    status: "405",
    requestBody: 11,
    responseBody: 157,
  }],
];

Deno.test("http2 connection: nghttp and curl against nginx (h2c), one exchange per stream, exact", () => {
  for (const [i, pieces] of NGINX.entries()) {
    const { exchanges, conn } = replay(pieces);
    assert.deepEqual(exchanges.map(summary), NGINX_WANT[i], `connection ${i}`);
    assert.equal(conn.clientSide, 0);
    assert.equal(conn.headersTrusted, true);
    assert.deepEqual(conn.stats, { streamsDropped: 0, lostBlocks: 0 });
    for (const x of exchanges) {
      assert.equal(x.request.complete && x.response!.complete && !x.cutShort, true);
      assert.ok(x.response!.lastByteMonoNs >= x.request.firstByteMonoNs);
    }
  }
  // The traceparent survives HPACK (dynamic-table references on streams 15–19).
  const { exchanges } = replay(NGINX[0]!);
  for (const x of exchanges) {
    assert.equal(
      field(x.request.headers!.fields, "traceparent"),
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
  }
});

Deno.test("http2 connection: the same bytes in 1-, 7- and 100-byte pieces give the same exchanges", () => {
  for (const split of [1, 7, 100]) {
    for (const [i, pieces] of NGINX.entries()) {
      assert.deepEqual(
        replay(pieces, { split }).exchanges.map(summary),
        NGINX_WANT[i],
        `split ${split}`,
      );
    }
  }
});

Deno.test("http2 connection: a capture's sides numbered the other way round find the client", () => {
  const swapped: Piece[] = NGINX[0]!.map((p) => ({ ...p, side: p.side === 0 ? 1 : 0 }));
  const { exchanges, conn } = replay(swapped);
  assert.equal(conn.clientSide, 1);
  assert.deepEqual(exchanges.map(summary), NGINX_WANT[0]);
});

Deno.test("http2 connection: joined mid-way at any frame, never a wrong header; what is known, or nothing", () => {
  const full = replay(NGINX[0]!).exchanges;
  const byStream = new Map(full.map((x) => [x.streamId, x]));
  const [client, ...rest] = NGINX[0]!;
  let exchanges = 0;
  let fields = 0;
  // Cut the client's first piece at each of its frame boundaries (after the preface), and
  // the server's pieces too: every cut loses the HPACK state of what came before.
  const cuts = framesOf(client!.bytes.subarray(24)).map(([at]) => 24 + at);
  for (const at of cuts) {
    for (const serverFrom of [0, 1]) {
      const server = rest.filter((p) => p.side === 1).slice(serverFrom);
      const pieces = [
        { ...client!, bytes: client!.bytes.subarray(at) },
        ...rest.filter((p) => p.side === 0),
        ...server,
      ];
      const got = replay(pieces);
      assert.equal(got.conn.headersTrusted, false, `cut ${at}`);
      for (const x of got.exchanges) {
        exchanges++;
        const truth = byStream.get(x.streamId)!;
        for (const [n, v] of x.request.headers?.fields ?? []) {
          assert.equal(field(truth.request.headers!.fields, n), v, `cut ${at}: ${n}`);
          fields++;
        }
        for (const [n, v] of x.response?.headers?.fields ?? []) {
          assert.equal(field(truth.response!.headers!.fields, n), v, `cut ${at}: ${n}`);
          fields++;
        }
      }
    }
  }
  assert.ok(cuts.length >= 6, `${cuts.length} cuts`);
  assert.ok(exchanges >= 6 && fields >= 30, `${exchanges} exchanges, ${fields} fields checked`);
});

Deno.test("http2 connection: joined at a later stream, static and literal fields decode, dynamic ones are unknown", () => {
  // nginx connection 0, from the client's second HEADERS on: build it by cutting the first
  // client piece after its first request.
  const pieces = NGINX[0]!;
  const first = pieces[0]!;
  // Skip the preface, SETTINGS, WINDOW_UPDATE, PRIORITY frames and stream 13's HEADERS by
  // walking frame headers from the preface's end.
  let at = 24;
  const b = first.bytes;
  let headersSeen = 0;
  while (at + 9 <= b.length) {
    const len = (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;
    const type = b[at + 3]!;
    at += 9 + len;
    if (type === 1 && ++headersSeen === 1) break;
  }
  const cut: Piece[] = [{ ...first, bytes: b.subarray(at) }, ...pieces.slice(1)];
  const { exchanges, conn } = replay(cut);
  assert.equal(conn.clientSide, 0, "decided by :method in a later request");
  const got = exchanges.map(summary);
  // Streams 15, 17, 19: :method and :scheme are static-table fields, :path a literal.
  assert.deepEqual(got.map((g) => [g.stream, g.method, g.path]), [
    [15, "GET", "/missing"],
    [17, "GET", "/big.bin"],
    [19, "GET", "/index.html?again=1"],
  ]);
  // Fields nginx's client indexed earlier are counted unknown rather than guessed.
  assert.ok(exchanges.every((x) => x.request.headers!.unknown > 0));
  assert.ok(exchanges.every((x) => field(x.request.headers!.fields, "traceparent") === undefined));
});

/** Offsets of the frames in a piece that starts at a frame boundary: [at, length, type]. */
function framesOf(b: Uint8Array): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let at = 0; at + 9 <= b.length;) {
    const len = (b[at]! << 16) | (b[at + 1]! << 8) | b[at + 2]!;
    out.push([at, len, b[at + 3]!]);
    at += 9 + len;
  }
  return out;
}

/** Replays with `gapLen` bytes from `gapFrom` of piece `index` replaced by a gap. */
function replayWithGap(pieces: Piece[], index: number, gapFrom: number, gapLen: number) {
  const exchanges: Http2Exchange[] = [];
  const c = new Http2Connection({ onExchange: (x) => exchanges.push(x) });
  for (const [i, p] of pieces.entries()) {
    if (i !== index) c.push(p.side, p.bytes, p.ns, 1);
    else {
      c.push(p.side, p.bytes.subarray(0, gapFrom), p.ns, 1);
      c.gap(p.side, gapLen, p.ns);
      c.push(p.side, p.bytes.subarray(gapFrom + gapLen), p.ns, 1);
    }
  }
  c.end();
  return { exchanges, conn: c };
}

Deno.test("http2 connection: a gap inside a DATA frame keeps the framing and counts the body", () => {
  const pieces = NGINX[0]!;
  // The server's piece with the 20,000-byte body: gap 5,000 bytes inside its largest DATA frame.
  const index = pieces.findIndex((p) => p.side === 1 && p.bytes.length > 15000);
  const frames = framesOf(pieces[index]!.bytes);
  const [at, len, type] = frames.reduce((a, f) => (f[1] > a[1] ? f : a));
  assert.equal(type, 0);
  assert.ok(len > 6000);
  const { exchanges, conn } = replayWithGap(pieces, index, at + 9 + 100, 5000);
  assert.deepEqual(exchanges.map(summary), NGINX_WANT[0]);
  assert.equal(conn.headersTrusted, true, "no header block was in the gap");
});

Deno.test("http2 connection: a gap across frame headers loses what it hid, resynchronises on the next piece", () => {
  const pieces = NGINX[0]!;
  const index = pieces.findIndex((p) => p.side === 1 && p.bytes.length > 15000);
  const frames = framesOf(pieces[index]!.bytes);
  // From inside the first frame of the piece to the end of the piece: all its frames lost.
  const b = pieces[index]!.bytes;
  const { exchanges, conn } = replayWithGap(pieces, index, 3, b.length - 3);
  assert.ok(frames.length > 1);
  assert.equal(conn.headersTrusted, false, "header blocks may have been lost");
  // Whatever comes out agrees with the truth where it says anything.
  for (const x of exchanges) {
    const want = NGINX_WANT[0]!.find((w) => w.stream === x.streamId)!;
    const got = summary(x);
    for (const k of ["method", "path", "status"] as const) {
      if (got[k] !== undefined) assert.equal(got[k], want[k]);
    }
  }
});

Deno.test("grpc-go client and server: unary, unary with NOT_FOUND (trailers-only), server streaming", () => {
  const [pieces] = loadCapture("grpc_go");
  const { exchanges } = replay(pieces!);
  const rows = exchanges.map((x) => ({
    path: field(x.request.headers!.fields, ":path"),
    status: field(x.response!.headers!.fields, ":status"),
    grpcStatus: field(x.response!.trailers?.fields ?? x.response!.headers!.fields, "grpc-status"),
    trailersOnly: !x.response!.hasTrailers,
    sent: x.request.grpcMessages?.count,
    received: x.response!.grpcMessages?.count,
  }));
  assert.deepEqual(rows, [
    {
      path: "/demo.Echo/Say",
      status: "200",
      grpcStatus: "0",
      trailersOnly: false,
      sent: 1,
      received: 1,
    },
    {
      path: "/demo.Echo/Say",
      status: "200",
      grpcStatus: "5",
      trailersOnly: true,
      sent: 1,
      received: 0,
    },
    {
      path: "/demo.Echo/Count",
      status: "200",
      grpcStatus: "0",
      trailersOnly: false,
      sent: 1,
      received: 4,
    },
  ]);
});
