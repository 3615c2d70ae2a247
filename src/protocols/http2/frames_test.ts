import assert from "node:assert/strict";
import { Flag, FrameType, PREFACE } from "./frames.ts";
import { field, Http2Connection, type Http2Exchange } from "./connection.ts";

/** A frame: 9-byte header and payload. */
function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array | number[],
): Uint8Array {
  const p = payload instanceof Uint8Array ? payload : Uint8Array.from(payload);
  const out = new Uint8Array(9 + p.length);
  out.set([p.length >> 16, (p.length >> 8) & 0xff, p.length & 0xff, type, flags]);
  new DataView(out.buffer).setUint32(5, stream);
  out.set(p, 9);
  return out;
}
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};
/** A literal field without indexing, new name (HPACK §6.2.2). */
const lit = (
  n: string,
  v: string,
) => [
  0,
  n.length,
  ...Array.from(n, (c) => c.charCodeAt(0)),
  v.length,
  ...Array.from(v, (c) => c.charCodeAt(0)),
];
const SETTINGS = frame(FrameType.SETTINGS, 0, 0, [0, 4, 0, 0, 0xff, 0xff]);
const GET = [0x82, 0x87, 0x84, ...lit(":authority", "h")]; // GET https / (static table)
const OK = [0x88]; // :status 200

function run(
  client: Uint8Array[],
  server: Uint8Array[],
): { xs: Http2Exchange[]; conn: Http2Connection } {
  const xs: Http2Exchange[] = [];
  const conn = new Http2Connection({ onExchange: (x) => xs.push(x), maxHeaderBlockBytes: 4096 });
  let t = 1n;
  conn.push(0, cat(PREFACE, SETTINGS), t++, 1);
  conn.push(1, SETTINGS, t++, 2);
  // Interleave: all client frames then all server frames, in arrival order of the arrays.
  for (const c of client) conn.push(0, c, t++, 1);
  for (const s of server) conn.push(1, s, t++, 2);
  conn.end();
  return { xs, conn };
}

const statusOf = (x: Http2Exchange) => field(x.response?.headers?.fields ?? [], ":status");

Deno.test("frames: padding and priority on HEADERS, padding on DATA, counted without the padding", () => {
  const padded = [3, ...GET, 0, 0, 0]; // pad length 3, block, 3 bytes of padding
  const prio = [0x80, 0, 0, 0, 15, ...OK]; // exclusive dependency on 0, weight 15
  const { xs } = run(
    [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM | Flag.PADDED, 1, padded)],
    [
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.PRIORITY, 1, prio),
      frame(FrameType.DATA, Flag.PADDED, 1, [5, 1, 2, 3, 0, 0, 0, 0, 0]), // 3 content, 5 padding
      frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, [0]), // padded, empty
    ],
  );
  assert.equal(xs.length, 1);
  assert.deepEqual(xs[0]!.request.headers!.fields, [[":method", "GET"], [":scheme", "https"], [
    ":path",
    "/",
  ], [":authority", "h"]]);
  assert.equal(statusOf(xs[0]!), "200");
  assert.equal(xs[0]!.response!.bodySize, 3);
});

Deno.test("frames: CONTINUATION completes a block; an interrupted block is lost and the table with it", () => {
  const block = Uint8Array.from(GET);
  const { xs } = run(
    [
      frame(FrameType.HEADERS, Flag.END_STREAM, 1, block.subarray(0, 2)),
      frame(FrameType.CONTINUATION, 0, 1, block.subarray(2, 5)),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(5)),
      frame(FrameType.HEADERS, Flag.END_STREAM, 3, block.subarray(0, 2)),
      frame(FrameType.PING, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]), // not allowed here: block 3 is lost
      frame(FrameType.HEADERS, Flag.END_STREAM | Flag.END_HEADERS, 5, block),
    ],
    [
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, OK),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, OK),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 5, OK),
    ],
  );
  assert.deepEqual(xs.map((x) => [x.streamId, x.request.headers === undefined, statusOf(x)]), [
    [1, false, "200"],
    [3, true, "200"],
    [5, false, "200"],
  ]);
  assert.equal(field(xs[0]!.request.headers!.fields, ":authority"), "h");
});

Deno.test("frames: a header list larger than the limit is rejected, not held", () => {
  const huge = [0x82, 0x87, 0x84, ...lit("x-big", "v".repeat(120))];
  const parts: Uint8Array[] = [frame(FrameType.HEADERS, Flag.END_STREAM, 1, huge)];
  for (let i = 0; i < 40; i++) {
    parts.push(
      frame(FrameType.CONTINUATION, 0, 1, Uint8Array.from(lit("x-more", "w".repeat(120)))),
    );
  }
  parts.push(frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, []));
  const { xs, conn } = run(parts, [
    frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, OK),
  ]);
  assert.equal(xs.length, 1);
  assert.equal(xs[0]!.request.headers, undefined, "over 4,096 bytes: not decoded");
  assert.equal(conn.stats.lostBlocks, 1);
});

