import assert from "node:assert/strict";
import { goSpan, routeOfPattern } from "./spans.ts";
import { sampleGoEvents } from "./_test_events.ts";

const ctx = { resource: { "service.name": "api" }, toUnixNano: (ns: bigint) => ns + 10n };

Deno.test("goSpan: a server span with route, redacted query, TLS and 5xx error", () => {
  const [server] = sampleGoEvents();
  const span = goSpan(server, ctx);
  assert.equal(span.name, "GET /users/{id}");
  assert.equal(span.kind, "SERVER");
  assert.equal(span.parentSpanId, "");
  assert.equal(span.spanId, "00f067aa0ba902b7");
  assert.equal(span.startTimeUnixNano, 1_000_010n);
  assert.deepEqual(span.attributes, {
    "http.request.method": "GET",
    "url.path": "/users/42",
    "url.query": "sig=REDACTED&x=1",
    "url.scheme": "https",
    "http.route": "/users/{id}",
    "http.response.status_code": 503,
    "server.address": "api.example",
    "server.port": 8080,
    "client.address": "10.0.0.7",
    "client.port": 51234,
    "network.peer.address": "10.0.0.7",
    "network.peer.port": 51234,
    "network.protocol.version": "2",
    "error.type": "503",
  });
  assert.equal(span.status.code, "ERROR");
  assert.deepEqual(span.resource, { "service.name": "api" });
});

Deno.test("goSpan: a client span with url.full and 4xx error", () => {
  const [, client] = sampleGoEvents();
  const span = goSpan(client, ctx);
  assert.equal(span.name, "POST");
  assert.equal(span.kind, "CLIENT");
  assert.equal(span.parentSpanId, "00f067aa0ba902b7");
  assert.equal(span.attributes["url.full"], "https://backend.internal/v1/items");
  assert.equal(span.attributes["server.port"], 443);
  assert.equal(span.attributes["http.request.body.size"], 17);
  assert.equal(span.attributes["error.type"], "404");
  assert.equal(span.attributes["network.protocol.version"], "1.1");
  assert.equal(span.status.code, "ERROR");
  const failed = goSpan({ ...client, status: 0, error: true, protocolVersion: "" }, ctx);
  assert.equal(failed.attributes["network.protocol.version"], undefined);
  assert.equal(failed.status.code, "ERROR");
  assert.equal(failed.attributes["error.type"], "_OTHER");
  assert.equal(failed.attributes["http.response.status_code"], undefined);
  const ok = goSpan({ ...client, status: 200 }, ctx);
  assert.equal(ok.status.code, "UNSET");
});

Deno.test("goSpan: a SQL span names operation and table; an error is ERROR", () => {
  const [, , sql] = sampleGoEvents();
  const span = goSpan(sql, ctx);
  assert.equal(span.name, "INSERT orders");
  assert.equal(span.kind, "CLIENT");
  assert.equal(span.attributes["db.system.name"], "other_sql");
  assert.equal(span.attributes["db.query.text"], "INSERT INTO orders (id) VALUES (?)");
  assert.equal(span.attributes["db.operation.name"], "INSERT");
  assert.equal(span.attributes["db.collection.name"], "orders");
  assert.equal(span.status.code, "ERROR");
});

Deno.test("goSpan: SQL literals are sanitized in db.query.text", () => {
  const [, , sql] = sampleGoEvents();
  const span = goSpan({
    ...sql,
    query: { text: "SELECT * FROM t WHERE a = 'x' AND b = 42", truncated: false },
  }, ctx);
  assert.equal(span.attributes["db.query.text"], "SELECT * FROM t WHERE a = ? AND b = ?");
  assert.equal(span.name, "SELECT t");
  const cut = goSpan({ ...sql, query: { text: "SELECT * FROM t WHERE", truncated: true } }, ctx);
  assert.equal(cut.attributes["db.collection.name"], undefined);
  assert.equal(cut.name, "SELECT");
});

Deno.test("routeOfPattern: the path template of a ServeMux pattern", () => {
  assert.equal(routeOfPattern("GET /users/{id}"), "/users/{id}");
  assert.equal(routeOfPattern("example.com/static/"), "/static/");
  assert.equal(routeOfPattern("/"), "/");
  assert.equal(routeOfPattern(""), "");
});

Deno.test("goSpan: how the parent was found, and an injected traceparent, as attributes", () => {
  const [, client, sql] = sampleGoEvents();
  const injected = goSpan(
    { ...client, ids: { ...client.ids, via: "goroutine", injected: true } },
    ctx,
  );
  assert.equal(injected.attributes["upspan.parent.method"], "goroutine");
  assert.equal(injected.attributes["upspan.traceparent.injected"], true);
  const query = goSpan({ ...sql, ids: { ...sql.ids, via: "goroutine" } }, ctx);
  assert.equal(query.attributes["upspan.parent.method"], "goroutine");
  const root = goSpan({ ...client, ids: { ...client.ids, parentSpanId: "", via: undefined } }, ctx);
  assert.equal(root.attributes["upspan.parent.method"], undefined);
  assert.equal(root.attributes["upspan.traceparent.injected"], undefined);
});
