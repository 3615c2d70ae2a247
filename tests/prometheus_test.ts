// `--metrics-port`: a real Prometheus (Debian's `prometheus` package) scrapes upspan's
// /metrics while curl sends a known load to a traced Python HTTPS server; promtool checks
// the page, and Prometheus's HTTP API must give back the load: exact request counts, a
// request rate near the one sent, and a p95 in the same bucket as the p95 of the spans.
import assert from "node:assert/strict";
import { makeCert } from "./targets/certs.ts";
import { PYTHON3_NAME, startPythonServer } from "./targets/targets.ts";
import { curl, startAgent } from "./agent.ts";
import { until } from "./collector/collector.ts";
import { HTTP_DURATION_BUCKETS } from "../src/export/metrics.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

interface Prometheus extends AsyncDisposable {
  /** An instant query's vector result as numbers (by the label set's JSON). */
  query(promql: string, time?: number): Promise<number[]>;
  log(): string;
}

async function startPrometheus(target: string): Promise<Prometheus> {
  const dir = await Deno.makeTempDir({ prefix: "upspan-prometheus-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: upspan
    static_configs:
      - targets: ["${target}"]
`,
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  for (const stream of [child.stdout, child.stderr]) {
    (async () => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) log += text;
    })();
  }
  const base = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      try {
        const res = await fetch(`${base}/-/ready`);
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
    30_000,
    () => `prometheus did not become ready:\n${log}`,
  );
  return {
    async query(promql, time) {
      const params = new URLSearchParams({ query: promql });
      if (time !== undefined) params.set("time", String(time));
      const res = await fetch(`${base}/api/v1/query?${params}`);
      const body = await res.json();
      if (body.status !== "success") throw new Error(`${promql}: ${JSON.stringify(body)}`);
      return (body.data.result as { value: [number, string] }[]).map((r) => Number(r.value[1]));
    },
    log: () => log,
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

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

Deno.test("prometheus: scrapes upspan; counts exact, rate and p95 match the load", async () => {
  const { cert, key } = await makeCert(await Deno.makeTempDir());
  await using server = await startPythonServer({ cert, key });
  const metricsPort = freePort();
  await using agent = await startAgent([
    "--pid",
    String(server.pid),
    "--metrics-port",
    String(metricsPort),
  ]);
  await using prom = await startPrometheus(`127.0.0.1:${metricsPort}`);
  const base = `https://127.0.0.1:${server.port}`;
  const sel = `service_name="${PYTHON3_NAME}"`;
  const count = async () =>
    (await prom.query(`sum(http_server_request_duration_seconds_count{${sel}})`))[0] ?? 0;

  // One request first, so the series exists before the load and rate() sees all of it.
  await curl(`${base}/status/200?warm=1`);
  await until(async () => await count() === 1, 20_000, () => `no first scrape:\n${prom.log()}`);

  // The load, 60 requests: 48 fast GETs at 30 a second, and beside them 12 POSTs of 1 MB
  // that the client uploads at 5 MB/s, so the server reads each for ~0.2 s.
  const body = await Deno.makeTempFile();
  await Deno.writeFile(body, new Uint8Array(1_000_000).fill(120));
  const fast = Array.from(
    { length: 48 },
    (_, i) => [`${base}/status/200?n=${i}`, "-o", "/dev/null"],
  );
  const slow = Array.from({ length: 12 }, (_, i) => [`${base}/echo?n=${i}`, "-o", "/dev/null"]);
  const t0 = Date.now() / 1000;
  await Promise.all([
    curl("--rate", "30/s", ...fast.flat()),
    curl("--limit-rate", "5M", "--data-binary", `@${body}`, ...slow.flat()),
  ]);
  const t1 = Date.now() / 1000;
  const spans = await agent.waitForSpans((s) => s.kind === "SERVER", 61);
  let last = 0;
  await until(async () => (last = await count()) === 61, 20_000, () => `count ${last}, want 61`);

  // Exact counts, per route.
  const byRoute = async (method: string, route: string) =>
    (await prom.query(
      `sum(http_server_request_duration_seconds_count{${sel},http_route="${route}",http_request_method="${method}",http_response_status_code="200"})`,
    ))[0];
  assert.equal(await byRoute("GET", "/status/{id}"), 49);
  assert.equal(await byRoute("POST", "/echo"), 12);

  // The rate over the load's window, evaluated once the last request was scraped.
  const at = Date.now() / 1000;
  const window = Math.ceil(at - t0 + 1);
  const [rate] = await prom.query(
    `sum(rate(http_server_request_duration_seconds_count{${sel}}[${window}s]))`,
    at,
  );
  const sent = 60 / (t1 - t0);
  const expected = 60 / window;
  assert.ok(
    rate! > expected * 0.6 && rate! < expected * 1.5,
    `rate ${rate}/s over ${window}s; the load was 60 requests in ${(t1 - t0).toFixed(1)}s (${
      sent.toFixed(1)
    }/s), ${expected.toFixed(1)}/s over the window`,
  );

  // p95 from the histogram lies in the bucket of the spans' own p95 (a slow request's).
  const durations = spans.map((s) =>
    Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e9
  ).sort((a, b) => a - b);
  const trueP95 = durations[Math.ceil(0.95 * durations.length) - 1]!;
  const upper = HTTP_DURATION_BUCKETS.find((b) => trueP95 <= b) ?? Infinity;
  const lower = [...HTTP_DURATION_BUCKETS].reverse().find((b) => b < trueP95) ?? 0;
  const [p95] = await prom.query(
    `histogram_quantile(0.95, sum by (le) (http_server_request_duration_seconds_bucket{${sel}}))`,
  );
  assert.ok(
    p95! >= lower && p95! <= upper,
    `p95 ${p95}s; spans' p95 ${trueP95}s in bucket (${lower}, ${upper}]`,
  );

  // The agent's own health, scraped too.
  const [probes] = await prom.query("upspan_probes_attached");
  assert.ok(probes! > 0, `probes ${probes}`);
  await until(
    async () => ((await prom.query("upspan_events_read_total"))[0] ?? 0) > 0,
    10_000,
    () => "no events counted",
  );
  assert.equal((await prom.query("upspan_spans_total"))[0], 61);
  assert.equal((await prom.query('up{job="upspan"}'))[0], 1);

  // The page itself passes promtool's checks.
  const page = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const check = await promtool(page);
  assert.ok(check.ok, check.out);
  assert.equal(check.out.trim(), "", `promtool: ${check.out}`);
  assert.equal(await agent.stop("SIGTERM"), 0);
  await Deno.remove(body);
});

/** The local address of the TCP socket listening on `port`, from /proc/net/tcp. */
async function listeningAddress(port: number): Promise<string | undefined> {
  const text = await Deno.readTextFile("/proc/net/tcp");
  for (const line of text.split("\n").slice(1)) {
    const [, local = "", , state] = line.trim().split(/\s+/);
    const [hex = "", portHex = ""] = local.split(":");
    if (state !== "0A" || parseInt(portHex, 16) !== port) continue;
    // Little-endian bytes of the IPv4 address.
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
  }
  return undefined;
}

Deno.test("prometheus: /metrics listens on 127.0.0.1 unless --metrics-host says otherwise", async () => {
  await using server = await startPythonServer({});
  for (const [extra, want] of [[[], "127.0.0.1"], [["--metrics-host", "0.0.0.0"], "0.0.0.0"]]) {
    const metricsPort = freePort();
    await using agent = await startAgent([
      "--pid",
      String(server.pid),
      "--metrics-port",
      String(metricsPort),
      ...extra as string[],
    ]);
    assert.equal(await listeningAddress(metricsPort), want, agent.stderr());
    assert.equal(await agent.stop(), 0);
  }
});
