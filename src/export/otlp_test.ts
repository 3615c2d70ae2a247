import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { OtlpSpanExporter, type ReadableSpanSink, toReadableSpan } from "./otlp.ts";
import type { Span } from "../model/span.ts";

const RESOURCE = { "service.name": "api", "process.pid": 42 };

function span(i: number, extra: Partial<Span> = {}): Span {
  return {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: (0x1000 + i).toString(16).padStart(16, "0"),
    parentSpanId: "",
    name: "GET",
    kind: "SERVER",
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    endTimeUnixNano: 1_700_000_001_000_000_000n,
    attributes: { "http.request.method": "GET", "http.response.status_code": 200 },
    status: { code: "UNSET" },
    resource: RESOURCE,
    ...extra,
  };
}

/** A sink whose batches complete only when the test says so. */
class ManualSink implements ReadableSpanSink {
  pending: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  received = 0;
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.pending.push({ spans, done });
  }
  finish(code: ExportResultCode): void {
    for (const p of this.pending.splice(0)) {
      if (code === ExportResultCode.SUCCESS) this.received += p.spans.length;
      p.done({ code, error: code === ExportResultCode.FAILED ? new Error("down") : undefined });
    }
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("otlp: a span as a ReadableSpan", () => {
  const r = toReadableSpan(span(1, {
    parentSpanId: "00f067aa0ba902b7",
    kind: "CLIENT",
    status: { code: "ERROR", message: "boom" },
  }));
  assert.equal(r.spanContext().traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(r.spanContext().spanId, "0000000000001001");
  assert.equal(r.parentSpanContext?.spanId, "00f067aa0ba902b7");
  assert.equal(r.parentSpanContext?.isRemote, true);
  assert.equal(r.kind, SpanKind.CLIENT);
  assert.deepEqual(r.status, { code: SpanStatusCode.ERROR, message: "boom" });
  assert.deepEqual(r.startTime, [1_700_000_000, 123_456_789]);
  assert.deepEqual(r.endTime, [1_700_000_001, 0]);
  assert.deepEqual(r.duration, [0, 876_543_211]);
  assert.equal(r.resource.attributes["service.name"], "api");
  assert.equal(r.instrumentationScope.name, "upspan");
  assert.equal(toReadableSpan(span(2)).parentSpanContext, undefined);
  // One Resource object per process: the encoder groups by identity.
  assert.equal(toReadableSpan(span(3)).resource, r.resource);
});

Deno.test("otlp: batches by size and by time", async () => {
  const sink = new ManualSink();
  const otlp = new OtlpSpanExporter({ sink, maxBatchSize: 10, scheduledDelayMillis: 20 });
  for (let i = 0; i < 25; i++) otlp.export(span(i));
  assert.deepEqual(sink.pending.map((p) => p.spans.length), [10, 10], "two full batches at once");
  sink.finish(ExportResultCode.SUCCESS);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sink.pending.map((p) => p.spans.length), [5], "the rest after the delay");
  sink.finish(ExportResultCode.SUCCESS);
  await tick();
  assert.equal(otlp.stats.exported, 25);
  await otlp.shutdown();
  assert.equal(sink.received, 25);
});

Deno.test("otlp: a backend that hangs: queue bounded, drops counted, export resumes", async () => {
  const sink = new ManualSink();
  const lines: string[] = [];
  const otlp = new OtlpSpanExporter({
    sink,
    maxQueueSize: 100,
    maxBatchSize: 10,
    maxConcurrentExports: 2,
    scheduledDelayMillis: 10,
    log: (l) => lines.push(l),
  });
  for (let i = 0; i < 10_000; i++) otlp.export(span(i));
  let s = otlp.stats;
  assert.equal(s.inFlight, 2);
  assert.equal(s.queued, 100);
  assert.equal(s.droppedQueueFull, 10_000 - 100 - 20);
  assert.match(lines[0]!, /spans dropped because the queue was full/);
  // The backend fails those two batches, then comes back.
  sink.finish(ExportResultCode.FAILED);
  await tick();
  s = otlp.stats;
  assert.equal(s.droppedExportFailed, 20);
  while (otlp.stats.queued > 0 || sink.pending.length > 0) {
    sink.finish(ExportResultCode.SUCCESS);
    await new Promise((r) => setTimeout(r, 15));
  }
  assert.equal(otlp.stats.exported, 100);
  assert.ok(lines.some((l) => /resumed/.test(l)), lines.join("\n"));
  // New spans flow again.
  for (let i = 0; i < 5; i++) otlp.export(span(i));
  const done = otlp.shutdown();
  await tick();
  sink.finish(ExportResultCode.SUCCESS);
  await done;
  assert.equal(otlp.stats.exported, 105);
  assert.equal(sink.received, 105);
});

Deno.test("otlp: the real exporter to a port nobody listens on fails fast and counts", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const lines: string[] = [];
  const otlp = new OtlpSpanExporter({
    endpoint: `http://127.0.0.1:${port}`,
    timeoutMillis: 300,
    scheduledDelayMillis: 10,
    log: (line) => lines.push(line),
  });
  for (let i = 0; i < 3; i++) otlp.export(span(i));
  await otlp.shutdown();
  assert.equal(otlp.stats.exported, 0);
  assert.equal(otlp.stats.droppedExportFailed, 3);
  assert.match(lines.join("\n"), /3 spans dropped after failed export/);
});

Deno.test("otlp: the real exporter posts protobuf to /v1/traces", async () => {
  const bodies: { path: string; type: string | null; body: Uint8Array }[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      bodies.push({
        path: new URL(req.url).pathname,
        type: req.headers.get("content-type"),
        body: new Uint8Array(await req.arrayBuffer()),
      });
      return new Response(new Uint8Array(0), {
        headers: { "content-type": "application/x-protobuf" },
      });
    },
  );
  const otlp = new OtlpSpanExporter({
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    headers: { "x-test": "1" },
    scheduledDelayMillis: 10,
  });
  otlp.export(span(1));
  otlp.export(span(2, { resource: { "service.name": "other" } }));
  await otlp.shutdown();
  assert.equal(otlp.stats.exported, 2);
  assert.equal(bodies.length, 1);
  assert.equal(bodies[0]!.path, "/v1/traces");
  assert.equal(bodies[0]!.type, "application/x-protobuf");
  // The trace id travels as 16 raw bytes; both services' names are in the request.
  const hex = Array.from(bodies[0]!.body, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.ok(hex.includes("4bf92f3577b34da6a3ce929d0e0e4736"));
  const text = new TextDecoder().decode(bodies[0]!.body);
  assert.ok(text.includes("api") && text.includes("other"));
});

Deno.test("otlp: shutdown waits a bounded time, then counts what is left as dropped", async () => {
  const sink = new ManualSink();
  const lines: string[] = [];
  const otlp = new OtlpSpanExporter({
    sink,
    maxBatchSize: 10,
    maxConcurrentExports: 1,
    shutdownTimeoutMillis: 50,
    log: (l) => lines.push(l),
  });
  for (let i = 0; i < 25; i++) otlp.export(span(i));
  const t0 = performance.now();
  await otlp.shutdown(); // the backend never answers
  assert.ok(performance.now() - t0 < 1000);
  assert.equal(otlp.stats.droppedExportFailed, 25, "10 in flight and 15 queued");
  assert.match(lines.join("\n"), /25 spans dropped after failed export \(stopped before/);
  sink.finish(ExportResultCode.SUCCESS); // a late answer counts for nothing
  await tick();
  assert.equal(otlp.stats.exported, 0);
});
