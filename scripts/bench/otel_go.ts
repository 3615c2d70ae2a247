/**
 * The peer for Go: OpenTelemetry Go auto-instrumentation (`go.opentelemetry.io/auto`),
 * built from the Go module proxy's copy of the module (its BPF objects generated with
 * bpf2go and the local clang, as its Makefile does), attached to the same Go process and
 * exporting OTLP/HTTP to a local sink that counts the spans.
 *
 * @module
 */

export const OTEL_GO_VERSION = "v0.24.0";
const CACHE = `${Deno.env.get("HOME") ?? "/root"}/.cache/upspan/otel-auto-${OTEL_GO_VERSION}`;
const BINARY = `${CACHE}/otel-go-instrumentation`;
const dec = new TextDecoder();

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${dec.decode(out.stderr).slice(-2000)}`);
  }
  return dec.decode(out.stdout);
}

/** The peer's CLI, built once into the cache (a few minutes the first time). */
export async function buildOtelGo(): Promise<string> {
  if (await Deno.stat(BINARY).then(() => true, () => false)) return BINARY;
  const tmp = await Deno.makeTempDir();
  // The module's source as the proxy serves it, made a main module of its own.
  await run("go", ["mod", "init", "fetch"], tmp);
  const info = JSON.parse(
    await run(
      "go",
      ["mod", "download", "-json", `go.opentelemetry.io/auto@${OTEL_GO_VERSION}`],
      tmp,
    ),
  );
  const src = `${tmp}/src`;
  await run("cp", ["-r", info.Dir, src], tmp);
  await run("chmod", ["-R", "u+w", src], tmp);
  // The zip has no ./sdk; the published go.opentelemetry.io/auto/sdk is the same code.
  await run("go", ["mod", "edit", "-dropreplace", "go.opentelemetry.io/auto/sdk"], src);
  await run("go", ["mod", "download", "go.opentelemetry.io/auto/sdk"], src);
  await run("go", ["mod", "tidy"], src);
  // This kernel refuses bpf_probe_write_user to uprobe programs without showing a lockdown
  // file, which the peer reads as "allowed"; take the variant it picks on a locked-down
  // kernel (no traceparent written into outgoing requests — upspan writes none either).
  const kernelCheck = `${src}/internal/pkg/instrumentation/kernel/context_propagation.go`;
  const check = await Deno.readTextFile(kernelCheck);
  await Deno.writeTextFile(
    kernelCheck,
    check.replace(
      "func SupportsContextPropagation() bool {",
      "func SupportsContextPropagation() bool {\n\treturn false\n",
    ),
  );
  const cflags = `-I${src}/internal/include/libbpf -I${src}/internal/include`;
  await run("go", ["generate", "./internal/pkg/instrumentation/bpf/..."], src, {
    BPF2GO_CFLAGS: cflags,
  });
  await Deno.mkdir(CACHE, { recursive: true });
  await run("go", ["build", "-o", BINARY, "./cli"], src, { CGO_ENABLED: "0" });
  await Deno.remove(tmp, { recursive: true });
  return BINARY;
}

/**
 * Counts the spans in an OTLP ExportTraceServiceRequest (protobuf): resource_spans (1) →
 * scope_spans (2) → spans (2). Malformed input counts what was read.
 */
export function countOtlpSpans(b: Uint8Array): number {
  const fields = (from: number, to: number, want: number, each: (s: number, e: number) => void) => {
    let i = from;
    const varint = () => {
      let v = 0, shift = 0;
      while (i < to) {
        const byte = b[i++]!;
        v += (byte & 0x7f) * 2 ** shift;
        if (byte < 0x80) break;
        shift += 7;
      }
      return v;
    };
    while (i < to) {
      const key = varint();
      const wire = key & 7;
      if (wire === 0) varint();
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else if (wire === 2) {
        const len = varint();
        if (key >>> 3 === want) each(i, Math.min(i + len, to));
        i += len;
      } else return;
    }
  };
  let n = 0;
  fields(0, b.length, 1, (s, e) => fields(s, e, 2, (s2, e2) => fields(s2, e2, 2, () => n++)));
  return n;
}

/** An OTLP/HTTP endpoint that counts the spans sent to it. */
export function otlpSink(): { url: string; spans: () => number; close: () => Promise<void> } {
  let spans = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const body = new Uint8Array(await r.arrayBuffer());
    if (new URL(r.url).pathname === "/v1/traces") spans += countOtlpSpans(body);
    return new Response(new Uint8Array(), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    spans: () => spans,
    close: () => server.shutdown(),
  };
}

/** The peer attached to `pid`, exporting to `endpoint`; waits until its probes are loaded. */
export async function startOtelGo(
  binary: string,
  pid: number,
  endpoint: string,
): Promise<{ pid: number; stop: () => Promise<string> }> {
  const child = new Deno.Command(binary, {
    args: ["-target-pid", String(pid), "-log-level", "info"],
    env: {
      OTEL_SERVICE_NAME: "bench",
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) log += t;
  }));
  const deadline = Date.now() + 60_000;
  // Its log says so once every probe is loaded and the target runs on.
  while (!/instrumentation loaded successfully|"msg":"Running"|Running/i.test(log)) {
    const gone = await Promise.race([
      child.status.then(() => true),
      new Promise((r) => setTimeout(() => r(false), 20)),
    ]);
    if (gone || Date.now() > deadline) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      throw new Error(`OpenTelemetry Go auto-instrumentation did not start:\n${log.slice(-3000)}`);
    }
  }
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGINT");
      await child.status;
      await reading;
      return log;
    },
  };
}
