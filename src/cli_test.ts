import assert from "node:assert/strict";
import { main, parseCli } from "./cli.ts";
import { UpspanError } from "./errors.ts";

Deno.test("parseCli: defaults and every option", () => {
  assert.deepEqual(parseCli(["--pid", "12"]), {
    pids: [12],
    selectors: { exes: [], ports: [], all: false, containers: [] },
    format: "pretty",
    dump: false,
    hex: false,
    captureBytes: 16384,
    durationSeconds: undefined,
    otlpEndpoint: undefined,
    metricsPort: undefined,
    metricsHost: "127.0.0.1",
    sampleRatio: 1,
    debug: false,
    help: false,
  });
  const all = parseCli([
    "--pid=1",
    "--pid",
    "2",
    "--format",
    "json",
    "--dump",
    "--hex",
    "--capture-bytes",
    "65536",
    "--duration",
    "0.5",
    "--debug",
  ]);
  assert.deepEqual(all.pids, [1, 2]);
  assert.equal(all.format, "json");
  assert.equal(all.captureBytes, 65536);
  assert.equal(all.durationSeconds, 0.5);
  assert.ok(all.dump && all.hex && all.debug);
  assert.equal(parseCli(["-h"]).help, true);
  const selected = parseCli([
    "--exe",
    "python3*",
    "--exe=/usr/sbin/nginx",
    "--port",
    "8443",
    "--container",
    "abc123",
    "--all",
  ]);
  assert.deepEqual(selected.pids, []);
  assert.deepEqual(selected.selectors, {
    exes: ["python3*", "/usr/sbin/nginx"],
    ports: [8443],
    all: true,
    containers: ["abc123"],
  });
});

Deno.test("parseCli: usage mistakes are UpspanErrors with exit code 2", () => {
  for (
    const args of [
      [],
      ["--pid", "0"],
      ["--pid", "1.5"],
      ["--pid", "99999999"],
      ["--pid", "1", "--capture-bytes", "70000"],
      ["--pid", "1", "--duration", "0"],
      ["--pid", "1", "--format", "yaml"],
      ["--pid", "1", "extra"],
      ["--port", "70000"],
      ["--container", "not-hex!"],
      ["--nope"],
    ]
  ) {
    assert.throws(
      () => parseCli(args),
      (e) => e instanceof UpspanError && e.exitCode === 2 && /[.]$/.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("parseCli: export flags", () => {
  const o = parseCli([
    "--pid",
    "1",
    "--otlp-endpoint",
    "http://127.0.0.1:4318",
    "--metrics-port",
    "9464",
    "--sample-ratio",
    "0.25",
  ]);
  assert.equal(o.otlpEndpoint, "http://127.0.0.1:4318");
  assert.equal(o.metricsPort, 9464);
  assert.equal(o.sampleRatio, 0.25);
  assert.equal(parseCli(["--pid", "1", "--sample-ratio", "0"]).sampleRatio, 0);
  assert.equal(o.metricsHost, "127.0.0.1", "/metrics stays on this host unless asked");
  for (const host of ["0.0.0.0", "::", "::1", "fe80::1", "node-1.example", "localhost"]) {
    const h = parseCli(["--pid", "1", "--metrics-port", "9464", "--metrics-host", host]);
    assert.equal(h.metricsHost, host);
  }
  for (
    const args of [
      ["--otlp-endpoint", "127.0.0.1:4318"],
      ["--otlp-endpoint", "ftp://h"],
      ["--metrics-port", "0"],
      ["--metrics-port", "70000"],
      ["--sample-ratio", "1.5"],
      ["--sample-ratio", "-0.1"],
      ["--sample-ratio", "half"],
      ["--sample-ratio", ""],
      ["--sample-ratio", "0x1"],
      ["--metrics-port", "9464", "--metrics-host", ""],
      ["--metrics-port", "9464", "--metrics-host", "a_b"],
      ["--metrics-port", "9464", "--metrics-host", "1.2.3.4.5"],
      ["--metrics-port", "9464", "--metrics-host", ":::1:::"],
      ["--metrics-host", "0.0.0.0"],
      ["--exe", ""],
      ["--exe", "[z-a]"],
      ["--hex"],
      ["--otlp-endpoint", "http://h:99999"],
    ]
  ) {
    assert.throws(
      () => parseCli(["--pid", "1", ...args]),
      (e) => e instanceof UpspanError && e.exitCode === 2 && /[.]$/.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("main: a --metrics-port already in use is one sentence and exit 1", async () => {
  using busy = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const lines: string[] = [];
  const error = console.error;
  console.error = (line: string) => lines.push(line);
  try {
    const code = await main(["--pid", String(Deno.pid), "--metrics-port", String(busy.addr.port)]);
    assert.equal(code, 1);
  } finally {
    console.error = error;
  }
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(
    lines[0]!,
    /^upspan: Cannot serve metrics on port \d+ .*choose another --metrics-port\.$/,
  );
});
