/**
 * The trace context of one connection's HTTP requests, whatever the version: each
 * request's span ids are fixed when its head arrives -- a server continues a `traceparent`
 * or the traced client on the other end of the connection (`src/context/peer_links.ts`),
 * a client is the child of the request its thread is serving and offers its ids to the
 * traced server it calls -- and a finished exchange waits briefly for the socket's
 * addresses before its span is made.
 *
 * @module
 */
import type { TraceContext } from "../../model/trace_context.ts";
import type { SocketInfo } from "../../model/stream_chunk.ts";
import { clientToServer } from "../../context/peer_links.ts";
import { parseTraceparent } from "../../context/traceparent.ts";
import type { OfferWaiter, ParserConnection } from "../protocol.ts";
import { requestContext } from "./semconv.ts";

/** What trace context needs of a request's head. */
export interface RequestHead {
  /** Thread that sent or received the first byte. */
  tid: number;
  firstByteMonoNs: bigint;
  /** `METHOD target`: how both ends of a connection recognise the same request. */
  line: string;
  /** The request's one `traceparent`, if any. */
  traceparent: string | undefined;
  /** Its HTTP/2 stream id. */
  stream?: number;
}

/**
 * Where a request object keeps its span ids: a property under a symbol of this module. A
 * per-connection `WeakMap` cost 0.1-0.35 µs per request (a set and a get, and the collector's
 * ephemeron work) for what lives exactly as long as the request object anyway.
 */
const CONTEXT: unique symbol = Symbol("request context");
/** A server's request whose head found no traced client's offer: looked for again. */
const MISSED: unique symbol = Symbol("request without its offer");
interface Missed {
  key: string;
  line: string;
  tid: number;
  /** When its head came. */
  sinceNs: bigint;
  /** A Go program's call: its stream, told to `served` once the offer is settled. */
  stream?: number;
}
type WithContext = {
  [CONTEXT]?: TraceContext;
  [MISSED]?: Missed;
};

/**
 * Whether both ends of a connection may be on this host (loopback, or one address at both
 * ends): only then may its client be a process traced here.
 */
function sameHost(socket: SocketInfo): boolean {
  const peer = socket.peerAddress;
  return peer === socket.localAddress || peer.startsWith("127.") || peer === "::1" ||
    peer.startsWith("::ffff:127.");
}

/** How long a server's connection waits for no offer after a wait in vain. */
const QUIET_NS = 1_000_000_000n;

interface Awaiting<R, X> {
  request: R;
  exchange: X;
  lastByteMonoNs: bigint;
}

/**
 * One connection's request links; `R` is the parser's request object, `X` its finished
 * exchange.
 *
 * @example
 * ```ts ignore
 * const links = new RequestLinks<Request, Exchange>(connection, (x) => emitSpan(x));
 * links.head(req, { tid, firstByteMonoNs, line: "GET /", traceparent }); // at the head
 * links.done(req, exchange, lastByteMonoNs); // at the end: emitted now or once the socket is known
 * ```
 */
export class RequestLinks<R extends object, X> implements OfferWaiter {
  readonly #c: ParserConnection;
  readonly #emit: (exchange: X) => void;
  readonly #server: boolean;
  /** Requests seen before the socket was known: linked once it is (bounded). */
  #unlinked: [R, RequestHead][] = [];
  /** A Go program's calls whose offer is still looked for, whatever their exchange's state. */
  #missedCalls: WithContext[] = [];
  /**
   * Finished exchanges waiting, in order: for the socket's addresses (up to
   * `socketWaitNs`), or for their traced client's offer (up to `offerWaitNs`).
   */
  #awaiting: Awaiting<R, X>[] = [];
  /** The socket whose address pair {@link #key} is (made once, not per request). */
  #keySocket: SocketInfo | undefined;
  #key: string | undefined;
  /** Whether that socket's client may be on this host (see `sameHost`). */
  #local = false;
  /**
   * When a request of this server's last waited for its client's offer in vain: those of
   * the next second do not wait (a client traced later is waited for within a second).
   */
  #quietSinceNs: bigint | undefined;

  /** Links for `connection`, whose role is known; `emit` makes the span of an exchange. */
  constructor(connection: ParserConnection, emit: (exchange: X) => void) {
    this.#c = connection;
    this.#emit = emit;
    this.#server = connection.role === "server";
  }

  /** The span ids fixed for a request, once they are. */
  context(request: R): TraceContext | undefined {
    return (request as WithContext)[CONTEXT];
  }

  /**
   * Takes span ids another parser fixed for the same request (one carried over a protocol
   * hand-over), so that its head is not linked twice.
   */
  adopt(request: R, context: TraceContext): void {
    (request as WithContext)[CONTEXT] = context;
  }

