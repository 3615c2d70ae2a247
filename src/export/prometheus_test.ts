import assert from "node:assert/strict";
import { SpanMetrics } from "./metrics.ts";
import {
  escapeLabelValue,
  prometheusName,
  PrometheusServer,
  renderPrometheus,
} from "./prometheus.ts";
import type { Span } from "../model/span.ts";

function span(resource: Span["resource"], attributes: Span["attributes"], ms: number): Span {
  return {
    traceId: "1".repeat(32),
    spanId: "2".repeat(16),
    parentSpanId: "",
    name: "GET",
    kind: "SERVER",
    startTimeUnixNano: 0n,
    endTimeUnixNano: BigInt(Math.round(ms * 1e6)),
    attributes,
    status: { code: "UNSET" },
    resource,
  };
}

function filled(): SpanMetrics {
  const metrics = new SpanMetrics();
  const a = { "service.name": "api", "process.pid": 1 };
  const b = { "service.name": "api", "process.pid": 2 };
  const attrs = {
    "http.request.method": "GET",
    "http.route": "/users/{id}",
    "http.response.status_code": 200,
  };
  metrics.record(span(a, attrs, 3));
  metrics.record(span(b, attrs, 300));
  metrics.record(span(a, { ...attrs, "http.route": 'we"ird\\path\n' }, 1));
  metrics.record({
    ...span(a, { "http.request.method": "GET", "server.address": "db" }, 20),
    kind: "CLIENT",
  });
  return metrics;
}

Deno.test("prometheus: names and escaping", () => {
  assert.equal(
    prometheusName("http.server.request.duration"),
    "http_server_request_duration_seconds",
  );
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

Deno.test("prometheus: histograms, merged across processes of one service", () => {
  const text = renderPrometheus(filled(), {
    probesAttached: 6,
    eventsRead: 10,
    eventsDropped: 0,
    spans: 4,
    spansExported: 3,
    spansExportDropped: { queueFull: 1, exportFailed: 0 },
  });
  const lbl =
    'service_name="api",http_request_method="GET",http_response_status_code="200",http_route="/users/{id}"';
  assert.ok(
    text.includes(`http_server_request_duration_seconds_bucket{${lbl},le="0.005"} 1\n`),
    text,
  );
  assert.ok(text.includes(`http_server_request_duration_seconds_bucket{${lbl},le="0.25"} 1\n`));
  assert.ok(text.includes(`http_server_request_duration_seconds_bucket{${lbl},le="0.5"} 2\n`));
  assert.ok(text.includes(`http_server_request_duration_seconds_bucket{${lbl},le="+Inf"} 2\n`));
  assert.ok(text.includes(`http_server_request_duration_seconds_count{${lbl}} 2\n`));
  assert.ok(text.includes(`http_server_request_duration_seconds_sum{${lbl}} 0.303\n`));
  assert.ok(text.includes('http_route="we\\"ird\\\\path\\n"'));
  assert.ok(text.includes("# TYPE http_client_request_duration_seconds histogram\n"));
  assert.ok(text.includes("upspan_probes_attached 6\n"));
  assert.ok(text.includes('upspan_spans_export_dropped_total{reason="queue_full"} 1\n'));
});

async function promtool(text: string): Promise<{ ok: boolean; out: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("prometheus: promtool check metrics passes on a served page", async () => {
  const server = new PrometheusServer({
    port: 0,
    hostname: "127.0.0.1",
    metrics: filled(),
    health: () => ({
      probesAttached: 6,
      eventsRead: 10,
      eventsDropped: 0,
      spans: 4,
      spansSampledOut: 0,
    }),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const check = await promtool(text);
    assert.ok(check.ok, check.out);
    assert.equal(check.out.trim(), "", "no lint complaints");
    const missing = await fetch(`http://127.0.0.1:${server.port}/other`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    // A broken page must fail the same check (so the check above can fail).
    assert.equal((await promtool("x{ 1\n")).ok, false);
  } finally {
    await server.close();
  }
});
