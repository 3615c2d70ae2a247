/**
 * Go requests linked to the spans of other traced processes on this host. Go's probes
 * send each request's span ids with its connection's address pair (a client's before the
 * request is written, a server's when its handler starts). A client's go into the shared
 * {@linkcode PeerLinks}, where a server traced by the socket capture or OpenSSL takes them.
 * A Go server takes the offer of a traced client that is not Go (a Go client's it already
 * continued in BPF): its ids were made in BPF, so its trace is adopted -- the server span gets
 * the client span as parent, and every later span of that BPF trace the client's trace id.
 *
 * A grpc-go handler's goroutine starts with a stand-in context (`go_grpc.h`) until its call's
 * span, made from the bytes, is known (`ServedStreams`): then the stand-in's trace is adopted
 * likewise, and its children take the call's span as parent. Spans of a stand-in's trace wait
 * for that (`waits`); a stand-in never joined is dropped, its children left without a parent.
 *
 * A grpc-go server mounted on net/http (`grpc.Server.ServeHTTP`) has both: net/http's probe
 * span and the call's span from the bytes, for the same connection and stream. The probe
 * span of what may be a call (HTTP/2 `POST /service/method` in a process with grpc-go) is a
 * stand-in that is a span of its own (`mounted`): joined, it is dropped (`replaced`) and its
 * children take the call's span as parent; never joined, it goes out as it was, with them.
 *
 * @module
 */
import type { PeerLinks } from "../context/peer_links.ts";
import type { StandIn } from "../context/served_streams.ts";
import type { TraceContext } from "../model/trace_context.ts";
import type { GoLinkEvent, GoSpanIds } from "./events.ts";

interface Adopted {
  traceId: string;
  /** The Go server span that took the offer, and its new parent. */
  root?: string;
  parent?: string;
  /** A stand-in span id, and the span its children have instead ("" for none). */
  standIn?: string;
  call?: string;
  sampled?: boolean;
}

/** A mounted stand-in: the call's span once joined, null once given up, undefined while waiting. */
interface Mounted {
  traceId: string;
  sinceMs: number;
  call?: TraceContext | null;
}

// A gRPC path: "/" service "/" method, no more (the gRPC over HTTP/2 spec's Path).
const GRPC_PATH = /^\/[^/]+\/[^/]+$/;

// Adopted traces: servers called by traced non-Go clients, and one per grpc-go call served
// (its late children still need it while the call runs).
const MAX_ADOPTED = 50_000;
/** Server links that found no offer, kept for their span's `retry`. */
const MAX_MISSED = 1_024;

/** Go's link events on one host's shared offers. */
export class GoPeerTraces {
  readonly #peers: PeerLinks;
  readonly #adopted = new Map<string, Adopted>();
  /** Stand-ins' traces not joined yet, with when they began (performance.now ms). */
  readonly #standIns = new Map<string, { spanId: string; sinceMs: number }>();
  /** net/http server spans that may be grpc-go calls, by span id (see `mounted`). */
  readonly #mounted = new Map<string, Mounted>();
  /** Server requests whose link found no offer to take, by span id (see `retry`). */
  readonly #missed = new Map<string, { e: GoLinkEvent; key: string; line: string }>();
  /** The trace of each mounted stand-in still waiting, to its span id. */
  readonly #mountedTraces = new Map<string, string>();

  /**
   * Told, for each server request that is not a stand-in, whether its connection may go
   * quiet (`go_links.h`, struct server_link): no offer was there to adopt.
   */
  quiet?: (e: GoLinkEvent, quiet: boolean) => void;

  constructor(peers: PeerLinks) {
    this.#peers = peers;
  }