  /**
   * A request's head arrived: fixes its span ids. A client offers them under its
   * connection's addresses; a server takes those of the traced client on the other end.
   */
  head(request: R, head: RequestHead): void {
    const c = this.#c;
    const socket = c.socket;
    if (socket === undefined) {
      // Bounded: a connection whose socket is never learnt must not grow this forever.
      if (this.#unlinked.length >= c.env.limits.maxPipelined) this.#unlinked.shift();
      this.#unlinked.push([request, head]);
      return;
    }
    const key = this.#keyOf(socket);
    const { peers, threads, ids, received } = c.env;
    const tp = head.traceparent === undefined ? undefined : parseTraceparent(head.traceparent);
    // In a Go program (the only one whose RPC calls alone come from here) goroutines run on
    // any thread: a thread says nothing of which request a call is made for.
    const byThread = !c.rpcOnly;
    if (this.#server) {
      const caller = key === undefined ? undefined : peers.take(key, head.line);
      // The traced client's span is the nearer parent than a header it merely passed on.
      const context = caller !== undefined && caller.traceId === tp?.traceId
        ? requestContext(undefined, "SERVER", ids, caller, "peer")
        : requestContext(head.traceparent, "SERVER", ids, caller, "peer");
      const r = request as WithContext;
      r[CONTEXT] = context;
      // The request may still take its client's offer, if its client may be traced here: on
      // this host, and not waited for in vain on this connection within the last second. On
      // loopback a plain write is recorded as it ends, after the server it woke may have read.
      // A thread's request looks again when its span is made; a Go program's call (whose
      // handler's goroutine waits for this span, `served_streams.ts`) right after this read.
      const call = !byThread && key !== undefined && head.stream !== undefined;
      if (caller !== undefined) this.#quietSinceNs = undefined;
      else if (
        tp === undefined && key !== undefined && (byThread || call) &&
        !this.#quiet(head.firstByteMonoNs) && c.env.limits.offerWaitNs > 0n && this.#local
      ) {
        const { line, tid, firstByteMonoNs: sinceNs, stream } = head;
        r[MISSED] = call ? { key, line, tid, sinceNs, stream } : { key, line, tid, sinceNs };
        if (call) {
          if (this.#missedCalls.length >= c.env.limits.maxPipelined) {
            this.#settle(this.#missedCalls.shift()!, undefined);
          }
          this.#missedCalls.push(r);
          c.env.offerWaiters?.add(this);
        }
      }
      if (byThread) threads.begin(c.pid, head.tid, context, head.firstByteMonoNs);
      else if (call && r[MISSED] === undefined) {
        c.env.served?.served(c.pid, key!, head.stream!, context);
      }
      if (tp !== undefined) received.received(c.pid, tp.traceId, tp.parentId, context);
    } else {
      // A header this process received is passed on (a proxy): the call is the child of
      // the request that brought it in. Otherwise a call made by a thread while it serves
      // a request is that request's child.
      const forwarded = tp && received.receivedBy(c.pid, tp.traceId, tp.parentId);
      // A Go program's call: the goroutine that opened its stream (`caller_streams.ts`).
      const caller = tp || byThread || key === undefined || head.stream === undefined
        ? undefined
        : c.env.callers?.callerOf(c.pid, key, head.stream);
      const parent = forwarded ?? caller ??
        (byThread ? threads.parentOf(c.pid, head.tid, head.firstByteMonoNs) : undefined);
      const context = requestContext(
        forwarded ? undefined : head.traceparent,
        "CLIENT",
        ids,
        parent && { parentSpanId: "", ...parent },
        forwarded ? "traceparent" : caller ? "goroutine" : "thread",
      );
      (request as WithContext)[CONTEXT] = context;
      if (key !== undefined) peers.offer(key, context, head.line);
    }
  }

  /**
   * A server's request on HTTP/2 stream `stream` that gets no span here (not a gRPC call,
   * where only those do): a Go handler that may have been one is told at once.
   */
  untraced(stream: number): void {
    const c = this.#c;
    const key = this.#server && c.rpcOnly && c.socket !== undefined
      ? this.#keyOf(c.socket)
      : undefined;
    if (key !== undefined) c.env.served?.notServed(c.pid, key, stream);
  }

  #quiet(monoNs: bigint): boolean {
    const since = this.#quietSinceNs;
    return since !== undefined && monoNs - since < QUIET_NS;
  }

