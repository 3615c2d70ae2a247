import assert from "node:assert/strict";
import { getHeader } from "../http/headers.ts";
import {
  type Http1Message,
  Http1Parser,
  type Http1Problem,
  type Http1Response,
  parseContentLength,
  sniffHttp1,
} from "./framer.ts";

const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Run {
  messages: Http1Message[];
  heads: number;
  problems: Http1Problem[];
  parser: Http1Parser<"request" | "response">;
}

/**
 * Feeds `parts` (strings are bytes, numbers are gaps) with monoNs 1, 2, 3… and collects
 * what the parser reports. `methods` answers `requestMethod` for successive responses.
 */
function run(
  kind: "request" | "response",
  parts: (string | number)[],
  opts: { methods?: (string | undefined)[]; end?: boolean; maxHeaderBytes?: number } = {},
): Run {
  const messages: Http1Message[] = [];
  const problems: Http1Problem[] = [];
  const methods = [...(opts.methods ?? [])];
  let heads = 0;
  const common = {
    onHead: () => heads++,
    onMessage: (m: Http1Message) => messages.push(m),
    onProblem: (p: Http1Problem) => problems.push(p),
    maxHeaderBytes: opts.maxHeaderBytes,
  };
  const parser = kind === "request"
    ? new Http1Parser("request", common)
    : new Http1Parser("response", { ...common, requestMethod: () => methods.shift() });
  parts.forEach((p, i) => {
    const t = BigInt(i + 1);
    if (typeof p === "number") parser.gap(p, t);
    else parser.data(enc(p), t, 100 + i);
  });
  if (opts.end) parser.end();
  return { messages, heads, problems, parser };
}

/** The fields a case checks (times and tid are checked separately). */
function brief(m: Http1Message) {
  const base = {
    version: m.version,
    bodySize: m.bodySize,
    framing: m.framing,
    complete: m.complete,
  };
  return m.kind === "request"
    ? { method: m.method, target: m.target, ...base }
    : { status: m.status, ...base };
}

const REQ = "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n";
const POST = "POST /items HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
const CHUNKED_RESP = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "5;name=value;x\r\nhello\r\n6 ; ext\r\n world\r\nA\r\n0123456789\r\n0\r\n" +
  "X-Checksum: 42\r\nX-Other:  y \r\n\r\n";

interface Case {
  name: string;
  kind: "request" | "response";
  parts: (string | number)[];
  methods?: (string | undefined)[];
  end?: boolean;
  maxHeaderBytes?: number;
  want: ReturnType<typeof brief>[];
  problems?: Http1Problem[];
  stopped?: boolean;
}

const get = (target: string, bodySize = 0, framing = "none", version = "1.1") => ({
  method: "GET",
  target,
  version,
  bodySize,
  framing: framing as "none",
  complete: true,
});
const ok = (status: number, bodySize: number, framing: string, complete = true) => ({
  status,
  version: "1.1",
  bodySize,
  framing: framing as "none",
  complete,
});