Deno.test("frames: WINDOW_UPDATE, PING, PRIORITY, SETTINGS and unknown types are passed over", () => {
  const { xs } = run(
    [
      frame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0x10, 0]),
      frame(FrameType.PRIORITY, 0, 3, [0, 0, 0, 0, 7]),
      frame(0x21, 0xff, 9, [1, 2, 3]), // an extension frame type
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, GET),
      frame(FrameType.SETTINGS, Flag.ACK, 0, []),
    ],
    [
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, OK),
      frame(FrameType.WINDOW_UPDATE, 0, 1, [0, 0, 0x10, 0]),
      frame(FrameType.DATA, 0, 1, [1, 2]),
      frame(FrameType.PING, Flag.ACK, 0, [0, 0, 0, 0, 0, 0, 0, 0]),
      frame(FrameType.DATA, Flag.END_STREAM, 1, [3]),
    ],
  );
  assert.deepEqual(xs.map((x) => [statusOf(x), x.response!.bodySize, x.response!.complete]), [[
    "200",
    3,
    true,
  ]]);
});

Deno.test("frames: interleaved streams pair by id; RST_STREAM ends a stream; 1xx is passed over; trailers kept", () => {
  const { xs } = run(
    [
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, GET),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, GET),
      frame(FrameType.DATA, 0, 1, [9, 9]),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, lit("x-trailer", "t")),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 5, GET),
      frame(FrameType.RST_STREAM, 0, 5, [0, 0, 0, 8]), // CANCEL by the client
    ],
    [
      frame(FrameType.HEADERS, Flag.END_HEADERS, 3, lit(":status", "103")),
      frame(FrameType.HEADERS, Flag.END_HEADERS, 3, [0x8d]), // 404
      frame(FrameType.HEADERS, Flag.END_HEADERS, 1, OK),
      frame(FrameType.DATA, Flag.END_STREAM, 3, [1]),
      frame(FrameType.DATA, 0, 1, [1, 2, 3, 4]),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, lit("grpc-status", "0")),
    ],
  );
  assert.deepEqual(xs.map((x) => [x.streamId, statusOf(x), x.reset?.errorCode, x.reset?.by]), [
    [5, undefined, 8, "client"],
    [3, "404", undefined, undefined],
    [1, "200", undefined, undefined],
  ]);
  const one = xs[2]!;
  assert.equal(one.request.bodySize, 2);
  assert.deepEqual(one.request.trailers?.fields, [["x-trailer", "t"]]);
  assert.equal(one.response!.bodySize, 4);
  assert.deepEqual(one.response!.trailers?.fields, [["grpc-status", "0"]]);
});

Deno.test("frames: PUSH_PROMISE is decoded for the table but its stream not followed", () => {
  const { xs } = run(
    [frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, GET)],
    [
      frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [
        0,
        0,
        0,
        2,
        0x82,
        0x87,
        0x44,
        2,
        0x2f,
        0x78,
      ]), // inserts :path /x
      frame(FrameType.HEADERS, Flag.END_HEADERS, 2, OK),
      frame(FrameType.DATA, Flag.END_STREAM, 2, [1]),
      frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, [0x88, 0xbe]), // 200, :path /x from the table
    ],
  );
  assert.deepEqual(xs.map((x) => [x.streamId, statusOf(x), x.response!.headers!.fields.length]), [[
    1,
    "200",
    2,
  ]]);
});

Deno.test("frames: after lost framing, the next piece's frame header resynchronises; garbage does not", () => {
  const xs: Http2Exchange[] = [];
  const conn = new Http2Connection({ onExchange: (x) => xs.push(x) });
  conn.push(0, cat(PREFACE, SETTINGS), 1n, 1);
  conn.push(1, SETTINGS, 2n, 2);
  conn.push(0, frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, GET), 3n, 1);
  conn.push(0, frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, GET), 4n, 1);
  conn.push(1, frame(FrameType.HEADERS, Flag.END_HEADERS, 1, OK).subarray(0, 5), 5n, 2);
  conn.gap(1, 100, 6n); // the rest of stream 1's response, and more, lost
  conn.push(1, Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7]), 7n, 2); // not a frame
  conn.push(1, frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, OK), 8n, 2);
  conn.end();
  assert.deepEqual(xs.map((x) => [x.streamId, statusOf(x)]), [[3, "200"]]);
});
