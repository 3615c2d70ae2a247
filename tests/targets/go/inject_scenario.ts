/**
 * traceparent injection end to end, shared by `tests/go_inject_test.ts` (two builds) and
 * `scripts/go_inject_matrix.ts` (every supported toolchain, DWARF and stripped): the Go
 * fixture server's `/call` makes requests to a Python server that upspan does not trace,
 * first without the agent, then under `--inject-traceparent`; the Python server says what
 * traceparent it received and echoes every request as it got it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type JsonSpan, startAgent } from "../../agent.ts";
import { startPythonServer } from "../targets.ts";
import { buildGoServer, startGoServer } from "./build.ts";

/** What one run saw. */
export interface InjectOutcome {
  /** The traceparent the Python server received from a Go client span, as text. */
  received: string;
  /** That client span. */
  client: JsonSpan | undefined;
  /** What the server received when the request already carried `GIVEN`, and its span. */
  receivedGiven: string;
  givenClient: JsonSpan | undefined;
  /** Bulk responses (as /call reports them) that differed from the untraced run's. */
  mismatched: number;
  /** Client spans of the bulk requests. */
  bulkSpans: number;
  /** The agent's stderr. */
  stderr: string;
  /** The Go server still answered after the agent stopped. */
  alive: boolean;
  /** Every client span with a URL. */
  clients: JsonSpan[];
  /** The Python server's port. */
  serverPort: number;
}

/** A traceparent the test's request carries already. */
export const GIVEN = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** Options for {@linkcode runInjectScenario}. */
export interface InjectOptions {
  stripped: boolean;
  /** Bulk requests (half GET, half POST with a body). */
  requests: number;
  /** More environment for the agent (`UPSPAN_LOCKDOWN_FILE` to see the refusal). */
  env?: Record<string, string>;
  /** Ask by `UPSPAN_INJECT_TRACEPARENT=1` instead of the flag. Default false. */
  byEnvironment?: boolean;
  /** Everything but the write (`UPSPAN_INJECT_DRY_RUN=1`). Default false. */
  dryRun?: boolean;
}

/** Runs the scenario with the fixture built by `toolchain`. */
export async function runInjectScenario(
  toolchain: string,
  options: InjectOptions,
): Promise<InjectOutcome> {
  const built = await buildGoServer(toolchain, { stripped: options.stripped });
  if (!built.ok) throw new Error(built.error);
  const go = await startGoServer(built.path);
  await using py = await startPythonServer({});
  const call = async (path: string, extra = "") => {
    const url = encodeURIComponent(`http://127.0.0.1:${py.port}${path}`);
    const res = await fetch(`http://127.0.0.1:${go.port}/call?url=${url}${extra}`);
    return await res.text();
  };
  const half = Math.ceil(options.requests / 2);
  const bulk = async () => [
    await call("/request", `&n=${half}`),
    await call("/request", `&n=${options.requests - half}&post=1`),
  ];
  try {
    const untraced = await bulk();
    const flag = options.byEnvironment ? [] : ["--inject-traceparent"];
    const env = {
      ...options.env,
      ...(options.byEnvironment ? { UPSPAN_INJECT_TRACEPARENT: "1" } : {}),
      ...(options.dryRun ? { UPSPAN_INJECT_DRY_RUN: "1" } : {}),
    };
    await using agent = await startAgent(["--pid", String(go.pid), ...flag], { env });
    const received = (await call("/traceparent")).replace(/^200 /, "").trim();
    const receivedGiven = (await call("/traceparent", `&traceparent=${GIVEN}`))
      .replace(/^200 /, "").trim();
    const traced = await bulk();
    const lines = (texts: string[]) => texts.join("").split("\n200 ");
    const [a, b] = [lines(untraced), lines(traced)];
    const mismatched = a.length === b.length
      ? a.filter((x, i) => x !== b[i]).length
      : Math.abs(a.length - b.length);
    const isClient = (s: JsonSpan) => s.kind === "CLIENT" && s.attributes["url.full"] !== undefined;
    await agent.waitForSpans(isClient, options.requests + 2, 30_000);
    await agent.stop();
    const clients = agent.spans.filter(isClient);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(received);
    const after = await fetch(`http://127.0.0.1:${go.backendPort}/backend/1`);
    const alive = after.status === 200 && (await after.text()) === "b1";
    return {
      received,
      client: m ? clients.find((s) => s.traceId === m[1] && s.spanId === m[2]) : undefined,
      receivedGiven,
      givenClient: clients.find((s) =>
        String(s.attributes["url.full"]).endsWith("/traceparent") &&
        s.traceId === GIVEN.slice(3, 35)
      ),
      mismatched,
      bulkSpans: clients.filter((s) =>
        String(s.attributes["url.full"]).endsWith("/request")
      ).length,
      stderr: agent.stderr(),
      alive,
      clients,
      serverPort: py.port,
    };
  } finally {
    await go.stop();
  }
}