const CASES: Case[] = [
  { name: "simple GET", kind: "request", parts: [REQ], want: [get("/a?b=c")] },
  {
    name: "Content-Length body split across pieces",
    kind: "request",
    parts: [POST.slice(0, 50), POST.slice(50, 60), POST.slice(60)],
    want: [{ ...get("/items", 11, "length"), method: "POST" }],
  },
  {
    name: "Content-Length: 0",
    kind: "request",
    parts: ["POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n" + REQ],
    want: [{ ...get("/x", 0, "length"), method: "POST" }, get("/a?b=c")],
  },
  {
    name: "chunked with extensions and trailers",
    kind: "response",
    parts: [CHUNKED_RESP],
    want: [ok(200, 21, "chunked")],
  },
  {
    name: "pipelined requests in one piece",
    kind: "request",
    parts: [REQ + POST + "\r\n" + "GET /last HTTP/1.0\r\n\r\n"],
    want: [get("/a?b=c"), { ...get("/items", 11, "length"), method: "POST" }, {
      ...get("/last"),
      version: "1.0",
    }],
  },
  {
    name: "response to HEAD has no body even with Content-Length",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    ],
    methods: ["HEAD", "GET"],
    want: [ok(200, 0, "none"), ok(200, 2, "length")],
  },
  {
    name: "204 and 304 have no body",
    kind: "response",
    parts: [
      "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
    ],
    want: [ok(204, 0, "none"), ok(304, 0, "none"), ok(200, 1, "length")],
  },
  {
    name: "100 Continue and 103 Early Hints are skipped",
    kind: "response",
    parts: [
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    want: [ok(200, 2, "length")],
  },
  {
    name: "101 ends HTTP on the stream",
    kind: "response",
    parts: [
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
      "HTTP/1.1 200 OK\r\n\r\n",
    ],
    want: [ok(101, 0, "none")],
    stopped: true,
  },
  {
    name: "2xx to CONNECT starts a tunnel",
    kind: "response",
    parts: ["HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01garbage"],
    methods: ["CONNECT"],
    want: [ok(200, 0, "none")],
    stopped: true,
  },
  {
    name: "response without length is read until the stream ends",
    kind: "response",
    parts: ["HTTP/1.0 200 OK\r\nServer: x\r\n\r\nabc", "defg", 10],
    end: true,
    want: [{ ...ok(200, 17, "close"), version: "1.0" }],
  },
  {
    name: "Transfer-Encoding other than chunked on a response reads until close",
    kind: "response",
    parts: ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"],
    end: true,
    want: [ok(200, 3, "close")],
  },
  {
    name: "gzip, chunked is chunked",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
    ],
    want: [ok(200, 1, "chunked")],
  },
  {
    name: "leading empty lines before a request are skipped",
    kind: "request",
    parts: ["\r\n\r\n" + REQ],
    want: [get("/a?b=c")],
  },
  {
    name: "bare LF line endings",
    kind: "request",
    parts: ["GET /lf HTTP/1.1\nHost: x\n\n"],
    want: [get("/lf")],
  },
  {
    name: "status line without reason",
    kind: "response",
    parts: ["HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"],
    want: [ok(200, 0, "length")],
  },
  {
    name: "garbage then resync on a request line",
    kind: "request",
    parts: ["\x00\x01binary junk\r\nmore junk GET / HTTP/1.1\r\nNOT A / REQUEST\r\n" + REQ],
    want: [get("/a?b=c")],
    problems: ["bad-start-line"],
  },
  {
    name: "bad request line (space in target) then resync",
    kind: "request",
    parts: ["GET /a b HTTP/1.1\r\nHost: x\r\n\r\n" + REQ],
    want: [get("/a?b=c")],
    problems: ["bad-start-line"],
  },
  {
    name: "a gap inside a Content-Length body keeps the message whole",
    kind: "response",
    parts: ["HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n<html>", 999_983, "</html>\r\n\r\n"],
    want: [ok(200, 1_000_000, "length")],
  },
  {
    name: "a gap that runs past the body ends the message and resyncs",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234",
      500,
      "tail of something\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ],
    want: [ok(200, 10, "length"), ok(404, 0, "length")],
  },
  {
    name: "resync finds a status line glued to the end of a body",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{}",
      "}}HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
      "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    ],
    want: [ok(200, 3, "length"), ok(201, 2, "length"), ok(202, 0, "length")],
    problems: ["bad-start-line"],
  },
  {
    name: "resync tries the start of each piece",
    kind: "request",
    parts: [
      "junk without a line break",
      "POST /x HTTP/1.1\r\nContent-Length: 1\r\n\r\n!",
    ],
    want: [{ ...get("/x", 1, "length"), method: "POST" }],
    problems: ["bad-start-line"],
  },
  {
    name: "a gap inside headers causes a resync",
    kind: "request",
    parts: ["GET /lost HTTP/1.1\r\nHost: x\r\nAcc", 40, "ept: */*\r\n\r\n" + REQ],
    want: [get("/a?b=c")],
    problems: ["gap-in-headers"],
  },
  {
    name: "after a gap at a message boundary the next piece may start a message",
    kind: "request",
    parts: [REQ, 300, REQ],
    want: [get("/a?b=c"), get("/a?b=c")],
  },
  {
    name: "a gap inside chunk data is counted when it stays inside the chunk",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc",
      250,
      "xyz\r\n0\r\n\r\n",
    ],
    want: [ok(200, 256, "chunked")],
  },
  {
    name: "a gap across chunk framing reports the message incomplete",
    kind: "response",
    parts: [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
      5000,
      "ff\r\n0\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n",
    ],
    want: [ok(200, 5003, "chunked", false), ok(500, 0, "length")],
    problems: ["gap-in-framing"],
  },
  {
    name: "bad chunk size",
    kind: "response",
    parts: ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nHTTP/1.1 204 No\r\n\r\n"],
    want: [ok(200, 0, "chunked", false), ok(204, 0, "none")],
    problems: ["bad-chunk"],
  },
  {
    name: "bad Content-Length is reported and skipped",
    kind: "request",
    parts: ["POST /x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\nhello\r\n" + REQ],
    want: [{ ...get("/x", 0, "none"), method: "POST", complete: false }, get("/a?b=c")],
    problems: ["bad-content-length"],
  },
  {
    name: "headers larger than the limit give up the message",
    kind: "request",
    parts: ["GET /big HTTP/1.1\r\nX-Big: " + "x".repeat(200) + "\r\n\r\n", REQ],
    maxHeaderBytes: 100,
    want: [get("/a?b=c")],
    problems: ["headers-too-large"],
  },
  {
    name: "a body cut short by the end of the stream is incomplete",
    kind: "response",
    parts: ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
    end: true,
    want: [ok(200, 3, "length", false)],
  },
  {
    name: "a partial head at the end of the stream is dropped",
    kind: "request",
    parts: ["GET / HTTP/1.1\r\nHost"],
    end: true,
    want: [],
  },
];

