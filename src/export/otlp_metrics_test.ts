import assert from "node:assert/strict";
import { OtlpMetricsExporter } from "./otlp_metrics.ts";
import { SpanMetrics } from "./metrics.ts";
import type { Span } from "../model/span.ts";

Deno.test("otlp metrics: one request per process on shutdown, protobuf to /v1/metrics", async () => {
  const bodies: { path: string; type: string | null; text: string }[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      bodies.push({
        path: new URL(req.url).pathname,
        type: req.headers.get("content-type"),
        text: new TextDecoder().decode(body),
      });
      return new Response(new Uint8Array(0), {
        headers: { "content-type": "application/x-protobuf" },
      });
    },
  );
  const metrics = new SpanMetrics();
  const otlp = new OtlpMetricsExporter(metrics, {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    intervalMillis: 60_000,
  });
  const span = (pid: number): Span => ({
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    parentSpanId: "",
    name: "GET",
    kind: "SERVER",
    startTimeUnixNano: 0n,
    endTimeUnixNano: 3_000_000n,
    attributes: { "http.request.method": "GET", "http.route": "/users/{id}" },
    status: { code: "UNSET" },
    resource: pid === 1 ? A : B,
  });
  const A = { "service.name": "alpha", "process.pid": 1 };
  const B = { "service.name": "beta", "process.pid": 2 };
  metrics.record(span(1));
  metrics.record(span(1));
  metrics.record(span(2));
  assert.equal(otlp.processes, 2);
  await otlp.shutdown();
  assert.equal(bodies.length, 2);
  for (const b of bodies) {
    assert.equal(b.path, "/v1/metrics");
    assert.equal(b.type, "application/x-protobuf");
    assert.ok(b.text.includes("http.server.request.duration"));
    assert.ok(b.text.includes("/users/{id}"));
  }
  assert.ok(bodies.some((b) => b.text.includes("alpha")));
  assert.ok(bodies.some((b) => b.text.includes("beta")));
});
