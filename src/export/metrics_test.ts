import assert from "node:assert/strict";
import { bucketIndex, HTTP_DURATION_BUCKETS, spanMeasurement, SpanMetrics } from "./metrics.ts";
import type { Span } from "../model/span.ts";
import { renderPrometheus } from "./prometheus.ts";

const RES = { "service.name": "api", "process.pid": 1 };

function span(kind: Span["kind"], attributes: Span["attributes"], ms: number): Span {
  return {
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    parentSpanId: "",
    name: "GET",
    kind,
    startTimeUnixNano: 1_000_000_000n,
    endTimeUnixNano: 1_000_000_000n + BigInt(Math.round(ms * 1e6)),
    attributes,
    status: { code: "UNSET" },
    resource: RES,
  };
}

const GET = {
  "http.request.method": "GET",
  "http.response.status_code": 200,
  "http.route": "/users/{id}",
  "url.path": "/users/42",
  "url.scheme": "https",
  "client.port": 40000,
  "network.protocol.version": "1.1",
};

Deno.test("metrics: which span feeds which metric, with only low-cardinality attributes", () => {
  const m = spanMeasurement(span("SERVER", GET, 12));
  assert.equal(m?.metric, "http.server.request.duration");
  assert.deepEqual(m?.attributes, {
    "http.request.method": "GET",
    "http.response.status_code": 200,
    "http.route": "/users/{id}",
    "url.scheme": "https",
    "network.protocol.version": "1.1",
  });
  assert.equal(m?.seconds, 0.012);
  assert.equal(m?.resource, RES);
  const c = spanMeasurement(
    span("CLIENT", { "http.request.method": "POST", "server.address": "h", "url.full": "x" }, 1),
  );
  assert.equal(c?.metric, "http.client.request.duration");
  assert.deepEqual(c?.attributes, { "http.request.method": "POST", "server.address": "h" });
  const db = spanMeasurement(
    span("CLIENT", {
      "db.system.name": "postgresql",
      "db.operation.name": "SELECT",
      "db.query.text": "q",
    }, 3),
  );
  assert.equal(db?.metric, "db.client.operation.duration");
  assert.deepEqual(db?.attributes, {
    "db.system.name": "postgresql",
    "db.operation.name": "SELECT",
  });
  assert.equal(spanMeasurement(span("INTERNAL", GET, 1)), undefined);
  assert.equal(spanMeasurement(span("SERVER", {}, 1)), undefined);
});

Deno.test("metrics: bucket boundaries are inclusive upper bounds", () => {
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS, 0), 0);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS, 0.005), 0);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS, 0.0051), 1);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS, 10), 13);
  assert.equal(bucketIndex(HTTP_DURATION_BUCKETS, 11), 14);
});

Deno.test("metrics: histograms per attribute set; listeners see each measurement", () => {
  const metrics = new SpanMetrics();
  const seen: number[] = [];
  metrics.onMeasurement((m) => seen.push(m.seconds));
  metrics.record(span("SERVER", GET, 3));
  metrics.record(span("SERVER", GET, 30));
  metrics.record(span("SERVER", { ...GET, "http.response.status_code": 404 }, 3));
  metrics.record(span("INTERNAL", GET, 3));
  assert.deepEqual(seen, [0.003, 0.03, 0.003]);
  const all = [...metrics.histograms()];
  assert.equal(all.length, 1);
  const [name, series] = all[0]!;
  assert.equal(name, "http.server.request.duration");
  assert.equal(series.length, 2);
  assert.equal(series[0]!.count, 2);
  assert.equal(series[0]!.counts[0], 1);
  assert.equal(series[0]!.counts[3], 1, "30 ms: the 0.05 bucket");
  assert.ok(Math.abs(series[0]!.sum - 0.033) < 1e-9);
});

Deno.test("metrics: too many attribute sets fold into one overflow series", () => {
  const metrics = new SpanMetrics({ maxSeriesPerMetric: 3 });
  for (let i = 0; i < 10; i++) {
    metrics.record(span("SERVER", { ...GET, "http.route": `/r${i}` }, 1));
  }
  const series = [...metrics.histograms()][0]![1];
  assert.equal(series.length, 4);
  assert.deepEqual(series[3]!.attributes, { "otel.metric.overflow": "true" });
  assert.equal(series[3]!.count, 7);
  assert.equal(metrics.overflowed, 7);
});

Deno.test("metrics: a gRPC call feeds the RPC call-duration metric, not the HTTP one", () => {
  const grpc = {
    "http.request.method": "POST",
    "http.response.status_code": 200,
    "url.path": "/demo.Echo/Say",
    "network.protocol.version": "2",
    "rpc.system": "grpc",
    "rpc.service": "demo.Echo",
    "rpc.method": "Say",
    "rpc.grpc.status_code": 5,
    "rpc.grpc.request.message_count": 1,
    "server.address": "127.0.0.1",
    "server.port": 50051,
  };
  const server = spanMeasurement(span("SERVER", grpc, 4));
  assert.equal(server?.metric, "rpc.server.call.duration");
  assert.deepEqual(server?.attributes, {
    "rpc.system": "grpc",
    "rpc.service": "demo.Echo",
    "rpc.method": "Say",
    "rpc.grpc.status_code": 5,
  });
  const client = spanMeasurement(span("CLIENT", { ...grpc, "error.type": "NOT_FOUND" }, 4));
  assert.equal(client?.metric, "rpc.client.call.duration");
  assert.deepEqual(client?.attributes, {
    "rpc.system": "grpc",
    "rpc.service": "demo.Echo",
    "rpc.method": "Say",
    "rpc.grpc.status_code": 5,
    "server.address": "127.0.0.1",
    "server.port": 50051,
    "error.type": "NOT_FOUND",
  });
  const metrics = new SpanMetrics();
  metrics.record(span("SERVER", grpc, 4));
  const text = renderPrometheus(metrics);
  assert.match(text, /^# TYPE rpc_server_call_duration_seconds histogram$/m);
  assert.match(
    text,
    /^rpc_server_call_duration_seconds_count\{.*rpc_system="grpc",rpc_service="demo.Echo",rpc_method="Say",rpc_grpc_status_code="5"\} 1$/m,
  );
  assert.doesNotMatch(text, /http_server_request_duration_seconds_count/);
});
