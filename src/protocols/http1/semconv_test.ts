import assert from "node:assert/strict";
import type { Http1Request, Http1Response } from "./framer.ts";
import type { HeaderField } from "../http/headers.ts";
import { type HttpExchangeContext, httpExchangeSpan } from "./semconv.ts";
import { redactQuery, splitHostPort, splitTarget } from "../http/semconv.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";

function req(
  method: string,
  target: string,
  headers: HeaderField[] = [],
  extra = {},
): Http1Request {
  return {
    kind: "request",
    method,
    target,
    version: "1.1",
    headers,
    trailers: [],
    framing: "none",
    bodySize: 0,
    complete: true,
    firstByteMonoNs: 100n,
    lastByteMonoNs: 100n,
    tid: 7,
    ...extra,
  };
}

function resp(status: number, extra = {}): Http1Response {
  return {
    kind: "response",
    status,
    reason: "",
    version: "1.1",
    headers: [],
    trailers: [],
    framing: "length",
    bodySize: 2,
    complete: true,
    firstByteMonoNs: 150n,
    lastByteMonoNs: 200n,
    tid: 7,
    ...extra,
  };
}

const V4: SocketInfo = {
  pid: 1,
  conn: "c",
  socket: "s",
  fd: 3,
  family: "ipv4",
  localAddress: "10.0.0.1",
  localPort: 8443,
  peerAddress: "10.0.0.2",
  peerPort: 40000,
  monoNs: 0n,
  callMonoNs: 0n,
};

function ctx(kind: "SERVER" | "CLIENT", socket?: SocketInfo): HttpExchangeContext {
  let n = 0;
  return {
    kind,
    scheme: "https",
    socket,
    resource: { "service.name": "s" },
    toUnixNano: (ns) => ns * 10n,
    ids: {
      traceId: () => `${++n}`.padStart(32, "a"),
      spanId: () => `${++n}`.padStart(16, "b"),
    },
  };
}

Deno.test("semconv: request targets", () => {
  assert.deepEqual(splitTarget("/a/b?x=1&y"), { path: "/a/b", query: "x=1&y" });
  assert.deepEqual(splitTarget("/a#frag"), { path: "/a" });
  assert.deepEqual(splitTarget("/?"), { path: "/", query: "" });
  assert.deepEqual(splitTarget("*"), {});
  assert.deepEqual(splitTarget("example.com:443"), { authority: "example.com:443" });
  assert.deepEqual(splitTarget("http://u:p@h:8080/p?q=1"), {
    path: "/p",
    query: "q=1",
    authority: "h:8080",
    userinfo: true,
  });
  assert.deepEqual(splitTarget("HTTPS://h?q"), { path: "/", query: "q", authority: "h" });
});

Deno.test("semconv: host and port", () => {
  assert.deepEqual(splitHostPort("example.com"), { host: "example.com" });
  assert.deepEqual(splitHostPort("example.com:8080"), { host: "example.com", port: 8080 });
  assert.deepEqual(splitHostPort("[::1]:9000"), { host: "::1", port: 9000 });
  assert.deepEqual(splitHostPort("[::1]"), { host: "::1" });
  assert.deepEqual(splitHostPort("h:99999"), { host: "h" });
  assert.deepEqual(splitHostPort("h:x"), { host: "h" });
});