  /**
   * A request's span and connection, from Go's probes. `rpcFromBytes`: the process serves
   * grpc-go calls from the bytes; a server request that may be one is then returned as a
   * stand-in to join to the call's span, its caller's offer left to that span.
   */
  link(e: GoLinkEvent, rpcFromBytes = false, nowMs?: number): StandIn | undefined {
    const key = `${e.client.address}:${e.client.port}>${e.serverEnd.address}:${e.serverEnd.port}`;
    const line = `${e.method.text} ${e.path.text}${e.query.text === "" ? "" : `?${e.query.text}`}`;
    if (!e.server) {
      // Read when taken: the Go server above this call may adopt a trace after the offer.
      const ids = e.ids;
      const resolve = () => this.context(ids);
      this.#peers.offer(key, {
        get traceId() {
          return resolve().traceId;
        },
        get sampled() {
          return resolve().sampled;
        },
        spanId: ids.spanId,
        parentSpanId: ids.parentSpanId,
      }, line);
      return undefined;
    }
    if (this.mayBeCall(e, rpcFromBytes)) return this.#mount(e.ids, nowMs ?? performance.now());
    // Taken either way: a traced Go client's offer was already continued in BPF.
    const caller = this.#peers.take(key, line);
    if (e.ids.parentSpanId !== "") {
      this.quiet?.(e, true);
      return undefined;
    }
    if (caller === undefined) {
      // Looked for again when its span is made (`retry`), and the connection told quiet only
      // then: a client's bytes are counted at its send's end, which the server may beat to
      // its handler.
      if (this.#missed.size >= MAX_MISSED) this.#missed.clear();
      this.#missed.set(e.ids.spanId, { e, key, line });
      return undefined;
    }
    this.quiet?.(e, false);
    this.#adoptCaller(e.ids, caller);
    return undefined;
  }

  /** Whether this server span's link found no offer yet (see `retry`). */
  missed(ids: GoSpanIds): boolean {
    return this.#missed.size > 0 && this.#missed.has(ids.spanId);
  }

  /**
   * A server span about to be made whose link found no offer: the offer is looked for again
   * (the other rings read now), and adopted if its client's bytes have come since. A
   * client's send is counted as it ends, and the server it woke may have served it by then.
   * True when there is still none and the caller may `wait` (hold the span and ask again
   * later); otherwise the search is over, and the connection may go quiet.
   */
  retry(ids: GoSpanIds, wait = false): boolean {
    if (this.#missed.size === 0) return false;
    const missed = this.#missed.get(ids.spanId);
    if (missed === undefined) return false;
    const caller = this.#peers.take(missed.key, missed.line);
    if (caller === undefined && wait) return true;
    this.#missed.delete(ids.spanId);
    this.quiet?.(missed.e, caller === undefined);
    if (caller !== undefined) this.#adoptCaller(ids, caller);
    return false;
  }

  /** A server request's trace becomes its traced client's, the client span its parent. */
  #adoptCaller(ids: GoSpanIds, caller: TraceContext): void {
    this.#adopt(ids.traceId, {
      traceId: caller.traceId,
      root: ids.spanId,
      parent: caller.spanId,
      ...(caller.sampled === undefined ? {} : { sampled: caller.sampled }),
    });
  }

  /**
   * Whether a server request may be a grpc-go call served through net/http: an HTTP/2
   * `POST /service/method` in a process that serves grpc-go calls from the bytes. Taking no
   * offer, its `link` reads no other ring.
   */
  mayBeCall(e: GoLinkEvent, rpcFromBytes: boolean): boolean {
    return rpcFromBytes && e.server && e.stream !== 0 && e.method.text === "POST" &&
      !e.path.truncated && GRPC_PATH.test(e.path.text);
  }

  #mount(ids: GoSpanIds, nowMs: number): StandIn {
    if (this.#mounted.size >= MAX_ADOPTED) {
      const [spanId, m] = this.#mounted.entries().next().value!;
      this.#mounted.delete(spanId);
      if (this.#mountedTraces.get(m.traceId) === spanId) this.#mountedTraces.delete(m.traceId);
    }
    this.#mounted.set(ids.spanId, { traceId: ids.traceId, sinceMs: nowMs });
    this.#mountedTraces.set(ids.traceId, ids.spanId);
    return { traceId: ids.traceId, spanId: ids.spanId, replaced: true };
  }

  /** A grpc-go handler's goroutine began with this stand-in (its trace's spans now wait). */
  standIn(ids: StandIn, nowMs: number): void {
    if (this.#standIns.size >= MAX_ADOPTED) {
      this.#standIns.delete(this.#standIns.keys().next().value!);
    }
    this.#standIns.set(ids.traceId, { spanId: ids.spanId, sinceMs: nowMs });
  }

  /** A mounted stand-in's stream is no gRPC call: its span goes out as it was, at once. */
  notCall(ids: StandIn): void {
    const m = ids.replaced ? this.#mounted.get(ids.spanId) : undefined;
    if (m === undefined || m.call !== undefined) return;
    m.call = null;
    this.#settle(ids.spanId, m);
  }

  /** The stand-in is the call `call`: its trace becomes the call's, its children the call's. */
  join(ids: StandIn, call: TraceContext): void {
    if (ids.replaced) {
      const m = this.#mounted.get(ids.spanId);
      if (m === undefined || m.call !== undefined) return; // evicted, or given up
      m.call = call;
      this.#settle(ids.spanId, m);
      // A trace of its own (no traceparent, no traced Go caller) becomes the call's.
      if (ids.traceId !== call.traceId) {
        this.#adopt(ids.traceId, {
          traceId: call.traceId,
          ...(call.sampled === undefined ? {} : { sampled: call.sampled }),
        });
      }
      return;
    }
    this.#standIns.delete(ids.traceId);
    this.#adopt(ids.traceId, {
      traceId: call.traceId,
      standIn: ids.spanId,
      call: call.spanId,
      ...(call.sampled === undefined ? {} : { sampled: call.sampled }),
    });
  }

  /**
   * Whether spans of this BPF trace wait for their stand-in's join. One waiting longer than
   * `maxWaitMs` is given up: its children keep their trace and lose the stand-in parent.
   */
  waits(ids: GoSpanIds, nowMs: number, maxWaitMs: number): boolean {
    if (this.#mounted.size === 0 && this.#standIns.size === 0) return false; // no grpc-go call
    // A mounted stand-in itself, its children, and the rest of a trace it began.
    for (const spanId of [ids.spanId, ids.parentSpanId, this.#mountedTraces.get(ids.traceId)]) {
      const m = spanId === undefined ? undefined : this.#mounted.get(spanId);
      if (m === undefined || m.call !== undefined) continue;
      if (nowMs - m.sinceMs <= maxWaitMs) return true;
      m.call = null;
      this.#settle(spanId!, m);
    }
    const traceId = ids.traceId;
    const s = this.#standIns.get(traceId);
    if (s === undefined) return false;
    if (nowMs - s.sinceMs <= maxWaitMs) return true;
    this.#standIns.delete(traceId);
    this.#adopt(traceId, { traceId, standIn: s.spanId, call: "" });
    return false;
  }

  #settle(spanId: string, m: Mounted): void {
    if (this.#mountedTraces.get(m.traceId) === spanId) this.#mountedTraces.delete(m.traceId);
  }

  /** Whether this span was a mounted stand-in that its call's span replaced: not sent. */
  replaced(ids: GoSpanIds): boolean {
    if (this.#mounted.size === 0) return false;
    return (this.#mounted.get(ids.spanId)?.call ?? null) !== null;
  }

  #adopt(traceId: string, a: Adopted): void {
    if (this.#adopted.size >= MAX_ADOPTED) {
      this.#adopted.delete(this.#adopted.keys().next().value!);
    }
    this.#adopted.set(traceId, a);
  }

  /**
   * The parent a span made elsewhere takes when Go span `ids` (BPF's ids; `standIn`: a
   * grpc-go handler's stand-in, never a span) is its parent: that span's final trace and id,
   * or the call span a stand-in became. Undefined while that is not settled (a stand-in not
   * joined yet) or when there is none (a stand-in given up).
   */
  childOf(
    ids: GoSpanIds,
    standIn: boolean,
  ): { traceId: string; spanId: string; sampled?: boolean } | undefined {
    const m = this.#mounted.get(ids.spanId);
    if (m !== undefined && m.call === undefined) return undefined;
    if (standIn && this.#standIns.has(ids.traceId)) return undefined;
    const child = this.context({ traceId: ids.traceId, spanId: "", parentSpanId: ids.spanId });
    if (child.parentSpanId === "" || (standIn && child.parentSpanId === ids.spanId)) {
      return undefined;
    }
    return {
      traceId: child.traceId,
      spanId: child.parentSpanId,
      ...(child.sampled === undefined ? {} : { sampled: child.sampled }),
    };
  }

  /** The ids a Go span takes: as BPF made them, or in the trace its server adopted. */
  context(ids: GoSpanIds): GoSpanIds {
    if (this.#mounted.size === 0 && this.#adopted.size === 0) return ids;
    const call = this.#mounted.get(ids.parentSpanId)?.call;
    if (call) {
      return {
        ...ids,
        traceId: call.traceId,
        parentSpanId: call.spanId,
        ...(call.sampled === undefined ? {} : { sampled: call.sampled }),
      };
    }
    const a = this.#adopted.get(ids.traceId);
    if (a === undefined) return ids;
    const sampled = a.sampled === undefined ? {} : { sampled: a.sampled };
    if (a.standIn !== undefined && ids.parentSpanId === a.standIn) {
      if (a.call) return { ...ids, traceId: a.traceId, parentSpanId: a.call, ...sampled };
      const { via: _via, ...rest } = ids;
      return { ...rest, parentSpanId: "" };
    }
    if (a.root !== undefined && ids.spanId === a.root) {
      return {
        traceId: a.traceId,
        spanId: ids.spanId,
        parentSpanId: a.parent!,
        via: "peer",
        ...sampled,
      };
    }
    return { ...ids, traceId: a.traceId, ...sampled };
  }
}
