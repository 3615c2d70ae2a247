import assert from "node:assert/strict";
import type { Span } from "../model/span.ts";
import { _wallClock } from "./_terminal.ts";
import { formatDuration, PrettyExporter, type PrettyExporterOptions } from "./pretty.ts";

const T0 = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;

/** A 1 ms span, unless `overrides` say otherwise. */
function span(spanId: string, parentSpanId: string, overrides: Partial<Span> = {}): Span {
  const start = overrides.startTimeUnixNano ?? T0;
  return {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId,
    parentSpanId,
    name: spanId,
    kind: "CLIENT",
    startTimeUnixNano: start,
    endTimeUnixNano: start + MS,
    attributes: {},
    status: { code: "UNSET" },
    resource: { "service.name": "app", "process.pid": 7 },
    ...overrides,
  };
}

/** A colorless exporter whose output is collected line by line; `now` is settable. */
function collect(options: PrettyExporterOptions = {}) {
  const lines: string[] = [];
  const clock = { now: 0 };
  const exporter = new PrettyExporter({
    color: false,
    now: () => clock.now,
    write: (text) => {
      assert.ok(text.endsWith("\n"));
      lines.push(...text.slice(0, -1).split("\n"));
    },
    ...options,
  });
  /** Lines with the time column removed. */
  const shown = () => lines.map((line) => line.slice(line.indexOf(" ") + 1));
  return { exporter, lines, shown, clock };
}

Deno.test("a line shows time, kind, name, status, duration, service[pid] and peer", async () => {
  const { exporter, lines } = collect();
  exporter.export(span("s1", "", {
    kind: "SERVER",
    name: "GET /hello",
    startTimeUnixNano: T0 + 123n * MS,
    endTimeUnixNano: T0 + 123n * MS + 1_520_000n,
    attributes: { "http.response.status_code": 200, "client.address": "127.0.0.1" },
    resource: { "service.name": "python3", "process.pid": 4242 },
  }));
  exporter.export(span("c1", "", {
    name: "GET",
    endTimeUnixNano: T0 + 2_500_000_000n,
    attributes: { "server.address": "api.example.com", "server.port": 443 },
    status: { code: "ERROR", message: "timeout" },
  }));
  exporter.export(span("i1", "", { kind: "INTERNAL", name: "work", endTimeUnixNano: T0 + 850n }));
  await exporter.shutdown();
  assert.deepEqual(lines, [
    `${_wallClock(T0 + 123n * MS)} SERVER GET /hello 200 1.52ms python3[4242] ← 127.0.0.1`,
    `${_wallClock(T0)} CLIENT GET ERROR (timeout) 2.50s app[7] → api.example.com:443`,
    `${_wallClock(T0)} INTERNAL work UNSET 850ns app[7]`,
  ]);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.123 /);
});

Deno.test("a child is held until its parent arrives, then printed under it", async () => {
  const { exporter, shown } = collect();
  exporter.export(span("c2", "s", { startTimeUnixNano: T0 + 2n * MS }));
  exporter.export(span("c1", "s", { startTimeUnixNano: T0 + 1n * MS }));
  assert.deepEqual(shown(), []);
  exporter.export(span("s", "", { kind: "SERVER" }));
  assert.deepEqual(shown(), [
    "SERVER s UNSET 1.00ms app[7]",
    "├─ CLIENT c1 UNSET 1.00ms app[7]",
    "└─ CLIENT c2 UNSET 1.00ms app[7]",
  ]);
  await exporter.shutdown();
});

Deno.test("nested held spans form a tree under a SERVER span with a remote parent", async () => {
  const { exporter, shown, clock } = collect();
  exporter.export(span("db", "handler", { startTimeUnixNano: T0 + 1n * MS }));
  exporter.export(span("api", "handler", { startTimeUnixNano: T0 + 2n * MS }));
  exporter.export(span("handler", "srv", { kind: "INTERNAL" }));
  exporter.export(span("log", "srv", { startTimeUnixNano: T0 + 3n * MS }));
  assert.deepEqual(shown(), []);
  // A SERVER span's parent may be a traced caller on this host, which ends just after:
  // it waits briefly; this one's is remote (from traceparent) and never comes.
  exporter.export(span("srv", "remote00parent00", { kind: "SERVER" }));
  assert.deepEqual(shown(), []);
  clock.now += 250;
  exporter.flushExpired();
  assert.deepEqual(shown(), [
    "SERVER srv UNSET 1.00ms app[7]",
    "├─ INTERNAL handler UNSET 1.00ms app[7]",
    "│  ├─ CLIENT db UNSET 1.00ms app[7]",
    "│  └─ CLIENT api UNSET 1.00ms app[7]",
    "└─ CLIENT log UNSET 1.00ms app[7]",
  ]);
  await exporter.shutdown();
});

