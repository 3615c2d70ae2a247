/**
 * Go requests linked to the spans of other traced processes on this host. Go's probes
 * send each request's span ids with its connection's address pair (a client's before the
 * request is written, a server's when its handler starts). A client's go into the shared
 * {@linkcode PeerLinks}, where a server traced by the socket capture or OpenSSL takes them.
 * A Go server takes the offer of a traced client that is not Go (a Go client's it already
 * continued in BPF): its ids were made in BPF, so its trace is adopted — the server span gets
 * the client span as parent, and every later span of that BPF trace the client's trace id.
 *
 * A grpc-go handler's goroutine starts with a stand-in context (`go_grpc.h`) until its call's
 * span, made from the bytes, is known (`ServedStreams`): then the stand-in's trace is adopted
 * likewise, and its children take the call's span as parent. Spans of a stand-in's trace wait
 * for that (`waits`); a stand-in never joined is dropped, its children left without a parent.
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

// Adopted traces: servers called by traced non-Go clients, and one per grpc-go call served
// (its late children still need it while the call runs).
const MAX_ADOPTED = 50_000;

/** Go's link events on one host's shared offers. */
export class GoPeerTraces {
  readonly #peers: PeerLinks;
  readonly #adopted = new Map<string, Adopted>();
  /** Stand-ins' traces not joined yet, with when they began (performance.now ms). */
  readonly #standIns = new Map<string, { spanId: string; sinceMs: number }>();

  constructor(peers: PeerLinks) {
    this.#peers = peers;
  }

  /** A request's span and connection, from Go's probes. */
  link(e: GoLinkEvent): void {
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
      return;
    }
    // Taken either way: a traced Go client's offer was already continued in BPF.
    const caller = this.#peers.take(key, line);
    if (caller === undefined || e.ids.parentSpanId !== "") return;
    this.#adopt(e.ids.traceId, {
      traceId: caller.traceId,
      root: e.ids.spanId,
      parent: caller.spanId,
      ...(caller.sampled === undefined ? {} : { sampled: caller.sampled }),
    });
  }

  /** A grpc-go handler's goroutine began with this stand-in (its trace's spans now wait). */
  standIn(ids: StandIn, nowMs: number): void {
    if (this.#standIns.size >= MAX_ADOPTED) {
      this.#standIns.delete(this.#standIns.keys().next().value!);
    }
    this.#standIns.set(ids.traceId, { spanId: ids.spanId, sinceMs: nowMs });
  }

  /** The stand-in is the call `call`: its trace becomes the call's, its children the call's. */
  join(ids: StandIn, call: TraceContext): void {
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
  waits(traceId: string, nowMs: number, maxWaitMs: number): boolean {
    const s = this.#standIns.get(traceId);
    if (s === undefined) return false;
    if (nowMs - s.sinceMs <= maxWaitMs) return true;
    this.#standIns.delete(traceId);
    this.#adopt(traceId, { traceId, standIn: s.spanId, call: "" });
    return false;
  }

  #adopt(traceId: string, a: Adopted): void {
    if (this.#adopted.size >= MAX_ADOPTED) {
      this.#adopted.delete(this.#adopted.keys().next().value!);
    }
    this.#adopted.set(traceId, a);
  }

  /** The ids a Go span takes: as BPF made them, or in the trace its server adopted. */
  context(ids: GoSpanIds): GoSpanIds {
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
