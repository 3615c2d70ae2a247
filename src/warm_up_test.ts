import assert from "node:assert/strict";
import { BpfObject } from "../ffi/mod.ts";
import { CAPTURE_OBJECT } from "./capture/mod.ts";
import { spanToJson } from "./export/json.ts";
import type { Span } from "./model/span.ts";
import { NGINX_RESOURCE, warmUp } from "./warm_up.ts";
import { SQLLIB_BPF_OBJECT } from "./sqllib/mod.ts";

Deno.test("warm-up: every synthetic exchange becomes its span, handed to the warm-up's sink alone", () => {
  const obj = BpfObject.open(CAPTURE_OBJECT);
  const spans: Span[] = [];
  let made: number;
  try {
    made = warmUp(obj, (s) => spans.push(s), { http1: 400, http2: 200 });
  } finally {
    obj.close();
  }
  assert.equal(made, 600);
  assert.equal(spans.length, 600);
  for (const s of spans) {
    assert.equal(s.kind, "SERVER");
    assert.equal(s.attributes["http.request.method"], "GET");
    assert.match(String(s.attributes["url.path"]), /^\/(index\.html|hello\.txt)$/);
    assert.equal(s.attributes["http.response.status_code"], 200);
    assert.equal(s.attributes["http.response.body.size"], 6);
    assert.deepEqual(s.resource, NGINX_RESOURCE);
    assert.equal(s.attributes["client.address"], "127.0.0.1");
    assert.ok(s.endTimeUnixNano > s.startTimeUnixNano);
    JSON.parse(spanToJson(s)); // serializable as a real one
  }
  // A third each: HTTP/1 over plain sockets, over SSL, and HTTP/2 over TLS, on four
  // connections each.
  const version = (v: string) =>
    spans.filter((s) => s.attributes["network.protocol.version"] === v);
  assert.equal(spans.filter((s) => s.attributes["url.scheme"] === "http").length, 200);
  assert.equal(version("1.1").length, 400);
  assert.equal(version("2").length, 200);
  for (const s of version("2")) assert.equal(s.attributes["url.path"], "/hello.txt");
  assert.equal(new Set(spans.map((s) => s.attributes["client.port"])).size, 12);
});

Deno.test("warm-up: libpq statements, each a CLIENT span of its own with its query's summary", () => {
  const capture = BpfObject.open(CAPTURE_OBJECT);
  const sql = BpfObject.open(SQLLIB_BPF_OBJECT);
  const spans: Span[] = [];
  try {
    assert.equal(
      warmUp(capture, (s) => spans.push(s), { http1: 0, http2: 0, sql, statements: 300 }),
      300,
    );
  } finally {
    sql.close();
    capture.close();
  }
  assert.equal(spans.length, 300);
  for (const s of spans) {
    assert.equal(s.kind, "CLIENT");
    assert.equal(s.name, "SELECT pgbench_accounts");
    assert.equal(s.attributes["db.system.name"], "postgresql");
    assert.equal(s.attributes["db.namespace"], "postgres");
    assert.equal(
      s.attributes["db.query.text"],
      "SELECT abalance FROM pgbench_accounts WHERE aid = ?;",
    );
    assert.equal(s.attributes["db.response.returned_rows"], 1);
    assert.equal(s.attributes["server.port"], 5432);
    assert.equal(s.attributes["db.client.library"], "libpq");
    JSON.parse(spanToJson(s));
  }
  // Each statement its own span: pairs of send and result, on two connections.
  assert.equal(new Set(spans.map((s) => s.startTimeUnixNano)).size, 300);
});
