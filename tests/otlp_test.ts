// OTLP export end to end: upspan traces a real Python HTTPS server hit by curl and exports
// over OTLP/HTTP protobuf to a real OpenTelemetry Collector (built from its Go modules, see
// tests/collector/), which forwards OTLP/JSON to a listener here. The spans that arrive
// must be the ones upspan printed: ids, parents, attributes, resource.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { PYTHON3_NAME, startPythonServer } from "./targets/targets.ts";
import { curl, type JsonSpan, startAgent } from "./agent.ts";
import {
  flatten,
  type ReceivedSpan,
  startCollector,
  startOtlpSink,
  until,
} from "./collector/collector.ts";

const SERVER = 2; // OTLP SpanKind

/** Runs `fn` with these environment variables set (the agent child inherits them). */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

function sameSpan(printed: JsonSpan, got: ReceivedSpan): void {
  const s = got.span;
  assert.equal(s.traceId, printed.traceId);
  assert.equal(s.spanId, printed.spanId);
  assert.equal(s.parentSpanId ?? "", printed.parentSpanId);
  assert.equal(s.name, printed.name);
  assert.equal(s.kind, SERVER);
  assert.equal(s.startTimeUnixNano, printed.startTimeUnixNano);
  assert.equal(s.endTimeUnixNano, printed.endTimeUnixNano);
  assert.deepEqual(flatten(s.attributes), printed.attributes);
  const code = { UNSET: undefined, OK: 1, ERROR: 2 }[printed.status.code];
  assert.equal(s.status?.code, code);
  for (const [k, v] of Object.entries(printed.resource)) assert.equal(got.resource[k], v, k);
  assert.equal(got.scope.name, "upspan");
}

Deno.test("otlp: spans from real traffic reach a real collector intact", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using sink = startOtlpSink();
  await using collector = await startCollector({ forwardTo: sink.url });
  await using server = await startPythonServer({ cert, key });
  const base = `https://127.0.0.1:${server.port}`;
  await withEnv({ OTEL_METRIC_EXPORT_INTERVAL: "1000" }, async () => {
    await using agent = await startAgent([
      "--pid",
      String(server.pid),
      "--otlp-endpoint",
      collector.endpoint,
    ]);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    await curl(`${base}/hello`, `${base}/status/503?x=1`, `${base}/status/404`);
    await curl("-H", `traceparent: 00-${traceId}-00f067aa0ba902b7-01`, `${base}/hello`);
    const printed = await agent.waitForSpans((s) => s.kind === "SERVER", 4);
    const got = await sink.waitForSpans((s) => s.span.kind === SERVER, 4);
    assert.equal(got.length, 4, "each span once");
    const byId = new Map(got.map((g) => [g.span.spanId, g]));
    for (const p of printed) {
      const g = byId.get(p.spanId);
      assert.ok(g, `span ${p.spanId} (${p.attributes["url.path"]}) reached the collector`);
      sameSpan(p, g);
    }
    // What the semantic conventions and the issue ask of them.
    const continued = got.find((g) => g.span.traceId === traceId)!;
    assert.equal(continued.span.parentSpanId, "00f067aa0ba902b7");
    const route = got.find((g) => flatten(g.span.attributes)["url.path"] === "/status/503")!;
    assert.equal(flatten(route.span.attributes)["http.route"], "/status/{id}");
    assert.equal(route.span.status?.code, 2);
    const r = got[0]!.resource;
    assert.equal(r["service.name"], PYTHON3_NAME);
    assert.equal(r["process.pid"], server.pid);
    assert.equal(r["telemetry.distro.name"], "upspan");
    assert.equal(r["process.runtime.name"], "cpython");
    assert.equal(typeof r["telemetry.distro.version"], "string");
    assert.equal(r["host.name"], Deno.hostname());

    // RED metrics over OTLP: the server-duration histogram counts every request.
    const count = () => {
      let n = 0;
      // Cumulative temporality: the latest point per attribute set holds the total.
      const latest = new Map<string, number>();
      for (const body of sink.metrics as MetricsBody[]) {
        for (const rm of body.resourceMetrics ?? []) {
          if (flatten(rm.resource?.attributes)["process.pid"] !== server.pid) continue;
          for (const sm of rm.scopeMetrics ?? []) {
            for (const m of sm.metrics ?? []) {
              if (m.name !== "http.server.request.duration") continue;
              assert.equal(m.unit, "s");
              for (const dp of m.histogram?.dataPoints ?? []) {
                latest.set(JSON.stringify(dp.attributes), Number(dp.count));
              }
            }
          }
        }
      }
      for (const c of latest.values()) n += c;
      return n;
    };
    await until(() => count() === 4, 15_000, () => `metrics count ${count()}, want 4`);
    assert.equal(await agent.stop("SIGTERM"), 0);
    assert.match(
      agent.stderr(),
      /otlp: 4 spans exported to http:\/\/127\.0\.0\.1:\d+\/v1\/traces, 0 dropped/,
    );
  });
});

