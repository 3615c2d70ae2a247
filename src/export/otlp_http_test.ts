import assert from "node:assert/strict";
import { OtlpHttpClient, parseHeaders, safeUrl, signalUrl } from "./otlp_http.ts";

const env = (vars: Record<string, string>) => (n: string) => vars[n];
const BODY = new Uint8Array([10, 2, 8, 1]);

Deno.test("otlp http: endpoint precedence, per signal", () => {
  assert.equal(signalUrl("traces", "http://c:4318/", env({})), "http://c:4318/v1/traces");
  assert.equal(signalUrl("metrics", "http://c:4318/", env({})), "http://c:4318/v1/metrics");
  assert.equal(
    signalUrl("traces", undefined, env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://e:4318" })),
    "http://e:4318/v1/traces",
  );
  assert.equal(
    signalUrl("traces", "http://c:4318", env({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://e:4318" })),
    "http://c:4318/v1/traces",
    "the flag wins over the general variable",
  );
  assert.equal(
    signalUrl("traces", "http://c:4318", env({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x" })),
    "http://t/x",
    "the traces variable, as is",
  );
  assert.equal(
    signalUrl("metrics", "http://c", env({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "http://m/x" })),
    "http://m/x",
  );
  assert.equal(signalUrl("traces", undefined, env({})), "http://localhost:4318/v1/traces");
});

Deno.test("otlp http: OTEL_EXPORTER_OTLP_HEADERS syntax", () => {
  assert.deepEqual(parseHeaders("api-key=s%3Dcret, x-team = a b ,bad,=v,k=v=w"), {
    "api-key": "s=cret",
    "x-team": "a b",
    k: "v=w",
  });
  assert.deepEqual(parseHeaders(undefined), {});
  assert.deepEqual(parseHeaders("b@d=1,ok=%zz"), { ok: "%zz" });
});

Deno.test("otlp http: a URL for logs carries no credentials", () => {
  assert.equal(
    safeUrl("https://user:pa55@otel.example:4318/v1/traces?api_key=s3cret#x"),
    "https://otel.example:4318/v1/traces",
  );
  assert.equal(safeUrl("not a url"), "(an unparsable URL)");
});

/** A backend answering from `answer`, recording each request. */
function backend(answer: (n: number, req: Request) => Response | Promise<Response>) {
  const seen: { headers: Headers; body: Uint8Array<ArrayBuffer> }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push({ headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
    return answer(seen.length, req);
  });
  return { server, seen, url: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("otlp http: headers from the variables, Content-Length, gzip", async () => {
  const b = backend(() => new Response(null, { status: 200 }));
  await using _ = b.server;
  const client = new OtlpHttpClient("traces", {
    endpoint: b.url,
    env: env({
      OTEL_EXPORTER_OTLP_HEADERS: "authorization=Bearer%20t0k,x-a=1",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-a=2",
      OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip",
    }),
  });
  assert.deepEqual(await client.send(BODY), { ok: true });
  client.close();
  const h = b.seen[0]!.headers;
  assert.equal(h.get("authorization"), "Bearer t0k");
  assert.equal(h.get("x-a"), "2", "the signal's own variable wins");
  assert.equal(h.get("content-type"), "application/x-protobuf");
  assert.equal(h.get("content-encoding"), "gzip");
  assert.equal(h.get("content-length"), String(b.seen[0]!.body.length));
  assert.equal(h.get("transfer-encoding"), null);
  const plain = new Uint8Array(
    await new Response(
      new Blob([b.seen[0]!.body]).stream().pipeThrough(new DecompressionStream("gzip")),
    ).arrayBuffer(),
  );
  assert.deepEqual(plain, BODY);
});

Deno.test("otlp http: 503 then 200 is retried; 400 is not", async () => {
  const b = backend((n) =>
    new Response(null, { status: n === 1 ? 503 : 200, headers: { "retry-after": "0" } })
  );
  await using _ = b.server;
  const client = new OtlpHttpClient("traces", {
    endpoint: b.url,
    timeoutMillis: 5000,
    env: env({}),
  });
  assert.deepEqual(await client.send(BODY), { ok: true });
  assert.equal(b.seen.length, 2);
  client.close();

  const bad = backend(() => new Response("no", { status: 400 }));
  await using __ = bad.server;
  const c2 = new OtlpHttpClient("traces", { endpoint: bad.url, env: env({}) });
  const r = await c2.send(BODY);
  c2.close();
  assert.equal(r.ok, false);
  assert.match((r as { error: string }).error, /HTTP 400/);
  assert.equal(bad.seen.length, 1);
});

Deno.test("otlp http: a backend that never answers costs the timeout; close aborts at once", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch { /* closed */ }
  })();
  const url = `http://127.0.0.1:${listener.addr.port}`;
  const client = new OtlpHttpClient("traces", { endpoint: url, timeoutMillis: 300, env: env({}) });
  const r = await client.send(BODY);
  assert.deepEqual(r, { ok: false, error: "no answer within the export timeout" });

  const c2 = new OtlpHttpClient("traces", { endpoint: url, timeoutMillis: 60_000, env: env({}) });
  const pending = c2.send(BODY);
  await new Promise((r) => setTimeout(r, 100));
  c2.close();
  assert.deepEqual(await pending, { ok: false, error: "the exporter was shut down" });
  assert.deepEqual(await c2.send(BODY), { ok: false, error: "the exporter was shut down" });
  client.close();
  listener.close();
  for (const c of held) c.close();
  await accepting;
});

Deno.test("otlp http: an unreadable CA file is one sentence", () => {
  assert.throws(
    () =>
      new OtlpHttpClient("traces", {
        env: env({ OTEL_EXPORTER_OTLP_CERTIFICATE: "/nonexistent/ca.pem" }),
      }),
    /^Error: Cannot read the OTLP CA certificate "\/nonexistent\/ca.pem" \(/,
  );
});
