import assert from "node:assert/strict";
import type { Span } from "../model/span.ts";
import { JsonLinesExporter, spanToJson } from "./json.ts";

const KEYS = [
  "traceId",
  "spanId",
  "parentSpanId",
  "name",
  "kind",
  "startTimeUnixNano",
  "endTimeUnixNano",
  "attributes",
  "status",
  "resource",
];

function span(overrides: Partial<Span> = {}): Span {
  return {
    // Fields deliberately not in contract order: the output order must not depend on it.
    resource: { "service.name": "python3", "process.pid": 4242 },
    status: { code: "UNSET" },
    name: "GET /hello",
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "",
    kind: "SERVER",
    // Beyond 2^53: must survive as an exact decimal string.
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    endTimeUnixNano: 1_700_000_000_125_000_001n,
    attributes: {
      "http.request.method": "GET",
      "url.path": "/hello",
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "tls.established": true,
    },
    ...overrides,
  };
}

Deno.test("JsonLinesExporter writes one JSON object per line, fields as the contract says", async () => {
  const writes: string[] = [];
  const exporter = new JsonLinesExporter({ write: (text) => writes.push(text) });
  exporter.export(span());
  exporter.export(span({ spanId: "b7ad6b7169203331", parentSpanId: "00f067aa0ba902b7" }));
  assert.equal(writes.length, 0, "held until the current task ends");
  await Promise.resolve();
  assert.equal(writes.length, 1, "spans that arrive together go out in one write");
  const lines = writes[0]!.split(/(?<=\n)/);

  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.ok(line.endsWith("\n"));
    assert.ok(!line.slice(0, -1).includes("\n"));
  }
  const first = JSON.parse(lines[0]!);
  assert.deepEqual(Object.keys(first), KEYS);
  assert.deepEqual(first, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    parentSpanId: "",
    name: "GET /hello",
    kind: "SERVER",
    startTimeUnixNano: "1700000000123456789",
    endTimeUnixNano: "1700000000125000001",
    attributes: {
      "http.request.method": "GET",
      "url.path": "/hello",
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "tls.established": true,
    },
    status: { code: "UNSET" },
    resource: { "service.name": "python3", "process.pid": 4242 },
  });
  assert.equal(typeof first.startTimeUnixNano, "string");
  assert.equal(typeof first.endTimeUnixNano, "string");
  assert.equal(BigInt(first.startTimeUnixNano), 1_700_000_000_123_456_789n);
  assert.equal(JSON.parse(lines[1]!).parentSpanId, "00f067aa0ba902b7");
});

Deno.test("spanToJson writes status.message only when one is set", () => {
  assert.deepEqual(JSON.parse(spanToJson(span({ status: { code: "OK" } }))).status, {
    code: "OK",
  });
  assert.deepEqual(
    JSON.parse(spanToJson(span({ status: { code: "ERROR", message: "" } }))).status,
    {
      code: "ERROR",
    },
  );
  const line = spanToJson(span({ status: { code: "ERROR", message: "connection reset" } }));
  assert.ok(line.includes(`"status":{"code":"ERROR","message":"connection reset"}`));
});

Deno.test("spanToJson keeps untrusted text on one line", () => {
  const line = spanToJson(span({ name: "GET /a\nb\u2028c", attributes: { "url.path": "/\r\n" } }));
  assert.ok(!/[\n\r\u2028\u2029]/.test(line));
  assert.ok(line.includes("b\\u2028c"));
  assert.equal(JSON.parse(line).name, "GET /a\nb\u2028c");
});

Deno.test("JsonLinesExporter writes to stdout by default", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { JsonLinesExporter } from "${new URL("./json.ts", import.meta.url)}";
       const e = new JsonLinesExporter();
       e.export({ traceId: "a", spanId: "b", parentSpanId: "", name: "n", kind: "INTERNAL",
         startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: {}, status: { code: "OK" },
         resource: {} });
       await e.shutdown();`,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(
    new TextDecoder().decode(out.stdout),
    `{"traceId":"a","spanId":"b","parentSpanId":"","name":"n","kind":"INTERNAL",` +
      `"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":{},"status":{"code":"OK"},` +
      `"resource":{}}\n`,
  );
});

Deno.test("JsonLinesExporter writes lines of any text to stdout as UTF-8, in order", async () => {
  // Non-ASCII lines among ASCII ones: the write buffer, sized for ASCII, has to grow.
  const names = Array.from({ length: 400 }, (_, i) => i % 3 ? `GET ${i}` : `GÉT ✓ 😀 ${i}`);
  const code = `
    import { JsonLinesExporter } from ${JSON.stringify(new URL("./json.ts", import.meta.url).href)};
    const e = new JsonLinesExporter();
    for (const name of ${JSON.stringify(names)}) {
      e.export({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7",
        parentSpanId: "", name, kind: "SERVER", startTimeUnixNano: 1n, endTimeUnixNano: 2n,
        attributes: { "url.path": "/✓".repeat(100 + name.length) }, status: { code: "UNSET" },
        resource: {} });
    }
    await e.shutdown();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  assert.equal(lines.pop(), "");
  assert.deepEqual(lines.map((l) => JSON.parse(l).name), names);
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).attributes["url.path"]),
    names.map((n) => "/✓".repeat(100 + n.length)),
  );
});