Deno.test("semconv: sensitive query values are redacted", () => {
  assert.equal(redactQuery("a=1&b=2"), "a=1&b=2");
  assert.equal(
    redactQuery("AWSAccessKeyId=AK&Signature=s&sig=x&X-Goog-Signature=g&signature=keep"),
    "AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED" +
      "&signature=keep",
  );
  assert.equal(
    redactQuery(
      "q=shoes&token=t0k&Access_Token=a&password=p&api_key=k&key=k2&secret=s&code=c&page=2" +
        "&X-Amz-Signature=x&api%5Fkey=enc&client_secret=cs",
    ),
    "q=shoes&token=REDACTED&Access_Token=REDACTED&password=REDACTED&api_key=REDACTED" +
      "&key=REDACTED&secret=REDACTED&code=REDACTED&page=2&X-Amz-Signature=REDACTED" +
      "&api%5Fkey=REDACTED&client_secret=REDACTED",
  );
  assert.equal(redactQuery("keyword=a&tokens=b"), "keyword=a&tokens=b", "whole keys only");
  assert.equal(
    redactQuery("%zz=1&%70assword=x&TOKEN=y"),
    "%zz=1&%70assword=REDACTED&TOKEN=REDACTED",
    "a key that does not decode is kept as written; decoded and any-case keys are matched",
  );
});

Deno.test("semconv: a server span in full", () => {
  const span = httpExchangeSpan(
    req("POST", "/orders?id=3", [["Host", "shop.example:8443"], ["User-Agent", "ua/1"]], {
      framing: "length",
      bodySize: 12,
    }),
    resp(201),
    ctx("SERVER", V4),
  );
  assert.deepEqual(span, {
    traceId: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1",
    spanId: "bbbbbbbbbbbbbbb2",
    parentSpanId: "",
    name: "POST",
    kind: "SERVER",
    startTimeUnixNano: 1000n,
    endTimeUnixNano: 2000n,
    attributes: {
      "http.request.method": "POST",
      "url.path": "/orders",
      "url.query": "id=3",
      "url.scheme": "https",
      "http.response.status_code": 201,
      "network.protocol.version": "1.1",
      "server.address": "shop.example",
      "server.port": 8443,
      "client.address": "10.0.0.2",
      "client.port": 40000,
      "network.peer.address": "10.0.0.2",
      "network.peer.port": 40000,
      "user_agent.original": "ua/1",
      "http.request.body.size": 12,
      "http.response.body.size": 2,
      "thread.id": 7,
    },
    status: { code: "UNSET" },
    resource: { "service.name": "s" },
  });
});

Deno.test("semconv: error status by kind", () => {
  const cases: [kind: "SERVER" | "CLIENT", status: number, code: string][] = [
    ["SERVER", 200, "UNSET"],
    ["SERVER", 404, "UNSET"],
    ["SERVER", 500, "ERROR"],
    ["SERVER", 503, "ERROR"],
    ["CLIENT", 302, "UNSET"],
    ["CLIENT", 404, "ERROR"],
    ["CLIENT", 500, "ERROR"],
  ];
  for (const [kind, status, code] of cases) {
    const span = httpExchangeSpan(req("GET", "/"), resp(status), ctx(kind, V4));
    assert.equal(span.status.code, code, `${kind} ${status}`);
    assert.equal(span.attributes["error.type"], code === "ERROR" ? String(status) : undefined);
  }
});

Deno.test("semconv: server address falls back to the socket", () => {
  const server = httpExchangeSpan(req("GET", "/x"), resp(200), ctx("SERVER", V4));
  assert.equal(server.attributes["server.address"], "10.0.0.1");
  assert.equal(server.attributes["server.port"], 8443);
  const v6: SocketInfo = { ...V4, family: "ipv6", peerAddress: "fd00::2", peerPort: 443 };
  const client = httpExchangeSpan(req("GET", "/x?y=1"), resp(200), ctx("CLIENT", v6));
  assert.equal(client.attributes["server.address"], "fd00::2");
  assert.equal(client.attributes["server.port"], 443);
  assert.equal(client.attributes["url.full"], "https://[fd00::2]/x?y=1");
  assert.equal(client.attributes["client.address"], undefined);
  const odd = httpExchangeSpan(
    req("GET", "/"),
    resp(200),
    ctx("CLIENT", { ...V4, peerPort: 8443 }),
  );
  assert.equal(odd.attributes["url.full"], "https://10.0.0.2:8443/");
});