Deno.test("an orphan is printed alone once the hold time is over", async () => {
  const { exporter, shown } = collect({ holdMs: 20, now: () => performance.now() });
  exporter.export(span("orphan", "gone"));
  exporter.export(span("kid", "orphan"));
  assert.deepEqual(shown(), []);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.deepEqual(shown(), [
    "CLIENT orphan UNSET 1.00ms app[7]",
    "└─ CLIENT kid UNSET 1.00ms app[7]",
  ]);
  // Its parent arriving late is printed on its own.
  exporter.export(span("gone", "", { kind: "SERVER" }));
  assert.equal(shown().at(-1), "SERVER gone UNSET 1.00ms app[7]");
  await exporter.shutdown();
});

Deno.test("a SERVER span whose caller is traced on this host prints under it", async () => {
  const { exporter, shown } = collect();
  exporter.export(span("srv", "cli", { kind: "SERVER" }));
  assert.deepEqual(shown(), []);
  exporter.export(span("cli", ""));
  assert.deepEqual(shown(), [
    "CLIENT cli UNSET 1.00ms app[7]",
    "└─ SERVER srv UNSET 1.00ms app[7]",
  ]);
  await exporter.shutdown();
});

Deno.test("flushExpired prints only the trees whose wait is over", async () => {
  const { exporter, shown, clock } = collect({ holdMs: 1000 });
  exporter.export(span("a", "pa"));
  clock.now = 500;
  exporter.export(span("b", "pb"));
  clock.now = 1000;
  exporter.flushExpired();
  assert.deepEqual(shown(), ["CLIENT a UNSET 1.00ms app[7]"]);
  clock.now = 1500;
  exporter.flushExpired();
  assert.deepEqual(shown(), ["CLIENT a UNSET 1.00ms app[7]", "CLIENT b UNSET 1.00ms app[7]"]);
  await exporter.shutdown();
});

Deno.test("a child of a span printed recently is printed at once", async () => {
  const { exporter, shown, clock } = collect({ rememberMs: 10_000 });
  exporter.export(span("s", "", { kind: "SERVER" }));
  exporter.export(span("late", "s"));
  assert.equal(shown().length, 2);
  clock.now = 20_000;
  exporter.export(span("s2", "", { kind: "SERVER" }));
  exporter.export(span("forgotten", "s")); // "s" was printed too long ago: wait for it
  assert.equal(shown().length, 3);
  await exporter.shutdown();
  assert.equal(shown().length, 4);
});

Deno.test("shutdown prints everything still held, in arrival order", async () => {
  const { exporter, shown } = collect();
  exporter.export(span("x", "px"));
  exporter.export(span("y", "py"));
  exporter.export(span("x1", "x"));
  await exporter.shutdown();
  assert.deepEqual(shown(), [
    "CLIENT x UNSET 1.00ms app[7]",
    "└─ CLIENT x1 UNSET 1.00ms app[7]",
    "CLIENT y UNSET 1.00ms app[7]",
  ]);
});

Deno.test("ids that form a cycle do not hang the exporter", async () => {
  const { exporter, shown } = collect();
  exporter.export(span("a", "b"));
  exporter.export(span("b", "a"));
  await exporter.shutdown();
  assert.deepEqual(shown(), ["CLIENT b UNSET 1.00ms app[7]", "└─ CLIENT a UNSET 1.00ms app[7]"]);
});

Deno.test("text from traffic cannot send terminal escapes; colors only when asked", async () => {
  const { exporter, shown } = collect();
  exporter.export(span("e", "", { name: "GET /\x1b[2J\u202e", kind: "SERVER" }));
  await exporter.shutdown();
  assert.equal(shown()[0], "SERVER GET /\\x1b[2J\\u{202e} UNSET 1.00ms app[7]");

  const colored = collect({ color: true });
  colored.exporter.export(span("e", "", {
    kind: "SERVER",
    attributes: { "http.response.status_code": 503 },
  }));
  await colored.exporter.shutdown();
  assert.ok(colored.lines[0]!.includes("\x1b[31m503\x1b[0m"));
  assert.ok(colored.lines[0]!.includes("\x1b[36mSERVER\x1b[0m"));
});

Deno.test("formatDuration uses human units", () => {
  assert.equal(formatDuration(0n), "0ns");
  assert.equal(formatDuration(-5n), "0ns");
  assert.equal(formatDuration(999n), "999ns");
  assert.equal(formatDuration(1_234n), "1.23µs");
  assert.equal(formatDuration(12_345n), "12.3µs");
  assert.equal(formatDuration(999_999n), "1.00ms");
  assert.equal(formatDuration(456_700_000n), "457ms");
  assert.equal(formatDuration(1_200_000_000n), "1.20s");
  assert.equal(formatDuration(3_600_000_000_000n), "3600s");
});