interface MetricsBody {
  resourceMetrics?: {
    resource?: { attributes?: [] };
    scopeMetrics?: {
      metrics?: {
        name: string;
        unit?: string;
        histogram?: { dataPoints?: { attributes?: unknown; count?: string | number }[] };
      }[];
    }[];
  }[];
}

/** A value of the agent's own Prometheus page. */
async function scrape(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("otlp: the collector stops mid-run: tracing goes on, drops are counted, export resumes", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using sink = startOtlpSink();
  await using collector = await startCollector({ forwardTo: sink.url });
  await using server = await startPythonServer({ cert, key });
  const base = `https://127.0.0.1:${server.port}`;
  const metricsPort = freePort();
  // A small queue and short timeouts (the standard variables) so the outage overflows it
  // within seconds.
  await withEnv({
    OTEL_BSP_MAX_QUEUE_SIZE: "50",
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10",
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_EXPORTER_OTLP_TIMEOUT: "1500",
  }, async () => {
    await using agent = await startAgent([
      "--pid",
      String(server.pid),
      "--otlp-endpoint",
      collector.endpoint,
      "--metrics-port",
      String(metricsPort),
    ]);
    const m = (s: string) => scrape(metricsPort, s);
    const servers = (pred: (path: string) => boolean) => (s: JsonSpan) =>
      s.kind === "SERVER" && pred(String(s.attributes["url.query"]));

    // Up: 10 requests arrive.
    await curl(`${base}/hello?phase=up&n=[1-10]`);
    await sink.waitForSpans(
      (s) => /phase=up/.test(String(flatten(s.span.attributes)["url.query"])),
      10,
    );

    // Down: 400 requests. The agent keeps tracing every one of them.
    await collector.stop();
    const rssBefore = rss(agent.pid);
    await curl(`${base}/hello?phase=down&n=[1-400]`, "-o", "/dev/null");
    await agent.waitForSpans(servers((q) => q.startsWith("phase=down")), 400, 30_000);
    await until(
      async () => await m("upspan_otlp_pending_spans") === 0,
      30_000,
      () => "the queue did not drain while the collector was down",
    );
    const queueFull = await m('upspan_spans_export_dropped_total{reason="queue_full"}');
    const failed = await m('upspan_spans_export_dropped_total{reason="export_failed"}');
    assert.ok(queueFull > 0, `the bounded queue overflowed: ${queueFull}`);
    assert.ok(failed > 0, `batches failed: ${failed}`);
    assert.equal(queueFull + failed, 400, "every span of the outage is dropped and counted");
    assert.match(agent.stderr(), /spans dropped/);
    // Bounded: the 50-span queue cannot hold the outage; memory does not grow with it.
    const grew = rss(agent.pid) - rssBefore;
    assert.ok(grew < 64 * 1024 * 1024, `agent RSS grew by ${grew} bytes`);

    // Back up: export resumes on its own.
    await collector.start();
    await curl(`${base}/hello?phase=back&n=[1-10]`);
    await sink.waitForSpans(
      (s) => /phase=back/.test(String(flatten(s.span.attributes)["url.query"])),
      10,
    );
    await until(
      () => /OTLP export to .* resumed/.test(agent.stderr()),
      10_000,
      () => agent.stderr(),
    );
    // Exact accounting: what the agent says it exported is what arrived.
    const exported = await m("upspan_spans_exported_total");
    assert.equal(exported, sink.spans.length);
    assert.equal(exported, 20);
    assert.equal(await m("upspan_spans_total"), 420);
    assert.equal(await agent.stop("SIGTERM"), 0);
  });
});