for (const c of CASES) {
  Deno.test(`http1: ${c.name}`, () => {
    const r = run(c.kind, c.parts, c);
    assert.deepEqual(r.messages.map(brief), c.want);
    assert.deepEqual(r.problems, c.problems ?? []);
    assert.equal(r.parser.problems, r.problems.length);
    assert.equal(r.parser.stopped, c.stopped ?? false);
  });
}

Deno.test("http1: every split point of every case gives the same messages", () => {
  for (const c of CASES) {
    const whole = c.parts.filter((p): p is string => typeof p === "string");
    // Only clean cases made of bytes alone: splitting around gaps changes their meaning,
    // and resynchronisation after garbage also tries piece starts, so it depends on splits.
    if (whole.length !== c.parts.length || c.problems !== undefined) continue;
    const text = whole.join("");
    for (let k = 0; k <= text.length; k++) {
      const r = run(c.kind, [text.slice(0, k), text.slice(k)], c);
      assert.deepEqual(r.messages.map(brief), c.want, `${c.name}, split at ${k}`);
    }
    const bytes = run(c.kind, [...text], c);
    assert.deepEqual(bytes.messages.map(brief), c.want, `${c.name}, byte by byte`);
  }
});

Deno.test("http1: request fields, header order and case-insensitive lookup", () => {
  const { messages } = run("request", [
    "PATCH /p HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n  two\r\nx-dup: 1\r\nX-Dup: 2\r\nNoColon\r\n\r\n",
  ]);
  const m = messages[0]!;
  assert.equal(m.kind, "request");
  assert.deepEqual(m.headers, [["Host", "a"], ["X-Fold", "one two"], ["x-dup", "1"], [
    "X-Dup",
    "2",
  ]]);
  assert.equal(getHeader(m.headers, "x-fold"), "one two");
  assert.equal(getHeader(m.headers, "x-dup"), "1");
  assert.equal(getHeader(m.headers, "missing"), undefined);
});

Deno.test("http1: chunked trailers are kept in order", () => {
  const { messages } = run("response", [CHUNKED_RESP]);
  assert.deepEqual(messages[0]!.trailers, [["X-Checksum", "42"], ["X-Other", "y"]]);
  assert.equal(messages[0]!.kind === "response" && messages[0]!.reason, "OK");
});

Deno.test("http1: first and last byte times and the first byte's thread", () => {
  const { messages } = run("response", [
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-",
    "Length: 4\r\n\r\nab",
    "cd",
    "HTTP/1.1 204 No Content\r\n\r\n",
  ]);
  assert.equal(messages.length, 2);
  assert.equal(messages[0]!.firstByteMonoNs, 2n);
  assert.equal(messages[0]!.lastByteMonoNs, 4n);
  assert.equal(messages[0]!.tid, 101);
  assert.equal(messages[1]!.firstByteMonoNs, 5n);
  assert.equal(messages[1]!.lastByteMonoNs, 5n);
});

Deno.test("http1: onHead comes before the body, onMessage after it", () => {
  const order: string[] = [];
  const p = new Http1Parser("request", {
    onHead: (m) => order.push(`head ${m.method} ${m.bodySize}`),
    onMessage: (m) => order.push(`done ${m.method} ${m.bodySize}`),
  });
  p.data(enc("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na"), 1n);
  assert.deepEqual(order, ["head POST 0"]);
  p.data(enc("bc"), 2n);
  assert.deepEqual(order, ["head POST 0", "done POST 3"]);
});

