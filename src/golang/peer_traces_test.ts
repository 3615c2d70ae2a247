import assert from "node:assert/strict";
import { PeerLinks } from "../context/peer_links.ts";
import type { GoLinkEvent, GoSpanIds } from "./events.ts";
import { GoPeerTraces } from "./peer_traces.ts";
import { t } from "./_test_events.ts";

const T = "4bf92f3577b34da6a3ce929d0e0e4736";
const link = (server: boolean, ids: GoSpanIds, path = "/x"): GoLinkEvent => ({
  type: "link",
  pid: 1,
  ids,
  server,
  client: { address: "127.0.0.1", port: 50000 },
  serverEnd: { address: "127.0.0.1", port: 8080 },
  method: t("GET"),
  path: t(path),
  query: t(""),
  stream: 0,
});
const KEY = "127.0.0.1:50000>127.0.0.1:8080";
/** Some span of trace `traceId`. */
const inTrace = (traceId: string): GoSpanIds => ({ traceId, spanId: "99", parentSpanId: "" });

Deno.test("GoPeerTraces: a Go client's request is offered under its address pair", () => {
  const peers = new PeerLinks();
  new GoPeerTraces(peers).link(link(false, { traceId: T, spanId: "aa", parentSpanId: "" }));
  const taken = peers.take(KEY, "GET /x");
  assert.equal(taken?.traceId, T);
  assert.equal(taken?.spanId, "aa");
});

Deno.test("GoPeerTraces: a Go server called by a traced client adopts its trace, children too", () => {
  const peers = new PeerLinks();
  const traces = new GoPeerTraces(peers);
  peers.offer(
    KEY,
    { traceId: "c".repeat(32), spanId: "cc", parentSpanId: "", sampled: false },
    "GET /x",
  );
  const root = { traceId: T, spanId: "11", parentSpanId: "" };
  traces.link(link(true, root));
  assert.deepEqual(traces.context(root), {
    traceId: "c".repeat(32),
    spanId: "11",
    parentSpanId: "cc",
    via: "peer",
    sampled: false,
  });
  const child = { traceId: T, spanId: "22", parentSpanId: "11", via: "goroutine" as const };
  assert.equal(traces.context(child).traceId, "c".repeat(32));
  assert.equal(traces.context(child).parentSpanId, "11");
  // An offer its client call made, read when taken: in the adopted trace.
  traces.link({ ...link(false, child, "/y"), client: { address: "127.0.0.1", port: 50001 } });
  assert.equal(peers.take("127.0.0.1:50001>127.0.0.1:8080", "GET /y")?.traceId, "c".repeat(32));
  // Another trace is left alone.
  const other = { traceId: "d".repeat(32), spanId: "33", parentSpanId: "" };
  assert.deepEqual(traces.context(other), other);
});

Deno.test("GoPeerTraces: a server already linked in BPF takes the offer but keeps its parent", () => {
  const peers = new PeerLinks();
  const traces = new GoPeerTraces(peers);
  const client = { traceId: T, spanId: "aa", parentSpanId: "" };
  traces.link(link(false, client));
  const server = { traceId: T, spanId: "bb", parentSpanId: "aa", via: "peer" as const };
  traces.link(link(true, server));
  assert.equal(peers.size, 0, "the offer is gone");
  assert.deepEqual(traces.context(server), server);
});

Deno.test("GoPeerTraces: a grpc-go handler's stand-in becomes its call's span once joined", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  const standIn = { traceId: T, spanId: "5e" };
  const child = { traceId: T, spanId: "c1", parentSpanId: "5e", via: "goroutine" as const };
  const grandchild = { traceId: T, spanId: "c2", parentSpanId: "c1", via: "peer" as const };
  traces.standIn(standIn, 0);
  assert.equal(traces.waits(inTrace(T), 100, 2000), true);
  traces.join(standIn, { traceId: "e".repeat(32), spanId: "ca", parentSpanId: "", sampled: true });
  assert.equal(traces.waits(inTrace(T), 100, 2000), false);
  assert.deepEqual(traces.context(child), {
    traceId: "e".repeat(32),
    spanId: "c1",
    parentSpanId: "ca",
    via: "goroutine",
    sampled: true,
  });
  assert.deepEqual(traces.context(grandchild), {
    ...grandchild,
    traceId: "e".repeat(32),
    sampled: true,
  });
});