Deno.test("semconv: client url.full from Host, absolute-form and CONNECT", () => {
  const host = httpExchangeSpan(
    req("GET", "/p?sig=secret", [["host", "api.example"]]),
    resp(200),
    ctx("CLIENT", V4),
  );
  assert.equal(host.attributes["url.full"], "https://api.example/p?sig=REDACTED");
  assert.equal(host.attributes["server.port"], 443);
  assert.equal(host.attributes["network.peer.address"], "10.0.0.2");

  const proxy = httpExchangeSpan(
    req("GET", "http://user:pw@origin.example:8080/a?b=c", [["Host", "origin.example:8080"]]),
    resp(200),
    ctx("CLIENT", V4),
  );
  assert.equal(proxy.attributes["url.full"], "http://REDACTED:REDACTED@origin.example:8080/a?b=c");
  assert.equal(proxy.attributes["server.address"], "origin.example");
  assert.equal(proxy.attributes["url.path"], "/a");
  assert.equal(proxy.name, "GET");

  const connect = httpExchangeSpan(req("CONNECT", "db.example:5432"), resp(200), ctx("CLIENT"));
  assert.equal(connect.name, "CONNECT");
  assert.equal(connect.attributes["server.address"], "db.example");
  assert.equal(connect.attributes["server.port"], 5432);
  assert.equal(connect.attributes["url.full"], undefined);
  assert.equal(connect.attributes["url.path"], undefined);
});

Deno.test("semconv: unknown methods are _OTHER", () => {
  const span = httpExchangeSpan(req("PROPFIND", "/dav"), resp(207), ctx("SERVER"));
  assert.equal(span.attributes["http.request.method"], "_OTHER");
  assert.equal(span.attributes["http.request.method_original"], "PROPFIND");
  assert.equal(span.name, "HTTP");
});

Deno.test("semconv: body sizes only when the body was delimited and seen whole", () => {
  const none = httpExchangeSpan(
    req("GET", "/"),
    resp(204, { framing: "none", bodySize: 0 }),
    ctx("SERVER"),
  );
  assert.equal(none.attributes["http.request.body.size"], undefined);
  assert.equal(none.attributes["http.response.body.size"], undefined);
  const zero = httpExchangeSpan(
    req("POST", "/", [], { framing: "length" }),
    resp(200),
    ctx("SERVER"),
  );
  assert.equal(zero.attributes["http.request.body.size"], 0);
  const cut = httpExchangeSpan(req("GET", "/"), resp(200, { complete: false }), ctx("SERVER"));
  assert.equal(cut.attributes["http.response.body.size"], undefined);
});

Deno.test("semconv: trace context from traceparent", () => {
  const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const server = httpExchangeSpan(req("GET", "/", [["Traceparent", tp]]), resp(200), ctx("SERVER"));
  assert.equal(server.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(server.parentSpanId, "00f067aa0ba902b7");
  assert.equal(server.spanId, "bbbbbbbbbbbbbbb1");

  const client = httpExchangeSpan(req("GET", "/", [["traceparent", tp]]), resp(200), ctx("CLIENT"));
  assert.equal(client.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(client.spanId, "00f067aa0ba902b7");
  assert.equal(client.parentSpanId, "");

  for (
    const headers of [
      [["traceparent", tp.replace("4bf9", "4BF9")]],
      [["traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"]],
      [["traceparent", tp], ["traceparent", tp]], // two headers: ignored
    ] as HeaderField[][]
  ) {
    const span = httpExchangeSpan(req("GET", "/", headers), resp(200), ctx("SERVER"));
    assert.equal(span.traceId, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1");
    assert.equal(span.parentSpanId, "");
  }
});

Deno.test("semconv: an end before the start is clamped", () => {
  const span = httpExchangeSpan(
    req("GET", "/", [], { firstByteMonoNs: 500n }),
    resp(200, { lastByteMonoNs: 400n }),
    ctx("SERVER"),
  );
  assert.equal(span.endTimeUnixNano, span.startTimeUnixNano);
});