/**
 * Checks a run where the kernel refused injection for `reason`: said once, nothing written,
 * spans and responses as without it, a request's own traceparent still continued.
 */
export function checkRefused(o: InjectOutcome, requests: number, reason: string): void {
  const lines = o.stderr.split("\n").filter((l) => /traceparent injection/.test(l));
  assert.deepEqual(lines, [`traceparent injection refused: ${reason}; tracing without it`]);
  assert.equal(o.received, "none", "nothing was written");
  assert.equal(o.receivedGiven, GIVEN);
  assert.ok(o.givenClient, "a request's own traceparent is still continued");
  assert.equal(o.mismatched, 0, `${o.mismatched} responses differed from the untraced run's`);
  assert.equal(o.bulkSpans, requests, "spans are still made");
  assert.ok(o.alive, "the Go server stopped answering");
}

/**
 * Checks a dry run: nothing written, and for each request without a traceparent of its own
 * (the first 20) the line made from its client span's ids, to go right after the request's
 * line, `Host`, `User-Agent` and framing headers — where net/http's header map lines begin.
 */
export function checkDryRun(o: InjectOutcome, requests: number): void {
  assert.equal(o.received, "none", "nothing was written");
  assert.equal(o.receivedGiven, GIVEN);
  assert.equal(o.mismatched, 0);
  assert.equal(o.bulkSpans, requests);
  assert.ok(o.alive, "the Go server stopped answering");
  const runs = [...o.stderr.matchAll(
    /^traceparent dry run: pid \d+ would write (".*") at byte (\d+) of the request, after (".*")$/gm,
  )].map((m) => ({
    line: JSON.parse(m[1]!) as string,
    at: Number(m[2]),
    head: JSON.parse(m[3]!) as string,
  }));
  assert.equal(runs.length, Math.min(20, requests + 1), o.stderr);
  const host = `Host: 127.0.0.1:${o.serverPort}\r\nUser-Agent: Go-http-client/1.1\r\n`;
  assert.equal(runs[0]!.head, `GET /traceparent HTTP/1.1\r\n${host}`);
  for (const r of runs) {
    assert.match(r.head, /^(GET|POST) \/(traceparent|request) HTTP\/1\.1\r\n/);
    assert.ok(r.head.endsWith(host) || /\r\nContent-Length: \d+\r\n$/.test(r.head), r.head);
    assert.equal(r.at, r.head.length);
    const m = /^Traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-01\r\n$/.exec(r.line);
    assert.ok(m, r.line);
    assert.ok(
      o.clients.some((s) => s.traceId === m[1] && s.spanId === m[2]),
      `no span for ${r.line}`,
    );
  }
  assert.ok(o.clients.every((s) => s.attributes["upspan.traceparent.injected"] === undefined));
}

/** Checks a run where injection was on (throws an AssertionError naming the problem). */
export function checkInjected(o: InjectOutcome, requests: number): void {
  assert.match(o.received, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, "no traceparent arrived");
  assert.ok(o.client, `no client span has the ids the server received (${o.received})`);
  assert.equal(o.client.attributes["upspan.traceparent.injected"], true);
  assert.equal(o.receivedGiven, GIVEN, "a request's own traceparent arrives alone, unchanged");
  assert.ok(o.givenClient, "the client span continues the request's own traceparent");
  assert.equal(o.givenClient.spanId, GIVEN.slice(36, 52));
  assert.equal(o.givenClient.attributes["upspan.traceparent.injected"], undefined);
  assert.equal(o.mismatched, 0, `${o.mismatched} responses differed from the untraced run's`);
  assert.equal(o.bulkSpans, requests);
  assert.ok(o.alive, "the Go server stopped answering");
  assert.doesNotMatch(o.stderr, /refused/);
}