Deno.test("GoPeerTraces: a stand-in never joined leaves its children without a parent", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  traces.standIn({ traceId: T, spanId: "5e" }, 0);
  assert.equal(traces.waits(inTrace(T), 2000, 2000), true);
  assert.equal(traces.waits(inTrace(T), 2001, 2000), false);
  const child = { traceId: T, spanId: "c1", parentSpanId: "5e", via: "goroutine" as const };
  assert.deepEqual(traces.context(child), { traceId: T, spanId: "c1", parentSpanId: "" });
  const other = { traceId: "f".repeat(32), spanId: "c3", parentSpanId: "" };
  assert.equal(traces.waits(other, 0, 2000), false);
  assert.deepEqual(traces.context(other), other);
});

const grpcLink = (ids: GoSpanIds, stream: number): GoLinkEvent => ({
  ...link(true, ids, "/demo.Echo/Say"),
  method: t("POST"),
  stream,
});

Deno.test("GoPeerTraces: a mounted grpc-go call's net/http span is replaced by the call's, its children follow", () => {
  const peers = new PeerLinks();
  const traces = new GoPeerTraces(peers);
  const caller = { traceId: "c".repeat(32), spanId: "cc", parentSpanId: "" };
  peers.offer(KEY, caller, "POST /demo.Echo/Say");
  const probe = { traceId: T, spanId: "11", parentSpanId: "" };
  const standIn = traces.link(grpcLink(probe, 1), true, 0);
  assert.deepEqual(standIn, { traceId: T, spanId: "11", replaced: true });
  assert.equal(peers.size, 1, "the caller's offer is left to the call's span");
  const child = { traceId: T, spanId: "c1", parentSpanId: "11", via: "goroutine" as const };
  const grandchild = { traceId: T, spanId: "c2", parentSpanId: "c1", via: "goroutine" as const };
  for (const ids of [probe, child, grandchild]) assert.equal(traces.waits(ids, 100, 2000), true);
  const call = { traceId: "c".repeat(32), spanId: "ca", parentSpanId: "cc" };
  traces.join(standIn!, call);
  for (const ids of [probe, child, grandchild]) assert.equal(traces.waits(ids, 100, 2000), false);
  assert.equal(traces.replaced(probe), true, "the probe span is not sent");
  assert.equal(traces.replaced(child), false);
  assert.deepEqual(traces.context(child), { ...child, traceId: call.traceId, parentSpanId: "ca" });
  assert.deepEqual(traces.context(grandchild), { ...grandchild, traceId: call.traceId });
});

Deno.test("GoPeerTraces: a mounted stand-in never joined goes out as it was, with its children", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  const probe = { traceId: T, spanId: "11", parentSpanId: "" };
  const standIn = traces.link(grpcLink(probe, 1), true, 0)!;
  const child = { traceId: T, spanId: "c1", parentSpanId: "11", via: "goroutine" as const };
  assert.equal(traces.waits(child, 2000, 2000), true);
  assert.equal(traces.waits(child, 2001, 2000), false);
  assert.equal(traces.waits(probe, 2001, 2000), false);
  assert.equal(traces.replaced(probe), false);
  assert.deepEqual(traces.context(child), child);
  // A join after giving up changes nothing: the span already went out with its children.
  traces.join(standIn, { traceId: "e".repeat(32), spanId: "ca", parentSpanId: "" });
  assert.equal(traces.replaced(probe), false);
  assert.deepEqual(traces.context(child), child);
});

Deno.test("GoPeerTraces: concurrent mounted calls of one caller's trace each keep their own children", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  const a = { traceId: T, spanId: "a1", parentSpanId: "pp", via: "traceparent" as const };
  const b = { traceId: T, spanId: "b1", parentSpanId: "pp", via: "traceparent" as const };
  const sa = traces.link(grpcLink(a, 1), true, 0)!;
  const sb = traces.link(grpcLink(b, 3), true, 0)!;
  traces.join(sa, { traceId: T, spanId: "ca", parentSpanId: "pp" });
  const childB = { traceId: T, spanId: "c2", parentSpanId: "b1", via: "goroutine" as const };
  assert.equal(traces.waits(childB, 100, 2000), true, "b's child waits for b's call");
  traces.join(sb, { traceId: T, spanId: "cb", parentSpanId: "pp" });
  const childA = { traceId: T, spanId: "c1", parentSpanId: "a1", via: "goroutine" as const };
  assert.equal(traces.context(childA).parentSpanId, "ca");
  assert.equal(traces.context(childB).parentSpanId, "cb");
});

