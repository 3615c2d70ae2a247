/**
 * Benchmark: spans exported per second, and per second of CPU of the exporting process,
 * over OTLP/HTTP protobuf to a real OpenTelemetry Collector (tests/collector/, built on
 * first use) on loopback. The collector forwards to a separate process that answers 200
 * without reading the JSON, so this process's CPU is the exporter's own: conversion to
 * ReadableSpan, protobuf encoding, HTTP.
 *
 * Usage: deno run -A scripts/bench_otlp.ts [SPANS]   (default 100000)
 *
 * @module
 */
import { OtlpSpanExporter } from "../src/export/otlp.ts";
import type { Span } from "../src/model/span.ts";
import { startCollector } from "../tests/collector/collector.ts";
import process from "node:process";

const total = Number(Deno.args[0] ?? 100_000);

// A sink in its own process: reads and discards each body, answers `{}`.
const sinkPort = (() => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
})();
const sink = new Deno.Command(Deno.execPath(), {
  args: [
    "eval",
    `Deno.serve({hostname:"127.0.0.1",port:${sinkPort},onListen(){console.log("up")}},async(r)=>{await r.arrayBuffer();return Response.json({})})`,
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = sink.stdout.pipeThrough(new TextDecoderStream()).getReader();
await reader.read(); // "up"

await using collector = await startCollector({ forwardTo: `http://127.0.0.1:${sinkPort}` });

const resources = Array.from({ length: 4 }, (_, i) => ({
  "service.name": `svc-${i}`,
  "service.instance.id": `host:${1000 + i}`,
  "process.pid": 1000 + i,
  "process.executable.path": "/usr/bin/python3.11",
  "host.name": "bench",
  "telemetry.distro.name": "upspan",
}));
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
function span(i: number): Span {
  const start = 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n;
  return {
    traceId: hex(i, 16) + hex(i * 7919, 16),
    spanId: hex(i + 1, 16),
    parentSpanId: i % 2 ? hex(i, 16) : "",
    name: "GET",
    kind: "SERVER",
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_234_567n,
    attributes: {
      "http.request.method": "GET",
      "url.path": `/users/${i}`,
      "http.route": "/users/{id}",
      "url.scheme": "https",
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "server.address": "127.0.0.1",
      "server.port": 8443,
      "client.address": "127.0.0.1",
      "client.port": 40000 + (i % 20000),
      "user_agent.original": "curl/8.5.0",
      "http.response.body.size": 6,
      "thread.id": 1234,
    },
    status: { code: "UNSET" },
    resource: resources[i % resources.length]!,
  };
}

const exporter = new OtlpSpanExporter({
  endpoint: collector.endpoint,
  maxQueueSize: 8192,
  maxBatchSize: 512,
  scheduledDelayMillis: 100,
  shutdownTimeoutMillis: 60_000,
});
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < total; i++) {
  // Keep the queue below its bound: this measures throughput, not drops.
  while (exporter.stats.queued > 4096) await new Promise((r) => setTimeout(r, 1));
  exporter.export(span(i));
}
await exporter.shutdown();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const s = exporter.stats;
console.log(
  JSON.stringify({
    spans: total,
    exported: s.exported,
    dropped: s.droppedQueueFull + s.droppedExportFailed,
    wallSeconds: +seconds.toFixed(2),
    cpuSeconds: +cpuSeconds.toFixed(2),
    spansPerSecond: Math.round(s.exported / seconds),
    spansPerCpuSecond: Math.round(s.exported / cpuSeconds),
  }),
);
sink.kill();
await sink.status;