  #keyOf(socket: SocketInfo): string | undefined {
    if (socket !== this.#keySocket) {
      this.#keySocket = socket;
      this.#key = clientToServer(socket, this.#server);
      this.#local = sameHost(socket);
    }
    return this.#key;
  }

  /**
   * An exchange ended: a server's thread is done with the request; its span is made now,
   * once the socket's addresses are known (at most `socketWaitNs` later), or, when its
   * request found no traced client's offer, once that came (at most `offerWaitNs` later).
   */
  done(request: R, tid: number, exchange: X, lastByteMonoNs: bigint): void {
    const c = this.#c;
    const context = (request as WithContext)[CONTEXT];
    if (this.#server && context !== undefined && !c.rpcOnly) {
      c.env.threads.end(c.pid, tid, context, lastByteMonoNs);
    }
    const wait = c.env.limits.socketWaitNs > 0n;
    const missed = (request as WithContext)[MISSED] !== undefined;
    if ((wait && (c.socket === undefined || this.#awaiting.length > 0)) || missed) {
      if (this.#awaiting.length >= c.env.limits.maxPipelined) this.release();
      this.#awaiting.push({ request, exchange, lastByteMonoNs });
      if (missed) c.env.offerWaiters?.add(this);
    } else this.#emit(exchange);
  }

  /**
   * Right after a read of the rings: an exchange read long after its end (most of a read's,
   * under load) has its offer by now if one came, so it waits no longer than that read.
   */
  lookAgain(nowMonoNs: bigint): boolean {
    const calls = this.#missedCalls;
    if (calls.length > 0) {
      const offerWaitNs = this.#c.env.limits.offerWaitNs;
      // Those settled as their exchange went are dropped too.
      this.#missedCalls = calls.filter((r) => {
        const since = r[MISSED]?.sinceNs;
        const last = since === undefined || nowMonoNs - since > offerWaitNs || this.#quiet(since);
        return !this.#mayGo(r, last);
      });
    }
    this.tick(nowMonoNs);
    return this.#awaiting.length > 0 || this.#missedCalls.length > 0;
  }

  /** The socket is known: links the requests seen before it and lets waiting exchanges go. */
  socket(): void {
    const unlinked = this.#unlinked;
    this.#unlinked = [];
    for (const [request, head] of unlinked) this.head(request, head);
    this.release();
  }

  /**
   * Lets exchanges go that waited long enough: all once the first waited longer than
   * `socketWaitNs` for the socket; with the socket known, those at the head whose offer came
   * or waited `offerWaitNs`.
   */
  tick(nowMonoNs: bigint): void {
    const waiting = this.#awaiting;
    const first = waiting[0];
    if (first === undefined) return;
    if (this.#c.socket === undefined) {
      if (nowMonoNs - first.lastByteMonoNs > this.#c.env.limits.socketWaitNs) this.release();
      return;
    }
    const offerWaitNs = this.#c.env.limits.offerWaitNs;
    let ready = 0;
    for (; ready < waiting.length; ready++) {
      const w = waiting[ready]!;
      // Behind one that waited in vain, the connection has gone quiet: they wait no more.
      const last = nowMonoNs - w.lastByteMonoNs > offerWaitNs || this.#quiet(w.lastByteMonoNs);
      if (!this.#mayGo(w.request, last, w.lastByteMonoNs)) break;
    }
    if (ready === 0) return;
    this.#awaiting = waiting.slice(ready);
    for (let i = 0; i < ready; i++) this.#emit(waiting[i]!.exchange);
  }

  /** Makes the spans of every waiting exchange with what is known now. */
  release(): void {
    const waiting = this.#awaiting;
    if (waiting.length === 0) return;
    this.#awaiting = [];
    for (const w of waiting) {
      this.#mayGo(w.request, true, w.lastByteMonoNs);
      this.#emit(w.exchange);
    }
  }

  /**
   * Whether a request that missed its offer (or its waiting exchange) may go: it found its
   * traced client's offer now, or found none before and looks no longer (`last`); either way
   * it is settled. `atNs`: when the connection goes quiet from, without an offer.
   */
  #mayGo(request: WithContext, last: boolean, atNs?: bigint): boolean {
    const missed = request[MISSED];
    if (missed === undefined) return true;
    // Without reading the rings: a look runs inside a tick or a release, and the records
    // read meanwhile come at the loop's next read.
    const caller = this.#c.env.peers.take(missed.key, missed.line, false);
    if (caller === undefined && !last) return false;
    this.#settle(request, caller, atNs);
    return true;
  }

  /**
   * A request that missed its offer found it (`caller`) or looks no more: its ids take the
   * caller's trace unless a call already copied them, and a Go program's call is told to
   * its handler's goroutine now. Without a caller, the connection goes quiet from `atNs`.
   */
  #settle(request: WithContext, caller: TraceContext | undefined, atNs?: bigint): void {
    const missed = request[MISSED];
    if (missed === undefined) return;
    request[MISSED] = undefined;
    const c = this.#c;
    if (caller === undefined) this.#quietSinceNs = atNs ?? missed.sinceNs;
    const context = request[CONTEXT];
    if (context === undefined) return;
    // A Go program's call was told to no one yet; a thread's request may have lent its ids.
    const stream = missed.stream;
    if (
      caller !== undefined &&
      (stream !== undefined || !c.env.threads.lent(c.pid, missed.tid, context))
    ) {
      // Changed in place: calls the thread makes later take this same object as their parent.
      context.traceId = caller.traceId;
      context.parentSpanId = caller.spanId;
      context.via = "peer";
      if (caller.sampled === undefined) delete context.sampled;
      else context.sampled = caller.sampled;
    }
    if (stream !== undefined) c.env.served?.served(c.pid, missed.key, stream, context);
  }
}