Deno.test("GoPeerTraces: only an HTTP/2 POST of a gRPC path in a grpc-go process may be a call", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  const ids = { traceId: T, spanId: "11", parentSpanId: "" };
  assert.equal(traces.link(grpcLink(ids, 1), false), undefined, "no grpc-go in the process");
  assert.equal(traces.link(grpcLink(ids, 0), true), undefined, "HTTP/1");
  assert.equal(traces.link({ ...grpcLink(ids, 1), method: t("GET") }, true), undefined);
  assert.equal(traces.link({ ...grpcLink(ids, 1), path: t("/a/b/c") }, true), undefined);
  assert.equal(traces.waits(ids, 0, 2000), false);
});

Deno.test("GoPeerTraces: a mounted stand-in whose stream is no gRPC call goes out at once", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  const probe = { traceId: T, spanId: "11", parentSpanId: "" };
  const standIn = traces.link(grpcLink(probe, 1), true, 0)!;
  const child = { traceId: T, spanId: "c1", parentSpanId: "11", via: "goroutine" as const };
  assert.equal(traces.waits(child, 100, 2000), true);
  traces.notCall(standIn);
  assert.equal(traces.waits(child, 100, 2000), false);
  assert.equal(traces.waits(probe, 100, 2000), false);
  assert.equal(traces.replaced(probe), false);
  assert.deepEqual(traces.context(child), child);
});

Deno.test("GoPeerTraces: childOf gives a settled parent only", () => {
  const traces = new GoPeerTraces(new PeerLinks());
  // A plain Go span: itself.
  const plain = { traceId: T, spanId: "aa", parentSpanId: "" };
  assert.deepEqual(traces.childOf(plain, false), { traceId: T, spanId: "aa" });
  // A handler's stand-in: nothing until joined, then the call's span.
  const standIn = { traceId: "1".repeat(32), spanId: "5e" };
  traces.standIn(standIn, 0);
  assert.equal(traces.childOf({ ...standIn, parentSpanId: "" }, true), undefined);
  traces.join(standIn, { traceId: "e".repeat(32), spanId: "ca", parentSpanId: "", sampled: true });
  assert.deepEqual(traces.childOf({ ...standIn, parentSpanId: "" }, true), {
    traceId: "e".repeat(32),
    spanId: "ca",
    sampled: true,
  });
  // A stand-in given up: no parent, never the stand-in itself.
  const lost = { traceId: "2".repeat(32), spanId: "5f", parentSpanId: "" };
  traces.standIn(lost, 0);
  traces.waits(inTrace(lost.traceId), 5000, 2000);
  assert.equal(traces.childOf(lost, true), undefined);
  // A mounted call's net/http span: nothing while waiting, then the call's span.
  const probe = { traceId: "3".repeat(32), spanId: "11", parentSpanId: "" };
  const mounted = traces.link(grpcLink(probe, 1), true, 0)!;
  assert.equal(traces.childOf(probe, false), undefined);
  traces.join(mounted, { traceId: "c".repeat(32), spanId: "cb", parentSpanId: "" });
  assert.deepEqual(traces.childOf(probe, false), { traceId: "c".repeat(32), spanId: "cb" });
});

Deno.test("GoPeerTraces: a server link that found no offer looks again when its span is made", () => {
  const peers = new PeerLinks();
  const traces = new GoPeerTraces(peers);
  const told: boolean[] = [];
  traces.quiet = (_e, quiet) => told.push(quiet);
  const late = { traceId: T, spanId: "11", parentSpanId: "" };
  traces.link(link(true, late)); // the client's bytes not read yet
  assert.deepEqual(told, [], "not quiet before its span has looked again");
  assert.ok(traces.missed(late));
  assert.equal(traces.retry(late, true), true, "still none: the span may wait");
  assert.deepEqual(told, [], "not quiet while its span waits");
  peers.offer(KEY, { traceId: "c".repeat(32), spanId: "cc", parentSpanId: "" }, "GET /x");
  assert.equal(traces.retry(late, true), false, "found: it waits no more");
  assert.ok(!traces.missed(late));
  assert.equal(traces.context(late).traceId, "c".repeat(32));
  assert.equal(traces.context(late).parentSpanId, "cc");
  assert.deepEqual(told, [false]);
  // An untraced client's: no offer either time, and its connection may go quiet.
  const alone = { traceId: "d".repeat(32), spanId: "22", parentSpanId: "" };
  traces.link(link(true, alone));
  assert.equal(traces.retry(alone), false, "no more waiting");
  assert.deepEqual(traces.context(alone), alone);
  assert.deepEqual(told, [false, true]);
  traces.retry(alone); // once only
  assert.deepEqual(told, [false, true]);
  // Linked in BPF already (a Go client): nothing to adopt, quiet at once.
  traces.link(link(true, { traceId: T, spanId: "33", parentSpanId: "44" }));
  assert.deepEqual(told, [false, true, true]);
});