/** Resident set size of a process, in bytes. */
function rss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s*(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

Deno.test("otlp: --sample-ratio keeps whole traces by trace id; metrics still count every request", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using sink = startOtlpSink();
  await using collector = await startCollector({ forwardTo: sink.url });
  await using server = await startPythonServer({ cert, key });
  const metricsPort = freePort();
  await withEnv({ OTEL_BSP_SCHEDULE_DELAY: "100" }, async () => {
    await using agent = await startAgent([
      "--pid",
      String(server.pid),
      "--otlp-endpoint",
      collector.endpoint,
      "--metrics-port",
      String(metricsPort),
      "--sample-ratio",
      "0.5",
    ]);
    const m = (s: string) => scrape(metricsPort, s);
    await curl(`https://127.0.0.1:${server.port}/hello?n=[1-40]`);
    await until(async () => await m("upspan_spans_total") === 40, 15_000, () => "40 spans");
    const kept = agent.spans.length;
    assert.equal(await m("upspan_spans_sampled_out_total"), 40 - kept);
    // Consistent probability sampling at 0.5: kept exactly when the trace id's rightmost
    // 56 bits are at least 2^55 (computed here, not by upspan's code).
    for (const s of agent.spans) {
      assert.ok(BigInt("0x" + s.traceId.slice(18)) >= 2n ** 55n, s.traceId);
    }
    assert.ok(kept > 5 && kept < 35, `kept ${kept} of 40`);
    await sink.waitForSpans(() => true, kept);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      sink.spans.map((s) => s.span.spanId).sort(),
      agent.spans.map((s) => s.spanId).sort(),
      "the collector got exactly the sampled spans",
    );
    // RED metrics are not sampled.
    const page = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(page, /^http_server_request_duration_seconds_count\{[^}]*\} 40$/m);
    assert.equal(await agent.stop("SIGTERM"), 0);
  });
});

Deno.test("otlp: over https to a collector with its own CA, with headers from the variables", async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await makeCert(dir);
  await using sink = startOtlpSink();
  await using collector = await startCollector({ forwardTo: sink.url, tls: { cert, key } });
  assert.match(collector.endpoint, /^https:\/\//);
  // Metrics go to an https listener here that records the headers it gets (the collector
  // does not pass request headers on); traces go to the collector. Both trust only the CA
  // the variable names (the certificate is self-signed, in no system store).
  const headers: Headers[] = [];
  await using metricsServer = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen: () => {},
  }, async (req) => {
    headers.push(new Headers(req.headers));
    await req.arrayBuffer();
    return new Response(null, { status: 200 });
  });
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(
    ["--pid", String(server.pid), "--otlp-endpoint", collector.endpoint],
    {
      env: {
        OTEL_EXPORTER_OTLP_CERTIFICATE: cert,
        OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20s3cret,x-tenant=blue",
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT:
          `https://localhost:${metricsServer.addr.port}/v1/metrics`,
        OTEL_BSP_SCHEDULE_DELAY: "100",
        OTEL_METRIC_EXPORT_INTERVAL: "300",
      },
    },
  );
  await curl(`https://127.0.0.1:${server.port}/hello?n=[1-3]`);
  const printed = await agent.waitForSpans((s) => s.kind === "SERVER", 3);
  const got = await sink.waitForSpans((s) => s.span.kind === SERVER, 3);
  assert.deepEqual(got.map((g) => g.span.spanId).sort(), printed.map((p) => p.spanId).sort());
  await until(() => headers.length > 0, 10_000, () => "no metrics request over https");
  assert.equal(headers[0]!.get("authorization"), "Bearer s3cret");
  assert.equal(headers[0]!.get("x-tenant"), "blue");
  assert.equal(await agent.stop("SIGTERM"), 0);
  assert.match(
    agent.stderr(),
    /otlp: 3 spans exported to https:\/\/127\.0\.0\.1:\d+\/v1\/traces, 0 dropped/,
  );
  assert.doesNotMatch(agent.stderr(), /s3cret/, "headers are never logged");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("otlp: https to a collector whose CA is not trusted: spans dropped and counted, exit 0", async () => {
  const dir = await Deno.makeTempDir();
  const { cert, key } = await makeCert(dir);
  await using sink = startOtlpSink();
  await using collector = await startCollector({ forwardTo: sink.url, tls: { cert, key } });
  await using server = await startPythonServer({ cert, key });
  await using agent = await startAgent(
    ["--pid", String(server.pid), "--otlp-endpoint", collector.endpoint],
    { env: { OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_EXPORTER_OTLP_TIMEOUT: "1000" } },
  );
  await curl(`https://127.0.0.1:${server.port}/hello?n=[1-2]`);
  await agent.waitForSpans((s) => s.kind === "SERVER", 2);
  await until(
    () => /spans dropped after failed export/.test(agent.stderr()),
    15_000,
    () => agent.stderr(),
  );
  assert.equal(sink.spans.length, 0);
  assert.equal(await agent.stop("SIGINT"), 0);
  assert.match(agent.stderr(), /otlp: 0 spans exported to https:.*, 2 dropped/);
  await Deno.remove(dir, { recursive: true });
});