Deno.test("http1: responses ask for the request method only for final responses", () => {
  let asked = 0;
  const p = new Http1Parser("response", {
    onMessage: () => {},
    requestMethod: () => {
      asked++;
      return "GET";
    },
  });
  p.data(enc("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), 1n);
  assert.equal(asked, 1);
});

Deno.test("http1: a response's fields are kept only where keepFields says, its framing always", () => {
  const got: Http1Response[] = [];
  const p = new Http1Parser("response", {
    onMessage: (m) => got.push(m),
    keepFields: (status) => status === 101,
  });
  p.data(
    enc(
      "HTTP/1.1 200 Fine\r\nX-A: 1\r\ncontent-LENGTH :  3\r\n\r\nabc" +
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n" +
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    ),
    1n,
  );
  assert.deepEqual(
    got.map((m) => [m.status, m.reason, m.version, m.framing, m.bodySize, m.headers]),
    [
      [200, "Fine", "1.1", "length", 3, []],
      [200, "OK", "1.1", "chunked", 1, []],
      [101, "Switching Protocols", "1.1", "none", 0, [["Upgrade", "h2c"]]],
    ],
  );
});

Deno.test("http1: stop and reset", () => {
  const got: string[] = [];
  const p = new Http1Parser("request", { onMessage: (m) => got.push(m.target) });
  p.data(enc("GET /1 HTTP/1.1\r\n\r\n"), 1n);
  p.stop();
  p.data(enc("GET /2 HTTP/1.1\r\n\r\n"), 2n);
  assert.equal(p.stopped, true);
  p.reset();
  p.data(enc("GET /3 HTTP/1.1\r\n\r\n"), 3n);
  assert.deepEqual(got, ["/1", "/3"]);
});

Deno.test("http1: Content-Length values", () => {
  assert.equal(parseContentLength("0"), 0);
  assert.equal(parseContentLength("1048576"), 1048576);
  assert.equal(parseContentLength("5, 5"), 5);
  assert.equal(parseContentLength("5,6"), -1);
  assert.equal(parseContentLength("-1"), -1);
  assert.equal(parseContentLength("0x10"), -1);
  assert.equal(parseContentLength(""), -1);
  assert.equal(parseContentLength("9999999999999999"), -1);
});

Deno.test("http1: sniffing a direction's first bytes", () => {
  assert.equal(sniffHttp1(enc("GET / HTTP/1.1\r\n")), "request");
  assert.equal(sniffHttp1(enc("\r\nPOST /")), "request");
  assert.equal(sniffHttp1(enc("HEAD /")), "request");
  assert.equal(sniffHttp1(enc("HTTP/1.1 200 OK")), "response");
  assert.equal(sniffHttp1(enc("H")), "more");
  assert.equal(sniffHttp1(enc("HTTP/")), "more");
  assert.equal(sniffHttp1(enc("GE")), "more");
  assert.equal(sniffHttp1(enc("HTTP/2 200")), "no");
  assert.equal(sniffHttp1(enc("PRI * HTTP/2.0\r\n")), "no");
  assert.equal(sniffHttp1(enc("FOO / HTTP/1.1")), "no");
  assert.equal(sniffHttp1(enc("\x16\x03\x01")), "no");
  assert.equal(sniffHttp1(enc("get / HTTP/1.1")), "no");
});

Deno.test("Http1Parser: a head cut by a known truncation keeps the fields seen whole", () => {
  const got: Http1Message[] = [];
  const p = new Http1Parser("request", { onMessage: (m) => got.push(m) });
  p.data(enc("GET /big HTTP/1.1\r\nHost: h\r\nX-Big: xxxx"), 1n, 7);
  p.gap(20_000, 2n, false); // the rest of the call, beyond what was captured
  // The next call: a body's tail or the next request; a request line is found again.
  p.data(enc("tail of something\r\n" + REQ), 3n, 7);
  assert.deepEqual(got.map(brief), [get("/big"), get("/a?b=c")]);
  assert.deepEqual(got[0]!.headers, [["Host", "h"]]);
  assert.equal(got[0]!.lastByteMonoNs, 2n);
});

Deno.test("Http1Parser: a head cut by lost records, or before its start line ended, is dropped", () => {
  for (
    const [head, lost] of [["GET /big HTTP/1.1\r\nHost: h\r\nX-Big: xx", true], [
      "GET /bi",
      false,
    ]] as const
  ) {
    const got: Http1Message[] = [];
    const p = new Http1Parser("request", { onMessage: (m) => got.push(m) });
    p.data(enc(head), 1n, 7);
    p.gap(20_000, 2n, lost);
    p.data(enc(REQ), 3n, 7);
    assert.deepEqual(got.map(brief), [get("/a?b=c")]);
  }
});
